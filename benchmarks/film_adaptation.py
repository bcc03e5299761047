"""Test-time choices for film on the shipped models: preprocessing, TTA, per-film adaptation.

Nothing is trained here. Each choice is scored on FER2013 PublicTest and on the film
development set (SFEW Train aligned faces, and the 84 SFEW frames: top emotion of the
largest face), with standard errors; a difference under two of them is noise.

Choices:

- ``tta``: none, flip, flip+shift (the shipped mode);
- ``preprocess``: none, or each face stretched to FER2013's mean and spread
  ("standardise": mean 129.5, std 65.0 in [0, 255]), or CLAHE (OpenCV, clip 2, 4x4 tiles),
  or an unsharp mask ("unsharp": ``x + 1.5 (x - blur(x))``, Gaussian sigma 1 px), the
  amount that gives SFEW crops FER2013's share of high-frequency energy (film crops have
  half of it: soft focus, compression, and the crop's resampling), chosen without labels;
- ``adapt``: none; ``batchnorm`` (AdaBN: batch-norm statistics re-estimated on the
  target faces, what ``EmotionCNN(adapt="batchnorm")`` does); ``priors`` (EM
  re-estimate of the class priors, Saerens, Latinne & Decaestecker 2002, on the
  model's probabilities as they are); ``priors (BCTS)`` (the same after bias-corrected
  temperature scaling fitted on PublicTest, Alexandari et al. 2020, which EM needs when
  the model was trained with label smoothing); and AdaBN followed by each. The target
  is one film (SFEW: faces grouped by the film in their file name, films with fewer
  than 16 faces pooled into one "other films" group) or the whole set ("pooled").
  PublicTest is adapted to as one domain.

Usage::

    python benchmarks/film_adaptation.py [--models fer2013 fer2013-large fer2013-fast]

writes ``benchmarks/results/film_adaptation.{md,csv}``.
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

from _film_dev import (  # noqa: E402
    accuracy_se,
    fer2013_split,
    film_dev_set,
    fit_bcts,
    high_frequency_share,
    recall_and_share,
    save_table,
    softmax,
    with_se,
)
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: ``fer2013`` before its film stage (``film_robust.py``), kept for these comparisons
STAGE1 = str(ROOT / "benchmarks" / "weights" / "fer2013-stage1.safetensors")


def label(source: str) -> str:
    """A model's name in the tables: the shipped name, or a file's stem."""
    return Path(source).stem if source.endswith(".safetensors") else source


MIN_FILM_FACES = 16
#: FER2013 Training class counts (angry, disgust, fear, happy, sad, surprise, neutral)
FER_TRAIN_COUNTS = dict(zip(EMOTIONS, (3995, 436, 4097, 7215, 4830, 3171, 4965)))
FER_MEAN, FER_STD = 0.5077 * 255, 0.2550 * 255


def standardise(faces: np.ndarray) -> np.ndarray:
    x = faces.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True) + 1.0
    return np.clip((x - mean) / std * FER_STD + FER_MEAN, 0, 255).round().astype(np.uint8)


def clahe(faces: np.ndarray) -> np.ndarray:
    import cv2

    op = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
    return np.stack([op.apply(f) for f in faces])


def unsharp(faces: np.ndarray, amount: float = 1.5, sigma: float = 1.0) -> np.ndarray:
    import cv2

    x = faces.astype(np.float32)
    soft = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in x])
    return np.clip(x + amount * (x - soft), 0, 255).round().astype(np.uint8)


PREPROCESS = {"none": lambda f: f, "standardise": standardise, "clahe": clahe, "unsharp": unsharp}


def domains(films: np.ndarray, mode: str) -> list[np.ndarray]:
    """Index groups adapted to as one domain each."""
    if mode == "pooled":
        return [np.arange(len(films))]
    names, counts = np.unique(films, return_counts=True)
    big = set(names[counts >= MIN_FILM_FACES])
    groups = [np.flatnonzero(films == n) for n in sorted(big)]
    rest = np.flatnonzero(~np.isin(films, sorted(big)))
    return groups + ([rest] if len(rest) else [])


ADAPTS = [
    "none",
    "batchnorm",
    "priors",
    "batchnorm+priors",
    "priors (BCTS)",
    "batchnorm+priors (BCTS)",
]


def adapt_priors(proba: np.ndarray, source: np.ndarray, *, max_iter: int = 100):
    """EM re-estimate of the target class priors (Saerens et al. 2002): the posteriors
    re-weighted by target / source prior, the target prior their mean, to a fixed point."""
    prior = source.copy()
    adjusted = proba
    for _ in range(max_iter):
        weighted = proba * (prior / source)
        adjusted = weighted / weighted.sum(axis=1, keepdims=True)
        new = adjusted.mean(axis=0)
        done = np.abs(new - prior).max() < 1e-6
        prior = new
        if done:
            break
    return adjusted


def predict(model, faces, films, *, adapt: str, grouping: str, calibration=None) -> np.ndarray:
    """Emotion names predicted with ``adapt`` applied per domain."""
    classes = model.classes_
    source = np.array([FER_TRAIN_COUNTS[c] for c in classes], dtype=float)
    source /= source.sum()
    out = np.empty(len(faces), dtype=object)
    for idx in domains(films, grouping):
        model.set_params(adapt="batchnorm" if "batchnorm" in adapt else None)
        logits = model.decision_function(faces[idx])
        if "BCTS" in adapt:
            temperature, bias = calibration
            logits = logits / temperature + bias
        proba = softmax(logits)
        if "priors" in adapt:
            proba = adapt_priors(proba, source)
        out[idx] = classes[proba.argmax(1)]
    model.set_params(adapt=None)
    return out.astype(str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=[STAGE1, "fer2013", "fer2013-large", "fer2013-fast"]
    )
    parser.add_argument(
        "--short",
        nargs="*",
        default=["fer2013-large", "fer2013-fast"],
        help="models (table names) scored only as shipped and with per-film adaptation",
    )
    parser.add_argument("--append", action="store_true", help="keep the results file's other rows")
    parser.add_argument("--adapts", nargs="*", choices=ADAPTS, help="only these adapt plans")
    parser.add_argument(
        "--preprocess", nargs="*", choices=list(PREPROCESS), help="only these preprocessings"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    dev = film_dev_set()
    public = fer2013_split("PublicTest")
    rows = []
    for source in args.models:
        model = load_model(source)
        name = label(source)
        shipped_tta = model.tta
        plans = [("none", t, "none", "-") for t in (False, "flip", "flip+shift")]
        plans += [(p, shipped_tta, "none", "-") for p in ("standardise", "clahe", "unsharp")]
        plans += [("none", shipped_tta, a, g) for a in ADAPTS[1:] for g in ("per film", "pooled")]
        if name in args.short:
            plans = [("none", shipped_tta, a, "per film" if a != "none" else "-") for a in ADAPTS]
        if args.adapts:
            plans = [plan for plan in plans if plan[2] in args.adapts]
        if args.preprocess:
            plans = [plan for plan in plans if plan[0] in args.preprocess]
        index = {c: i for i, c in enumerate(model.classes_)}  # shipped order, not sorted
        codes = np.array([index[t] for t in public[1]])
        calibration = None
        for prep, tta, adapt, grouping in plans:
            if "BCTS" in adapt and calibration is None:  # fitted on PublicTest, as shipped
                model.set_params(tta=shipped_tta)
                calibration = fit_bcts(model.decision_function(public[0]), codes)
            model.set_params(tta=tta)
            fn = PREPROCESS[prep]
            row = {"model": name, "preprocess": prep, "tta": str(tta), "adapt": adapt}
            row["grouping"] = grouping
            pub_faces, pub_y = public
            pub_pred = predict(
                model,
                fn(pub_faces),
                np.zeros(len(pub_faces)),
                adapt=adapt,
                grouping="pooled",
                calibration=calibration,
            )
            row["public"], row["public_se"] = accuracy_se(pub_y, pub_pred)
            for part in ("sfew", "frames"):
                d = dev[part]
                g = grouping if grouping != "-" else "pooled"
                pred = predict(
                    model,
                    fn(d["faces"]),
                    d["film"],
                    adapt=adapt,
                    grouping=g,
                    calibration=calibration,
                )
                row[part], row[f"{part}_se"] = accuracy_se(d["target"], pred)
                if part == "sfew":
                    row.update(recall_and_share(d["target"], pred))
            rows.append(row)
            print(
                f"{name:14s} {prep:11s} {str(tta):10s} {adapt:24s} {grouping:8s} "
                f"pub {row['public']:.1f} sfew {row['sfew']:.1f}±{row['sfew_se']:.1f} "
                f"frames {row['frames']:.1f} over_sad {row['over_sad']:.2f} "
                f"neutral {row['recall_neutral']:.1f}",
                flush=True,
            )
        model.set_params(tta=shipped_tta)
    df = pd.DataFrame(rows)
    if args.append and (RESULTS / "film_adaptation.csv").is_file():
        # a plan rerun replaces its earlier row in place (a model's rows once it is retrained)
        earlier = pd.read_csv(RESULTS / "film_adaptation.csv", dtype={"tta": str})
        key = ("model", "preprocess", "tta", "adapt", "grouping")
        fresh = {tuple(r[k] for k in key): r for r in df.to_dict("records")}
        kept = [fresh.pop(tuple(r[k] for k in key), r) for r in earlier.to_dict("records")]
        df = pd.DataFrame(kept + list(fresh.values()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    save_table(df, RESULTS / "film_adaptation.csv")
    cols = ["model", "preprocess", "tta", "adapt", "grouping", "public", "sfew", "frames"]
    show = df[cols + ["over_sad", "recall_neutral"]].copy()
    for c in ("public", "sfew", "frames"):
        show[c] = with_se(df, c)
    show["over_sad"] = df["over_sad"].round(2)
    show["recall_neutral"] = df["recall_neutral"].round(1)
    lines = [
        "# Test-time choices for film: preprocessing, TTA, per-film adaptation",
        "",
        "Command: `python benchmarks/film_adaptation.py " + " ".join(sys.argv[1:]) + "`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s.",
        "",
        "Accuracy in % ± one standard error. `public`: FER2013 PublicTest (3,589 faces); "
        "`sfew`: SFEW Train aligned faces (860) through `FaceCropper()`; `frames`: the 84 "
        "SFEW frames (top emotion of the largest face). `over_sad`: share of SFEW faces "
        "predicted sad / true share (1 is unbiased); `recall_neutral`: on SFEW. Nothing "
        "here is trained on SFEW; adaptation sees the target faces without labels.",
        "",
        show.to_markdown(index=False),
        "",
        "Sharpness (the median share of a standardised face's spectral energy above half "
        "Nyquist): "
        + ", ".join(
            f"{name} {high_frequency_share(faces):.3f}"
            for name, faces in (
                ("PublicTest", public[0]),
                ("SFEW", dev["sfew"]["faces"]),
                ("frames", dev["frames"]["faces"]),
                ("SFEW after unsharp", unsharp(dev["sfew"]["faces"])),
            )
        )
        + ".",
        "",
    ]
    (RESULTS / "film_adaptation.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
