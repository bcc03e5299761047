"""FER2013 (Kaggle CSV) and FER+ (Microsoft crowd labels) loaders."""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..emotions import EMOTIONS, EMOTIONS_WITH_CONTEMPT
from ._base import arrays_digest, file_digest, get_cache_dir, get_data_home

__all__ = ["load_fer2013", "load_ferplus"]

USAGES = ("Training", "PublicTest", "PrivateTest")
_N_PIXELS = 48 * 48
_CACHE_VERSION = 2  # 2: the file carries its checksum and its source's digest

FER2013_DESCR = """FER2013 facial expression dataset
=================================

35,887 grayscale 48x48 face images labelled with one of seven emotions
(angry, disgust, fear, happy, sad, surprise, neutral), split by ``Usage`` into
Training (28,709), PublicTest (3,589) and PrivateTest (3,589).

Goodfellow et al., "Challenges in Representation Learning: A report on three
machine learning contests", ICONIP 2013. Convention: train on Training, choose
models on PublicTest, report on PrivateTest.
"""

FERPLUS_DESCR = """FER+ relabelling of FER2013
==========================

Ten crowd-sourced votes per FER2013 image over eight emotions (the seven of
FER2013 plus contempt) and ``unknown`` / ``NF`` (not a face). Barsoum et al.,
"Training Deep Networks for Facial Expression Recognition with Crowd-Sourced
Label Distribution", ICMI 2016.
"""


def _resolve(path, default_name: str) -> Path:
    if path is None:
        path = get_data_home() / "fer2013" / default_name
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{default_name} not found at {str(path)!r}. skfer ships no data: pass the path "
            "to your copy, or set SKFER_DATA to the folder holding fer2013/."
        )
    return path


def _parse_fer2013(path: Path):
    import pandas as pd

    try:
        frame = pd.read_csv(
            path, dtype={"emotion": "string", "pixels": "string", "Usage": "string"}
        )
    except Exception as exc:  # pandas raises several types for broken files
        raise ValueError(f"Cannot parse {str(path)!r} as a FER2013 CSV: {exc}") from exc
    missing = {"emotion", "pixels", "Usage"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{str(path)!r} is not a FER2013 CSV: missing column(s) {sorted(missing)}; "
            "expected the header 'emotion,pixels,Usage'."
        )
    line = np.arange(len(frame)) + 2  # 1-based file line, after the header

    codes = pd.to_numeric(frame["emotion"], errors="coerce")
    bad = codes.isna() | (codes < 0) | (codes >= len(EMOTIONS)) | (codes % 1 != 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{str(path)!r} line {line[i]}: emotion code {frame['emotion'].iloc[i]!r} is not an "
            f"integer in 0..{len(EMOTIONS) - 1}."
        )
    usage = frame["Usage"].fillna("")
    bad = ~usage.isin(USAGES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{str(path)!r} line {line[i]}: Usage {usage.iloc[i]!r} is not one of {USAGES}."
        )
    pixels = frame["pixels"].fillna("").astype(object).tolist()
    images = _parse_pixel_rows(pixels, path, line)
    return images, codes.to_numpy().astype(np.int8), usage.to_numpy().astype(str)


def _parse_pixel_rows(rows: list[str], path: Path, line: np.ndarray) -> np.ndarray:
    """Parse space-separated pixel strings with NumPy's C text parser, one row per call."""
    images = np.empty((len(rows), _N_PIXELS), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # trailing junk raises
        for i, row in enumerate(rows):
            try:
                values = np.fromstring(row, dtype=np.int32, sep=" ")
            except (ValueError, DeprecationWarning):
                raise ValueError(
                    f"{str(path)!r} line {line[i]}: non-numeric pixel values."
                ) from None
            if values.size != _N_PIXELS:
                raise ValueError(
                    f"{str(path)!r} line {line[i]}: {values.size} pixel values, expected "
                    f"{_N_PIXELS} (48x48)."
                )
            if values.min() < 0 or values.max() > 255:
                raise ValueError(f"{str(path)!r} line {line[i]}: pixel values must lie in 0..255.")
            images[i] = values
    return images.reshape(-1, 48, 48)


def _load_fer2013_arrays(path: Path, cache: bool):
    cache_file = digest = None
    if cache:
        digest = file_digest(path)
        try:
            cache_file = get_cache_dir() / f"fer2013-v{_CACHE_VERSION}-{digest}.npz"
        except OSError as exc:  # e.g. a read-only home: load without the cache
            warnings.warn(
                f"Cannot create the dataset cache folder ({exc}); loading {str(path)!r} "
                "without a cache. Set SKFER_CACHE to a writable folder, or pass cache=False.",
                UserWarning,
                stacklevel=3,
            )
        else:
            arrays = _read_cache(cache_file, digest)
            if arrays is not None:
                return arrays
    arrays = _parse_fer2013(path)
    if cache_file is not None:
        _write_cache(cache_file, digest, arrays)
    return arrays


def _checksum(digest: str, images, codes, usage) -> str:
    """The checksum a cache file carries: of its arrays and of the source file's digest."""
    return arrays_digest(f"fer2013-v{_CACHE_VERSION}", digest, images, codes, usage)


def _read_cache(cache_file: Path, digest: str):
    """The cached arrays, or None (absent, unreadable, damaged or not matching its
    checksum: a cache is never trusted by its name alone)."""
    try:
        with np.load(cache_file, allow_pickle=False) as data:
            images, codes, usage = data["images"], data["codes"], data["usage"]
            source, checksum = str(data["source"]), str(data["checksum"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # damaged, truncated, not an npz, unreadable, old layout
        problem = f"cannot be read as a cache ({type(exc).__name__})"
    else:
        valid = (
            source == digest
            and images.dtype == np.uint8
            and images.ndim == 3
            and images.shape[1:] == (48, 48)
            and codes.dtype == np.int8
            and codes.shape == usage.shape == (len(images),)
            and checksum == _checksum(digest, images, codes, usage)
        )
        if valid and len(codes) and (codes.min() < 0 or codes.max() >= len(EMOTIONS)):
            valid = False
        if valid and not np.isin(usage, USAGES).all():
            valid = False
        if valid:
            return images, codes, usage
        problem = "does not match its checksum or its source file"
    warnings.warn(
        f"Ignoring the FER2013 cache file {str(cache_file)!r}: it {problem}. The CSV is "
        "parsed again and the cache rebuilt.",
        UserWarning,
        stacklevel=4,
    )
    return None


def _write_cache(cache_file: Path, digest: str, arrays) -> None:
    """Write the cache atomically (temporary file, then rename); a failure (read-only
    folder, full disk) warns and leaves no temporary file."""
    images, codes, usage = arrays
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            dir=cache_file.parent, prefix=f".{cache_file.stem}.", suffix=".tmp"
        )
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                images=images,
                codes=codes,
                usage=usage,
                source=np.array(digest),
                checksum=np.array(_checksum(digest, images, codes, usage)),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, cache_file)  # atomic: a reader never sees half a file
        tmp = None
    except OSError as exc:
        warnings.warn(
            f"Cannot write the FER2013 cache in {str(cache_file.parent)!r} ({exc}); the "
            "data is loaded, without a cache. Set SKFER_CACHE to a writable folder, or "
            "pass cache=False.",
            UserWarning,
            stacklevel=4,
        )
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _select_usage(usage_arg, usage: np.ndarray) -> np.ndarray:
    if usage_arg is None:
        return np.ones(len(usage), dtype=bool)
    wanted = [usage_arg] if isinstance(usage_arg, str) else list(usage_arg)
    unknown = [u for u in wanted if u not in USAGES]
    if unknown:
        raise ValueError(f"Unknown usage {unknown}; choose from {USAGES}.")
    return np.isin(usage, wanted)


def load_fer2013(
    path: str | os.PathLike | None = None,
    *,
    usage: str | list[str] | None = None,
    return_X_y: bool = False,
    cache: bool = True,
):
    """Load FER2013 from its Kaggle CSV (``emotion,pixels,Usage``, plain or gzipped).

    Parsing is vectorised; the parsed arrays are cached (see
    :func:`~skfer.datasets.get_cache_dir`) under a key made of the file's
    content hash, so a second load takes well under a second or two. The cache
    file carries a checksum of its arrays and of the CSV's digest, checked on
    every read: a damaged or edited cache is ignored (with a warning) and
    rebuilt. A cache that cannot be written (read-only folder, full disk) only
    warns: the data is returned, and no temporary file is left behind.

    Parameters
    ----------
    path : str or path-like, optional
        The CSV file. Default: ``get_data_home() / "fer2013" / "fer2013.csv.gz"``.
    usage : {"Training", "PublicTest", "PrivateTest"} or list of them, optional
        Keep only these splits (default: all rows, in file order).
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.
    cache : bool, default=True
        Read and write the parsed-array cache.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images`` (n, 48, 48) uint8; ``target`` object array of canonical
        emotion names; ``target_code`` int8 FER2013 codes; ``target_names``;
        ``usage`` (the split of each row); ``index`` (row number in the file,
        0-based, used to align FER+); ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the file is absent.
    ValueError
        For a malformed row; the message names the file line.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.csv")
    >>> row = " ".join(["128"] * 2304)
    >>> _ = open(path, "w").write(f"emotion,pixels,Usage\\n3,{row},Training\\n")
    >>> X, y = load_fer2013(path, return_X_y=True, cache=False)
    >>> X.shape, y.tolist()
    ((1, 48, 48), ['happy'])
    """
    path = _resolve(path, "fer2013.csv.gz")
    images, codes, usage_all = _load_fer2013_arrays(path, cache)
    keep = _select_usage(usage, usage_all)
    index = np.flatnonzero(keep)
    images, codes = images[keep], codes[keep]
    target = np.asarray(EMOTIONS, dtype=object)[codes]
    if return_X_y:
        return images, target
    return Bunch(
        images=images,
        target=target,
        target_code=codes,
        target_names=list(EMOTIONS),
        usage=usage_all[keep],
        index=index,
        filename=str(path),
        DESCR=FER2013_DESCR,
    )


# FER+ vote columns, in file order, and their canonical names.
_FERPLUS_COLUMNS = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
_FERPLUS_EMOTIONS = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")


def load_ferplus(
    fer2013_path: str | os.PathLike | None = None,
    ferplus_path: str | os.PathLike | None = None,
    *,
    mode: str = "majority",
    usage: str | list[str] | None = None,
    return_X_y: bool = False,
):
    """Load FER2013 images with the FER+ crowd labels.

    Rows are aligned with ``fer2013.csv`` by position. Rows FER+ dropped (no
    image name) are excluded.

    Parameters
    ----------
    fer2013_path, ferplus_path : path-like, optional
        Default: ``fer2013.csv.gz`` and ``fer2013new.csv`` under
        ``get_data_home() / "fer2013"``.
    mode : {"majority", "probability"}, default="majority"
        ``"majority"`` follows the FER+ paper's majority voting: votes of a
        single annotator are discarded as outliers, an image is labelled with
        the emotion holding more than half the remaining votes, and images
        whose majority is ``unknown``/``NF`` or that have no majority are
        excluded. ``"probability"`` keeps every image with at least one vote
        on the eight emotions and returns the vote distribution (after the
        same outlier removal) in ``target_proba`` (columns ``target_names``),
        with ``target`` its argmax.
    usage : str or list of str, optional
        Keep only these FER2013 splits.
    return_X_y : bool, default=False
        Return ``(images, target)`` (``target_proba`` in probability mode).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images``, ``target`` (canonical names, including ``contempt``),
        ``target_names`` (eight emotions), ``votes`` (n, 10) raw votes,
        ``target_proba`` (probability mode), ``usage``, ``index`` (row in
        fer2013.csv), ``fer2013_target`` (the original label), ``DESCR``.

    Examples
    --------
    >>> from skfer.datasets import load_ferplus
    >>> data = load_ferplus(usage="PublicTest")  # doctest: +SKIP
    """
    import pandas as pd

    if mode not in ("majority", "probability"):
        raise ValueError(f"mode must be 'majority' or 'probability', got {mode!r}.")
    base = load_fer2013(fer2013_path, usage=None)
    ferplus_path = _resolve(ferplus_path, "fer2013new.csv")
    frame = pd.read_csv(ferplus_path)
    missing = set(_FERPLUS_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(
            f"{str(ferplus_path)!r} is not a FER+ label file: missing {sorted(missing)}."
        )
    if len(frame) != len(base.images):
        raise ValueError(
            f"FER+ file has {len(frame)} rows but the FER2013 file has {len(base.images)}: "
            "they must be row-aligned copies of the original files."
        )
    votes = frame[list(_FERPLUS_COLUMNS)].to_numpy(dtype=np.float64)
    kept = frame["Image name"].notna().to_numpy() & _select_usage(usage, base.usage)
    cleaned = np.where(votes <= 1.0, 0.0, votes)  # single votes are outliers (FER+ paper)
    totals = cleaned.sum(axis=1)
    if mode == "majority":
        top = cleaned.argmax(axis=1)
        has_majority = cleaned.max(axis=1) > 0.5 * totals
        kept &= has_majority & (top < len(_FERPLUS_EMOTIONS))
        proba = None
        target_idx = top
    else:
        emotion_votes = cleaned[:, : len(_FERPLUS_EMOTIONS)]
        mass = emotion_votes.sum(axis=1)
        kept &= mass > 0
        proba = emotion_votes / np.where(mass > 0, mass, 1.0)[:, None]
        target_idx = emotion_votes.argmax(axis=1)
    # report in skfer's canonical order: EMOTIONS_WITH_CONTEMPT
    order = [_FERPLUS_EMOTIONS.index(name) for name in EMOTIONS_WITH_CONTEMPT]
    names = np.asarray(_FERPLUS_EMOTIONS, dtype=object)
    target = names[np.minimum(target_idx, len(names) - 1)][kept]
    images = base.images[kept]
    target_proba = proba[kept][:, order] if proba is not None else None
    if return_X_y:
        return images, (target_proba if mode == "probability" else target)
    return Bunch(
        images=images,
        target=target,
        target_proba=target_proba,
        target_names=list(EMOTIONS_WITH_CONTEMPT),
        votes=votes[kept],
        vote_names=list(_FERPLUS_COLUMNS),
        usage=base.usage[kept],
        index=base.index[kept],
        fer2013_target=base.target[kept],
        DESCR=FERPLUS_DESCR,
    )
