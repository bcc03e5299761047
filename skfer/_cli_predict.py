"""``skfer predict``: the faces and emotions of image files, folders or glob patterns,
printed, and written as CSV, JSON and annotated images (with ``run.json`` beside them)."""

from __future__ import annotations

from pathlib import Path

from ._cli_options import given, model_option, say_model, scheme_value
from ._cli_outputs import (
    annotated_targets,
    display_names,
    expand_inputs,
    print_faces,
    save_annotated,
    write_tables,
)
from ._progress import counted, progress_bar
from ._run_record import model_record, record_beside

__all__ = ["cmd_predict"]


def cmd_predict(args) -> int:
    """Run ``skfer predict`` on the parsed ``args``; returns the exit status."""
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
