"""Evaluation in label schemes and across datasets.

- :func:`scheme_scorer`: scorers for ``scoring=`` that compare in a model's label
  scheme (or re-read an emotion model in another scheme);
- :func:`predict_in_scheme`, :func:`proba_in_scheme`: an emotion classifier's
  probabilities summed per label of a scheme;
- :class:`CrossDatasetSplit`: train on one dataset, test on the others (``cv=``);
- :func:`cross_dataset_report`, :func:`plot_confusion_matrices`: tidy per-class
  tables and confusion-matrix PNGs per (dataset, scheme).
"""

from ._report import cross_dataset_report, plot_confusion_matrices
from ._schemes import predict_in_scheme, proba_in_scheme
from ._scoring import scheme_scorer
from ._split import CrossDatasetSplit

__all__ = [
    "CrossDatasetSplit",
    "cross_dataset_report",
    "plot_confusion_matrices",
    "predict_in_scheme",
    "proba_in_scheme",
    "scheme_scorer",
]
