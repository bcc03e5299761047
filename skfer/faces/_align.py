"""Landmark alignment: rotate the eyes level, fix their distance and position, crop.

The geometry is one similarity transform that sends the left and right eye centres to
``(size/2 -+ d/2, eye_level * size)`` with ``d = size / (1 + 2 * margin)``. The defaults
reproduce FER2013's framing, measured on 600 PublicTest images (dlib landmarks on 4x
upscaled crops): eyes 17.5-18 px apart and their midpoint at (24, 18.4) in a 48 px crop,
so ``margin = 0.85`` and ``eye_level = 0.38``. The crop then runs from the forehead to
the chin and a little past the cheeks, as FER2013's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

from .._images import check_image, to_gray, to_rgb
from ._detectors import Face

__all__ = ["DEFAULT_EYE_LEVEL", "DEFAULT_MARGIN", "align_face", "alignment_matrix"]

#: Distance from each eye centre to the side of the crop, in inter-ocular distances
#: (FER2013's framing, measured on 600 FER2013 faces).
DEFAULT_MARGIN = 0.85
#: Height of the eye line as a fraction of the crop size from the top (FER2013's framing).
DEFAULT_EYE_LEVEL = 0.38

# Where the eyes sit in a box, for faces without landmarks (align=False): medians of
# dlib's landmarks in its HOG boxes on the SFEW frames, as fractions of width/height
# (detect_faces maps every backend's boxes to that convention).
_BOX_EYES = ((0.309, 0.276), (0.668, 0.276))


def _check_geometry(size, margin, eye_level):
    if not isinstance(size, Integral) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}.")
    if not isinstance(margin, Real) or not 0 <= margin <= 10:
        raise ValueError(f"margin must be a number in [0, 10], got {margin!r}.")
    if not isinstance(eye_level, Real) or not 0 < eye_level < 1:
        raise ValueError(f"eye_level must be a number in (0, 1), got {eye_level!r}.")


def _check_supersample(supersample):
    if not isinstance(supersample, Integral) or isinstance(supersample, bool):
        raise TypeError(f"supersample must be an int, got {supersample!r}.")
    if not 1 <= supersample <= 16:
        raise ValueError(f"supersample must be in [1, 16], got {supersample!r}.")


def _eyes(face: Face) -> tuple[np.ndarray, np.ndarray, bool]:
    """Eye centres and whether they are measured (else estimated from the box)."""
    if face.landmarks is not None:
        return face.landmarks[0], face.landmarks[1], True
    x, y, w, h = face.box
    (lx, ly), (rx, ry) = _BOX_EYES
    return np.array([x + lx * w, y + ly * h]), np.array([x + rx * w, y + ry * h]), False


def alignment_matrix(
    face: Face,
    *,
    size: int = 48,
    margin: float = DEFAULT_MARGIN,
    eye_level: float = DEFAULT_EYE_LEVEL,
) -> np.ndarray:
    """The 2x3 affine matrix (image pixels -> crop pixels) that :func:`align_face` applies.

    Apply it to landmarks with ``points @ M[:, :2].T + M[:, 2]``. Faces without landmarks
    get an axis-aligned crop placed from their box (eyes assumed at 31 % / 67 % of its
    width and 28 % of its height).

    Examples
    --------
    >>> import numpy as np
    >>> points = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]])
    >>> face = Face((0, 0, 100, 100), 1.0, points)
    >>> M = alignment_matrix(face, size=48, margin=1.0, eye_level=0.25)
    >>> (face.landmarks[:2] @ M[:, :2].T + M[:, 2]).round(2).tolist()
    [[16.0, 12.0], [32.0, 12.0]]
    """
    _check_geometry(size, margin, eye_level)
    left, right, measured = _eyes(face)
    src = complex(*(right - left))
    if abs(src) < 1e-6:
        raise ValueError(f"Cannot align {face!r}: its two eye centres coincide.")
    d = size / (1 + 2 * margin)
    if not measured:
        src = complex(abs(src), 0)  # no rotation from a box
    a = d / src
    target_left = complex(size / 2 - d / 2, eye_level * size)
    b = target_left - a * complex(*left)
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def _warp(image: np.ndarray, M: np.ndarray, size: int, supersample: int = 1) -> np.ndarray:
    """The crop that ``M`` maps the image to (image pixels -> crop pixels).

    A face that shrinks a lot is area-averaged to about the warp's scale first (no
    aliasing), then warped bilinearly. With ``supersample=k > 1`` the warp runs at k
    times the crop's size and is area-averaged down, so its interpolation falls on
    sub-pixels instead of averaging the crop's neighbouring pixels.
    """
    import cv2

    k = int(supersample)
    M = M * k
    M[:, 2] += (k - 1) / 2  # canvas pixel centres: c = k * x + (k - 1) / 2
    canvas = size * k
    scale = float(np.hypot(M[0, 0], M[1, 0]))
    if scale < 0.5:
        # source region that the canvas sees, then shrink it by `scale` with INTER_AREA
        inv = cv2.invertAffineTransform(M)
        corners = np.array([[0, 0], [canvas, 0], [0, canvas], [canvas, canvas]], float)
        src = corners @ inv[:, :2].T + inv[:, 2]
        h, w = image.shape[:2]
        x0, y0 = np.clip(np.floor(src.min(0)).astype(int) - 2, 0, [w - 1, h - 1])
        x1, y1 = np.clip(np.ceil(src.max(0)).astype(int) + 2, [x0 + 1, y0 + 1], [w, h])
        roi = image[y0:y1, x0:x1]
        rw, rh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
        roi = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
        fx, fy = rw / (x1 - x0), rh / (y1 - y0)
        # canvas = M @ (x, y, 1) with x = x0 + x_roi / fx
        M = np.column_stack([M[:, 0] / fx, M[:, 1] / fy, M[:, 2] + M[:, 0] * x0 + M[:, 1] * y0])
        image = roi
    out = cv2.warpAffine(
        image, M, (canvas, canvas), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out if k == 1 else cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)


def align_face(
    image,
    face: Face | Sequence[Face],
    *,
    size: int = 48,
    margin: float = DEFAULT_MARGIN,
    eye_level: float = DEFAULT_EYE_LEVEL,
    grayscale: bool = True,
    supersample: int = 1,
) -> np.ndarray:
    """Crop a face with its eyes level, a fixed distance apart, at fixed positions.

    Parameters
    ----------
    image : array-like
        The image the face was detected in: ``(H, W)`` or ``(H, W, 3)`` RGB, any dtype
        :func:`skfer.check_image` accepts.
    face : Face or sequence of Face
        From :func:`detect_faces`. With landmarks, the crop is rotated so the eye
        centres are level; without (``landmarks=False``), it is axis-aligned and placed
        from the box. A sequence gives one crop per face (the image is converted once).
    size : int, default=48
        Side of the square crop in pixels.
    margin : float, default=0.85
        Distance from each eye centre to the nearer side of the crop, in inter-ocular
        distances: the eyes are ``size / (1 + 2 * margin)`` pixels apart. The default
        matches FER2013 (18 px in 48); larger values show more of the head.
    eye_level : float, default=0.38
        Height of the eye line as a fraction of ``size`` from the top (FER2013's).
    grayscale : bool, default=True
        Return ``(size, size)`` gray crops instead of ``(size, size, 3)`` RGB.
    supersample : int, default=1
        Warp the face at this many times ``size`` and area-average it down, so that
        the warp's bilinear interpolation falls on sub-pixels: a sharper crop. ``1``
        warps straight to ``size``. The FER2013 models are no more accurate on the
        sharper film crops (``benchmarks/results/film_crop_resampling.md``).

    Returns
    -------
    ndarray of uint8
        ``(size, size[, 3])`` for one face, ``(n, size, size[, 3])`` for a sequence.
        Parts of the crop outside the image repeat the edge pixels.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> from skfer.faces import detect_faces
    >>> image = astronaut()
    >>> face = detect_faces(image, detector="hog")[0]
    >>> align_face(image, face).shape
    (48, 48)
    >>> align_face(image, [face, face], size=64, grayscale=False).shape
    (2, 64, 64, 3)
    """
    _check_geometry(size, margin, eye_level)
    _check_supersample(supersample)
    image = check_image(image)
    image = to_gray(image) if grayscale else to_rgb(image)
    if isinstance(face, Face):
        M = alignment_matrix(face, size=size, margin=margin, eye_level=eye_level)
        return _warp(image, M, size, supersample)
    faces = list(face)
    for i, f in enumerate(faces):
        if not isinstance(f, Face):
            raise TypeError(f"face[{i}]: expected a Face, got {type(f).__name__}.")
    shape = (size, size) if grayscale else (size, size, 3)
    out = np.empty((len(faces), *shape), np.uint8)
    for i, f in enumerate(faces):
        M = alignment_matrix(f, size=size, margin=margin, eye_level=eye_level)
        out[i] = _warp(image, M, size, supersample)
    return out
