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

from skfer import FaceCropper, resolve_detector  # noqa: E402
from skfer.datasets import get_data_home, load_fer2013, load_sfew  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402

CACHE = ROOT / "benchmarks" / "cache"

#: the shipped recipe's augmentation (benchmarks/train_shipped.py)
SHIPPED_AUGMENT = dict(flip=True, shift=0.1, rotation=10.0, brightness=0.2, p=0.5)
#: film-like photometry: low-key contrast, graded tone curves, soft focus, grain
FILM_PHOTOMETRY = dict(contrast=0.5, gamma=0.6, blur=1.2, noise=0.04)

#: SFEW file names start with the film: ``AlexEmma_000548800_00000021.png``
_FILM = re.compile(r"^(.+?)_\d+_\d+$")


def film_of(filename: str) -> str:
    """The film an SFEW file comes from (the part of its name before the timecode)."""
    stem = Path(filename).stem
    match = _FILM.match(stem)
    return match.group(1) if match else stem


def film_dev_set(*, detector: str | None = None, refresh: bool = False, **params) -> dict:
    """``{"sfew": ..., "frames": ...}``, each a dict of ``faces`` (n, 48, 48) uint8,
    ``target`` (emotion names), ``film`` and ``filename`` arrays and ``fallback``
    (no face found), cropped by ``FaceCropper()`` defaults (with ``detector`` and the
    other FaceCropper ``params`` given; ``"auto"`` is resolved, so the cache names the
    detector that ran)."""
    cropper = FaceCropper(detector=resolve_detector(detector), **params)
    key = crop_key(cropper)
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


def crop_key(cropper=None) -> str:
    """What makes a set of crops: detector, size, framing and resampling."""
    c = cropper if cropper is not None else FaceCropper(detector=resolve_detector(None))
    return f"{c.detector}_{c.size}_{c.margin}_{c.eye_level}_x{c.supersample}"


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


def film_clustered_se(values, films) -> float:
    """Standard error (in %) of the mean of per-face ``values`` (hits, or the paired
    differences of two models' hits) with films, not faces, as the sampling units.

    The faces of one film share actors, lighting and grade, so a model tends to be
    right or wrong on many of them together, and the binomial SE of ``accuracy_se``
    understates how much the figure would move on other films. This is the
    cluster-robust (sandwich) SE of a mean, with the small-sample factor G / (G - 1)
    for G films.
    """
    v = np.asarray(values, dtype=float)
    films = np.asarray(films)
    _, group = np.unique(films, return_inverse=True)
    sums = np.bincount(group, weights=v - v.mean())
    n_films = len(sums)
    return 100 * float(np.sqrt(n_films / (n_films - 1) * np.sum(sums**2)) / len(v))


def part_scores(part: str, y_true, y_pred) -> dict:
    """A film table's cells for one set: ``{part: accuracy, part + "_se": its SE}`` in %,
    and for SFEW (``part == "sfew"``) the sad over-prediction and the neutral recall."""
    accuracy, se = accuracy_se(y_true, y_pred)
    out = {part: accuracy, f"{part}_se": se}
    if part == "sfew":
        shares = recall_and_share(y_true, y_pred)
        out["over_sad"] = round(shares["over_sad"], 2)
        out["recall_neutral"] = round(shares["recall_neutral"], 1)
    return out


def high_frequency_share(faces: np.ndarray) -> float:
    """Median share of a standardised face's spectral energy above half Nyquist
    (radius > 12 cycles of 24 in a 48-px face): how sharp a set of crops is, whatever
    its contrast."""
    x = faces.astype(np.float32)
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / (x.std(axis=(1, 2), keepdims=True) + 1e-6)
    power = np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(1, 2))) ** 2
    h, w = x.shape[1:]
    yy, xx = np.mgrid[-(h // 2) : h - h // 2, -(w // 2) : w - w // 2]
    radius = np.hypot(yy, xx)
    share = power[:, radius > min(h, w) / 4].sum(1) / power[:, radius > 0].sum(1)
    return float(np.median(share))


def with_se(df, column: str) -> list[str]:
    """``"47.8 ± 1.7"`` cells from a column and its ``<column>_se`` partner."""
    return ["-" if v != v else f"{v:.1f} ± {s:.1f}" for v, s in zip(df[column], df[f"{column}_se"])]


def save_table(df, path: Path) -> None:
    """Write a results table's CSV, its figures at 4 decimals.

    The md tables are made from the CSV read back (``--append``, reruns), so it must keep
    what the run measured: at 2 decimals 427/860 = 49.651 % was stored as 49.65 and then
    shown as 49.6.
    """
    df.round(4).to_csv(path, index=False)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (n, k)."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_bcts(
    logits: np.ndarray, codes: np.ndarray, *, temperature: bool = True
) -> tuple[float, np.ndarray]:
    """Bias-corrected temperature scaling: ``softmax(z / T + b)`` fitted by NLL on
    labelled faces (``codes``: class indices). Returns ``(T, b)``; with
    ``temperature=False`` only the per-class offsets ``b`` are fitted (``T`` = 1)."""
    from scipy.optimize import minimize

    k = logits.shape[1]
    rows = np.arange(len(codes))

    def nll(w):
        t, b = (w[0], w[1:]) if temperature else (1.0, w)
        p = softmax(logits / t + b)
        return -np.log(p[rows, codes] + 1e-12).mean()

    w = minimize(nll, np.r_[1.0, np.zeros(k)] if temperature else np.zeros(k), method="L-BFGS-B").x
    return (float(w[0]), w[1:]) if temperature else (1.0, w)


def fine_tuner(start, *, augment, epochs: int, n_train: int, batch_size: int = 128, **params):
    """The one fine-tuning recipe of the film benchmarks, as an :class:`~skfer.EmotionCNN`.

    Starts from ``start`` (a shipped name or model file); SGD with Nesterov momentum 0.9
    and weight decay 5e-4, a cosine decay of the learning rate to zero over ``epochs``
    (stepped every batch), label smoothing 0.1, no early stopping or validation split,
    flip+shift test-time augmentation, the start's network. ``params`` go to
    ``EmotionCNN`` (``lr``, ``freeze``, ``standardize``, ``class_weight``,
    ``random_state``...).
    """
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import CosineAnnealingLR

    from skfer import EmotionCNN
    from skfer._shipped import resolve_weights
    from skfer.models._io import read_weights

    params.setdefault("backbone", read_weights(resolve_weights(start))[1]["architecture"])
    steps = epochs * int(np.ceil(n_train / batch_size))
    cosine = LRScheduler(policy=CosineAnnealingLR, T_max=steps, step_every="batch")
    return EmotionCNN(
        pretrained=start,
        augment=augment,
        max_epochs=epochs,
        batch_size=batch_size,
        lr_patience=None,
        early_stopping=None,
        validation=None,
        label_smoothing=0.1,
        optimizer__nesterov=True,
        optimizer__weight_decay=5e-4,
        callbacks=[("cosine", cosine)],
        tta="flip+shift",
        **params,
    )


def average_weights(models: list, faces: np.ndarray):
    """``models[0]`` with the float tensors of all ``models`` averaged (a uniform weight
    soup of fine-tunes of one start) and its batch-norm statistics re-estimated on
    ``faces``: the average of the members' statistics does not describe the averaged
    network's features. Returns ``models[0]``, changed in place."""
    import torch

    from skfer.models import adapt_batchnorm
    from skfer.models._torch import images_to_tensor

    model = models[0]
    if len(models) == 1:
        return model
    states = [m.module_.state_dict() for m in models]
    model.module_.load_state_dict(
        {
            k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v
            for k, v in states[0].items()
        }
    )
    tensor = images_to_tensor(faces, model.in_chans_)
    batches = [model.preprocess_(tensor[i : i + 256]) for i in range(0, len(tensor), 256)]
    model.module_ = adapt_batchnorm(model.module_, batches)
    return model


def interpolate_weights(start, tuned, alpha: float):
    """``tuned`` with every float tensor (weights and batch-norm statistics) moved back
    towards ``start``'s: ``(1 - alpha) * start + alpha * tuned`` (WiSE-FT, Wortsman et
    al. 2022, "Robust fine-tuning of zero-shot models"). A fine-tune on a few films fits
    those films; interpolating with the model it started from keeps part of what that
    model learnt from many more faces, and Wortsman et al. find the interpolation more
    accurate under a distribution shift than either end. ``alpha=1`` is ``tuned``
    itself. Both must be the same network with the same classes (the classifier rows of
    ``start`` are put in ``tuned``'s class order); ``tuned`` is changed in place and
    returned."""
    import torch

    if sorted(start.classes_) != sorted(tuned.classes_):
        raise ValueError(f"classes differ: {list(start.classes_)} vs {list(tuned.classes_)}")
    ends = dict(start.module_.state_dict()), tuned.module_.state_dict()
    if ends[0].keys() != ends[1].keys():
        raise ValueError("the two models are not the same network")
    head = start.module_.get_classifier()
    prefix = next(f"{n}." for n, m in start.module_.named_modules() if m is head)
    rows = [list(start.classes_).index(c) for c in tuned.classes_]
    for k in (f"{prefix}weight", f"{prefix}bias"):
        if k in ends[0]:
            ends[0][k] = ends[0][k][rows]
    with torch.no_grad():
        tuned.module_.load_state_dict(
            {
                k: torch.lerp(ends[0][k].to(v.dtype), v, alpha) if v.is_floating_point() else v
                for k, v in ends[1].items()
            }
        )
    return tuned
