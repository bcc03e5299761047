"""Scorers that compare predictions with ``y_true`` in the model's label scheme."""

from __future__ import annotations

import numpy as np

from ._schemes import METHODS, Scored, scheme_name, score_in_scheme

__all__ = ["scheme_scorer"]

METRICS = ("accuracy", "balanced_accuracy", "f1_macro")


def metric_value(metric: str, scored: Scored) -> float:
    """Compute ``metric`` on encoded labels; an excluded prediction is always wrong."""
    from sklearn.metrics import f1_score, recall_score

    true, pred = scored.encode()
    weights = scored.sample_weight
    if metric == "accuracy":
        return float(np.average(true == pred, weights=weights))
    if metric == "balanced_accuracy":
        # mean recall over the classes present in y_true, as balanced_accuracy_score
        labels = np.unique(true)
        return float(
            recall_score(true, pred, labels=labels, average="macro", sample_weight=weights)
        )
    # f1_macro: over the labels seen in y_true or predicted, as sklearn's "f1_macro"
    labels = np.unique(np.concatenate([true, pred[pred >= 0]]))
    return float(
        f1_score(
            true, pred, labels=labels, average="macro", sample_weight=weights, zero_division=0.0
        )
    )


class SchemeScorer:
    """Callable ``scorer(estimator, X, y_true)``; build it with :func:`scheme_scorer`."""

    def __init__(self, metric: str, scheme, method: str):
        self.metric = metric
        self.scheme = scheme
        self.method = method

    def __call__(self, estimator, X, y_true, sample_weight=None) -> float:
        scored = score_in_scheme(
            estimator, X, y_true, self.scheme, method=self.method, sample_weight=sample_weight
        )
        return metric_value(self.metric, scored)

    def __repr__(self) -> str:
        args = [repr(self.metric)]
        if self.scheme is not None:
            args.append(f"scheme={scheme_name(self.scheme)!r}")
        if self.method != "auto":
            args.append(f"method={self.method!r}")
        return f"scheme_scorer({', '.join(args)})"


def scheme_scorer(metric: str = "accuracy", *, scheme=None, method: str = "auto") -> SchemeScorer:
    """A scorer for ``scoring=`` that works in the label space of a scheme.

    Without ``scheme``, it scores a model in its own label space: ``y_true`` is mapped
    by the model's fitted :class:`~skfer.EmotionLabelMapper` steps and the samples
    their scheme leaves out are dropped before comparing with the predictions. So
    ``GridSearchCV(pipe, {"labels__scheme": [...]}, scoring=scheme_scorer("f1_macro"))``
    scores every candidate in its own scheme. A model without a mapper is scored
    like scikit-learn's scorer of the same name.

    With ``scheme``, it reads an emotion classifier's output in that scheme after
    the fact: samples whose true emotion it leaves out are dropped, and the
    predictions are mapped through it (``method="predict"``: a predicted emotion
    outside the scheme counts as wrong) or, by default when the model has
    ``predict_proba``, its probabilities are summed per scheme label
    (:func:`~skfer.predict_in_scheme`).

    Parameters
    ----------
    metric : {"accuracy", "balanced_accuracy", "f1_macro"}, default="accuracy"
        ``balanced_accuracy`` is the mean recall over the classes present in
        ``y_true``; ``f1_macro`` averages over the classes present in ``y_true`` or
        predicted (as scikit-learn's ``"f1_macro"``, with 0 for an undefined F1).
    scheme : str, mapping or fitted EmotionLabelMapper, optional
        Score after the fact in this scheme.
    method : {"auto", "predict", "proba"}, default="auto"
        How predictions are read in ``scheme`` ("auto": "proba" when the model has
        ``predict_proba``).

    Returns
    -------
    callable
        ``scorer(estimator, X, y_true, sample_weight=None) -> float``, greater is
        better.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from skfer import scheme_scorer
    >>> X = np.zeros((4, 1))
    >>> y = np.array(["happy", "happy", "sad", "surprise"])
    >>> model = DummyClassifier(strategy="most_frequent").fit(X, y)
    >>> scheme_scorer("accuracy")(model, X, y)
    0.5
    >>> scheme_scorer("accuracy", scheme="clusters")(model, X, y)  # surprise dropped
    0.6666666666666666
    """
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    return SchemeScorer(metric, scheme, method)
