"""The ``skfer`` command line: thin wrappers that parse, call the library and print.

Subcommands: ``predict`` (faces and emotions in images), ``video`` (emotion timeline
of a film), ``demo`` (the bundled sample photos with the shipped model) and
``evaluate`` (train on one dataset, report on others). Errors are one line on stderr
and a non-zero exit status; set ``SKFER_DEBUG=1`` for the traceback.

This module builds the parser and dispatches; each command is in its own private
module (``skfer._cli_predict``, ``_cli_video``, ``_cli_demo``, ``_cli_evaluate``).

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

from ._cli_demo import cmd_demo
from ._cli_evaluate import REPORT_SCHEMES, cmd_evaluate
from ._cli_options import library_default, parse_min_score, parse_scheme, scheme_help
from ._cli_predict import cmd_predict
from ._cli_video import cmd_video
from ._run_record import new_record, write_record

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (and a hint to ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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
        "for fer2013, fer2013-fast and film; 2.7-3.2x faster for fer2013 and film), torch, "
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
    predict.set_defaults(func=cmd_predict)

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
    video.set_defaults(func=cmd_video)

    demo = sub.add_parser(
        "demo",
        help="analyse the bundled sample photos",
        description="Detect the faces in the sample photos shipped with scikit-image, "
        "classify them with the shipped model, print a table and save annotated PNGs.",
    )
    demo.add_argument("--out", help="folder for the annotated PNGs (default: a new temp folder)")
    _add_model_args(demo, analyze_images, IMAGE_MODEL)
    _add_quiet(demo, "'model:' line")
    demo.set_defaults(func=cmd_demo)

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
        f"(default: {' '.join(REPORT_SCHEMES)})",
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
    evaluate.set_defaults(func=cmd_evaluate)
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
