"""``skfer demo``: the sample photos shipped with scikit-image through the shipped model,
printed and saved as annotated PNGs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ._cli_options import given, model_option, say_model, scheme_value
from ._cli_outputs import print_faces, save_annotated
from ._run_record import model_record

__all__ = ["cmd_demo"]


def cmd_demo(args) -> int:
    """Run ``skfer demo`` on the parsed ``args``; returns the exit status."""
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
