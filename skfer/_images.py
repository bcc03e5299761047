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
- Files: the EXIF orientation (phone photos) is applied, so the image is upright as a
  viewer shows it. Files over :data:`MAX_PIXELS` (width x height, from the header)
  are refused before anything is decoded.
- PIL images (``PIL.Image.Image``) are accepted as images: EXIF orientation applied,
  palette (``P``, ``PA``), ``CMYK``, ``YCbCr``, ``LAB`` and ``HSV`` converted to RGB,
  ``1`` to 0/255, ``LA`` to its gray band, ``I;16`` to 8 bits (``v >> 8``), ``I``
  (32-bit) read as 16-bit when a value exceeds 255, ``F`` as a float image.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_PIXELS",
    "check_image",
    "check_images",
    "image_rows",
    "pixel_limit",
    "read_image",
    "to_gray",
    "to_rgb",
]

PathLike = str | os.PathLike

#: Largest image file :func:`read_image` decodes, in pixels (width x height): 100 Mpx,
#: a 12000x8000 photo. The ``SKFER_MAX_PIXELS`` environment variable, or the
#: ``max_pixels`` argument, replaces it (``0`` or ``none``: no limit of skfer's own).
MAX_PIXELS = 100_000_000
#: Environment variable replacing :data:`MAX_PIXELS`.
MAX_PIXELS_ENV = "SKFER_MAX_PIXELS"

# PIL modes whose files OpenCV decodes as PIL shows them (and as skfer always read
# them); other modes (palette, CMYK, YCbCr...) and rotated files are decoded by PIL.
_CV2_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I", "F"})
_ORIENTATION = 0x0112  # the EXIF tag


def pixel_limit(max_pixels: int | None = None) -> int | None:
    """The pixel limit in force: ``max_pixels``, else ``SKFER_MAX_PIXELS``, else
    :data:`MAX_PIXELS`; ``None`` when there is none (``0``).

    Examples
    --------
    >>> pixel_limit(), pixel_limit(5000), pixel_limit(0)
    (100000000, 5000, None)
    """
    if max_pixels is None:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not env:
            return MAX_PIXELS or None
        if env.lower() in ("0", "none"):
            return None
        try:
            max_pixels = int(env)
        except ValueError:
            max_pixels = -1
        if max_pixels < 0:
            raise ValueError(
                f"{MAX_PIXELS_ENV}={env!r}: expected a number of pixels (or 0 / none for no limit)."
            )
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise ValueError(f"max_pixels must be a number of pixels or None, got {max_pixels!r}.")
    if max_pixels < 0:
        raise ValueError(f"max_pixels must be >= 0 (0: no limit), got {max_pixels!r}.")
    return int(max_pixels) or None


def _too_big(name: str, size, limit: int) -> ValueError:
    shape = f"{size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.1f} Mpx" if size else "its size"
    return ValueError(
        f"Image {name}: {shape} is over the limit of {limit / 1e6:g} Mpx, so it is not "
        f"decoded. If the file is genuine, raise the limit with read_image(..., "
        f"max_pixels=N) or the {MAX_PIXELS_ENV} environment variable."
    )


def _open_pil(path: Path, limit: int | None):
    """The file opened lazily by PIL (header only), after the pixel-limit check;
    None where PIL does not read the format (OpenCV then tries)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with scikit-image
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as exc:  # over PIL's own limit
            if limit is not None and limit <= 2 * (Image.MAX_IMAGE_PIXELS or 0):
                found = re.search(r"\((\d+) pixels\)", str(exc))
                pixels = f"{int(found.group(1)) / 1e6:.1f} Mpx" if found else "its size"
                raise ValueError(
                    str(_too_big(repr(str(path)), None, limit)).replace("its size", pixels)
                ) from None
            return None
        except Exception:  # not a format PIL identifies, or a damaged header
            return None
    if limit is not None and image.size[0] * image.size[1] > limit:
        image.close()
        raise _too_big(repr(str(path)), image.size, limit)
    return image


def _orientation(image) -> int:
    """The EXIF orientation (1..8) of a PIL image, read without decoding pixels."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # PIL would decode the whole file to look for a late eXIf chunk
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: show the image as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _from_pil(image, name: str, limit: int | None) -> np.ndarray:
    """A PIL image as an array that :func:`check_image` converts (see the module doc)."""
    from PIL import ImageOps

    if limit is not None and image.size[0] * image.size[1] > limit:
        raise _too_big(name, image.size, limit)
    if _orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("L", "RGB", "1", "F"):
        return np.asarray(image)
    if mode in ("LA", "La"):
        return np.asarray(image.getchannel(0))
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(image)
        if arr.size and arr.max() > 255 and arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)  # a 16-bit file PIL opened as 32-bit
        return arr
    if mode in ("RGBA", "RGBX"):
        return np.asarray(image)[..., :3]
    # palette (P, PA), premultiplied RGBa, CMYK, YCbCr, LAB, HSV...: PIL's conversion
    target = "RGBA" if mode in ("P", "PA", "RGBa") else "RGB"
    return np.asarray(image.convert(target))[..., :3]


def _is_pil(image) -> bool:
    pil = sys.modules.get("PIL.Image")  # a PIL image means PIL is imported
    return pil is not None and isinstance(image, pil.Image)


def _decode_error(path: Path, size: int, detail: str = "") -> ValueError:
    return ValueError(
        f"Cannot decode image file {str(path)!r} ({size} bytes): it is empty, "
        f"truncated or not an image format OpenCV reads{detail}."
    )


def read_image(
    path: PathLike, *, grayscale: bool = False, max_pixels: int | None = None
) -> np.ndarray:
    """Read an image file as an RGB (or grayscale) ``uint8`` array, upright.

    Parameters
    ----------
    path : str or path-like
        Any format OpenCV or PIL decodes (PNG, JPEG, TIFF, BMP, WebP, GIF...). 16-bit
        and RGBA files are converted as :func:`check_image` documents; palette, CMYK
        and other PIL modes as the module documents. The EXIF orientation of a photo
        is applied.
    grayscale : bool, default=False
        Return ``(H, W)`` instead of ``(H, W, 3)``.
    max_pixels : int, optional
        Refuse files with more pixels than this (width x height, read from the header
        before any decoding). Default: ``SKFER_MAX_PIXELS`` or :data:`MAX_PIXELS`
        (100 Mpx); ``0``: no limit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be decoded as an image, or is over the pixel limit; the
        message names the path.

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
    limit = pixel_limit(max_pixels)
    header = _open_pil(path, limit)
    if header is not None and (header.mode not in _CV2_MODES or _orientation(header) != 1):
        return _read_with_pil(header, path, grayscale)
    data = np.fromfile(path, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as exc:  # e.g. over OpenCV's own size limit (CV_IO_MAX_IMAGE_PIXELS)
        if header is not None:
            header.close()
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        detail = re.sub(r"^.*?error: ", "", lines[-1])
        raise _decode_error(path, data.size, f" (OpenCV: {detail})") from None
    if image is None:
        if header is not None:  # a format PIL reads and OpenCV does not (TGA, ICO, PCX...)
            return _read_with_pil(header, path, grayscale)
        raise _decode_error(path, data.size)
    if header is not None:
        header.close()
    if image.ndim == 3 and image.shape[2] >= 3:
        image = image[..., 2::-1] if image.shape[2] == 3 else image[..., [2, 1, 0, 3]]
    image = check_image(image, name=str(path))
    return to_gray(image) if grayscale else to_rgb(image)


def _read_with_pil(header, path: Path, grayscale: bool) -> np.ndarray:
    """Decode a file PIL opened (its header checked against the pixel limit)."""
    with header:
        try:
            array = _from_pil(header, repr(str(path)), None)
        except Exception as exc:  # truncated or damaged data
            raise _decode_error(path, path.stat().st_size, f" (PIL: {exc})") from None
    image = check_image(array, name=str(path))
    return to_gray(image) if grayscale else to_rgb(image)


def check_image(image, *, name: str = "image") -> np.ndarray:
    """Validate one image and convert it to ``uint8`` ``(H, W)`` or ``(H, W, 3)``.

    Parameters
    ----------
    image : array-like or PIL.Image.Image
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)``, ``(H, W, 3)`` or ``(H, W, 4)``
        of dtype uint8, uint16, bool, int or float, or a PIL image of any mode (see
        the module docstring).
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
    if _is_pil(image):
        image = _from_pil(image, name, pixel_limit())
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
