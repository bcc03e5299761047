"""The paper's Table 7: plain training vs class weights vs an imbalanced-learn oversampler.

Three runs of the same compact CNN (``--backbone``, default ``skfer_cnn_fast``)
under one budget (``--epochs``), on FER2013 Training, with PublicTest as the
validation set (learning-rate schedule and best-epoch restore), reported on
PrivateTest: accuracy, balanced accuracy, macro F1 and per-class recall.

- plain: ``EmotionCNN()``
- class weights: ``EmotionCNN(class_weight="balanced")`` (n / (k * count), the paper's)
- oversampler: ``make_pipeline(ImageResampler(RandomOverSampler()), EmotionCNN())``

Usage::

    python benchmarks/imbalance.py [--epochs 4] [--backbone skfer_cnn_fast]

writes ``benchmarks/results/imbalance.{md,csv}``.
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
from imblearn.over_sampling import RandomOverSampler  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score  # noqa: E402

from skfer import EmotionCNN, ImageResampler, make_pipeline  # noqa: E402
from skfer.datasets import load_fer2013  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="skfer_cnn_fast")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = load_fer2013()
    split = {u: data.usage == u for u in ("Training", "PublicTest", "PrivateTest")}
    X, y = data.images[split["Training"]], data.target[split["Training"]]
    X_pub, y_pub = data.images[split["PublicTest"]], data.target[split["PublicTest"]]
    X_priv, y_priv = data.images[split["PrivateTest"]], data.target[split["PrivateTest"]]

    def cnn(**kw):
        return EmotionCNN(
            args.backbone,
            max_epochs=args.epochs,
            validation=(X_pub, y_pub),
            label_smoothing=0.1,
            random_state=0,
            **kw,
        )

    runs = {
        "plain": cnn(),
        "class weights (balanced)": cnn(class_weight="balanced"),
        "RandomOverSampler": make_pipeline(
            ImageResampler(RandomOverSampler(random_state=0)), cnn()
        ),
    }
    rows = []
    for name, model in runs.items():
        start = time.perf_counter()
        model.fit(X, y)
        minutes = (time.perf_counter() - start) / 60
        pred = model.predict(X_priv)
        recall = recall_score(y_priv, pred, labels=list(EMOTIONS), average=None)
        rows.append(
            {
                "training": name,
                "accuracy": (pred == y_priv).mean(),
                "balanced_accuracy": balanced_accuracy_score(y_priv, pred),
                "macro_f1": f1_score(y_priv, pred, average="macro"),
                **{f"recall_{e}": r for e, r in zip(EMOTIONS, recall)},
                "train_minutes": minutes,
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS / "imbalance.csv", index=False)
    shown = table.copy()
    for col in shown.columns[1:-1]:
        shown[col] = (shown[col] * 100).round(1)
    shown["train_minutes"] = shown["train_minutes"].round(1)
    text = "\n".join(
        [
            "# Class imbalance (the paper's Table 7)",
            "",
            f"Command: `python benchmarks/imbalance.py --epochs {args.epochs} --backbone "
            f"{args.backbone}`. Hardware: {platform.machine()} CPU, {args.threads} torch threads "
            "(machine shared with other jobs). "
            f"Budget: {args.epochs} epochs each of `{args.backbone}` "
            "on FER2013 Training, PublicTest as validation set, figures on PrivateTest (%).",
            "",
            shown.to_markdown(index=False),
        ]
    )
    (RESULTS / "imbalance.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
