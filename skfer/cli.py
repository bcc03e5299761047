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

__all__ = ["build_parser", "main"]

_SCHEMES = ("ekman7", "top4", "clusters", "valence")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class CommandError(Exception):
    """A user error the command reports as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (and a hint to ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------- output


def _faces_table(table, names):
    """The columns worth printing: where, what, how sure, valence/arousal."""
    import pandas as pd

    if table.empty:
        return pd.DataFrame(columns=["image", "face", "box", "label", "p", "valence", "arousal"])
    rows = []
    for _, r in table.iterrows():
        rows.append(
            {
                "image": names[int(r["image"])],
                "face": int(r["face"]),
                "box": f"{r['x']:.0f},{r['y']:.0f},{r['w']:.0f}x{r['h']:.0f}",
                "label": r["label"],
                "p": f"{r[r['label']]:.2f}",
                "valence": f"{r['valence']:+.2f}",
                "arousal": f"{r['arousal']:+.2f}",
            }
        )
    return pd.DataFrame(rows)


def _print_faces(table, names, n_images):
    shown = _faces_table(table, names)
    if not shown.empty:
        print(shown.to_string(index=False))
    found = set(table["image"].astype(int))
    for i in range(n_images):
        if i not in found:
            print(f"{names[i]}: no face found")


def _save_annotated(images, table, paths):
    import cv2

    from .video import annotate_image

    written = []
    for i, (image, path) in enumerate(zip(images, paths)):
        annotated = annotate_image(image, table[table["image"] == i])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR)):
            raise CommandError(f"cannot write image {str(path)!r} (unknown suffix?)")
        written.append(path)
    return written


def _model(name):
    from .video._analyze import resolve_model

    try:
        return resolve_model(name)
    except FileNotFoundError as exc:
        raise CommandError(
            f"{exc} Give --model a .safetensors file saved by EmotionCNN.save, or a shipped name."
        ) from None


# ------------------------------------------------------------------- commands


def _cmd_predict(args) -> int:
    from ._images import read_image
    from .video import analyze_images

    paths = [Path(p) for p in args.images]
    images = [read_image(p) for p in paths]
    table = analyze_images(images, _model(args.model), detector=args.detector, scheme=args.scheme)
    names = [p.name for p in paths]
    _print_faces(table, names, len(images))
    if args.out:
        out = Path(args.out)
        if len(paths) == 1 and out.suffix.lower() in _IMAGE_SUFFIXES:
            targets = [out]
        else:
            targets = [out / f"{p.stem}_annotated.png" for p in paths]
        for path in _save_annotated(images, table, targets):
            print(f"wrote {path}")
    return 0


def _cmd_video(args) -> int:
    from .video import analyze_video, film_profile, plot_timeline, plot_tracks

    film = Path(args.film)
    out = Path(args.out) if args.out else Path(f"{film.stem}_emotions")
    timeline = analyze_video(
        film,
        args.model,  # loaded once the video is known to be readable
        every=args.every,
        every_n_frames=args.every_n_frames,
        detector=args.detector,
        scheme=args.scheme,
        batch_size=args.batch_size,
        landmarks=not args.no_landmarks,
        adapt=args.adapt,
        progress=not args.quiet,
    )
    out.mkdir(parents=True, exist_ok=True)
    profile = film_profile(timeline, window=args.window)
    files = [out / "timeline.csv", out / "tracks.csv", out / "windows.csv"]
    digits = {"time": 3, "x": 1, "y": 1, "w": 1, "h": 1, "score": 3}
    digits.update(dict.fromkeys(["start", "end", "screen_time"], 3))
    digits.update(dict.fromkeys([*profile.labels, "valence", "arousal"], 4))
    timeline.round(digits).to_csv(files[0], index=False)
    profile.tracks.round(digits).to_csv(files[1])
    profile.windows.round(digits).to_csv(files[2], index=False)
    files.append(plot_timeline(timeline, out / "timeline.png"))
    files.append(plot_tracks(timeline, out / "tracks.png"))
    summary = profile.film
    attrs = timeline.attrs
    print(
        f"{film.name}: {attrs['n_sampled']} frames analysed (every {attrs['step']:.3g} s), "
        f"{summary['n_faces']} faces in {summary['n_tracks']} tracks"
    )
    if summary["n_faces"]:
        shares = ", ".join(f"{label} {summary[label]:.0%}" for label in profile.labels)
        print(f"share of face time: {shares}")
        print(
            f"dominant: {summary['dominant']}; mean valence {summary['valence']:+.2f}, "
            f"arousal {summary['arousal']:+.2f}"
        )
    for path in files:
        print(f"wrote {path}")
    return 0


def _cmd_demo(args) -> int:
    from .datasets import load_sample_images
    from .video import analyze_images

    samples = load_sample_images()
    table = analyze_images(
        samples.images, _model(args.model), detector=args.detector, scheme=args.scheme
    )
    _print_faces(table, list(samples.filenames), len(samples.images))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="skfer-demo-"))
    targets = [out / f"{Path(name).stem}_annotated.png" for name in samples.filenames]
    for path in _save_annotated(samples.images, table, targets):
        print(f"wrote {path}")
    return 0


def _dataset_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    if name.lower() in {"train", "training", "test", "val", "valid", "validation"}:
        name = f"{path.resolve().parent.name}-{name}"
    return name


def _load_dataset(path: Path, *, usage=None):
    """(images, target) from a FER2013-style CSV or a class-per-folder image tree."""
    from .datasets import load_fer2013, load_image_folder

    if path.is_dir():
        return load_image_folder(path, return_X_y=True)
    if path.name.endswith((".csv", ".csv.gz")):
        return load_fer2013(path, usage=usage, return_X_y=True)
    if not path.exists():
        raise FileNotFoundError(f"Dataset not found: {str(path)!r}")
    raise CommandError(
        f"{str(path)!r} is neither a FER2013-style CSV (.csv, .csv.gz) nor a folder of "
        "<Emotion>/<image> files."
    )


def _cmd_evaluate(args) -> int:
    from . import cross_dataset_report
    from .faces import FaceCropper

    train = Path(args.train)
    datasets = {}
    if args.model:
        model = _model(args.model)
    else:
        from .models import EmotionCNN

        X, y = _load_dataset(train, usage="Training")
        model = EmotionCNN(
            args.backbone, max_epochs=args.epochs, random_state=args.seed, verbose=1
        ).fit(X, y)
    if train.name.endswith((".csv", ".csv.gz")):
        # FER2013's held-out split: PrivateTest is for reported figures
        datasets[f"{_dataset_name(train)}-PrivateTest"] = _load_dataset(train, usage="PrivateTest")
    for test in map(Path, args.test):
        X, y = _load_dataset(test, usage="PrivateTest")
        if test.is_dir() and not args.no_crop:
            cropper = (
                FaceCropper() if args.detector is None else FaceCropper(detector=args.detector)
            )
            X = cropper.fit_transform(X)
        datasets[_dataset_name(test)] = (X, y)
    out = Path(args.out) if args.out else None
    report = cross_dataset_report(model, datasets, schemes=args.schemes, confusion_dir=out)
    accuracy = report.groupby(["dataset", "scheme"], sort=False)["accuracy"].first().unstack()
    print(accuracy.to_string(float_format=lambda v: f"{v:.1%}"))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report.to_csv(out / "report.csv", index=False, float_format="%.4f")
        print(f"wrote {out / 'report.csv'} and confusion matrices in {out}")
    else:
        print()
        print(report.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


# --------------------------------------------------------------------- parser


def _add_model_args(parser, *, detector_default, detector_help):
    parser.add_argument(
        "--model",
        default=None,
        help="shipped model name or .safetensors file (default: film for video, "
        "fer2013 for images)",
    )
    parser.add_argument("--detector", default=detector_default, help=detector_help)
    parser.add_argument(
        "--scheme",
        default="ekman7",
        choices=_SCHEMES,
        help="label scheme of the output (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``skfer`` argument parser (one subparser per command).

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["video", "film.mp4", "--every", "1"])
    >>> args.command, args.film, args.every, args.detector
    ('video', 'film.mp4', 1.0, 'hog')
    """
    from . import __version__

    parser = _Parser(
        prog="skfer",
        description="Facial expression recognition for photos and films.",
        epilog="Run 'skfer COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"skfer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    detectors = "face detector: haar, hog, cnn, mtcnn, yunet, or chained like hog+cnn"

    predict = sub.add_parser(
        "predict",
        help="faces and emotions in images",
        description="Detect every face in each image and print its emotion.",
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    predict.add_argument(
        "--out",
        help="annotated image: a .png path for one image, else a folder "
        "(one <name>_annotated.png per image)",
    )
    _add_model_args(
        predict,
        detector_default=None,
        detector_help=f"{detectors} (default: yunet if installed, else hog+cnn)",
    )
    predict.set_defaults(func=_cmd_predict)

    video = sub.add_parser(
        "video",
        help="emotion timeline of a film",
        description="Analyse a video: emotions of every face track over time. Writes "
        "timeline.csv (one row per face per sampled frame), tracks.csv and windows.csv "
        "(summaries per track and per scene window), timeline.png and tracks.png.",
    )
    video.add_argument("film", metavar="FILM", help="video file (mp4, avi, mkv, mov...)")
    video.add_argument(
        "--every", type=float, default=0.5, help="seconds between analysed frames (default: 0.5)"
    )
    video.add_argument(
        "--every-n-frames", type=int, help="analyse every n-th frame instead of --every"
    )
    video.add_argument("--out", help="output folder (default: ./<FILM name>_emotions)")
    video.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="scene window for windows.csv, in seconds (default: 10)",
    )
    video.add_argument(
        "--batch-size", type=int, default=64, help="faces classified at once (default: 64)"
    )
    video.add_argument(
        "--no-landmarks",
        action="store_true",
        help="crop faces from their boxes without landmark alignment (faster)",
    )
    video.add_argument(
        "--adapt",
        choices=["batchnorm"],
        help="adapt the model to this film's faces without labels: batch-norm statistics "
        "re-estimated on them (AdaBN; for the fer2013* models; default: off)",
    )
    video.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_model_args(video, detector_default="hog", detector_help=f"{detectors} (default: hog)")
    video.set_defaults(func=_cmd_video)

    demo = sub.add_parser(
        "demo",
        help="analyse the bundled sample photos",
        description="Detect the faces in the sample photos shipped with scikit-image, "
        "classify them with the shipped model, print a table and save annotated PNGs.",
    )
    demo.add_argument("--out", help="folder for the annotated PNGs (default: a new temp folder)")
    _add_model_args(
        demo,
        detector_default=None,
        detector_help=f"{detectors} (default: yunet if installed, else hog+cnn)",
    )
    demo.set_defaults(func=_cmd_demo)

    evaluate = sub.add_parser(
        "evaluate",
        help="cross-dataset report: train on one dataset, test on others",
        description="Train an EmotionCNN on TRAIN (or load --model) and report per-class "
        "precision/recall and accuracy on TRAIN's PrivateTest split (for a FER2013 CSV) and "
        "on each TEST dataset, in each label scheme. Datasets are FER2013-style CSV files "
        "or <Emotion>/<image> folders (faces in folders are detected and aligned first).",
    )
    evaluate.add_argument("train", metavar="TRAIN", help="training dataset")
    evaluate.add_argument("test", metavar="TEST", nargs="*", help="test datasets")
    evaluate.add_argument(
        "--model", help="evaluate this model (name or file) instead of training one"
    )
    evaluate.add_argument(
        "--backbone", default="skfer_cnn", help="backbone to train (default: %(default)s)"
    )
    evaluate.add_argument(
        "--epochs", type=int, default=25, help="training epochs (default: %(default)s)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    evaluate.add_argument(
        "--schemes",
        nargs="+",
        default=["ekman7", "top4", "clusters"],
        choices=_SCHEMES,
        help="label schemes to report (default: ekman7 top4 clusters)",
    )
    evaluate.add_argument(
        "--detector", default=None, help=f"{detectors}, for folder datasets (default: hog+cnn)"
    )
    evaluate.add_argument(
        "--no-crop", action="store_true", help="use folder images as they are (no face detection)"
    )
    evaluate.add_argument("--out", help="folder for report.csv and confusion-matrix PNGs")
    evaluate.set_defaults(func=_cmd_evaluate)
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.split())
    if isinstance(exc, (KeyError, TypeError, AttributeError, IndexError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def _still_image_detector() -> str:
    """YuNet when its wheel is installed (as accurate as hog+cnn on film frames, fewer false
    faces on photos, 8x cheaper), else FaceCropper's default."""
    import importlib.util

    from .faces import DEFAULT_DETECTOR

    return "yunet" if importlib.util.find_spec("yuface") else DEFAULT_DETECTOR


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
    if args.command in ("predict", "demo") and args.detector is None:
        args.detector = _still_image_detector()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("skfer: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SKFER_DEBUG"):
            raise
        print(f"skfer {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
