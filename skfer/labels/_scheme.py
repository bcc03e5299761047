"""Scheme: a label scheme applied to a classifier's classes."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..emotions import SCHEMES
from ._resolve import check_labels, display_labels, map_emotions, resolve_scheme

__all__ = ["Scheme"]


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True, eq=False, repr=False)
class Scheme:
    """A label scheme applied to a classifier's classes.

    Built once from a scheme and the classes it reads, it holds what every reader of
    predictions in a scheme needs: the labels in display order, the matrix that sums
    the classes' probabilities per label (:meth:`project`) and the rows of ``y`` it
    keeps (:meth:`keep`). Immutable.

    Parameters
    ----------
    spec : str, mapping, EmotionLabelMapper or None
        A named scheme (``"ekman7"``, ``"top4"``, ``"clusters"``, ``"valence"``), a
        mapping ``{emotion: label or None}``, an :class:`EmotionLabelMapper` (fitted,
        or with a scheme that needs no data), or ``None``: the classes themselves,
        unchanged.
    classes : array-like of shape (n_classes,), optional
        The classes it is applied to, e.g. a classifier's ``classes_``: emotions
        (any alias or FER2013 code) of the scheme's vocabulary, or anything when
        ``spec`` is None (then required). Default: the scheme's vocabulary.

    Attributes
    ----------
    classes : tuple
        The classes, as Python scalars.
    labels : tuple
        The scheme's labels in display order: as :data:`skfer.SCHEMES` lists a
        named scheme, else in order of first appearance (``classes`` for None).
    matrix : ndarray of shape (n_classes, n_labels)
        1.0 where a class maps to a label, else 0 (read-only).
    mapping : dict or None
        The resolved ``{emotion: label or None}``; None for ``spec=None``.

    Raises
    ------
    ValueError
        For an invalid scheme (see :func:`resolve_scheme`), or a class that is not
        an emotion of its vocabulary (the message names ``classes[i]``).

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import Scheme
    >>> scheme = Scheme("clusters", ["surprise", "sad", "fear", "happy"])
    >>> scheme.labels
    ('positive', 'neutral', 'negative')
    >>> scheme.project([[0.5, 0.2, 0.2, 0.1]]).round(2).tolist()  # surprise left out
    [[0.2, 0.0, 0.8]]
    >>> keep, labels = scheme.keep(["happy", "surprise", "anger"])
    >>> keep.tolist(), labels.tolist()
    ([True, False, True], ['positive', 'negative'])
    >>> Scheme({"happy": "pos", "sad": "neg", "anger": None}).labels
    ('pos', 'neg')
    >>> Scheme(None, ["a", "b"]).matrix.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    spec: object
    classes: tuple | None = None
    labels: tuple = field(init=False)
    matrix: np.ndarray = field(init=False)
    mapping: dict | None = field(init=False)

    def __post_init__(self):
        spec, classes = self.spec, self.classes
        if spec is None:
            if classes is None:
                raise ValueError(
                    "Scheme(None) keeps the classes themselves: pass classes=, e.g. a "
                    "classifier's classes_."
                )
            classes = tuple(_scalar(c) for c in check_labels(classes, what="classes"))
            mapping, labels = None, classes
            matrix = np.eye(len(classes))
        else:
            mapping = _resolve_any(spec)
            if classes is None:
                classes = tuple(mapping)
            classes = tuple(_scalar(c) for c in check_labels(classes, what="classes"))
            labels = tuple(display_labels(_display_source(spec, mapping)))
            column = {label: j for j, label in enumerate(labels)}
            matrix = np.zeros((len(classes), len(labels)))
            for i, label in enumerate(map_emotions(classes, mapping, what="classes")):
                if label is not None:
                    matrix[i, column[label]] = 1.0
        matrix.flags.writeable = False
        for name, value in [
            ("classes", classes),
            ("labels", labels),
            ("matrix", matrix),
            ("mapping", mapping),
        ]:
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        spec = self.spec if isinstance(self.spec, str) or self.spec is None else "custom"
        return f"Scheme({spec!r}, labels={self.labels!r}, n_classes={len(self.classes)})"

    def project(self, proba) -> np.ndarray:
        """Class probabilities summed per label of the scheme, rows renormalised.

        The columns of classes the scheme leaves out are dropped, the others summed
        per label, and each row divided by its sum: the probability of each label
        given that the emotion is one the scheme keeps. A row with no probability on
        the scheme's classes stays 0.

        Parameters
        ----------
        proba : array-like of shape (n_samples, n_classes)
            Probabilities over ``classes``, e.g. ``predict_proba``.

        Returns
        -------
        ndarray of shape (n_samples, n_labels)
            Columns in the order of :attr:`labels`.
        """
        proba = np.asarray(proba, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(self.classes):
            raise ValueError(
                f"proba must have shape (n_samples, {len(self.classes)}) to match classes; "
                f"got {proba.shape}."
            )
        if not np.all(np.isfinite(proba)):
            raise ValueError("proba contains NaN or infinite values.")
        summed = proba @ self.matrix
        total = summed.sum(axis=1, keepdims=True)
        return np.divide(summed, total, out=np.zeros_like(summed), where=total > 0)

    def map_labels(self, y, what: str = "y") -> np.ndarray:
        """Labels of ``y`` in the scheme: an object array, ``None`` where left out.

        ``y`` holds emotions of the scheme's vocabulary (errors name ``y[i]``); for
        ``spec=None`` every label is kept as it is.
        """
        if self.mapping is None:
            return check_labels(y, what=what)
        named = _named(self.spec)
        return map_emotions(y, self.mapping, scheme=named, what=what)

    def keep(self, y) -> tuple[np.ndarray, np.ndarray]:
        """``(mask, labels)``: which rows of ``y`` the scheme keeps, and their labels.

        ``mask`` is a boolean array over ``y``; ``labels`` (object array) the kept
        rows' labels in the scheme.
        """
        mapped = self.map_labels(y)
        mask = np.not_equal(mapped, None)
        return mask, mapped[mask]


def _is_mapper(spec) -> bool:
    """Whether ``spec`` is an :class:`EmotionLabelMapper`, without importing the mapper
    (and imbalanced-learn) when no mapper exists yet."""
    mapper = sys.modules.get(__name__.rsplit(".", 1)[0] + "._mapper")
    return mapper is not None and isinstance(spec, mapper.EmotionLabelMapper)


def _named(spec):
    """The scheme name of a spec (a name or a mapper's), for messages; else None."""
    if _is_mapper(spec):
        spec = spec.scheme
    return spec if isinstance(spec, str) else None


def _display_source(spec, mapping: dict) -> Mapping:
    named = _named(spec)
    return SCHEMES[named] if named in SCHEMES else mapping


def _resolve_any(spec) -> dict:
    """Resolve a scheme spec; an unfitted mapper is fitted on no data (a copy)."""
    if _is_mapper(spec):
        try:
            check_is_fitted(spec, "mapping_")
        except NotFittedError:
            spec = clone(spec).fit(None, [])
    return resolve_scheme(spec)
