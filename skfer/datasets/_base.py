"""Where real data and parsed caches live."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["arrays_digest", "get_data_home", "get_cache_dir", "file_digest"]

#: Environment variable naming the folder that holds the real datasets (see ``get_data_home``).
DATA_ENV = "SKFER_DATA"
#: Environment variable naming the cache folder for parsed datasets.
CACHE_ENV = "SKFER_CACHE"


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder holding the real datasets (FER2013, FER+, SFEW...).

    The one setting that tests, benchmarks and examples use to find data, in
    this order: the ``data_home`` argument, the ``SKFER_DATA`` environment
    variable, ``../shared/data`` beside a source checkout of skfer, and finally
    ``~/skfer_data``. skfer never downloads data: bring your own copies.

    Parameters
    ----------
    data_home : str or path-like, optional
        Explicit folder; returned as is.

    Returns
    -------
    pathlib.Path
        The folder (it may not exist; loaders then raise ``FileNotFoundError``).

    Examples
    --------
    >>> get_data_home("/data/fer").as_posix()
    '/data/fer'
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[3] / "shared" / "data"
    if checkout.is_dir():
        return checkout
    return Path("~/skfer_data").expanduser()


def get_cache_dir() -> Path:
    """Return (and create) the folder where parsed datasets are cached.

    ``SKFER_CACHE`` if set, else ``$XDG_CACHE_HOME/skfer`` or ``~/.cache/skfer``.

    Examples
    --------
    >>> import os, tempfile
    >>> from unittest import mock
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with mock.patch.dict(os.environ, SKFER_CACHE=os.path.join(tmp, "cache")):
    ...         path = get_cache_dir()  # SKFER_CACHE wins, and is created
    ...     path == Path(tmp) / "cache", path.is_dir()
    (True, True)
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
        path = Path(base) / "skfer"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_digest(path: str | os.PathLike) -> str:
    """BLAKE2b digest (hex, 16 bytes) of a file's content, for cache keys.

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.NamedTemporaryFile(delete=False); _ = f.write(b"x"); f.close()
    >>> len(file_digest(f.name))
    32
    """
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def arrays_digest(*parts) -> str:
    """BLAKE2b digest (hex, 16 bytes) of strings and arrays (dtype, shape and bytes):
    the checksum a cache file carries of its own content.

    Examples
    --------
    >>> import numpy as np
    >>> a = arrays_digest("v1", np.zeros(3, np.uint8))
    >>> a == arrays_digest("v1", np.zeros(3, np.uint8)), a == arrays_digest("v1", np.ones(3))
    (True, False)
    """
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, str):
            h.update(b"s" + part.encode() + b"\0")
            continue
        arr = np.ascontiguousarray(part)
        h.update(f"a{arr.dtype.str}{arr.shape}\0".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()
