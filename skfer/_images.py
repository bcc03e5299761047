"""Reading and validating images: the one place where pixels enter skfer.

Every estimator and loader goes through :func:`read_image`, :func:`check_image` and
:func:`check_images`, so a given input gets the same conversion or the same error
everywhere. Documented conversions:

- ``uint8``: kept as is.
- ``uint16`` (16-bit PNG/TIFF): scaled to 8 bits (``v >> 8``).
- ``bool``: ``False -> 0``, ``True -> 255``.
- float: values in ``[0, 1]`` are scaled by 255; otherwise values must lie in
  ``[0, 255]``; NaN or infinite pixels raise ``ValueError``.
- ``(H, W, 1)`` becomes ``(H, W)``; ``(H, W, 4)`` (RGBA) drops the alpha channel;
  ``(H, W, 2)`` (gray + alpha) keeps the gray channel.
- Colour images are RGB. :func:`read_image` converts OpenCV's BGR on reading.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["check_image", "check_images", "image_rows", "read_image", "to_gray", "to_rgb"]

PathLike = str | os.PathLike


def read_image(path: PathLike, *, grayscale: bool = False) -> np.ndarray:
    """Read an image file as an RGB (or grayscale) ``uint8`` array.

    Parameters
    ----------
    path : str or path-like
        Any format OpenCV decodes (PNG, JPEG, TIFF, BMP, WebP...). 16-bit and
        RGBA files are converted as :func:`check_image` documents.
    grayscale : bool, default=False
        Return ``(H, W)`` instead of ``(H, W, 3)``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be decoded as an image; the message names the path.

    Examples
    --------
    >>> import tempfile, os, numpy as np, cv2
    >>> path = os.path.join(tempfile.mkdtemp(), "face.png")
    >>> _ = cv2.imwrite(path, np.zeros((4, 5, 3), np.uint8))
    >>> read_image(path).shape
    (4, 5, 3)
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Image file not found: {str(path)!r}")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ValueError(
            f"Cannot decode image file {str(path)!r} ({data.size} bytes): it is empty, "
            "truncated or not an image format OpenCV reads."
        )
    if image.ndim == 3 and image.shape[2] >= 3:
        image = image[..., 2::-1] if image.shape[2] == 3 else image[..., [2, 1, 0, 3]]
    image = check_image(image, name=str(path))
    return to_gray(image) if grayscale else to_rgb(image)


def check_image(image, *, name: str = "image") -> np.ndarray:
    """Validate one image and convert it to ``uint8`` ``(H, W)`` or ``(H, W, 3)``.

    Parameters
    ----------
    image : array-like
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)``, ``(H, W, 3)`` or ``(H, W, 4)``
        of dtype uint8, uint16, bool, int or float (see the module docstring).
    name : str, default="image"
        How error messages refer to the image (a path or ``"X[3]"``).

    Returns
    -------
    ndarray of uint8

    Raises
    ------
    ValueError
        For an empty image, an unsupported shape or dtype, NaN/inf pixels or
        values outside the documented range.

    Examples
    --------
    >>> import numpy as np
    >>> check_image(np.ones((2, 2), dtype=float)).tolist()
    [[255, 255], [255, 255]]
    >>> check_image(np.zeros((2, 2, 4), np.uint8)).shape
    (2, 2, 3)
    """
    arr = np.asarray(image)
    if arr.dtype == object:
        raise ValueError(f"{name}: expected a numeric image array, got an object array.")
    if arr.ndim == 3 and arr.shape[2] in (1, 2):
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(
            f"{name}: expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
            f"got shape {np.asarray(image).shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: zero-size image of shape {np.asarray(image).shape}.")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint16:
        return (arr >> 8).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{name}: integer pixels must lie in [0, 255] (or use uint16); got [{lo}, {hi}]."
            )
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: image contains NaN or infinite pixel values.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{name}: float pixels must lie in [0, 1] or [0, 255]; got [{lo:g}, {hi:g}]."
            )
        scale = 255.0 if hi <= 1.0 else 1.0
        return np.rint(arr * scale).astype(np.uint8)
    raise ValueError(f"{name}: unsupported pixel dtype {arr.dtype}.")


def check_images(X, *, allow_paths: bool = True, stack: bool = False):
    """Validate a collection of images.

    Parameters
    ----------
    X : array-like of shape (n, H, W[, C]), or a sequence of images or paths
        A 3-D uint8 array is read as ``n`` grayscale images; a 4-D one as ``n``
        colour images. A list may mix sizes and may hold file paths.
    allow_paths : bool, default=True
        Whether strings and path-likes are read with :func:`read_image`.
    stack : bool, default=False
        Return one ndarray; the images must then share one shape.

    Returns
    -------
    list of ndarray, or ndarray when ``stack=True``

    Raises
    ------
    ValueError
        If ``X`` is empty or an element is invalid; the message names ``X[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> check_images(np.zeros((5, 48, 48)), stack=True).shape
    (5, 48, 48)
    """
    if (
        isinstance(X, np.ndarray)
        and X.dtype == np.uint8
        and X.ndim in (3, 4)
        and len(X)
        and X.shape[1] > 0
        and X.shape[2] > 0
        and (X.ndim == 3 or X.shape[3] == 3)
    ):  # already in canonical form: no per-image work
        return np.ascontiguousarray(X) if stack else list(X)
    items = image_rows(X)
    images = []
    for i, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            if not allow_paths:
                raise ValueError(f"X[{i}]: file paths are not accepted here ({str(item)!r}).")
            images.append(read_image(item))
        else:
            images.append(check_image(item, name=f"X[{i}]"))
    if not stack:
        return images
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"Images have different shapes {sorted(shapes)[:4]}: pass same-size images "
            "(FaceCropper produces them) or resize first."
        )
    return np.stack(images)


def image_rows(X) -> Sequence:
    """The rows of a collection of images or paths, after the container checks.

    Rejects a single path (wrap it in a list), arrays that are not ``(n, H, W[, C])``,
    non-iterables and empty collections, with the messages :func:`check_images` gives.

    Examples
    --------
    >>> import numpy as np
    >>> len(image_rows(np.zeros((2, 8, 8), np.uint8))), image_rows(["a.png"])
    (2, ['a.png'])
    """
    if isinstance(X, (str, os.PathLike)):
        raise ValueError(
            f"Expected a collection of images or paths, got a single path {str(X)!r}; "
            "wrap it in a list."
        )
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim not in (3, 4):
            raise ValueError(
                "Expected images as an array of shape (n, H, W) or (n, H, W, C); "
                f"got shape {X.shape}."
            )
        rows: Sequence = X
    else:
        try:
            rows = list(X)
        except TypeError:
            raise ValueError(
                f"Expected a collection of images or paths, got {type(X).__name__}."
            ) from None
    if len(rows) == 0:
        raise ValueError("Expected at least one image, got an empty collection (0 samples).")
    return rows


def to_gray(image: np.ndarray) -> np.ndarray:
    """Convert a checked ``uint8`` image to ``(H, W)`` grayscale (ITU-R BT.601 weights).

    Examples
    --------
    >>> import numpy as np
    >>> to_gray(np.full((1, 1, 3), 200, np.uint8)).tolist()
    [[200]]
    """
    if image.ndim == 2:
        return image
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Convert a checked ``uint8`` image to ``(H, W, 3)`` RGB.

    Examples
    --------
    >>> import numpy as np
    >>> to_rgb(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 3)
    """
    if image.ndim == 3:
        return image
    return np.repeat(image[..., None], 3, axis=2)
