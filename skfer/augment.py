"""Face augmentation: the paper's flip and shift, plus small rotation and brightness.

One transform, used two ways:

- on the fly by :class:`~skfer.EmotionCNN`, which calls :meth:`Augmenter.augment_batch`
  on every training batch (a fresh random draw every epoch, the paper's setting);
- as an imbalanced-learn style sampler: :meth:`Augmenter.fit_resample` appends
  augmented copies at fit time only, inside :class:`skfer.Pipeline`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ._images import check_images

__all__ = ["Augmenter"]


class Augmenter(BaseEstimator):
    """Random horizontal flip, shift, rotation and brightness for face crops.

    Parameters
    ----------
    flip : bool, default=True
        Mirror left-right with probability ``p``.
    shift : float, default=0.1
        Largest translation as a fraction of width and height (the paper's 10 %),
        applied with probability ``p``; borders repeat the edge pixels.
    rotation : float, default=0.0
        Largest rotation in degrees (0 disables), applied with probability ``p``.
    brightness : float, default=0.0
        Largest relative brightness change (0.2 means a factor in [0.8, 1.2]),
        applied with probability ``p``.
    p : float, default=0.5
        Probability of each transform, drawn independently per image.
    n_copies : int, default=1
        Augmented copies per original that :meth:`fit_resample` appends.
    random_state : int, RandomState instance or None, default=None
        Seed for :meth:`fit_resample` (``augment_batch`` takes a generator).

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import Augmenter
    >>> X = np.random.default_rng(0).integers(0, 255, (4, 48, 48), dtype=np.uint8)
    >>> y = np.array(["happy", "sad", "sad", "fear"])
    >>> X_res, y_res = Augmenter(n_copies=2, random_state=0).fit_resample(X, y)
    >>> X_res.shape, y_res[4:].tolist()
    ((12, 48, 48), ['happy', 'sad', 'sad', 'fear', 'happy', 'sad', 'sad', 'fear'])
    """

    _parameter_constraints = {
        "flip": ["boolean"],
        "shift": [Interval(Real, 0, 0.5, closed="both")],
        "rotation": [Interval(Real, 0, 180, closed="both")],
        "brightness": [Interval(Real, 0, 1, closed="left")],
        "p": [Interval(Real, 0, 1, closed="both")],
        "n_copies": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        flip=True,
        shift=0.1,
        rotation=0.0,
        brightness=0.0,
        p=0.5,
        n_copies=1,
        random_state=None,
    ):
        self.flip = flip
        self.shift = shift
        self.rotation = rotation
        self.brightness = brightness
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.two_d_array = False  # X is images (n, H, W[, C])
        tags.input_tags.three_d_array = True
        return tags

    def augment_batch(self, batch, generator=None):
        """Augment a float batch ``(N, C, H, W)`` (torch tensor), each image independently.

        Parameters
        ----------
        batch : torch.Tensor of shape (N, C, H, W)
            Floating-point images on any device.
        generator : torch.Generator, optional
            Source of randomness (on the CPU); ``None`` uses torch's global one.

        Returns
        -------
        torch.Tensor
            Same shape, dtype and device.
        """
        import torch
        import torch.nn.functional as F

        self._validate_params()
        n = batch.shape[0]
        if n == 0:
            return batch

        def draw(shape=(n,)):
            return torch.rand(shape, generator=generator)

        def gate():
            return (draw() < self.p).float()

        out = batch
        if self.flip:
            mask = (draw() < self.p).to(batch.device)
            out = torch.where(mask[:, None, None, None], out.flip(-1), out)
        angle = torch.zeros(n)
        tx = torch.zeros(n)
        ty = torch.zeros(n)
        if self.rotation > 0:
            angle = (draw() * 2 - 1) * math.radians(self.rotation) * gate()
        if self.shift > 0:
            # affine_grid works in [-1, 1] coordinates: a shift of s*W pixels is 2*s
            tx = (draw() * 2 - 1) * 2 * self.shift * gate()
            ty = (draw() * 2 - 1) * 2 * self.shift * gate()
        if bool((angle != 0).any() or (tx != 0).any() or (ty != 0).any()):
            cos, sin = torch.cos(angle), torch.sin(angle)
            theta = torch.stack(
                [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
            ).to(device=batch.device, dtype=out.dtype)
            grid = F.affine_grid(theta, list(out.shape), align_corners=False)
            out = F.grid_sample(
                out, grid, mode="bilinear", padding_mode="border", align_corners=False
            )
        if self.brightness > 0:
            factor = 1 + (draw() * 2 - 1) * self.brightness * gate()
            out = out * factor.to(device=batch.device, dtype=out.dtype)[:, None, None, None]
        return out

    def fit_resample(self, X, y):
        """Return ``X`` and ``y`` followed by ``n_copies`` augmented copies of every image.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, H, W, 3)
            Same-size face crops.
        y : array-like of shape (n,) or (n, k)
            Labels, repeated for the copies.

        Returns
        -------
        X_resampled : ndarray of uint8, shape (n * (1 + n_copies), H, W[, 3])
        y_resampled : ndarray
        """
        import torch

        self._validate_params()
        X = check_images(X, allow_paths=False, stack=True)
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} images but y has {len(y)} labels.")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        generator = torch.Generator().manual_seed(int(seed))
        tensor = torch.from_numpy(X).float()
        tensor = tensor[:, None] if X.ndim == 3 else tensor.permute(0, 3, 1, 2)
        copies = [X]
        for _ in range(self.n_copies):
            aug = self.augment_batch(tensor, generator).round().clamp(0, 255).to(torch.uint8)
            aug = aug[:, 0] if X.ndim == 3 else aug.permute(0, 2, 3, 1)
            copies.append(aug.numpy())
        return np.concatenate(copies), np.concatenate([y] * (1 + self.n_copies))
