"""scikit-learn tags shared by skfer's estimators: :class:`ImageInputMixin`."""

from __future__ import annotations

__all__ = ["ImageInputMixin"]


class ImageInputMixin:
    """Tags of an estimator whose ``X`` is images, not 2-D feature rows.

    Sets ``input_tags.two_d_array = False`` and ``input_tags.three_d_array = True``:
    ``X`` is (n, H, W) or (n, H, W, C), or a sequence of images or paths, so
    scikit-learn's checks that generate tabular data skip the estimator. Put it
    first among the bases (before ``BaseEstimator``); an estimator that needs other
    tags overrides ``__sklearn_tags__`` and calls ``super()``.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn.utils import get_tags
    >>> class Images(ImageInputMixin, BaseEstimator):
    ...     pass
    >>> tags = get_tags(Images())
    >>> tags.input_tags.two_d_array, tags.input_tags.three_d_array
    (False, True)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
