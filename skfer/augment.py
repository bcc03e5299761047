"""Face augmentation: the paper's flip and shift, geometric jitter and film-like photometry.

One transform, used two ways:

- on the fly by :class:`~skfer.EmotionCNN`, which calls :meth:`Augmenter.augment_batch`
  on every training batch (a fresh random draw every epoch, the paper's setting);
- as an imbalanced-learn sampler: :meth:`Augmenter.fit_resample` appends
  augmented copies at fit time only, inside :class:`skfer.Pipeline`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ._images import check_images
from ._sampler import ImageSampler
from ._targets import check_label_values

__all__ = ["Augmenter"]


def _gaussian_blur(images, sigma):
    """Blur each image of ``(N, C, H, W)`` with its own Gaussian ``sigma`` (0: unchanged)."""
    import torch
    import torch.nn.functional as F

    radius = max(1, math.ceil(2 * float(sigma.max())))
    if float(sigma.max()) <= 0:
        return images
    n, c, h, w = images.shape
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    safe = sigma.clamp(min=1e-3)[:, None]
    kernel = torch.exp(-0.5 * (offsets[None] / safe) ** 2)
    kernel = torch.where(sigma[:, None] > 0, kernel, (offsets[None] == 0).float())
    kernel = (kernel / kernel.sum(1, keepdim=True)).to(images.device, images.dtype)
    kernel = kernel.repeat_interleave(c, 0)  # one 1-D kernel per (image, channel)
    x = F.pad(images.reshape(1, n * c, h, w), (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, kernel[:, None, None, :], groups=n * c)
    x = F.conv2d(x, kernel[:, None, :, None], groups=n * c)
    return x.reshape(n, c, h, w)


def _light_falloff(size, direction, depth):
    """``(N, 1, H, W)`` multipliers: 1 on the lit edge of each image, ``1 - depth`` on
    the opposite one, linear along ``direction`` (radians, per image)."""
    import torch

    h, w = size
    ys = torch.linspace(-1, 1, h)[None, :, None]
    xs = torch.linspace(-1, 1, w)[None, None, :]
    cos, sin = torch.cos(direction)[:, None, None], torch.sin(direction)[:, None, None]
    along = (cos * xs + sin * ys) / (cos.abs() + sin.abs())  # -1 .. 1 over the image
    return (1 - depth[:, None, None] * (along + 1) / 2)[:, None]


class Augmenter(ImageSampler):
    """Random flip, shift, rotation, scale and photometric changes for face crops.

    The photometric transforms (``shading``, ``contrast``, ``gamma``, ``blur``,
    ``noise``) imitate what separates film faces from FER2013's: low-key, directional
    lighting, graded tone curves, soft focus and grain. All work on pixel values in
    [0, 255].

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
    scale : float, default=0.0
        Largest relative zoom (0.1 means a factor in [0.9, 1.1]), applied with
        probability ``p``: the jitter of a detector's framing.
    contrast : float, default=0.0
        Largest relative contrast change around each image's mean (0.4 means a
        factor in [0.6, 1.4]), applied with probability ``p``.
    gamma : float, default=0.0
        Largest log2 gamma of a tone curve ``255 * (x / 255) ** g`` (0.5 means g in
        [2**-0.5, 2**0.5]), applied with probability ``p``.
    blur : float, default=0.0
        Largest Gaussian blur sigma in pixels, applied with probability ``p``.
    noise : float, default=0.0
        Largest standard deviation of additive Gaussian noise, as a fraction of
        255, applied with probability ``p``.
    shading : float, default=0.0
        Largest depth of a light falloff across the face: the image is multiplied by a
        ramp from 1 on its lit side down to ``1 - d`` on the opposite side, in a
        random direction, ``d`` drawn in ``[0, shading]``, applied with probability
        ``p``. Film's key light comes from one side or above and leaves the other side
        of the face in shadow, which a global brightness or contrast change (and
        per-face standardisation) cannot undo.
    p : float, default=0.5
        Probability of each transform, drawn independently per image.
    n_copies : int, default=1
        Augmented copies per original that :meth:`fit_resample` appends.
    random_state : int, RandomState instance or None, default=None
        Seed for :meth:`fit_resample` (``augment_batch`` takes a generator).

    Attributes
    ----------
    sample_indices_ : ndarray of int
        The source row of each image the last :meth:`fit_resample` returned
        (``0..n-1``, then again for each copy).

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
        "scale": [Interval(Real, 0, 0.5, closed="both")],
        "contrast": [Interval(Real, 0, 1, closed="left")],
        "gamma": [Interval(Real, 0, 2, closed="both")],
        "blur": [Interval(Real, 0, 5, closed="both")],
        "noise": [Interval(Real, 0, 0.5, closed="both")],
        "shading": [Interval(Real, 0, 1, closed="both")],
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
        scale=0.0,
        contrast=0.0,
        gamma=0.0,
        blur=0.0,
        noise=0.0,
        shading=0.0,
        p=0.5,
        n_copies=1,
        random_state=None,
    ):
        self.flip = flip
        self.shift = shift
        self.rotation = rotation
        self.brightness = brightness
        self.scale = scale
        self.contrast = contrast
        self.gamma = gamma
        self.blur = blur
        self.noise = noise
        self.shading = shading
        self.p = p
        self.n_copies = n_copies
        self.random_state = random_state

    def augment_batch(self, batch, generator=None):
        """Augment a float batch ``(N, C, H, W)`` (torch tensor), each image independently.

        The parameters are validated at the first call and after they change, not on
        every batch.

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
        self._check_params_once()
        return self._augment(batch, generator)

    def _augment(self, batch, generator):
        import torch
        import torch.nn.functional as F

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
        zoom = torch.ones(n)
        if self.scale > 0:
            zoom = 1 + (draw() * 2 - 1) * self.scale * gate()
        if self.rotation > 0:
            angle = (draw() * 2 - 1) * math.radians(self.rotation) * gate()
        if self.shift > 0:
            # affine_grid works in [-1, 1] coordinates: a shift of s*W pixels is 2*s
            tx = (draw() * 2 - 1) * 2 * self.shift * gate()
            ty = (draw() * 2 - 1) * 2 * self.shift * gate()
        if bool((angle != 0).any() or (tx != 0).any() or (ty != 0).any() or (zoom != 1).any()):
            cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
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
        return self._photometric(out, draw, gate, generator)

    def _photometric(self, out, draw, gate, generator):
        """Shading, contrast, tone curve, blur and grain, in that order (as the light,
        a camera and a grade)."""
        import torch

        def per_image(values):
            return values.to(device=out.device, dtype=out.dtype)[:, None, None, None]

        if self.shading > 0:
            falloff = _light_falloff(
                out.shape[-2:], draw() * 2 * math.pi, draw() * self.shading * gate()
            )
            out = out * falloff.to(device=out.device, dtype=out.dtype)

        if self.contrast > 0:
            factor = per_image(1 + (draw() * 2 - 1) * self.contrast * gate())
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (out - mean) * factor + mean
        if self.gamma > 0:
            g = per_image(torch.exp2((draw() * 2 - 1) * self.gamma * gate()))
            out = out.clamp(0, 255).div(255).pow(g).mul(255)
        if self.blur > 0:
            out = _gaussian_blur(out, draw() * self.blur * gate())
        if self.noise > 0:
            sigma = per_image(draw() * self.noise * 255 * gate())
            grain = torch.randn(out.shape, generator=generator).to(out.device, out.dtype)
            out = out + grain * sigma
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
        return super().fit_resample(X, y)

    def _check_params_once(self) -> None:
        """Validate the parameters unless this set of values already passed.

        :meth:`augment_batch` runs on every training batch; the parameters are checked
        on the first and again only after they change.
        """
        params = self.get_params(deep=False)
        if self.__dict__.get("_checked_params") != params:
            self._validate_params()
            self.__dict__["_checked_params"] = params

    def _fit_resample(self, X, y):
        import torch

        X = check_images(X, allow_paths=False, stack=True)
        check_label_values(y)
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} images but y has {len(y)} labels.")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        generator = torch.Generator().manual_seed(int(seed))
        tensor = torch.from_numpy(X).float()
        tensor = tensor[:, None] if X.ndim == 3 else tensor.permute(0, 3, 1, 2)
        copies = [X]
        for _ in range(self.n_copies):
            aug = self._augment(tensor, generator).round().clamp(0, 255).to(torch.uint8)
            aug = aug[:, 0] if X.ndim == 3 else aug.permute(0, 2, 3, 1)
            copies.append(aug.numpy())
        self.sample_indices_ = np.tile(np.arange(len(X)), 1 + self.n_copies)
        return np.concatenate(copies), np.concatenate([y] * (1 + self.n_copies))
