"""One entry point for a dataset on disk: :func:`load_dataset` picks the loader from the path."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from ._fer2013 import _FERPLUS_COLUMNS, load_fer2013, load_ferplus
from ._folder import load_image_folder, load_sfew

__all__ = ["load_dataset"]

_CSV_SUFFIXES = (".csv", ".csv.gz")
_SPLIT_NAMES = {"train", "training", "val", "valid", "validation", "test", "testing"}
_EXPECTED = (
    "a FER2013 CSV (.csv or .csv.gz with the header emotion,pixels,Usage), a FER+ label "
    "file (fer2013new.csv) or a folder of <Emotion>/<image> files (SFEW 2.0, CK+, RAF-DB "
    "exports...)"
)


def _csv_columns(path: Path) -> set[str]:
    """The column names in the first line of a (possibly gzipped) CSV file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
    except (OSError, EOFError):  # not gzip after all, or unreadable: the loader says why
        return set()
    return {column.strip().strip('"') for column in header.split(",")}


def _fer2013_beside(path: Path) -> Path | None:
    for name in ("fer2013.csv.gz", "fer2013.csv"):
        if (path.parent / name).is_file():
            return path.parent / name
    return None


def _is_sfew(path: Path) -> str | None:
    """The SFEW part of a folder's path (``sfew``, ``SFEW_2.0``, ``sfew_frames``), or None."""
    for part in path.resolve().parts[-2:]:
        if part.lower().startswith("sfew"):
            return part
    return None


def _check_not_splits(path: Path) -> None:
    """A folder of splits (``Train/``, ``Val/``) instead of classes gets a pointed error."""
    folders = sorted(p.name for p in path.iterdir() if p.is_dir())
    if folders and all(name.lower() in _SPLIT_NAMES for name in folders):
        raise ValueError(
            f"{str(path)!r} holds dataset splits ({', '.join(folders)}), not <Emotion> "
            f"folders: pass one of them, e.g. {str(path / folders[0])!r}."
        )


def load_dataset(path: str | os.PathLike, **options):
    """Load a dataset from its path with the loader that fits it.

    The loader is chosen from what ``path`` is:

    - a FER2013 CSV, plain or gzipped (``.csv``, ``.csv.gz``):
      :func:`load_fer2013`;
    - a FER+ label CSV (``fer2013new.csv``, recognised by its vote columns):
      :func:`load_ferplus`, with the FER2013 images from ``fer2013.csv.gz`` (or
      ``fer2013.csv``) in the same folder unless ``fer2013_path`` is given;
    - a folder of ``<Emotion>/<image>`` files: :func:`load_sfew` when the folder
      or its parent is named like SFEW (``sfew/Train``, ``SFEW_2.0/Val``,
      ``sfew_frames``), else :func:`load_image_folder` (CK+, RAF-DB or AffectNet
      exports, your own folders).

    Parameters
    ----------
    path : str or path-like
        The CSV file or the dataset folder.
    **options
        Passed to the chosen loader, e.g. ``usage="PrivateTest"`` for the CSVs or
        ``return_paths=True`` for a folder; an option the loader does not take
        raises its ``TypeError``.

    Returns
    -------
    data : sklearn.utils.Bunch
        The chosen loader's Bunch (``images``, ``target``, ``target_names``,
        ``DESCR``...), plus ``kind``: ``"fer2013"``, ``"ferplus"``, ``"sfew"`` or
        ``"image_folder"``. FER2013 and FER+ Bunches hold a ``usage`` per row.
        With ``return_X_y=True``, the loader's ``(images, target)``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is none of the above (the message names it and what was
        expected), or the chosen loader finds the data malformed.

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> from skfer.datasets import load_dataset
    >>> root = tempfile.mkdtemp()
    >>> for emotion in ("Happy", "Contempt"):
    ...     os.makedirs(os.path.join(root, emotion))
    ...     _ = cv2.imwrite(os.path.join(root, emotion, "a.png"), np.zeros((8, 8), np.uint8))
    >>> data = load_dataset(root)
    >>> data.kind, data.target.tolist(), data.images.shape
    ('image_folder', ['contempt', 'happy'], (2, 8, 8, 3))
    >>> load_dataset(os.path.join(root, "Happy", "a.png"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '...a.png' is not a dataset skfer can load: expected a FER2013 CSV ...
    """
    path = Path(path).expanduser()
    if path.is_dir():
        _check_not_splits(path)
        sfew = _is_sfew(path)
        if sfew is not None:
            kind = "sfew"
            data = load_sfew(path, frames="frame" in sfew.lower(), **options)
        else:
            kind, data = "image_folder", load_image_folder(path, **options)
    elif path.is_file() and path.name.lower().endswith(_CSV_SUFFIXES):
        if set(_FERPLUS_COLUMNS) <= _csv_columns(path):
            kind = "ferplus"
            beside = _fer2013_beside(path)
            if beside is not None:
                options.setdefault("fer2013_path", beside)
            data = load_ferplus(ferplus_path=path, **options)
        else:
            kind, data = "fer2013", load_fer2013(path, **options)
    elif not path.exists():
        raise FileNotFoundError(f"Dataset not found: {str(path)!r} (expected {_EXPECTED}).")
    else:
        raise ValueError(f"{str(path)!r} is not a dataset skfer can load: expected {_EXPECTED}.")
    if not options.get("return_X_y"):
        data.kind = kind
    return data
