"""Face detection behind one interface: :class:`Face`, the detector names and default,
and :func:`detect_faces`.

The backend adapters (``_backends``) take a checked ``uint8`` image at their *working*
resolution and return boxes, scores and landmarks in working pixels. :func:`detect_faces`
does everything else once for all
backends: reading and checking the image, resizing it to the working resolution, mapping
the results back to image pixels, filtering by size, filling in landmarks from dlib's
68-point shape predictor when the backend gives none, and sorting.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from .._images import check_image, read_image, to_gray, to_rgb
from ._backends import _BACKENDS, _backend, predict_landmarks

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "MIN_IMAGE_SIZE",
    "Face",
    "detect_faces",
    "resolve_detector",
]

#: Detector names; ``"a+b"`` runs ``b`` on the images where ``a`` finds no face.
DETECTORS = ("haar", "hog", "cnn", "mtcnn", "yunet")

#: The default of every skfer function and command that detects faces: ``"auto"``, the
#: best detector installed (:func:`resolve_detector`), chosen on the film development set
#: (``benchmarks/results/film_detectors.md``, ``benchmarks/results/detectors.md``).
DEFAULT_DETECTOR = "auto"
#: What ``"auto"`` means, best first. ``"hog+yunet"``: dlib's HOG, and YuNet
#: (``yuface`` wheel) on the images where HOG finds nobody; where YuNet is not
#: installed, dlib's CNN takes that place (``"hog+cnn"``, ten times slower there).
#: HOG's boxes are those dlib's landmark predictor was trained on: the models read
#: YuNet-only crops 2.8 points worse on SFEW Train (fer2013, 44.4 vs 47.2 %), while
#: ``"hog+yunet"`` reads them as ``"hog+cnn"`` does (47.4 %), finds more faces (843 vs
#: 779 of 860) and crops five times faster.
AUTO_DETECTORS = ("hog+yunet", "hog+cnn")

#: Upscaling cap for small images (a 48x48 FER2013 face is detected at 192x192).
MAX_UPSCALE = 4.0

#: Images whose shorter side is under this many pixels hold no detectable face:
#: :func:`detect_faces` returns no face for them without running a detector (dlib's
#: CNN and MTCNN fail on a few-pixel input).
MIN_IMAGE_SIZE = 8
# the shorter side of the image a backend sees is never under this (MTCNN's 12-px window)
_MIN_WORK_SIDE = 12


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
        The confidence of the detector that found the face, on that detector's own
        scale (comparable only between faces of one detector): ``hog``: the SVM
        margin (about -0.5 to 3; skfer keeps faces from -0.5, dlib's own threshold
        is 0); ``cnn``: dlib's MMOD margin (about 0 to 1.5); ``yunet``: a confidence
        in [0, 1] (kept from 0.5); ``mtcnn``: a face probability in [0, 1];
        ``haar``: OpenCV's level weight (about 0 to 10).
    detector : str or None
        The detector that found the face (``"hog"``, ``"yunet"``...: for a chain such
        as ``"hog+yunet"``, the one of the chain that found it); None when not known.
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
    detector: str | None = None

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
        return Face(tuple(v * factor for v in self.box), self.score, points, self.detector)

    def __eq__(self, other):
        if not isinstance(other, Face):
            return NotImplemented
        if (self.landmarks is None) != (other.landmarks is None):
            return False
        same_points = self.landmarks is None or np.array_equal(self.landmarks, other.landmarks)
        same = self.box == other.box and self.score == other.score
        return same and same_points and self.detector == other.detector

    __hash__ = None  # mutable-looking array field: not hashable, like ndarray

    def __repr__(self):
        box = ", ".join(f"{v:.1f}" for v in self.box)
        points = "None" if self.landmarks is None else "(5, 2)"
        by = "" if self.detector is None else f", detector={self.detector!r}"
        return f"Face(box=({box}), score={self.score:.3g}, landmarks={points}{by})"


def resolve_detector(detector: str | None = DEFAULT_DETECTOR) -> str:
    """The detector a name stands for: ``"auto"`` (or None) -> the best one installed.

    Parameters
    ----------
    detector : str or None, default="auto"
        ``"auto"`` or None: ``"hog+yunet"`` where the ``yuface`` wheel is installed
        (a dependency on Python <= 3.11), else ``"hog+cnn"`` (see
        :data:`AUTO_DETECTORS`). Any other name is returned as it is.

    Returns
    -------
    str

    Examples
    --------
    >>> resolve_detector("auto") in ("hog+yunet", "hog+cnn")
    True
    >>> resolve_detector("hog")
    'hog'
    """
    if detector is None or (isinstance(detector, str) and detector.strip().lower() == "auto"):
        if importlib.util.find_spec("yuface") is not None:
            return AUTO_DETECTORS[0]
        return AUTO_DETECTORS[1]
    return detector


def parse_detector(detector) -> tuple[str, ...]:
    """Split ``"hog+cnn"`` into ``("hog", "cnn")``, checking every name (``"auto"`` is
    resolved first, see :func:`resolve_detector`).

    Examples
    --------
    >>> parse_detector("hog+cnn")
    ('hog', 'cnn')
    """
    if not isinstance(detector, str) or not detector:
        raise ValueError(
            f"detector must be a non-empty string such as 'auto', 'hog' or 'hog+cnn', got "
            f"{detector!r}."
        )
    detector = resolve_detector(detector)
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


def too_small(image) -> bool:
    """Whether an image is under :data:`MIN_IMAGE_SIZE` on its shorter side."""
    return min(np.shape(image)[:2]) < MIN_IMAGE_SIZE


def _detect_one(name, image, gray, work_size, min_size, landmarks):
    backend = _backend(name)
    h, w = image.shape[:2]
    scale = min((work_size or backend.work_size) / max(h, w), MAX_UPSCALE)
    scale = max(scale, _MIN_WORK_SIDE / min(h, w))  # a thin strip is not shrunk to nothing
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
    if not backend.own_landmarks:
        points = None
    keep = np.minimum(boxes[:, 2], boxes[:, 3]) >= (min_size or 0)
    boxes, scores = boxes[keep], scores[keep]
    if points is not None:
        points = points[keep] / scale
    if landmarks and points is None and len(boxes):
        points = predict_landmarks(gray, boxes)
    faces = [
        Face(tuple(b), s, None if (points is None or not landmarks) else p, name)
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
    detector : str, default="auto"
        ``"haar"`` (OpenCV cascade), ``"hog"`` (dlib HOG), ``"cnn"`` (dlib MMOD CNN),
        ``"mtcnn"`` (facenet-pytorch, extra ``skfer[mtcnn]``) or ``"yunet"``
        (libfacedetection via ``yuface``, extra ``skfer[yunet]``). Chain them with
        ``"+"``: ``"hog+cnn"`` runs the CNN only where HOG finds no face. ``"auto"``:
        ``"hog+yunet"`` where YuNet is installed, else ``"hog+cnn"``
        (:func:`resolve_detector`); both find a face in every one of the 84 SFEW test
        frames; see ``benchmarks/results/detectors.md`` and ``film_detectors.md``.
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
        Sorted by box area, largest first; empty when no face is found, and for an
        image whose shorter side is under :data:`MIN_IMAGE_SIZE` (8 px), which no
        detector is run on.

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
    if too_small(image):
        return []
    gray = to_gray(image)
    for name in names:
        faces = _detect_one(name, image, gray, work_size, min_size, landmarks)
        if faces:
            return faces
    return []
