"""Classifying buffered face crops in batches: probabilities in a label scheme, valence
and arousal, the timeline's table (shared by :func:`analyze_video` and
:func:`analyze_images`)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np

from ..emotions import VALENCE_AROUSAL, normalize_emotion

__all__ = ["BOX_COLUMNS", "PROBA_PREFIX", "FaceClassifier", "check_batch_size", "proba_columns"]

BOX_COLUMNS = ("x", "y", "w", "h", "score")
#: After the box: the detector that found each face (its ``score`` is on that
#: detector's own scale, see :class:`skfer.faces.Face`).
DETECTOR_COLUMN = "detector"

#: Prefix of a table's probability columns: ``p_happy`` is the probability of *happy*
#: (the summaries of :func:`~skfer.video.film_profile` are ``share_happy``).
PROBA_PREFIX = "p_"


def proba_columns(labels) -> list[str]:
    """The probability column of each label: ``["p_happy", ...]``."""
    return [f"{PROBA_PREFIX}{label}" for label in labels]


def check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


class FaceClassifier:
    """Buffers face crops with their row data and classifies them in batches.

    Reads the model's probabilities in a label scheme (through
    :func:`skfer.evaluation.proba_in_scheme`) and turns them into valence and arousal.
    """

    def __init__(self, model, *, scheme, batch_size: int, adapt=None):
        self.model = _adapted(model, adapt)
        self.adapt = adapt
        self.batch_size = check_batch_size(batch_size)
        classes = np.asarray(model.classes_)
        self.classes = classes
        self.scheme = _scheme_matrix(classes, scheme)
        self.labels = list(self.scheme.labels)
        self.va = _valence_arousal_matrix(classes)
        # results are kept as numeric blocks, one per batch (a few floats per face)
        self._blocks: list[np.ndarray] = []
        self._best: list[np.ndarray] = []
        self._crops: list[np.ndarray] = []
        self._pending: list[tuple] = []
        self._detectors: list = []

    def add(self, rows: list[tuple], crops: np.ndarray, detectors=None) -> None:
        """Queue faces: ``rows`` of key values then ``x, y, w, h, score``; their crops;
        the detector that found each (None: not known)."""
        self._pending.extend(rows)
        self._detectors.extend(detectors if detectors is not None else [None] * len(rows))
        self._crops.extend(crops)
        if len(self._crops) >= self.batch_size and self.adapt is None:
            self.flush()  # with adapt, all faces are classified together at the end

    def flush(self) -> None:
        if not self._crops:
            return
        proba = np.asarray(self.model.predict_proba(np.stack(self._crops)), dtype=float)
        if proba.shape != (len(self._crops), len(self.classes)):
            raise ValueError(
                f"model.predict_proba returned shape {proba.shape}; expected "
                f"({len(self._crops)}, {len(self.classes)}) to match classes_."
            )
        scheme_proba = self.scheme.project(proba)
        va = proba @ self.va if self.va is not None else np.full((len(proba), 2), np.nan)
        meta = np.asarray(self._pending, dtype=float)
        self._blocks.append(np.hstack([meta, scheme_proba, va]))
        self._best.append(scheme_proba.argmax(axis=1))
        self._crops.clear()
        self._pending = []

    def table(self, key_columns: Sequence[str]):
        import pandas as pd

        self.flush()
        head = [*key_columns, *BOX_COLUMNS]
        width = len(head) + len(self.labels) + 2
        data = np.concatenate(self._blocks) if self._blocks else np.zeros((0, width))
        best = np.concatenate(self._best) if self._best else np.zeros(0, dtype=int)
        columns = [*head, *proba_columns(self.labels), "valence", "arousal"]
        frame = pd.DataFrame(data, columns=columns)
        for column in key_columns:
            if column != "time":
                frame[column] = frame[column].astype(int)
        labels = np.empty(len(self.labels), dtype=object)
        labels[:] = self.labels
        frame.insert(len(head) + len(self.labels), "label", labels[best])
        detectors = np.empty(len(frame), dtype=object)
        detectors[:] = self._detectors
        frame.insert(len(head), DETECTOR_COLUMN, detectors)
        return frame


def served_by(model) -> str:
    """What runs ``model``'s predictions: ``"torch"`` (an EmotionCNN), ``"onnx"`` or
    ``"onnx-int8"`` (an OnnxEmotionModel), else the classifier's class name."""
    steps = getattr(model, "steps", None)
    model = steps[-1][1] if steps else model
    name = type(model).__name__
    if name == "OnnxEmotionModel":
        return "onnx-int8" if getattr(model, "quantized", None) == "int8" else "onnx"
    return "torch" if name == "EmotionCNN" else name


def _adapted(model, adapt):
    """``model`` itself, or a shallow copy of it that adapts to each call's faces."""
    if adapt is None:
        return model
    from ..models._adapt import ADAPT_MODES  # imports torch: only when adapting

    if adapt not in ADAPT_MODES:
        raise ValueError(f"adapt must be None or one of {list(ADAPT_MODES)}; got {adapt!r}.")
    if "adapt" not in getattr(model, "get_params", dict)():
        raise ValueError(
            f"adapt={adapt!r} needs a model with an adapt parameter (an EmotionCNN, "
            f"backend='torch'); {type(model).__name__} has none."
        )
    import copy

    adapted = copy.copy(model)  # shares the weights; the caller's model keeps its setting
    adapted.adapt = adapt
    return adapted


def _scheme_matrix(classes: np.ndarray, scheme):
    """The model's classes read in ``scheme``: a :class:`skfer.Scheme` (None: as they are)."""
    from ..labels import Scheme

    if scheme is None:
        return Scheme(None, classes)
    try:
        return Scheme(scheme, classes)
    except ValueError as exc:
        raise ValueError(
            f"Cannot read the model's classes {list(classes)} in label scheme {scheme!r}: "
            f"{exc} Pass scheme=None to keep the model's own classes."
        ) from None


def _valence_arousal_matrix(classes: np.ndarray) -> np.ndarray | None:
    """(n_classes, 2) coordinates, or None when a class is not an emotion."""
    try:
        names = [normalize_emotion(c) for c in classes]
    except ValueError:
        return None
    return np.array([VALENCE_AROUSAL[name] for name in names], dtype=float)
