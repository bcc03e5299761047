"""imbalanced-learn samplers on image arrays: :class:`ImageResampler`."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods

from ._images import check_images
from ._sampler import ImageSampler
from ._targets import check_label_values

__all__ = ["ImageResampler"]


class ImageResampler(ImageSampler):
    """Run an imbalanced-learn sampler on images instead of 2-D feature rows.

    imbalanced-learn's samplers take ``X`` of shape (n_samples, n_features). This
    wrapper flattens same-size images (n, H, W[, 3]) into rows, lets the sampler
    resample them and restores the image shape, so samplers such as
    ``RandomOverSampler`` or ``RandomUnderSampler`` can sit in a
    :class:`skfer.Pipeline` after :class:`~skfer.FaceCropper`. Like every sampler
    it acts only while the pipeline is fitted. Samplers that synthesise samples
    (SMOTE...) interpolate pixels; their output is rounded and clipped to uint8.

    Parameters
    ----------
    sampler : imbalanced-learn sampler, optional
        Cloned at each :meth:`fit_resample`. Default:
        ``RandomOverSampler(random_state=0)``.

    Attributes
    ----------
    sampler_ : sampler
        The fitted clone.
    sample_indices_ : ndarray of int
        The source row of each output image, when the sampler reports one (samplers
        that pick existing rows do).

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import ImageResampler
    >>> X = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2)
    >>> y = np.array(["happy", "happy", "happy", "sad"])
    >>> X_res, y_res = ImageResampler().fit_resample(X, y)
    >>> X_res.shape, sorted(y_res.tolist())
    ((6, 2, 2), ['happy', 'happy', 'happy', 'sad', 'sad', 'sad'])
    """

    _parameter_constraints: dict = {"sampler": [HasMethods(["fit_resample"]), None]}

    def __init__(self, sampler=None):
        self.sampler = sampler

    def fit_resample(self, X, y):
        """Resample images and labels with the sampler.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, H, W, 3), or a sequence of images
            Same-size images (checked and converted like everywhere in skfer).
        y : array-like of shape (n,)
            Labels.

        Returns
        -------
        X_resampled : ndarray of uint8, shape (m, H, W[, 3])
        y_resampled : ndarray of shape (m,)
        """
        return super().fit_resample(X, y)

    def _fit_resample(self, X, y):
        if self.sampler is None:
            from imblearn.over_sampling import RandomOverSampler

            sampler = RandomOverSampler(random_state=0)
        else:
            sampler = clone(self.sampler)
        images = check_images(X, allow_paths=False, stack=True)
        check_label_values(y)
        y = np.asarray(y)
        if len(y) != len(images):
            raise ValueError(f"X has {len(images)} images but y has {len(y)} labels.")
        rows, y_res = sampler.fit_resample(images.reshape(len(images), -1), y)
        rows = np.asarray(rows)
        if rows.dtype != np.uint8:
            rows = np.clip(np.rint(rows), 0, 255).astype(np.uint8)
        self.sampler_ = sampler
        if hasattr(sampler, "sample_indices_"):
            self.sample_indices_ = np.asarray(sampler.sample_indices_)
        return rows.reshape((len(rows),) + images.shape[1:]), np.asarray(y_res)
