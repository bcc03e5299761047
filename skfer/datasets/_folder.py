"""Class-per-folder image datasets (SFEW 2.0, RAF-DB/AffectNet exports, CK+48...)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._images import read_image, to_gray
from ..emotions import normalize_emotion

__all__ = ["load_image_folder", "load_sfew"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def load_image_folder(
    root: str | os.PathLike,
    *,
    return_paths: bool = False,
    grayscale: bool = False,
    on_error: str = "raise",
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    return_X_y: bool = False,
):
    """Load a class-per-folder image dataset: ``root/<Emotion>/<image>``.

    Folder names are normalised through the emotion vocabulary (``Angry``,
    ``anger``, ``happiness``... all work); a folder that is not an emotion
    raises ``ValueError`` naming it. Files are taken in sorted order.

    Parameters
    ----------
    root : path-like
        The dataset folder, e.g. ``SFEW/Train``.
    return_paths : bool, default=False
        Return file paths in ``images`` instead of decoded arrays (nothing is
        read; useful for large sets and for :class:`~skfer.FaceCropper`).
    grayscale : bool, default=False
        Decode to ``(H, W)`` instead of RGB ``(H, W, 3)``.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be decoded: raise ``ValueError``
        naming the path, or skip it (the skipped paths are listed in
        ``skipped`` and a warning gives their count).
    extensions : tuple of str
        File suffixes (lower case) taken as images.
    return_X_y : bool, default=False
        Return ``(images, target)``.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images``: an (n, H, W[, 3]) uint8 array when all images share one
        size, else a list of arrays (or a list of paths); ``target``
        (canonical emotion names), ``target_names`` (sorted present classes),
        ``filenames``, ``skipped``, ``DESCR``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "Happy"))
    >>> _ = cv2.imwrite(os.path.join(root, "Happy", "a.png"), np.zeros((8, 8, 3), np.uint8))
    >>> data = load_image_folder(root)
    >>> data.images.shape, data.target.tolist()
    ((1, 8, 8, 3), ['happy'])
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Image folder not found: {str(root)!r}")
    files, labels = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            label = normalize_emotion(folder.name)
        except ValueError as exc:
            raise ValueError(f"Folder {str(folder)!r} is not an emotion class: {exc}") from None
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.suffix.lower() in extensions:
                files.append(file)
                labels.append(label)
    if not files:
        raise ValueError(
            f"No images found under {str(root)!r}: expected root/<Emotion>/<image> with "
            f"suffixes {extensions}."
        )
    skipped: list[str] = []
    images: list = []
    kept_labels = []
    for file, label in zip(files, labels):
        if return_paths:
            images.append(str(file))
            kept_labels.append(label)
            continue
        try:
            image = read_image(file)
        except ValueError:
            if on_error == "raise":
                raise
            skipped.append(str(file))
            continue
        images.append(to_gray(image) if grayscale else image)
        kept_labels.append(label)
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} unreadable image file(s) under {str(root)!r}.", stacklevel=2
        )
    if not return_paths and len({im.shape for im in images}) == 1:
        images = np.stack(images)
    target = np.asarray(kept_labels, dtype=object)
    if return_X_y:
        return images, target
    filenames = np.asarray([str(f) for f in files if str(f) not in set(skipped)], dtype=object)
    return Bunch(
        images=images,
        target=target,
        target_names=sorted(set(kept_labels)),
        filenames=filenames,
        skipped=skipped,
        DESCR=f"Image folder dataset read from {root}.",
    )


def load_sfew(
    root: str | os.PathLike | None = None,
    *,
    frames: bool = False,
    **kwargs,
):
    """Load SFEW 2.0 (Static Facial Expressions in the Wild) from a class-per-folder copy.

    Dhall et al., "Static facial expression analysis in tough conditions",
    ICCV Workshops 2011. skfer uses it as a cross-dataset test set only.

    Parameters
    ----------
    root : path-like, optional
        Default: ``get_data_home() / "sfew" / "Train"`` (aligned faces), or
        ``get_data_home() / "sfew_frames"`` with ``frames=True`` (full movie frames).
    frames : bool, default=False
        Choose the default folder of full frames instead of aligned faces.
    **kwargs
        Passed to :func:`load_image_folder`.

    Examples
    --------
    >>> data = load_sfew()  # doctest: +SKIP
    """
    from ._base import get_data_home

    if root is None:
        home = get_data_home()
        root = home / "sfew_frames" if frames else home / "sfew" / "Train"
    data = load_image_folder(root, **kwargs)
    if not kwargs.get("return_X_y"):
        data.DESCR = (
            "SFEW 2.0 " + ("full movie frames" if frames else "aligned faces") + f" from {root}."
        )
    return data
