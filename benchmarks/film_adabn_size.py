"""How many unlabelled faces does per-film batch-norm adaptation (AdaBN) need?

SFEW Train's 860 aligned faces are split at random into groups of ``n`` faces, each
group is adapted to on its own (``EmotionCNN(adapt="batchnorm")`` on that group) and
predicted; accuracy over all faces, averaged over ``--repeats`` random splits, is
compared with no adaptation. A film analysed by ``analyze_video`` gives one group of
all its faces (hundreds to thousands), so the curve says from which film size on the
adaptation pays, and sets ``adapt_batchnorm``'s ``min_faces``.

Usage::

    python benchmarks/film_adabn_size.py [--model fer2013] [--sizes 8 16 32 64 128 256 860]

writes ``benchmarks/results/film_adabn_size.{md,csv}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import accuracy_se, film_dev_set, save_table  # noqa: E402
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fer2013")
    parser.add_argument("--sizes", nargs="+", type=int, default=[16, 32, 64, 128, 256, 860])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    sfew = film_dev_set()["sfew"]
    faces, target = sfew["faces"], sfew["target"]
    model = load_model(args.model)
    base = accuracy_se(target, model.predict(faces))
    rows = [{"faces_per_group": "no adaptation", "accuracy": base[0], "se": base[1], "sd": 0.0}]
    for size in args.sizes:
        scores = []
        for seed in range(args.repeats if size < len(faces) else 1):
            order = np.random.default_rng(seed).permutation(len(faces))
            pred = np.empty(len(faces), dtype=object)
            model.set_params(adapt="batchnorm")
            for start in range(0, len(faces), size):
                idx = order[start : start + size]
                if len(idx) < size // 2 and start:  # a short tail joins the previous group
                    idx = order[start - size : start + size]
                pred[idx] = model.predict(faces[idx])
            model.set_params(adapt=None)
            scores.append(accuracy_se(target, pred.astype(str)))
        acc = np.array([s[0] for s in scores])
        rows.append(
            {
                "faces_per_group": size,
                "accuracy": acc.mean(),
                "se": scores[0][1],
                "sd": acc.std(ddof=1) if len(acc) > 1 else 0.0,
            }
        )
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    save_table(df, RESULTS / "film_adabn_size.csv")
    show = df.copy()
    show["accuracy"] = [f"{a:.1f} ± {s:.1f}" for a, s in zip(df["accuracy"], df["se"])]
    show["sd over splits"] = df["sd"].round(2)
    lines = [
        "# AdaBN: accuracy on SFEW Train by the number of faces adapted to together",
        "",
        "Command: `python benchmarks/film_adabn_size.py " + " ".join(sys.argv[1:]) + "`",
        f"Model `{args.model}` (shipped TTA). Machine: {hardware()}, load {load():.1f}; "
        f"{time.perf_counter() - t0:.0f} s.",
        "",
        "Accuracy in % ± one standard error (binomial, n=860), mean over "
        f"{args.repeats} random splits into groups; the groups are adapted to without "
        "labels.",
        "",
        show[["faces_per_group", "accuracy", "sd over splits"]].to_markdown(index=False),
        "",
    ]
    (RESULTS / "film_adabn_size.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
