"""Predictions of an emotion classifier read in a label scheme, after the fact.

A model trained on the seven emotions can be scored in a smaller scheme two ways:

- ``method="predict"``: map its predicted emotions through the scheme; a prediction
  of an emotion the scheme leaves out counts as wrong;
- ``method="proba"``: keep the probability columns of the scheme's emotions, sum
  them per scheme label and take the argmax (:func:`predict_in_scheme`), so the
  model always answers inside the scheme.

Either way the samples whose *true* emotion the scheme leaves out are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import _safe_indexing

from ..emotions import normalize_emotion
from ..labels import EmotionLabelMapper, Scheme, check_labels, native_space

__all__ = ["predict_in_scheme", "proba_in_scheme"]

METHODS = ("auto", "predict", "proba")


def proba_in_scheme(proba, classes, scheme) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities of an emotion classifier, summed per label of a scheme.

    The columns of emotions the scheme leaves out are dropped, the rest are summed
    per scheme label and each row is renormalised to sum to 1 (the probability of
    each label given that the emotion is one the scheme keeps).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        ``predict_proba`` output.
    classes : array-like of shape (n_classes,)
        The classifier's ``classes_``: emotions (any alias or FER2013 code).
    scheme : str, mapping or fitted EmotionLabelMapper
        The target scheme (see :class:`~skfer.EmotionLabelMapper`).

    Returns
    -------
    proba_scheme : ndarray of shape (n_samples, n_labels)
        Rows whose scheme emotions all have probability 0 stay 0.
    labels : ndarray of shape (n_labels,)
        The scheme's labels, sorted (the columns of ``proba_scheme``).

    Raises
    ------
    ValueError
        If a class is not an emotion of the scheme's vocabulary (the message names
        ``classes[i]``), or ``proba`` does not match ``classes``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer.evaluation import proba_in_scheme
    >>> proba = np.array([[0.5, 0.2, 0.2, 0.1]])
    >>> P, labels = proba_in_scheme(proba, ["surprise", "sad", "fear", "happy"], "clusters")
    >>> labels.tolist(), P.round(2).tolist()
    (['negative', 'neutral', 'positive'], [[0.8, 0.0, 0.2]])
    """
    applied = _scheme(scheme, classes)
    projected = applied.project(proba)
    order = sorted(range(len(applied.labels)), key=applied.labels.__getitem__)
    return projected[:, order], np.asarray([applied.labels[j] for j in order])


def predict_in_scheme(proba, classes, scheme) -> np.ndarray:
    """Predict a scheme's labels from an emotion classifier's probabilities.

    The argmax of :func:`proba_in_scheme`: probabilities of the emotions the scheme
    leaves out are ignored, the others are summed per scheme label. This is how a
    single seven-emotion model is read in ``"top4"``, ``"clusters"``... (the paper's
    Table 8 from one model).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        ``predict_proba`` output.
    classes : array-like of shape (n_classes,)
        The classifier's ``classes_`` (emotions).
    scheme : str, mapping or fitted EmotionLabelMapper
        The target scheme.

    Returns
    -------
    ndarray of shape (n_samples,)
        Scheme labels.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer.evaluation import predict_in_scheme
    >>> classes = ["surprise", "angry", "sad", "happy"]
    >>> proba = np.array([[0.4, 0.25, 0.15, 0.2], [0.1, 0.2, 0.3, 0.4]])
    >>> predict_in_scheme(proba, classes, "clusters").tolist()  # surprise ignored
    ['negative', 'negative']
    >>> predict_in_scheme(proba, classes, "top4").tolist()  # sad ignored
    ['surprise', 'happy']
    """
    summed, labels = proba_in_scheme(proba, classes, scheme)
    return labels[summed.argmax(axis=1)]


# ------------------------------------------------------------------ internals
@dataclass
class Scored:
    """True and predicted labels of one (dataset, scheme), ready for metrics.

    ``y_pred`` holds ``None`` for a prediction outside the scheme (always wrong).
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    labels: list
    sample_weight: np.ndarray | None = None

    def encode(self) -> tuple[np.ndarray, np.ndarray]:
        """Integer codes of ``y_true`` and ``y_pred`` over ``labels`` (-1: excluded)."""
        index = {label: i for i, label in enumerate(self.labels)}
        true = np.fromiter((index[v] for v in self.y_true), dtype=int, count=len(self.y_true))
        pred = np.fromiter(
            (-1 if v is None else index[v] for v in self.y_pred),
            dtype=int,
            count=len(self.y_pred),
        )
        return true, pred


def _scheme(scheme, classes=None) -> Scheme:
    """The :class:`~skfer.Scheme` of a user's scheme argument (None is not one)."""
    if scheme is None:
        raise TypeError(
            "A label scheme is a name or a mapping {emotion: label or None}; got NoneType."
        )
    return Scheme(scheme, classes)


def scheme_name(scheme) -> str:
    """A short name for a scheme in reports: its name, ``topN``, or ``custom``."""
    if isinstance(scheme, str):
        return scheme
    if isinstance(scheme, EmotionLabelMapper):
        if scheme.scheme == "top_n" and hasattr(scheme, "mapping_"):
            return f"top{len(scheme.classes_)}"
        if scheme.scheme == "top_n" and scheme.n is not None:
            return f"top{scheme.n}"
        if isinstance(scheme.scheme, str):
            return scheme.scheme
    return "custom"


def resolve_method(method: str, estimator, scheme) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    if method == "auto":
        return "proba" if scheme is not None and hasattr(estimator, "predict_proba") else "predict"
    if method == "proba" and not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"method='proba' needs an estimator with predict_proba; "
            f"{type(estimator).__name__} has none (use method='predict')."
        )
    return method


def native(estimator, X, y, sample_weight=None):
    """Map ``y`` through the estimator's own fitted mappers; drop what they leave out."""
    X, y, sample_weight, keep = native_space(estimator, X, y, sample_weight)
    if keep is None:
        y = check_labels(y)
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)
    return X, y, sample_weight


def native_labels(estimator, y_true, y_pred) -> list:
    """Label order in the model's own space: ``classes_``, then any unseen labels."""
    estimator = getattr(estimator, "best_estimator_", estimator)
    classes = list(getattr(estimator, "classes_", []))
    seen = set(classes)
    extra = sorted({v for v in list(y_true) + list(y_pred) if v not in seen})
    return classes + extra


def predictions_in_scheme(raw, scheme: Scheme, name, method: str, classes=None) -> np.ndarray:
    """Scheme labels from predictions (``None`` = outside) or from probabilities."""
    if method == "proba":
        return predict_in_scheme(raw, classes, scheme.mapping).astype(object)
    pred = np.asarray(raw, dtype=object)
    for i, value in enumerate(pred):
        try:
            normalize_emotion(value)
        except ValueError:
            raise ValueError(
                f"Prediction {value!r} (sample {i}) is not an emotion, so it cannot be read "
                f"in label scheme {name!r}: score a model that predicts emotions, or leave "
                "schemes=None to score in the model's own label space."
            ) from None
    return scheme.map_labels(pred, what="y_pred")


def score_in_scheme(estimator, X, y, scheme, method="auto", sample_weight=None) -> Scored:
    """Predict ``X`` and pair it with ``y`` in ``scheme`` (``None``: the model's own)."""
    X, y_native, sample_weight = native(estimator, X, y, sample_weight)
    if len(y_native) == 0:
        raise ValueError("Every sample of y is left out by the model's label scheme.")
    if scheme is None:
        y_pred = np.asarray(estimator.predict(X), dtype=object)
        labels = native_labels(estimator, y_native, y_pred)
        return Scored(y_native, y_pred, labels, sample_weight)
    method = resolve_method(method, estimator, scheme)
    applied, name = _scheme(scheme), scheme_name(scheme)
    keep, y_true = applied.keep(y_native)
    if not keep.any():
        raise ValueError(
            f"None of the {len(keep)} samples of y belongs to label scheme {name!r}: "
            "nothing to score."
        )
    idx = np.flatnonzero(keep)
    X = _safe_indexing(X, idx)
    if method == "proba":
        raw = estimator.predict_proba(X)
        classes = getattr(getattr(estimator, "best_estimator_", estimator), "classes_", None)
    else:
        raw, classes = estimator.predict(X), None
    y_pred = predictions_in_scheme(raw, applied, name, method, classes)
    weights = None if sample_weight is None else sample_weight[idx]
    return Scored(y_true, y_pred, list(applied.labels), weights)
