"""Does ``EmotionCNN.fit`` train as well as the hand-written loop it replaced?

``benchmarks/train_shipped.py`` used to train the shipped models with its own loop
(git ``902b9bf``); it now drives ``EmotionCNN.fit``. Both run the same recipe on a short
schedule (``--arch``, ``--epochs``; SGD + Nesterov, weight decay 5e-4 on weights, a
one-epoch warm-up and cosine decay, label smoothing 0.1, dropout 0.3, the shipped
augmentation) on all of FER2013 Training, and are scored on PublicTest (best epoch, no
TTA). The old loop is taken from git and run as it was; neither touches PrivateTest or
the shipped weights (temporary names, deleted afterwards).

Usage::

    python benchmarks/trainer_parity.py [--arch skfer_cnn_fast] [--epochs 8]

writes ``benchmarks/results/trainer_parity.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import hardware, load  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
OLD_COMMIT = "902b9bf"


def run(script: Path, name: str, args: list[str]) -> dict:
    """Train, then read the run's record and remove everything it wrote."""
    cmd = [sys.executable, str(script), "--name", name, "--device", "cpu", *args]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    report = json.loads((RESULTS / f"train_{name}.json").read_text())
    for path in (
        ROOT / "skfer" / "models" / "weights" / f"{name}.safetensors",
        *RESULTS.glob(f"train_{name}.*"),
        ROOT / "benchmarks" / "checkpoints" / f"{name}.pt",
    ):
        path.unlink(missing_ok=True)
    shutil.rmtree(ROOT / "benchmarks" / "checkpoints" / name, ignore_errors=True)
    history = report["history"]
    return {
        "public_best": max(r["public_acc"] for r in history),
        "public_by_epoch": [round(r["public_acc"], 4) for r in history],
        "train_loss_last": history[-1]["train_loss"],
        "wall_minutes": seconds / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="skfer_cnn_fast")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    old = ROOT / "benchmarks" / "_train_shipped_old.py"  # beside fer2013_pack.py, as it was
    old.write_text(
        subprocess.run(
            ["git", "show", f"{OLD_COMMIT}:benchmarks/train_shipped.py"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    common = ["--arch", args.arch, "--epochs", str(args.epochs), "--threads", "2"]
    start_load = load()
    try:
        rows = {
            "old loop (git " + OLD_COMMIT + ")": run(old, "_parity_old", common),
            "EmotionCNN.fit": run(ROOT / "benchmarks" / "train_shipped.py", "_parity_new", common),
        }
    finally:
        old.unlink(missing_ok=True)
    n = 3589
    lines = [
        "# Trainer parity: EmotionCNN.fit against the old training loop",
        "",
        f"Command: `python benchmarks/trainer_parity.py --arch {args.arch} --epochs "
        f"{args.epochs}`. Hardware: {hardware()}; load {start_load:.1f} at start.",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        "| trainer | PublicTest, best epoch (± SE) | PublicTest by epoch | last train loss "
        "| wall min |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        p = r["public_best"]
        se = (p * (1 - p) / n) ** 0.5
        lines.append(
            f"| {name} | {100 * p:.2f} ± {100 * se:.2f} | "
            f"{', '.join(f'{100 * v:.1f}' for v in r['public_by_epoch'])} | "
            f"{r['train_loss_last']:.4f} | {r['wall_minutes']:.1f} |"
        )
    a, b = (r["public_best"] for r in rows.values())
    lines += [
        "",
        f"Difference: {100 * (b - a):+.2f} points (two independent runs of one recipe differ "
        f"by their seeds' noise, about {100 * ((a * (1 - a) + b * (1 - b)) / n) ** 0.5:.1f} "
        "points (SE of the difference) on PublicTest's 3,589 faces).",
        "",
    ]
    (RESULTS / "trainer_parity.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "trainer_parity.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
