"""Domain-robust training variants for the FER2013-trained models, scored for film.

Each variant fine-tunes the shipped ``fer2013`` network on FER2013 Training only,
through :class:`skfer.EmotionCNN` (``pretrained="fer2013"``, cosine decay from
``--lr``, label smoothing 0.1, the variant's augmentation and, for the ``standardize``
variants, per-face contrast normalisation at training and test time), for the same
number of epochs, and is scored on FER2013 PublicTest (selection, >= 68 % wanted for
the default) and on the film development set (SFEW Train aligned faces and the 84
frames, never trained on). The "control" variant continues with the shipped recipe's
own augmentation, so that a gain of another variant is the augmentation's, not the
extra epochs'.

Usage::

    python benchmarks/film_robust.py --epochs 6 [--variants control photometric ...]

writes ``benchmarks/results/film_robust.{md,csv}`` (appending; one row per variant)
and the weights of each variant to ``benchmarks/checkpoints/film_robust/<variant>``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import accuracy_se, fer2013_split, film_dev_set, recall_and_share  # noqa: E402
from _machine import hardware, load  # noqa: E402

from skfer import Augmenter, EmotionCNN  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "benchmarks" / "checkpoints" / "film_robust"

#: the shipped recipe's augmentation (benchmarks/train_shipped.py)
_BASE = dict(flip=True, shift=0.1, rotation=10.0, brightness=0.2, p=0.5)
_PHOTO = dict(contrast=0.5, gamma=0.6, blur=1.2, noise=0.04)
_GEOM = dict(shift=0.12, rotation=15.0, scale=0.15)
#: name -> (augmentation, per-face standardisation)
VARIANTS = {
    "control": (Augmenter(**_BASE), False),
    "photometric": (Augmenter(**{**_BASE, **_PHOTO}), False),
    "standardize": (Augmenter(**_BASE), True),
    "standardize+photometric": (Augmenter(**{**_BASE, **_PHOTO}), True),
    "geometric": (Augmenter(**{**_BASE, **_GEOM}), False),
    "photometric+geometric": (Augmenter(**{**_BASE, **_PHOTO, **_GEOM}), False),
}


def cosine_callback(epochs: int, steps_per_epoch: int):
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import CosineAnnealingLR

    return (
        "cosine",
        LRScheduler(policy=CosineAnnealingLR, T_max=epochs * steps_per_epoch, step_every="batch"),
    )


def score(model, dev, public) -> dict:
    row = {}
    pub_x, pub_y = public
    row["public"], row["public_se"] = accuracy_se(pub_y, model.predict(pub_x))
    for part in ("sfew", "frames"):
        pred = model.predict(dev[part]["faces"])
        row[part], row[f"{part}_se"] = accuracy_se(dev[part]["target"], pred)
        if part == "sfew":
            row.update(recall_and_share(dev[part]["target"], pred))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--start", default="fer2013", help="model fine-tuning starts from")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    train_x, train_y = fer2013_split("Training")
    public = fer2013_split("PublicTest")
    csv = RESULTS / "film_robust.csv"
    for name in args.variants:
        t0 = time.perf_counter()
        steps = int(np.ceil(len(train_x) / 128))
        model = EmotionCNN(
            pretrained=args.start,
            augment=VARIANTS[name][0],
            standardize=VARIANTS[name][1],
            lr=args.lr,
            max_epochs=args.epochs,
            lr_patience=None,
            early_stopping=None,
            validation=None,
            label_smoothing=0.1,
            optimizer__nesterov=True,
            optimizer__weight_decay=5e-4,
            callbacks=[cosine_callback(args.epochs, steps)],
            tta="flip+shift",
            device="auto",
            random_state=0,
            verbose=1,
        ).fit(train_x, train_y)
        minutes = (time.perf_counter() - t0) / 60
        row = {"variant": name, "start": args.start, "epochs": args.epochs, "lr": args.lr}
        row["standardize"] = VARIANTS[name][1]
        row.update(score(model, film_dev_set(), public))  # cropped once, then cached
        row["train_minutes"] = round(minutes, 1)
        row["augment"] = json.dumps(
            {k: v for k, v in VARIANTS[name][0].get_params().items() if k != "random_state"}
        )
        row["machine"] = f"{hardware()}, load {load():.1f}"
        OUT.mkdir(parents=True, exist_ok=True)
        model.save(OUT / f"{name}.safetensors", metrics={k: row[k] for k in ("public", "sfew")})
        print(json.dumps({k: row[k] for k in ("variant", "public", "sfew", "frames")}), flush=True)
        frame = pd.DataFrame([row])
        if csv.is_file():
            frame = pd.concat([pd.read_csv(csv), frame], ignore_index=True)
        frame.round(2).to_csv(csv, index=False)
    write_md(pd.read_csv(csv))


def write_md(df: pd.DataFrame) -> None:
    show = df[["variant", "standardize", "start", "epochs", "lr"]].copy()
    for c in ("public", "sfew", "frames"):
        show[c] = [f"{v:.1f} ± {s:.1f}" for v, s in zip(df[c], df[f"{c}_se"])]
    show["over_sad"] = df["over_sad"].round(2)
    show["recall_neutral"] = df["recall_neutral"].round(1)
    show["minutes"] = df["train_minutes"]
    lines = [
        "# Domain-robust training variants (fine-tuned from `fer2013` on FER2013 Training)",
        "",
        "Command: `python benchmarks/film_robust.py` (see its docstring). Accuracy in % ± one "
        "standard error, shipped TTA (flip+shift). `public`: FER2013 PublicTest; `sfew`: SFEW "
        "Train aligned faces through `FaceCropper()`; `frames`: the 84 SFEW frames. "
        "`over_sad`: predicted / true share of sad on SFEW. SFEW is never trained on.",
        "",
        show.to_markdown(index=False),
        "",
        "Augmentations: " + "; ".join(f"`{v}`: {a}" for v, a in zip(df["variant"], df["augment"])),
        "",
    ]
    (RESULTS / "film_robust.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
