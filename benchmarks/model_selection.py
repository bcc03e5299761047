"""Tabulate the training runs the shipped recipes were chosen from (on PublicTest only).

Reads the shipped models' records (``benchmarks/results/train_fer2013*.json``) and the
candidates' (``benchmarks/results/sweep/train_*.json``, written by the same
``train_shipped.py`` on the GPU, with the commands they record). No PrivateTest or
SFEW figure was computed for a candidate.

Usage::

    python benchmarks/model_selection.py

writes ``benchmarks/results/model_selection.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def describe(command: str) -> str:
    """The recipe part of a recorded command (no paths, names or machine settings)."""
    text = re.sub(r"--(data|name|threads) \S+ ?", "", command.split("train_shipped.py", 1)[1])
    return text.strip() or "defaults"


def main() -> None:
    rows = []
    for path in [
        *sorted(RESULTS.glob("train_fer2013*.json")),
        *sorted(RESULTS.glob("sweep/*.json")),
    ]:
        record = json.loads(path.read_text())
        config, metrics = record["config"], record["config"]["metrics"]
        widths = config["model_kwargs"].get("widths")
        rows.append(
            {
                "run": path.stem.removeprefix("train_"),
                "shipped": path.parent == RESULTS,
                "architecture": config["architecture"]
                + (
                    f" w{tuple(widths)} d{tuple(config['model_kwargs']['depths'])}"
                    if widths
                    else ""
                ),
                "recipe": describe(record.get("command", "")),
                "epochs": metrics["epochs"],
                "best_epoch": metrics["best_epoch"],
                "public_test": round(100 * metrics["public_test_accuracy"], 2),
            }
        )
    table = pd.DataFrame(rows).sort_values(["architecture", "public_test"], ascending=[True, False])
    lines = [
        "# How the shipped recipes were chosen",
        "",
        "Every run below trained on FER2013 Training with `benchmarks/train_shipped.py` on one "
        "NVIDIA H100 (several runs at once), and was scored on PublicTest only (best epoch, "
        "flip TTA on or off). Within each budget the best PublicTest recipe was shipped:",
        "",
        "- `fer2013`: recipes that fit 90 minutes on 2 CPU cores (`skfer_cnn` 60 epochs; wider "
        "compact nets get fewer epochs in that time).",
        "- `fer2013-large`: GPU-only recipes (a few minutes on an H100).",
        "- `fer2013-fast`: `skfer_cnn_fast`, the recipe of `fer2013`.",
        "",
        "FER+ vote shares (`--ferplus-weight 0.5`) cost about 3 points on FER2013's own "
        "labels; mixup was neutral on the compact net and cost a point on the large one. The "
        "wider compact nets were only tried with FER+ shares, so they are compared with "
        "`skfer_cnn` fairly only against its FER+ run (c60fp).",
        "",
        table.to_markdown(index=False),
        "",
    ]
    (RESULTS / "model_selection.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
