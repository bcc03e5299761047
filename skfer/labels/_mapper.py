"""EmotionLabelMapper: the scheme as a pipeline step, and reading y through fitted mappers."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._sampler import ImageSampler
from ..emotions import EMOTIONS, PAPER_RANKING, normalize_emotion
from ._resolve import (
    _label_array,
    _normalize_target,
    _top_n_mapping,
    check_labels,
    map_emotions,
    resolve_scheme,
    sorted_labels,
)

__all__ = ["EmotionLabelMapper", "fitted_mappers", "map_through", "native_space"]


class EmotionLabelMapper(ImageSampler):
    """Map emotion labels to a label scheme and drop the samples it leaves out.

    A sampler in imbalanced-learn's sense: inside :class:`skfer.Pipeline` it acts
    only while fitting, and the fitted pipeline then scores in the scheme's label
    space (``y_true`` mapped and filtered by this same mapper).

    Parameters
    ----------
    scheme : str or mapping, default="ekman7"
        ``"ekman7"`` (the seven basic emotions, unchanged), ``"top4"`` (happy,
        surprise, neutral, angry: the paper's best four), ``"top_n"`` (the ``n``
        best-ranked emotions, see ``ranking``), ``"clusters"`` (the paper's three:
        positive {happy}, neutral {neutral}, negative {angry, sad, fear, disgust};
        surprise left out), ``"valence"`` (positive / neutral / negative by the sign
        of :data:`skfer.VALENCE_AROUSAL`), or a mapping ``{emotion: label or None}``.
        A mapping's keys are its vocabulary (any alias or FER2013 code); ``None``
        leaves an emotion out. Named schemes accept the seven basic emotions
        (``valence`` also ``contempt``) and drop those they do not map.
    n : int, optional
        Number of emotions kept by ``"top_n"`` (ignored by other schemes). Required
        unless ``ranking`` is a list, whose length is then the default.
    ranking : "paper", "learned" or list of str, default="paper"
        Order in which ``"top_n"`` keeps emotions: the paper's
        (:data:`skfer.emotions.PAPER_RANKING`), an explicit list, or ``"learned"``:
        per-class recall of ``estimator`` from cross-validated predictions on the
        training data, best first (the paper's way of choosing).
    estimator : estimator, optional
        Baseline classifier for ``ranking="learned"``; it is cloned and fitted on the
        ``X`` this step receives.
    cv : int, cross-validation generator or iterable, default=5
        Cross-validation for ``ranking="learned"``, as in
        :func:`sklearn.model_selection.cross_val_predict`.

    Attributes
    ----------
    mapping_ : dict
        ``{emotion: label or None}`` over the scheme's whole vocabulary.
    classes_ : ndarray
        The scheme's labels, sorted (as a classifier's ``classes_``).
    ranking_ : tuple of str
        Emotions best first (``"top_n"`` only).
    recall_ : dict
        Cross-validated recall per emotion (``ranking="learned"`` only; emotions
        absent from ``y`` are ranked last and not listed).
    sample_indices_ : ndarray of int
        Rows kept by the last :meth:`fit_resample`.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import EmotionLabelMapper
    >>> X = np.zeros((5, 48, 48), np.uint8)
    >>> y = ["Happy", "sad", 5, "anger", "neutral"]
    >>> mapper = EmotionLabelMapper("clusters")
    >>> X_res, y_res = mapper.fit_resample(X, y)
    >>> X_res.shape, y_res.tolist()
    ((4, 48, 48), ['positive', 'negative', 'negative', 'neutral'])
    >>> mapper.classes_.tolist()
    ['negative', 'neutral', 'positive']
    >>> mapper.map_labels(["surprise", "fear"]).tolist()
    [None, 'negative']
    >>> EmotionLabelMapper("top_n", n=2).fit(None, y).classes_.tolist()
    ['happy', 'surprise']
    """

    _is_label_mapper = True  # resolve_scheme reads its fitted mapping

    _parameter_constraints: dict = {
        "scheme": [str, Mapping],
        "n": [Interval(Integral, 1, None, closed="left"), None],
        "ranking": [StrOptions({"paper", "learned"}), list, tuple],
        "estimator": [HasMethods(["fit", "predict"]), None],
        "cv": ["cv_object"],
    }

    def __init__(self, scheme="ekman7", *, n=None, ranking="paper", estimator=None, cv=5):
        self.scheme = scheme
        self.n = n
        self.ranking = ranking
        self.estimator = estimator
        self.cv = cv

    # ------------------------------------------------------------------ fitting
    # nested validation stays on: ranking="learned" fits the user's estimator
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Resolve the scheme (and learn the ranking for ``ranking="learned"``).

        Parameters
        ----------
        X : array-like of images, or None
            Only used by ``ranking="learned"``.
        y : array-like of shape (n_samples,)
            Emotion labels (names in any case or alias, or FER2013 codes, which may
            mix; missing labels, None or NaN, are refused).

        Returns
        -------
        self : EmotionLabelMapper
        """
        return self._fit(X, y)

    def _fit(self, X, y):
        if self.scheme == "top_n":
            self.ranking_, recall = self._rank(X, y)
            if recall is not None:
                self.recall_ = recall
            mapping = _top_n_mapping(self.ranking_, self._top_n_count(self.ranking_))
        else:
            mapping = resolve_scheme(self.scheme)
        self.mapping_ = mapping
        self.classes_ = _label_array(sorted_labels(mapping))
        _normalize_target(y, vocabulary=mapping, scheme=self.scheme)
        return self

    def fit_resample(self, X, y):
        """Fit, then map ``y`` and drop the rows the scheme leaves out.

        Parameters
        ----------
        X : array-like or sequence of images or paths, length n_samples
            Rows are selected, never converted.
        y : array-like of shape (n_samples,)
            Emotion labels.

        Returns
        -------
        X_resampled : same type as ``X``
            The kept rows.
        y_resampled : ndarray
            Their labels in the scheme.

        Raises
        ------
        ValueError
            If a label is not an emotion of the scheme's vocabulary (the message
            names ``y[i]``), if ``X`` and ``y`` differ in length, or if every row
            would be dropped.
        """
        return super().fit_resample(X, y)

    def _fit_resample(self, X, y):
        y = check_labels(y, emotions=True)
        if X is not None and _num_samples(X) != len(y):
            raise ValueError(f"X has {_num_samples(X)} samples but y has {len(y)} labels.")
        self._fit(X, y)
        mapped = self.map_labels(y)
        keep = np.flatnonzero(np.not_equal(mapped, None))
        if keep.size == 0:
            raise ValueError(
                f"None of the {len(y)} labels in y is kept by scheme {self._describe()} "
                f"(it keeps {', '.join(e for e, lab in self.mapping_.items() if lab is not None)}"
                "): every sample would be dropped."
            )
        self.sample_indices_ = keep
        X_res = None if X is None else _safe_indexing(X, keep)
        return X_res, _label_array(mapped[keep])

    # ------------------------------------------------------------- mapping API
    def map_labels(self, y) -> np.ndarray:
        """Map emotion labels to the scheme: an object array, ``None`` where left out.

        Raises
        ------
        ValueError
            If ``y[i]`` is not an emotion of the scheme's vocabulary.

        Examples
        --------
        >>> EmotionLabelMapper("top4").fit(None, ["happy"]).map_labels([3, "Sad"]).tolist()
        ['happy', None]
        """
        check_is_fitted(self, "mapping_")
        return map_emotions(y, self.mapping_, scheme=self.scheme)

    def keep_mask(self, y) -> np.ndarray:
        """Boolean mask of the samples whose emotion the scheme keeps.

        Examples
        --------
        >>> EmotionLabelMapper("clusters").fit(None, ["happy"]).keep_mask(["surprise", "sad"])
        array([False,  True])
        """
        return np.not_equal(self.map_labels(y), None)

    # ---------------------------------------------------------------- helpers
    def _describe(self) -> str:
        return repr(self.scheme) if isinstance(self.scheme, str) else "(a mapping)"

    def _top_n_count(self, ranking: tuple[str, ...]) -> int:
        n = self.n
        if n is None:
            if isinstance(self.ranking, str):
                raise ValueError(
                    "scheme='top_n' needs n, the number of emotions to keep "
                    "(e.g. EmotionLabelMapper('top_n', n=4))."
                )
            n = len(ranking)
        if n > len(ranking):
            raise ValueError(
                f"n={n} but the ranking holds only {len(ranking)} emotions: {list(ranking)}."
            )
        return n

    def _rank(self, X, y):
        ranking = self.ranking
        if isinstance(ranking, str) and ranking == "paper":
            return PAPER_RANKING, None
        if isinstance(ranking, str) and ranking == "learned":
            return self._learn_ranking(X, _normalize_target(y, vocabulary=None))
        names = []
        for i, item in enumerate(ranking):
            try:
                name = normalize_emotion(item)
            except ValueError as exc:
                raise ValueError(f"ranking[{i}]: {exc}") from None
            if name in names:
                raise ValueError(f"ranking[{i}]: {name!r} appears twice in the ranking.")
            names.append(name)
        if not names:
            raise ValueError("ranking is an empty list: it must name at least one emotion.")
        return tuple(names), None

    def _learn_ranking(self, X, emotions: np.ndarray):
        from sklearn.metrics import recall_score
        from sklearn.model_selection import cross_val_predict

        if self.estimator is None:
            raise ValueError(
                "ranking='learned' needs estimator=, the baseline classifier whose "
                "cross-validated per-class recall orders the emotions."
            )
        if X is None:
            raise ValueError("ranking='learned' needs the training images X, got None.")
        pred = cross_val_predict(clone(self.estimator), X, emotions, cv=self.cv)
        present = [e for e in PAPER_RANKING + ("contempt",) if e in set(emotions)]
        recall = recall_score(emotions, pred, labels=present, average=None, zero_division=0.0)
        recall_ = {e: float(r) for e, r in zip(present, recall)}
        order = sorted(present, key=lambda e: -recall_[e])  # stable: ties keep paper order
        absent = [e for e in EMOTIONS if e not in recall_]
        absent.sort(key=PAPER_RANKING.index)
        return tuple(order + absent), recall_


# ---------------------------------------------------------------- scheme logic


def fitted_mappers(estimator) -> list[EmotionLabelMapper]:
    """The fitted :class:`EmotionLabelMapper` steps of a pipeline, in order.

    A search object (``best_estimator_``) is unwrapped; a bare estimator has none.
    """
    estimator = getattr(estimator, "best_estimator_", estimator)
    steps = getattr(estimator, "steps", None)
    if not isinstance(steps, list):
        return []
    return [step for _, step in steps if isinstance(step, EmotionLabelMapper)]


def map_through(mappers: list[EmotionLabelMapper], y) -> tuple[np.ndarray, np.ndarray]:
    """Apply fitted mappers in turn: ``(labels of kept rows, boolean keep mask)``."""
    labels = check_labels(y, emotions=True)
    keep = np.ones(len(labels), dtype=bool)
    for mapper in mappers:
        idx = np.flatnonzero(keep)
        mapped = mapper.map_labels(labels[idx])
        kept = np.not_equal(mapped, None)
        keep[idx[~kept]] = False
        labels = np.empty(len(keep), dtype=object)
        labels[idx[kept]] = mapped[kept]
    return labels[keep], keep


def native_space(estimator, X, y, sample_weight=None):
    """``X``, ``y`` and ``sample_weight`` in the label space of an estimator's mappers.

    ``y`` is mapped by the fitted :class:`EmotionLabelMapper` steps of ``estimator``
    (a pipeline, or a search over one), and the rows their scheme leaves out are
    dropped from ``X``, ``y`` and ``sample_weight``: how a pipeline's predictions are
    compared with ``y``.

    Returns
    -------
    X, y, sample_weight : the kept rows; ``y`` an object array
        Unchanged (``y`` not even converted) when ``estimator`` has no mapper.
    keep : ndarray of bool or None
        The kept rows; ``None`` when ``estimator`` has no mapper.
    """
    mappers = fitted_mappers(estimator)
    if not mappers:
        return X, y, sample_weight, None
    y, keep = map_through(mappers, y)
    idx = np.flatnonzero(keep)
    X = _safe_indexing(X, idx)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)[idx]
    return X, y, sample_weight, keep
