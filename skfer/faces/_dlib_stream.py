"""dlib's binary serialisation of a ``shape_predictor`` (``.dat``), read without dlib.

The whole file is a stream of dlib-encoded integers (a control byte: sign in bit 7,
byte count in bits 0-3; then the magnitude's bytes, little-endian); a float is two of
them, a mantissa and a power of two (``dlib/float_details.h``). :func:`_token_marks`
finds where each integer starts without a Python loop per integer (see there), and
:func:`_parse_tokens` reads the structure of ``shape_predictor``'s serialisation
(``dlib/image_processing/shape_predictor.h``) from the decoded integers.
:func:`parse_dat` is the entry point; :mod:`._dlib_cache` keeps its result.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["check_model", "parse_dat"]

#: bytes per speculative walker in :func:`_token_marks` (4-64 KiB all took about as
#: long; fewer walkers leave fewer merges to resolve in Python)
_CHUNK = 1 << 14
#: zero bytes after the file's in memory: a token is read as 8 bytes after its first
_PAD = 32
#: bytes of the file whose tokens :func:`_token_values` decodes at a time
_DECODE_BYTES = 1 << 22
#: float_details' exponents for +inf, -inf; NaN above
_IS_INF, _IS_NINF = 32000, 32001


# ------------------------------------------------------------------ tokenizing


def _read_padded(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A file's bytes followed by :data:`_PAD` zero bytes, and its length."""
    with open(path, "rb") as fh:
        n = os.fstat(fh.fileno()).st_size
        buf = np.zeros(n + _PAD, np.uint8)
        if fh.readinto(memoryview(buf)[:n]) != n:
            raise OSError(f"{os.fspath(path)!r} changed while it was read")
    return buf, n


def _chunks(n: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Begin and end offsets of the chunks of ``n`` bytes: ``chunk`` bytes each, the last
    one up to ``2 * chunk - 1`` (no chunk is shorter than ``min(n, chunk)``)."""
    begins = np.arange(0, max(n - chunk, 0) + 1, chunk)
    ends = np.append(begins[1:], n)
    return begins, ends


def _walk_chunks(buf: np.ndarray, n: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Walk the token chain from the start of every chunk of ``buf[:n]`` at once.

    Returns ``mark`` (bool, one per byte of ``buf``: True where some walker stepped; a
    walker stays within its chunk) and ``exits`` (per chunk, the first position at or
    past its end). A walker that starts mid-token reads garbage for a few tokens, then
    almost always falls into step with the true chain; :func:`_resolve_chunks` repairs
    the rest.
    """
    begins, ends = _chunks(n, chunk)
    safe = min(n, chunk) // 16 - 1  # steps no walker can leave its chunk in (a token <= 16 B)
    mark = np.zeros(len(buf), bool)
    exits = np.empty(len(begins), np.int64)
    pos, lane = begins.copy(), np.arange(len(begins))
    step = 0
    while len(pos):
        mark[pos] = True
        length = np.take(buf, pos) & 0x0F
        length += 1
        pos += length
        step += 1
        if step < safe:
            continue
        inside = pos < ends
        if not inside.all():
            done = ~inside
            exits[lane[done]] = pos[done]
            pos, lane, ends = pos[inside], lane[inside], ends[inside]
    return mark, exits


def _resolve_chunks(
    buf: np.ndarray, n: int, mark: np.ndarray, exits: np.ndarray, chunk: int
) -> int:
    """Turn the walkers' marks into the true chain's token starts, in place.

    The true chain enters chunk ``k`` at a known position (the previous chunk's exit);
    from there it is followed in Python until it lands on a position chunk ``k``'s
    walker marked: from that token on the two coincide, so the walker's marks before it
    are cleared and its exit is the next chunk's entry. Returns the chain's end (``n``
    for a well-formed stream).
    """
    data, marked = memoryview(buf), memoryview(mark)
    walked: list[int] = []
    pos = 0
    for k, (begin, end) in enumerate(zip(*(a.tolist() for a in _chunks(n, chunk)))):
        while pos < end and not marked[pos]:
            walked.append(pos)
            pos += (data[pos] & 0x0F) + 1
        if pos < end:  # merged with the walker
            mark[begin:pos] = False
            pos = int(exits[k])
        else:  # never merged: the walker's marks are all wrong
            mark[begin:end] = False
    mark[walked] = True
    return pos


def _token_marks(buf: np.ndarray, n: int) -> np.ndarray:
    """Where the integer tokens of a stream of dlib-serialised integers start (bool, one
    per byte of ``buf``; ``buf[n:]`` is padding).

    Every token's length is known from its first byte, so the chain of token starts is
    sequential; a Python loop over ~33 million tokens would take ten seconds or more.
    Instead one walker per chunk of :data:`_CHUNK` bytes steps through its chunk from
    the chunk's first byte, all walkers in lockstep (a few numpy operations per step),
    and the true chain is stitched from them (:func:`_resolve_chunks`).
    """
    mark, exits = _walk_chunks(buf, n, _CHUNK)
    if _resolve_chunks(buf, n, mark, exits, _CHUNK) != n:
        raise ValueError("truncated dlib stream: the last integer runs past the end")
    mark[n:] = False
    return mark


def _token_values(buf: np.ndarray, n: int, mark: np.ndarray) -> np.ndarray:
    """The signed values of the integer tokens starting where ``mark`` is set, decoded a
    block of bytes at a time (the temporaries stay small).

    Returned as ``int32``: a float32 model's mantissas have 24 bits and its counts and
    indices are small, and half the width of ``int64`` is ~130 MB less at the
    conversion's peak for the 68-point model. A larger value raises ``ValueError``.
    """
    # every byte offset read as a little-endian uint64 (unaligned, no copy)
    words = np.ndarray((n,), dtype="<u8", buffer=buf, strides=(1,))
    masks = np.array([(1 << (8 * s)) - 1 for s in range(9)] + [0] * 7, np.uint64)  # by count
    values = np.empty(np.count_nonzero(mark), np.int32)
    done = 0
    for lo in range(0, n, _DECODE_BYTES):
        at = np.flatnonzero(mark[lo : lo + _DECODE_BYTES])
        at += lo
        control = buf[at]
        if ((control & 0x7F) > 8).any():  # bits 4-6 are zero, and at most 8 bytes follow
            raise ValueError("not a dlib binary stream (bad integer control byte)")
        at += 1
        block = np.bitwise_and(words[at], masks[control & 0x0F])
        if len(block) and block.max() > np.iinfo(np.int32).max:
            raise ValueError(
                "dlib stream holds an integer beyond 32 bits: not a float32 shape predictor"
            )
        out = values[done : done + len(at)]
        out[:] = block
        np.negative(out, out=out, where=control >= 0x80)
        done += len(at)
    return values


# --------------------------------------------------------------------- structure


def _floats(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """dlib's ``float_details`` to float32: ``ldexpf((float)mantissa, exponent)``."""
    if ((exponent < -(1 << 15)) | (exponent >= 1 << 15)).any():
        raise ValueError("float exponent out of int16 range in dlib stream")
    out = np.ldexp(mantissa.astype(np.float32), np.minimum(exponent, 1000).astype(np.int32))
    if (exponent >= _IS_INF).any():
        out = np.where(exponent == _IS_INF, np.float32(np.inf), out)
        out = np.where(exponent == _IS_NINF, np.float32(-np.inf), out)
        out = np.where(exponent > _IS_NINF, np.float32(np.nan), out)
    return out.astype(np.float32, copy=False)


class _Cursor:
    """Reads dlib's serialisation (integers, floats, vectors, matrices) from the
    decoded integer tokens."""

    def __init__(self, values: np.ndarray):
        self.values = values
        self.at = 0

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` integers."""
        out = self.peek(count)
        self.at += count
        return out

    def peek(self, count: int, skip: int = 0) -> np.ndarray:
        """``count`` integers after the next ``skip``, without moving on."""
        start = self.at + skip
        if count < 0 or skip < 0 or start + count > len(self.values):
            raise ValueError("dlib stream ends early")
        return self.values[start : start + count]

    def size(self) -> int:
        """An unsigned integer (a count)."""
        value = int(self.take(1)[0])
        if value < 0:
            raise ValueError("negative count in dlib stream")
        return value

    def floats(self, count: int) -> np.ndarray:
        """The next ``count`` floats (two integers each)."""
        pairs = self.take(2 * count).reshape(count, 2)
        return _floats(pairs[:, 0], pairs[:, 1])

    def column_shape(self) -> int:
        """A ``matrix<float,0,1>`` header (dlib writes ``-nr, -nc``): its length."""
        nr, nc = (abs(int(v)) for v in self.take(2))
        if nc != 1:
            raise ValueError(f"expected a column vector, found a {nr}x{nc} matrix")
        return nr


def _parse_forest(cursor: _Cursor, dims: int) -> dict[str, np.ndarray]:
    """One cascade level: its trees, which must all have the same shape."""
    n_trees = cursor.size()
    n_splits = int(cursor.peek(1)[0])  # the first tree's; every tree's, checked below
    n_leaves = int(cursor.peek(1, 1 + 4 * max(n_splits, 0))[0])
    if n_trees == 0 or n_splits < 1 or n_leaves != n_splits + 1 or n_leaves & n_splits:
        raise ValueError("unsupported tree shape in the shape predictor")
    leaf_tokens = 2 + 2 * dims
    width = 2 + 4 * n_splits + n_leaves * leaf_tokens
    trees = cursor.take(n_trees * width).reshape(n_trees, width)
    splits = trees[:, 1 : 1 + 4 * n_splits].reshape(n_trees, n_splits, 4)
    leaves = trees[:, 2 + 4 * n_splits :].reshape(n_trees, n_leaves, leaf_tokens)
    uniform = (
        (trees[:, 0] == n_splits).all()
        and (trees[:, 1 + 4 * n_splits] == n_leaves).all()
        and (np.abs(leaves[:, :, 0]) == dims).all()
        and (np.abs(leaves[:, :, 1]) == 1).all()
    )
    if not uniform:
        raise ValueError("the trees of a cascade level differ in shape: not supported")
    values = leaves[:, :, 2:].reshape(n_trees, n_leaves, dims, 2)
    return {
        "idx1": splits[:, :, 0].astype(np.int32),
        "idx2": splits[:, :, 1].astype(np.int32),
        "thresh": _floats(splits[:, :, 2], splits[:, :, 3]),
        "leaves": _floats(values[..., 0], values[..., 1]),
    }


def _parse_tokens(values: np.ndarray) -> dict[str, np.ndarray]:
    """``dlib::deserialize(shape_predictor&)`` on the decoded integer tokens."""
    cursor = _Cursor(values)
    if cursor.size() != 1:
        raise ValueError("unknown dlib shape_predictor version")
    dims = cursor.column_shape()
    initial = cursor.floats(dims)
    forests = [_parse_forest(cursor, dims) for _ in range(cursor.size())]
    if len({f["leaves"].shape for f in forests}) != 1:
        raise ValueError("the cascade levels differ in shape: not supported")
    anchors = [cursor.take(cursor.size()) for _ in range(cursor.size())]
    deltas = [cursor.floats(2 * cursor.size()).reshape(-1, 2) for _ in range(cursor.size())]
    if cursor.at != len(values):
        raise ValueError("unexpected data after the shape predictor")
    model = {
        "initial_shape": initial.reshape(-1, 2),
        "anchor": np.array(anchors, dtype=np.int32),
        "deltas": np.array(deltas, dtype=np.float32),
        **{k: np.stack([f[k] for f in forests]) for k in ("idx1", "idx2", "thresh")},
        "leaves": np.stack([f["leaves"] for f in forests]),
    }
    check_model(model)
    return model


def check_model(model: dict[str, np.ndarray]) -> None:
    """Shapes, dtypes and index ranges that :class:`ShapePredictor` relies on."""
    n_parts = model["initial_shape"].shape[0]
    levels, n_features = model["anchor"].shape
    levels_, n_trees, n_splits = model["idx1"].shape
    expected = {
        "initial_shape": ((n_parts, 2), np.float32),
        "anchor": ((levels, n_features), np.int32),
        "deltas": ((levels, n_features, 2), np.float32),
        "idx1": ((levels, n_trees, n_splits), np.int32),
        "idx2": ((levels, n_trees, n_splits), np.int32),
        "thresh": ((levels, n_trees, n_splits), np.float32),
        "leaves": ((levels, n_trees, n_splits + 1, 2 * n_parts), np.float32),
    }
    for name, (shape, dtype) in expected.items():
        array = model[name]
        if array.shape != shape or array.dtype != dtype:
            raise ValueError(f"shape predictor array {name!r}: {array.shape} {array.dtype}")
    in_range = (
        levels == levels_
        and n_parts > 1
        and (0 <= model["anchor"]).all()
        and (model["anchor"] < n_parts).all()
        and all((0 <= model[k]).all() and (model[k] < n_features).all() for k in ("idx1", "idx2"))
    )
    if not in_range:
        raise ValueError("shape predictor indices out of range")


def parse_dat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a dlib ``shape_predictor`` file (``.dat``) into numpy arrays.

    Parameters
    ----------
    path : str or path-like
        A file written by ``dlib::serialize(shape_predictor)``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``initial_shape`` ``(P, 2)``, and per cascade level ``l``, tree ``t``, split
        ``s`` and feature ``f``: ``anchor[l, f]``, ``deltas[l, f]`` (2), ``idx1``,
        ``idx2``, ``thresh`` ``[l, t, s]`` and ``leaves[l, t, leaf]`` (``2 P``, x and y
        interleaved).

    Raises
    ------
    ValueError
        If the file is not a shape predictor, or one whose trees differ in depth.
    """
    buf, n = _read_padded(path)
    values = _token_values(buf, n, _token_marks(buf, n))
    del buf  # the arrays below are built from the decoded integers alone
    return _parse_tokens(values)
