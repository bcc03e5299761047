"""The base of skfer's samplers: imbalanced-learn's protocol on images.

:class:`ImageSampler` is :class:`imblearn.base.SamplerMixin` (so
``imblearn.base.is_sampler`` is true and imbalanced-learn's pipelines apply it only
while fitting) without the input checks that assume 2-D feature rows: ``X`` is
images (n, H, W[, 3]) or a list of paths, which ``check_X_y`` would reject or
convert. Each sampler checks its own input in ``_fit_resample``. The parameters are
validated once per call, against ``_parameter_constraints``, by
:func:`sklearn.base._fit_context`.

imbalanced-learn's :class:`~imblearn.base.BaseSampler` is not used: its
``sampling_strategy`` parameter means nothing to these samplers.
"""

from __future__ import annotations

import dataclasses

from imblearn.base import SamplerMixin
from sklearn.base import BaseEstimator, _fit_context

from ._tags import ImageInputMixin

__all__ = ["ImageSampler"]


class ImageSampler(ImageInputMixin, SamplerMixin, BaseEstimator):
    """An imbalanced-learn sampler whose ``X`` is images or paths.

    Subclasses implement ``_fit_resample(X, y) -> (X_resampled, y_resampled)``,
    checking ``X`` and ``y`` themselves.
    """

    _sampling_type = "bypass"  # no sampling_strategy

    # Nested validation stays on: a sampler may hold a user's estimator or sampler.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y):
        """Resample ``X`` and ``y`` (see the subclass)."""
        return self._fit_resample(X, y)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit as :meth:`fit_resample` does, without returning the data.

        Parameters
        ----------
        X : images or paths, length n_samples
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        self._fit_resample(X, y)
        return self

    def __sklearn_tags__(self):
        from imblearn.utils._tags import SamplerTags, Tags

        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        shared = {
            f.name: getattr(tags, f.name)
            for f in dataclasses.fields(Tags)
            if f.name != "sampler_tags" and hasattr(tags, f.name)
        }
        shared["estimator_type"] = "sampler"
        return Tags(**shared, sampler_tags=SamplerTags())
