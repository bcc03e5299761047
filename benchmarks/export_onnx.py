"""Export every shipped model to ONNX (``skfer.export_onnx``) and check it against torch.

For each model: the ONNX file's size beside the safetensors', the export time, and on
``--n`` FER2013 PublicTest faces the largest probability difference from the torch
path and the share of faces with the same predicted label, and each backend's accuracy.
The shipped int8 graphs (``backend="onnx-int8"``) are scored the same way, on this
machine's int8 instructions (VNNI or not: the md says which). Re-run it whenever shipped
weights change: a file exported from other weights is ignored by ``load_model``.

Usage::

    python benchmarks/export_onnx.py [--models ...] [--out skfer/models/weights]

writes each ``<name>.onnx`` into ``$SKFER_CACHE/onnx`` (where first use of
``load_model(name, backend="onnx")`` would build it; the default), or with ``--out``
into that folder (``skfer/models/weights``: beside the weights, to ship them in the
package), and ``benchmarks/results/export_onnx.{md,csv}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import accuracy_se, film_dev_set  # noqa: E402
from _machine import hardware, int8_instructions  # noqa: E402

from skfer import export_onnx, load_model, shipped_models  # noqa: E402
from skfer._onnx import int8_path, onnx_cache_path, weights_path  # noqa: E402
from skfer.datasets import load_fer2013  # noqa: E402
from skfer.models._io import read_weights  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=shipped_models())
    parser.add_argument("--out", type=Path, help="folder (default: the skfer cache)")
    parser.add_argument("--n", type=int, default=3589, help="PublicTest faces compared")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    public = load_fer2013(usage="PublicTest")
    faces = public.images[: args.n]
    target = np.asarray(public.target[: args.n]).astype(str)
    dev = film_dev_set()
    rows = []
    for name in args.models:
        weights = weights_path(name)
        out = onnx_cache_path(weights) if args.out is None else args.out / f"{name}.onnx"
        start = time.perf_counter()
        export_onnx(name, out)
        seconds = time.perf_counter() - start
        torch_model = load_model(name, device="cpu")
        trained_on = str(read_weights(weights)[1].get("metrics", {}).get("trained_on", ""))
        p_torch = torch_model.predict_proba(faces)
        torch_accuracy = float((torch_model.classes_[p_torch.argmax(1)] == target).mean())
        graphs = [("onnx", out, out, round(seconds, 2))]
        if int8_path(weights).is_file():  # shipped beside the weights, not exported here
            graphs.append(("onnx-int8", name, int8_path(weights), float("nan")))
        for backend, source, path, export_s in graphs:
            model = load_model(source, backend=backend, n_threads=args.threads)
            p = model.predict_proba(faces)
            rows.append(
                {
                    "model": name,
                    "backend": backend,
                    "tta": model.tta,
                    "safetensors_kb": round(os.path.getsize(weights) / 1024),
                    "onnx_kb": round(os.path.getsize(path) / 1024),
                    "export_s": export_s,
                    "faces": len(faces),
                    "max_abs_proba_diff": float(np.abs(p_torch - p).max()),
                    "same_label": float((p_torch.argmax(1) == p.argmax(1)).mean()),
                    "accuracy": float((model.classes_[p.argmax(1)] == target).mean()),
                    "torch_accuracy": torch_accuracy,
                }
            )
            if "SFEW" in trained_on:  # never scored on what it was trained on
                continue
            for part in ("sfew", "frames"):  # the film development set, same crops
                pred = model.predict(dev[part]["faces"])
                rows[-1][part], rows[-1][f"{part}_se"] = accuracy_se(dev[part]["target"], pred)
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "export_onnx.csv", index=False)
    exported = table[table.backend == "onnx"]
    (RESULTS / "export_onnx.md").write_text(
        "# ONNX export of the shipped models\n\n"
        f"`python benchmarks/export_onnx.py{'' if args.out is None else ' --out DIR'}`: "
        f"`skfer.export_onnx` per shipped model; torch vs ONNX Runtime on {len(faces)} "
        "FER2013 PublicTest faces, TTA as shipped; `onnx-int8`: the int8 graph shipped "
        "beside the weights, against the same torch model. `accuracy` / `torch_accuracy`: "
        "PublicTest accuracy of the row's backend / of torch; `sfew` / `frames`: its "
        "accuracy in % (± SE) on SFEW Train's aligned faces and the 84 SFEW frames, "
        "through `FaceCropper()` (none for `film`, which is trained on SFEW Train).\n\n"
        f"Machine: {hardware()}; int8 instructions: {int8_instructions()}.\n\n"
        + table.to_markdown(index=False)
        + f"\n\nShipping the float graphs beside the weights would add "
        f"{exported.onnx_kb.sum() / 1024:.1f} MB to the wheel (the weights take "
        f"{exported.safetensors_kb.sum() / 1024:.1f} MB; the float16 fer2013-large doubles "
        "as a float32 graph); building one at first use takes at most "
        f"{exported.export_s.max():.1f}"
        " s (plus importing torch, once) and needs no network, so skfer builds them into "
        '`$SKFER_CACHE/onnx` on first use of `backend="onnx"` and ships none.\n'
    )


if __name__ == "__main__":
    main()
