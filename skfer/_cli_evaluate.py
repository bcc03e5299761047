"""``skfer evaluate``: train on one dataset (or load a model) and report per-class
precision/recall and accuracy on others, in each label scheme."""

from __future__ import annotations

import sys
from pathlib import Path

from ._cli_options import Scheme, given, model_option, parse_scheme
from ._cli_outputs import crop_counted
from ._progress import counting_predictions, progress_bar
from ._run_record import model_record

__all__ = ["REPORT_SCHEMES", "cmd_evaluate"]

#: The schemes ``skfer evaluate`` reports without ``--schemes``: the paper's three.
REPORT_SCHEMES = ("ekman7", "top4", "clusters")


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


def cmd_evaluate(args) -> int:
    """Run ``skfer evaluate`` on the parsed ``args``; returns the exit status."""
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
    schemes = args.schemes or [parse_scheme(name) for name in REPORT_SCHEMES]
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
