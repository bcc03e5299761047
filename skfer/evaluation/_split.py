"""Cross-dataset splitting: train on one dataset, test on the others."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.validation import _num_samples

__all__ = ["CrossDatasetSplit"]


def _as_list(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or np.isscalar(value):
        return [value]
    return list(value)


class CrossDatasetSplit(BaseCrossValidator):
    """Train on one dataset, test on each of the others: a splitter for ``cv=``.

    ``groups`` gives the dataset of every sample. Each split trains on all the
    samples of ``train`` and tests on one test dataset, so ``cross_validate`` and
    ``GridSearchCV`` report one score per test dataset (the paper's FER2013 to SFEW).

    Parameters
    ----------
    train : str or list of str
        The training dataset(s), as named in ``groups``.
    test : str or list of str, optional
        The test datasets, one split each, in this order. Default: every other
        dataset in ``groups``, in order of first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import CrossDatasetSplit
    >>> groups = np.array(["fer2013"] * 4 + ["sfew"] * 2 + ["ck"] * 2)
    >>> cv = CrossDatasetSplit("fer2013")
    >>> [(train.tolist(), test.tolist()) for train, test in cv.split(groups, groups=groups)]
    [([0, 1, 2, 3], [4, 5]), ([0, 1, 2, 3], [6, 7])]
    >>> cv.get_n_splits(groups=groups)
    2
    """

    # cross_validate / GridSearchCV route `groups` to split (metadata routing)
    __metadata_request__split = {"groups": True}

    def __init__(self, train, test=None):
        self.train = train
        self.test = test

    def _datasets(self, groups):
        if groups is None:
            raise ValueError(
                "CrossDatasetSplit needs groups=, the dataset of each sample (e.g. "
                "cross_validate(model, X, y, groups=datasets, cv=CrossDatasetSplit('fer2013')))."
            )
        groups = np.asarray(groups)
        if groups.ndim != 1:
            raise ValueError(
                f"groups must be 1-D (one dataset per sample); got shape {groups.shape}."
            )
        present = list(dict.fromkeys(groups.tolist()))
        train = _as_list(self.train)
        if not train:
            raise ValueError("train must name at least one dataset.")
        test = _as_list(self.test)
        if test is None:
            test = [name for name in present if name not in train]
        for role, names in (("train", train), ("test", test)):
            missing = [name for name in names if name not in present]
            if missing:
                raise ValueError(
                    f"{role} dataset(s) {missing} not found in groups; groups holds {present}."
                )
        overlap = [name for name in test if name in train]
        if overlap:
            raise ValueError(f"Dataset(s) {overlap} are both train and test.")
        if not test:
            raise ValueError(f"No test dataset: groups holds only the training dataset(s) {train}.")
        return groups, train, test

    def split(self, X, y=None, groups=None):
        """Yield ``(train_indices, test_indices)``, one pair per test dataset.

        Parameters
        ----------
        X : array-like or sequence of length n_samples
        y : ignored
        groups : array-like of shape (n_samples,)
            The dataset of each sample.
        """
        groups, train, test = self._datasets(groups)
        if _num_samples(X) != len(groups):
            raise ValueError(f"X has {_num_samples(X)} samples but groups has {len(groups)}.")
        train_idx = np.flatnonzero(np.isin(groups, train))
        for name in test:
            yield train_idx, np.flatnonzero(groups == name)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of test datasets (needs ``groups`` unless ``test`` is given)."""
        if groups is None and self.test is not None:
            return len(_as_list(self.test))
        return len(self._datasets(groups)[2])
