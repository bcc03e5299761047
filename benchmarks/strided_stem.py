"""Convert a compact skfer model to the strided stem, as the start of a fine-tune.

``skfer_cnn``'s stem is a 3x3 convolution at full resolution followed by a 2x2 max
pool. In int8 that stem is slow out of all proportion: one input channel gives ONNX
Runtime's int8 matrix kernels 9-element dot products, so in the shipped ``fer2013``
int8 graph the stem is 1 % of the multiply-adds and 28 % of the time, its 48x48 max
pool another 6 %. ``CompactFaceNet(stem_stride=2)`` replaces both by one 4x4
convolution with stride 2 (16-element dot products on a quarter of the positions).

This script writes a model with that stem, every other weight copied from the source.
The 4x4 kernel starts as the source's 3x3 kernel averaged over the four positions of
the max-pool window it replaces (the same linear response, average- instead of
max-pooled); a fine-tune (``benchmarks/film_robust.py --start <this file>``) then
learns it. The converted model before any fine-tuning is scored on PublicTest, so
that what the fine-tune recovers is visible.

Usage::

    python benchmarks/strided_stem.py [--source benchmarks/weights/fer2013-stage1.safetensors]

writes ``benchmarks/weights/<source>-strided.safetensors``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import accuracy_se, fer2013_split  # noqa: E402


def strided_kernel(weight):
    """The 4x4 kernel whose stride-2 output is the 3x3 response averaged over each 2x2
    max-pool window: out(p, q) = mean of conv3(2p + dy, 2q + dx), dy, dx in {0, 1}."""
    import torch

    out = torch.zeros(*weight.shape[:2], 4, 4, dtype=weight.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            out[:, :, dy : dy + 3, dx : dx + 3] += weight / 4
    return out


def convert(source: str, dest: Path) -> Path:
    import timm
    import torch

    from skfer import load_model
    from skfer.models._io import read_weights

    model = load_model(source, device="cpu")
    if model.architecture_ not in ("skfer_cnn", "skfer_cnn_fast"):
        raise ValueError(f"{source}: {model.architecture_} is not a compact skfer net.")
    if model.model_kwargs_.get("stem_stride", 1) != 1:
        raise ValueError(f"{source} has a strided stem already.")
    kwargs = {**model.model_kwargs_, "stem_stride": 2}
    net = timm.create_model(
        model.architecture_,
        num_classes=len(model.classes_),
        in_chans=model.in_chans_,
        **kwargs,
    )
    state = model.module_.state_dict()
    state["stem.0.weight"] = strided_kernel(state["stem.0.weight"])
    net.load_state_dict(state)
    model.module_ = net.eval()
    model.model_kwargs_ = kwargs
    model.set_params(module__stem_stride=2)
    metrics = {
        "recipe": f"strided_stem.py from {Path(source).name} (not fine-tuned)",
        "source_metrics": read_weights(source)[1].get("metrics", {}),
    }
    public = fer2013_split("PublicTest")
    for tta in (False, model.tta):
        model.set_params(tta=tta)
        metrics[f"public_test_accuracy_tta_{tta}"] = round(
            accuracy_se(public[1], model.predict(public[0]))[0] / 100, 4
        )
    model.save(dest, metrics=metrics)
    with torch.no_grad():  # the file rebuilds the same network
        again = load_model(dest, device="cpu")
        x = torch.rand(4, model.in_chans_, *model.input_size_)
        assert torch.allclose(again.module_(x), net(x), atol=1e-5)
    print(json.dumps({k: v for k, v in metrics.items() if "public" in k}), flush=True)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--source", default=str(ROOT / "benchmarks" / "weights" / "fer2013-stage1.safetensors")
    )
    parser.add_argument("--dest", help="default: benchmarks/weights/<source>-strided.safetensors")
    args = parser.parse_args()
    dest = Path(args.dest or ROOT / "benchmarks" / "weights" / f"{Path(args.source).stem}-strided")
    print(convert(args.source, dest.with_suffix(".safetensors")))


if __name__ == "__main__":
    main()
