"""The film development set, shared by the film benchmarks.

SFEW 2.0 Train aligned faces (860) and the 84 full SFEW movie frames, cropped by
``FaceCropper()`` defaults (what a user and the independent check get), cached under
``benchmarks/cache/`` (ignored by git). Used to *choose*: recipes, preprocessing,
TTA, adaptation. The ``fer2013*`` models never train on it; the ``film`` model does,
and is then scored on it only by leave-films-out cross-validation.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skfer import FaceCropper  # noqa: E402
from skfer.datasets import get_data_home, load_fer2013, load_sfew  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402

CACHE = ROOT / "benchmarks" / "cache"

#: SFEW file names start with the film: ``AlexEmma_000548800_00000021.png``
_FILM = re.compile(r"^(.+?)_\d+_\d+$")


def film_of(filename: str) -> str:
    """The film an SFEW file comes from (the part of its name before the timecode)."""
    stem = Path(filename).stem
    match = _FILM.match(stem)
    return match.group(1) if match else stem


def film_dev_set(*, refresh: bool = False) -> dict:
    """``{"sfew": ..., "frames": ...}``, each a dict of ``faces`` (n, 48, 48) uint8,
    ``target`` (emotion names), ``film`` and ``filename`` arrays and ``fallback``
    (no face found), cropped by ``FaceCropper()`` defaults."""
    cropper = FaceCropper()
    key = f"{cropper.detector}_{cropper.size}_{cropper.margin}_{cropper.eye_level}"
    path = CACHE / f"film_dev_{re.sub(r'[^A-Za-z0-9_.]+', '-', key)}.npz"
    if path.is_file() and not refresh:
        raw = np.load(path, allow_pickle=False)
        return {
            part: {k.split("/", 1)[1]: raw[k] for k in raw.files if k.startswith(part + "/")}
            for part in ("sfew", "frames")
        }
    home = get_data_home()
    out = {}
    for part, root in (("sfew", home / "sfew" / "Train"), ("frames", home / "sfew_frames")):
        data = load_sfew(root, return_paths=True)
        faces = cropper.fit_transform(list(data.images))
        names = [Path(f).name for f in data.filenames]
        out[part] = {
            "faces": faces,
            "target": np.asarray(data.target).astype(str),
            "filename": np.asarray(names),
            "film": np.asarray([film_of(n) for n in names]),
            "fallback": np.asarray(cropper.fallback_),
        }
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"{part}/{k}": v for part, d in out.items() for k, v in d.items()})
    return out


def fer2013_split(usage: str) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 faces and emotion names of one Usage."""
    fer = load_fer2013()
    mask = fer.usage == usage
    return fer.images[mask], np.asarray(fer.target[mask]).astype(str)


def accuracy_se(y_true, y_pred) -> tuple[float, float]:
    """Accuracy and its binomial standard error, both in %."""
    hit = np.asarray(y_true) == np.asarray(y_pred)
    p = float(hit.mean())
    return 100 * p, 100 * float(np.sqrt(p * (1 - p) / len(hit)))


def recall_and_share(y_true, y_pred) -> dict:
    """Per-emotion recall (%) and predicted share / true share (how over-predicted)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = {}
    for e in EMOTIONS:
        mask = y_true == e
        out[f"recall_{e}"] = 100 * float((y_pred[mask] == e).mean()) if mask.any() else np.nan
        true_share = float(mask.mean())
        out[f"share_{e}"] = 100 * float((y_pred == e).mean())
        out[f"over_{e}"] = float((y_pred == e).mean()) / true_share if true_share else np.nan
    return out
