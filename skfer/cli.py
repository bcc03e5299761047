"""The ``skfer`` command line: thin wrappers that parse, call the library and print.

Subcommands: ``predict`` (faces and emotions in images), ``video`` (emotion timeline
of a film), ``demo`` (the bundled sample photos with the shipped model) and
``evaluate`` (train on one dataset, report on others). Errors are one line on stderr
and a non-zero exit status; set ``SKFER_DEBUG=1`` for the traceback.

Examples
--------
>>> from skfer.cli import main
>>> main(["--version"])  # doctest: +ELLIPSIS
skfer 0...
0
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ._cli_options import (
    CommandError,
    Scheme,
    describe_model,
    given,
    library_default,
    model_option,
    parse_min_score,
    parse_scheme,
    say_model,
    scheme_help,
    scheme_value,
)
from ._cli_outputs import (
    annotated_targets,
    crop_counted,
    display_names,
    expand_inputs,
    print_faces,
    save_annotated,
    write_tables,
)
from ._progress import counted, counting_predictions, progress_bar
from ._run_record import model_record, new_record, record_beside, write_record

__all__ = ["build_parser", "main"]

#: The schemes ``skfer evaluate`` reports without ``--schemes``: the paper's three.
_REPORT_SCHEMES = ("ekman7", "top4", "clusters")


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (and a hint to ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _cmd_predict(args) -> int:
    from ._images import read_image
    from .video import IMAGE_MODEL, analyze_images

    paths = expand_inputs(args.images, recursive=args.recursive)
    targets = annotated_targets(paths, Path(args.out)) if args.out else []
    args.record.update(model=model_record(args.model, IMAGE_MODEL), inputs=len(paths))
    # run.json: in --out's folder, else beside --csv (or --json); no outputs, no record
    if args.out:
        args.record_dir = Path(args.out).parent if targets == [Path(args.out)] else args.out
    elif args.csv or args.json:
        args.record_dir = record_beside(args.csv or args.json)
    options = given(
        detector=args.detector,
        scheme=scheme_value(args.scheme),
        on_missing=args.on_missing,
        min_score=args.min_score,
    )
    model = model_option(args.model, default=IMAGE_MODEL, backend=args.backend)
    # a bar over the images (not for one), by the rule of skfer._progress
    # images are read one at a time (a folder of a film's frames does not fit in memory);
    # an unreadable one stops the command, naming it, before any output is written
    enabled = False if args.quiet or len(paths) < 2 else None
    with progress_bar(len(paths), desc="predicting", unit="image", enabled=enabled) as bar:
        table = analyze_images(counted([str(p) for p in paths], bar), **model, **options)
    names = display_names(paths)
    print_faces(table, names, len(paths))
    if not args.quiet:
        say_model(IMAGE_MODEL if args.model is None else args.model)
    args.record.update({k: table.attrs.get(k) for k in ("detector", "framing", "backend")})
    args.record["min_score"] = args.min_score
    written = write_tables(table, paths, csv=args.csv, json=args.json)
    written += save_annotated((read_image(p) for p in paths), table, targets)
    args.record["outputs"] = [str(p) for p in written]
    for path in written:
        print(f"wrote {path}")
    if args.record_dir is not None:
        record = Path(args.record_dir)
        print(f"wrote {record if record.suffix == '.json' else record / 'run.json'}")
    return 0


def _cmd_video(args) -> int:
    import warnings

    from .video import (
        VIDEO_MODEL,
        analyze_video,
        film_profile,
        plot_persons,
        plot_timeline,
        plot_tracks,
        write_annotated_video,
        write_report,
    )
    from .video._classify import proba_columns

    film = Path(args.film)
    out = Path(args.out) if args.out else Path(f"{film.stem}_emotions")
    # damage is reported once, below, instead of as FFmpeg's lines and a Python warning
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Video .* is damaged or truncated", UserWarning)
        timeline = analyze_video(
            film,
            # a name is loaded by analyze_video once the film is known to be readable
            **(
                model_option(
                    args.model, default=VIDEO_MODEL, backend=args.backend, adapt=args.adapt
                )
                if args.backend
                else given(model=args.model)
            ),
            **given(
                every=args.every,
                every_n_frames=args.every_n_frames,
                detector=args.detector,
                scheme=scheme_value(args.scheme),
                batch_size=args.batch_size,
                landmarks=args.landmarks,
                adapt=args.adapt,
                min_score=args.min_score,
            ),
            **given(progress=False if args.quiet else None),  # None: skfer._progress's rule
        )
    out.mkdir(parents=True, exist_ok=True)
    args.record_dir = out
    record = args.record
    record["model"] = model_record(args.model, VIDEO_MODEL)
    record["sampling"] = given(every=args.every, every_n_frames=args.every_n_frames)
    film_keys = ("source", "fps", "step", "duration", "n_sampled", "shots", "scheme", "labels")
    film_keys += ("detector", "framing", "backend", "adapt", "persons")
    film_keys += ("complete", "covered", "damage")
    record["film"] = {k: timeline.attrs.get(k) for k in film_keys}
    record["min_score"] = args.min_score
    profile = film_profile(timeline, **given(window=args.window))
    files = [out / "timeline.csv", out / "tracks.csv", out / "windows.csv"]
    digits = {"time": 3, "x": 1, "y": 1, "w": 1, "h": 1, "score": 3}
    digits.update(dict.fromkeys(["start", "end", "face_time", "screen_time"], 3))
    shares = [f"share_{label}" for label in profile.labels]
    digits.update(dict.fromkeys([*proba_columns(profile.labels), *shares], 4))
    digits.update(dict.fromkeys(["valence", "arousal"], 4))
    timeline.round(digits).to_csv(files[0], index=False)
    profile.tracks.round(digits).to_csv(files[1])
    profile.windows.round(digits).to_csv(files[2], index=False)
    if profile.persons is not None:
        files.append(out / "persons.csv")
        profile.persons.round(digits).to_csv(files[-1])
    for name, plot in (
        ("timeline.png", plot_timeline),
        ("tracks.png", plot_tracks),
        ("persons.png", plot_persons),
    ):
        plot(timeline, out / name)
        files.append(out / name)
    run = {"model": describe_model(record["model"]["given"]), "command": " ".join(record["argv"])}
    run["checksum"] = record["model"].get("checksum")
    run.update({k: record[k] for k in ("started", "skfer", "python", "platform", "min_score")})
    files.append(write_report(timeline, out / "report.html", video=film, profile=profile, run=run))
    if args.save_video:
        files.append(write_annotated_video(timeline, out / "annotated.mp4", video=film))
    summary = profile.film
    attrs = timeline.attrs
    print(
        f"{film.name}: {attrs['n_sampled']} frames analysed (every {attrs['step']:.3g} s), "
        f"{summary['n_faces']} faces in {summary['n_tracks']} tracks"
    )
    print(f"model: {describe_model(VIDEO_MODEL if args.model is None else args.model)}")
    if summary["n_faces"]:
        shares = ", ".join(f"{label} {summary[f'share_{label}']:.0%}" for label in profile.labels)
        print(f"share of face time: {shares}")
        print(
            f"dominant: {summary['dominant']}; mean valence {summary['valence']:+.2f}, "
            f"arousal {summary['arousal']:+.2f}"
        )
    record["outputs"] = [str(p) for p in [*files, out / "run.json"]]
    for path in files:
        print(f"wrote {path}")
    print(f"wrote {out / 'run.json'}")
    if not attrs.get("complete", True):
        if not args.allow_partial:
            raise CommandError(
                f"{attrs['damage']} Outputs written to {out} for that part; pass "
                "--allow-partial to accept a partial analysis."
            )
        print(f"skfer video: warning: {attrs['damage']}", file=sys.stderr)
    return 0


def _cmd_demo(args) -> int:
    from .datasets import load_sample_images
    from .video import IMAGE_MODEL, analyze_images

    samples = load_sample_images()
    table = analyze_images(
        samples.images,
        **model_option(args.model),
        **given(detector=args.detector, scheme=scheme_value(args.scheme)),
    )
    print_faces(table, list(samples.filenames), len(samples.images))
    if not args.quiet:
        say_model(IMAGE_MODEL if args.model is None else args.model)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="skfer-demo-"))
    targets = [out / f"{Path(name).stem}_annotated.png" for name in samples.filenames]
    args.record_dir = out
    args.record.update(model=model_record(args.model, IMAGE_MODEL), inputs=len(targets))
    args.record.update({k: table.attrs.get(k) for k in ("detector", "framing", "backend")})
    written = save_annotated(samples.images, table, targets)
    args.record["outputs"] = [str(p) for p in written]
    for path in written:
        print(f"wrote {path}")
    print(f"wrote {out / 'run.json'}")
    return 0


def _dataset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    if name.lower() in {"train", "training", "test", "val", "valid", "validation"}:
        name = f"{path.resolve().parent.name}-{name}"
    return name


def _split(data, usage: str):
    """The rows of one FER2013 split (``Usage``) of a dataset; all rows of one without."""
    if "usage" not in data:
        return data.images, data.target
    keep = data.usage == usage
    return data.images[keep], data.target[keep]


def _report_schemes(schemes: list[Scheme]) -> dict:
    """``{report name: scheme}``, a name given twice numbered (``ekman7-2``)."""
    named: dict = {}
    for scheme in schemes:
        name, k = scheme.name, 2
        while name in named:
            name, k = f"{scheme.name}-{k}", k + 1
        named[name] = scheme.value
    return named


def _stage_printer(quiet: bool):
    """One line on stderr per stage of a long command, with the time since it started
    (plain text, so a log file stays readable); nothing with ``--quiet``."""
    import time

    t0 = time.perf_counter()

    def say(text: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - t0:6.1f} s] {text}...", file=sys.stderr, flush=True)

    return say


def _cmd_evaluate(args) -> int:
    from . import cross_dataset_report
    from .datasets import load_dataset
    from .faces import resolve_detector

    say = _stage_printer(args.quiet)
    bars = False if args.quiet else None  # None: skfer._progress's rule
    train = Path(args.train)
    model = model_option(args.model).get("model")
    say(f"loading {train}")
    train_data = load_dataset(train)
    if model is None:
        from .models import EmotionCNN

        X, y = _split(train_data, "Training")
        options = given(backbone=args.backbone, max_epochs=args.epochs)
        say(f"training on {len(X)} faces (a line per epoch)")
        verbose = 0 if args.quiet else 1
        model = EmotionCNN(**options, random_state=args.seed, verbose=verbose).fit(X, y)
    datasets = {}
    if "usage" in train_data:
        # FER2013's held-out split: PrivateTest is for reported figures
        datasets[f"{_dataset_name(train)}-PrivateTest"] = _split(train_data, "PrivateTest")
    for test in map(Path, args.test):
        say(f"loading {test}")
        data = load_dataset(test)
        X, y = _split(data, "PrivateTest")
        if data.kind in ("sfew", "image_folder") and not args.no_crop:
            say(f"cropping the faces of {len(X)} images of {test.name}")
            desc = f"cropping {_dataset_name(test)}"
            X, cropper = crop_counted(X, args.detector, desc=desc, enabled=bars)
            detector = resolve_detector(cropper.detector)
            args.record.update(detector=detector, framing=cropper.get_params())
        datasets[_dataset_name(test)] = (X, y)
    schemes = args.schemes or [parse_scheme(name) for name in _REPORT_SCHEMES]
    out = Path(args.out) if args.out else None
    faces = sum(len(X) for X, _ in datasets.values())
    say(f"predicting {faces} faces of {len(datasets)} dataset(s), {len(schemes)} scheme(s)")
    with progress_bar(faces, desc="predicting", unit="face", enabled=bars) as bar:
        report = cross_dataset_report(
            counting_predictions(model, bar),
            datasets,
            schemes=_report_schemes(schemes),
            confusion_dir=out,
        )
    accuracy = report.groupby(["dataset", "scheme"], sort=False)["accuracy"].first().unstack()
    print(accuracy.to_string(float_format=lambda v: f"{v:.1%}"))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        args.record_dir = out
        args.record["model"] = (
            model_record(args.model, None) if args.model else {"trained": str(model)}
        )
        args.record["datasets"] = {name: len(X) for name, (X, _) in datasets.items()}
        args.record["outputs"] = [str(out / "report.csv")]
        report.to_csv(out / "report.csv", index=False, float_format="%.4f")
        print(f"wrote {out / 'report.csv'} and confusion matrices in {out}")
    else:
        print()
        print(report.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


# --------------------------------------------------------------------- parser


_DETECTORS = "face detector: haar, hog, cnn, mtcnn, yunet, or chained like hog+cnn"


def _add_model_args(parser, analyze, model_default: str) -> None:
    parser.add_argument(
        "--model",
        help=f"shipped model name or .safetensors file (default: {model_default})",
    )
    default = library_default(analyze, "detector", "skfer's default detector")
    parser.add_argument("--detector", help=f"{_DETECTORS} (default: {default})")
    parser.add_argument(
        "--scheme",
        type=parse_scheme,
        metavar="SCHEME",
        help=f"{scheme_help('label scheme of the output')} "
        f"(default: {library_default(analyze, 'scheme', 'the model classes')})",
    )


def _add_backend(parser) -> None:
    parser.add_argument(
        "--backend",
        choices=["auto", "onnx", "onnx-int8", "torch"],
        help="what runs the model: onnx (ONNX Runtime, without importing torch; the ONNX "
        "file is built into $SKFER_CACHE/onnx at first use), onnx-int8 (the int8 graph shipped "
        "for fer2013, fer2013-fast and film; 2.4-2.7x faster for fer2013 and film), torch, "
        "or auto: onnx "
        "on a CPU, torch on a GPU or with --adapt (default: auto)",
    )


def _add_min_score(parser) -> None:
    parser.add_argument(
        "--min-score",
        type=parse_min_score,
        metavar="SCORE",
        help="drop faces the detector is less sure of: a number for every detector's own "
        "score, or per detector (yunet=0.7,hog=0.2); the detector column of the outputs "
        "says which detector found each face (default: keep every face found)",
    )


def _add_quiet(parser, what: str) -> None:
    """``--quiet``, one flag with one meaning in every command: stderr keeps only errors
    and warnings (the results on stdout and the files are the same)."""
    parser.add_argument(
        "--quiet",
        action="store_true",
        help=f"nothing on stderr but errors and warnings: no {what}. Progress is shown by "
        "default: a live bar on a terminal, a plain line at most every 30 s in a log file "
        "(none for work under 10 s); SKFER_PROGRESS=0 turns it off, 1 starts the lines "
        "at once",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``skfer`` argument parser (one subparser per command).

    Options left out are ``None``: the command then passes nothing, and the library's
    default applies.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["video", "film.mp4", "--every", "1"])
    >>> args.command, args.film, args.every, args.detector
    ('video', 'film.mp4', 1.0, None)
    >>> build_parser().parse_args(["predict", "a.png", "--scheme", "ekman7,contempt="]).scheme.name
    'ekman7'
    """
    from . import __version__
    from .video import IMAGE_MODEL, VIDEO_MODEL, analyze_images, analyze_video, film_profile

    parser = _Parser(
        prog="skfer",
        description="Facial expression recognition for photos and films.",
        epilog="Run 'skfer COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"skfer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    predict = sub.add_parser(
        "predict",
        help="faces and emotions in images",
        description="Detect every face in each image and print its emotion.",
    )
    predict.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, folders (their images) or glob patterns ('frames/*.jpg')",
    )
    predict.add_argument(
        "--recursive", action="store_true", help="also the images in the folders' subfolders"
    )
    predict.add_argument("--csv", metavar="FILE", help="write the faces table as CSV")
    predict.add_argument("--json", metavar="FILE", help="write the faces table as JSON records")
    predict.add_argument(
        "--out",
        help="annotated image: a .png path for one image, else a folder "
        "(one <name>_annotated.png per image; -1, -2... added to a name used twice)",
    )
    predict.add_argument(
        "--on-missing",
        choices=["skip", "full", "center", "raise"],
        help="an image where no face is found: skip (no emotion), full (classify the whole "
        "image), center (its central square) or raise (an error) "
        f"(default: {library_default(analyze_images, 'on_missing')})",
    )
    _add_model_args(predict, analyze_images, IMAGE_MODEL)
    _add_min_score(predict)
    _add_backend(predict)
    _add_quiet(predict, "progress over the images, no 'model:' line")
    predict.set_defaults(func=_cmd_predict)

    video = sub.add_parser(
        "video",
        help="emotion timeline of a film",
        description="Analyse a video: emotions of every face over time, its tracks grouped "
        "into persons across shots. Writes timeline.csv (one row per face per sampled frame), "
        "tracks.csv, persons.csv and windows.csv (summaries per track, person and scene "
        "window), timeline.png, tracks.png, persons.png, report.html (a self-contained page "
        "of all of it) and run.json (the record of the run).",
    )
    video.add_argument("film", metavar="FILM", help="video file (mp4, avi, mkv, mov...)")
    video.add_argument(
        "--every",
        type=float,
        help="seconds between analysed frames "
        f"(default: {library_default(analyze_video, 'every')})",
    )
    video.add_argument(
        "--every-n-frames", type=int, help="analyse every n-th frame instead of --every"
    )
    video.add_argument("--out", help="output folder (default: ./<FILM name>_emotions)")
    video.add_argument(
        "--window",
        type=float,
        help="scene window for windows.csv, in seconds "
        f"(default: {library_default(film_profile, 'window')})",
    )
    video.add_argument(
        "--batch-size",
        type=int,
        help=f"faces classified at once (default: {library_default(analyze_video, 'batch_size')})",
    )
    video.add_argument(
        "--no-landmarks",
        dest="landmarks",
        action="store_false",
        default=None,
        help="crop faces from their boxes without landmark alignment (faster)",
    )
    video.add_argument(
        "--adapt",
        choices=["batchnorm"],
        help="adapt the model to this film's faces without labels: batch-norm statistics "
        "re-estimated on them (AdaBN; for the fer2013* models; default: off)",
    )
    video.add_argument(
        "--save-video",
        action="store_true",
        help="also write annotated.mp4: the film with each face's box and label drawn",
    )
    _add_quiet(video, "progress over the film's frames")
    video.add_argument(
        "--allow-partial",
        action="store_true",
        help="exit 0 for a truncated or corrupted film analysed in part (default: the "
        "outputs for the part read are written, then exit status 1)",
    )
    _add_model_args(video, analyze_video, VIDEO_MODEL)
    _add_min_score(video)
    _add_backend(video)
    video.set_defaults(func=_cmd_video)

    demo = sub.add_parser(
        "demo",
        help="analyse the bundled sample photos",
        description="Detect the faces in the sample photos shipped with scikit-image, "
        "classify them with the shipped model, print a table and save annotated PNGs.",
    )
    demo.add_argument("--out", help="folder for the annotated PNGs (default: a new temp folder)")
    _add_model_args(demo, analyze_images, IMAGE_MODEL)
    _add_quiet(demo, "'model:' line")
    demo.set_defaults(func=_cmd_demo)

    evaluate = sub.add_parser(
        "evaluate",
        help="cross-dataset report: train on one dataset, test on others",
        description="Train an EmotionCNN on TRAIN (or load --model) and report per-class "
        "precision/recall and accuracy on TRAIN's PrivateTest split (for a FER2013 or FER+ "
        "CSV) and on each TEST dataset, in each label scheme. Datasets are anything "
        "skfer.datasets.load_dataset reads: FER2013-style CSV files, FER+ label files, or "
        "<Emotion>/<image> folders (faces in folders are detected and aligned first).",
    )
    evaluate.add_argument("train", metavar="TRAIN", help="training dataset")
    evaluate.add_argument("test", metavar="TEST", nargs="*", help="test datasets")
    evaluate.add_argument(
        "--model", help="evaluate this model (name or file) instead of training one"
    )
    evaluate.add_argument(
        "--backbone", help="backbone to train (default: EmotionCNN's default backbone)"
    )
    evaluate.add_argument(
        "--epochs", type=int, help="training epochs (default: EmotionCNN's max_epochs)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    evaluate.add_argument(
        "--schemes",
        nargs="+",
        type=parse_scheme,
        metavar="SCHEME",
        help=f"{scheme_help('label schemes to report, each')} "
        f"(default: {' '.join(_REPORT_SCHEMES)})",
    )
    evaluate.add_argument(
        "--detector",
        help=f"{_DETECTORS}, for folder datasets (default: FaceCropper's default detector)",
    )
    evaluate.add_argument(
        "--no-crop", action="store_true", help="use folder images as they are (no face detection)"
    )
    evaluate.add_argument("--out", help="folder for report.csv and confusion-matrix PNGs")
    _add_quiet(
        evaluate,
        "stage lines or progress over cropping and predicting (and no epoch table on stdout)",
    )
    evaluate.set_defaults(func=_cmd_evaluate)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.split())
    if isinstance(exc, (KeyError, TypeError, AttributeError, IndexError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skfer`` console script; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a usage error, 1 for any other error (reported as one
        line on stderr), 130 when interrupted.

    Examples
    --------
    >>> main(["video", "no_such_film.mp4"])
    1

    (stderr: ``skfer video: error: Video file not found: 'no_such_film.mp4'``)
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    args.record = new_record(list(sys.argv[1:] if argv is None else argv), args.command)
    args.record_dir = None  # a command that writes outputs says where run.json goes
    error = None
    try:
        return args.func(args)
    except KeyboardInterrupt:
        error = "interrupted"
        print("skfer: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        error = _one_line(exc)
        if os.environ.get("SKFER_DEBUG"):
            raise
        print(f"skfer {args.command}: error: {error}", file=sys.stderr)
        return 1
    finally:
        if args.record_dir is not None:
            try:
                write_record(args.record, args.record_dir, error=error)
            except OSError as exc:
                warning = f"skfer {args.command}: warning: run.json not written: {exc}"
                print(warning, file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
