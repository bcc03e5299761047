"""How long each shipped model's training recipe takes on this machine's CPU.

The shipped models were trained on a GPU (see ``train_<name>.md``). This script
runs each one's recorded ``train_shipped.py`` command on the CPU (``--device cpu
--threads 2``) for two epochs over ``--limit`` Training images (the learning-rate
schedule keeps the full run's epoch count), times the second (the first pays one-off
start-up costs that a full run spreads over all its epochs), and projects the full run:
``epochs x (seconds per image x 28,709 + PublicTest evaluation)``.

Usage::

    python benchmarks/cpu_training_time.py [--limit 3840] [--models fer2013 ...]

writes ``benchmarks/results/cpu_training_time.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
N_TRAIN = 28_709
DROP = {"--data": 1, "--budget-minutes": 1, "--name": 1, "--threads": 1, "--epochs": 1}


def recipe(name: str) -> tuple[list[str], int]:
    """The recorded training arguments of a shipped model, less machine-specific ones."""
    report = json.loads((RESULTS / f"train_{name}.json").read_text())
    args = shlex.split(report["command"])[2:]
    kept, i = [], 0
    while i < len(args):
        if args[i] in DROP:
            i += 1 + DROP[args[i]]
            continue
        kept.append(args[i])
        i += 1
    return kept, int(report["config"]["metrics"]["epochs"])


def time_one(name: str, limit: int, threads: int) -> dict:
    args, epochs = recipe(name)
    tmp = f"_cputime-{name}"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "train_shipped.py"),
        *args,
        *("--epochs", str(epochs), "--device", "cpu", "--threads", str(threads)),
        *("--limit", str(limit), "--stop-after", "2", "--name", tmp),
    ]
    load = os.getloadavg()[0]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    log = RESULTS / f"train_{tmp}.log"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    row, first = rows[-1], rows[0]
    log.unlink()
    (ROOT / "benchmarks" / "checkpoints" / f"{tmp}.pt").unlink(missing_ok=True)
    per_image = row["epoch_seconds"] / limit
    epoch_minutes = (per_image * N_TRAIN + row["eval_seconds"]) / 60
    return {
        "model": name,
        "epochs": epochs,
        "timed_images": limit,
        "ms_per_training_image": round(1000 * per_image, 3),
        "eval_seconds": round(row["eval_seconds"], 1),
        "first_epoch_ms_per_image": round(1000 * first["epoch_seconds"] / limit, 3),
        "epoch_minutes": round(epoch_minutes, 2),
        "projected_minutes": round(epochs * epoch_minutes, 1),
        "load_avg": round(load, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fer2013", "fer2013-fast", "fer2013-large"])
    parser.add_argument("--limit", type=int, default=3840)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rows = [time_one(name, args.limit, args.threads) for name in args.models]
    import pandas as pd
    import torch

    table = pd.DataFrame(rows)
    hardware = (
        f"{platform.machine()} CPU ({os.cpu_count()} cores), {args.threads} threads, "
        f"torch {torch.__version__}; {time.strftime('%Y-%m-%d')}"
    )
    (RESULTS / "cpu_training_time.json").write_text(
        json.dumps({"hardware": hardware, "rows": rows}, indent=2)
    )
    lines = [
        "# Training the shipped models on the CPU",
        "",
        f"Command: `python benchmarks/cpu_training_time.py --limit {args.limit}`. "
        f"Hardware: {hardware}.",
        "",
        f"Each model's recorded recipe ran for two epochs over {args.limit} Training images "
        "on the CPU; the full run is projected from the second as epochs x (time per image x "
        "28,709 + PublicTest evaluation). The first epoch's time per image "
        "(`first_epoch_ms_per_image`) includes one-off start-up costs. `load_avg` is the "
        "1-minute load average when the row started.",
        "",
        table.to_markdown(index=False),
        "",
    ]
    (RESULTS / "cpu_training_time.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
