"""FaceCropper: the transformer from images or frames to aligned face crops."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._images import image_rows, to_gray, to_rgb
from .._tags import ImageInputMixin
from ._align import DEFAULT_EYE_LEVEL, DEFAULT_MARGIN, _check_geometry, _warp, alignment_matrix
from ._detectors import (
    DEFAULT_DETECTOR,
    MIN_IMAGE_SIZE,
    _load_image,
    detect_faces,
    parse_detector,
    too_small,
)

__all__ = ["FaceCropper"]


class FaceCropper(ImageInputMixin, TransformerMixin, BaseEstimator):
    """Detect, align and crop one face per image: the same number of rows out as in.

    ``fit`` learns nothing; ``transform`` runs :func:`~skfer.faces.detect_faces` on each
    image, keeps one face (``select``), aligns it with :func:`~skfer.faces.align_face`
    and returns the crops. Images where no face is found are handled by ``on_missing``
    and recorded in ``fallback_``.

    Parameters
    ----------
    detector : str, default="auto"
        Detector name, or names chained with ``"+"`` (the next one runs only where the
        previous found nothing): ``"haar"``, ``"hog"``, ``"cnn"``, ``"mtcnn"``,
        ``"yunet"``. ``"auto"`` (:data:`~skfer.faces.DEFAULT_DETECTOR`): HOG, then
        YuNet where HOG finds nobody (``"hog+yunet"``), or dlib's CNN there where YuNet
        is not installed (``"hog+cnn"``); both find a face in all 84 SFEW test frames
        and give the models the same film faces (see
        ``benchmarks/results/film_detectors.md`` and
        :func:`~skfer.faces.resolve_detector`).
    align : bool, default=True
        Rotate so the eyes are level and scale to a fixed inter-ocular distance, using
        landmarks (the detector's own, or dlib's 68-point predictor). ``False`` skips the
        landmarks: a faster, axis-aligned crop placed from the detector's box.
    size : int, default=48
        Side of the square crops.
    margin : float, default=0.85
        Distance from each eye centre to the side of the crop, in inter-ocular distances
        (FER2013's framing; see :func:`~skfer.faces.align_face`).
    eye_level : float, default=0.38
        Height of the eye line, as a fraction of ``size`` from the top.
    grayscale : bool, default=True
        Return ``(n, size, size)`` gray crops, else ``(n, size, size, 3)`` RGB.
    supersample : int, default=1
        Warp each face at this many times ``size`` and area-average it down, a sharper
        crop (see :func:`~skfer.faces.align_face`); ``1`` warps straight to ``size``.
    select : {"largest", "best", "central"}, default="largest"
        Which face to keep when there are several: the largest box, the highest
        detector score, or the box whose centre is nearest the image centre.
    on_missing : {"full", "center", "raise"}, default="full"
        When no face is found: resize the whole image to ``size x size`` (what a
        pre-cropped 48x48 FER2013 face needs), crop its central square and resize
        it, or raise ``ValueError`` naming the row (and path). An image under 8 px
        on its shorter side is too small for any detector: it counts as faceless
        (and ``"raise"`` says it is too small).
    min_size : float, optional
        Smallest face to consider, in image pixels (see :func:`detect_faces`).
    work_size : int, optional
        Longer side of the image during detection (see :func:`detect_faces`).
    n_jobs : int, optional
        Images processed in parallel threads (joblib); ``None`` means 1, ``-1`` all
        cores. Results do not depend on it.

    Attributes
    ----------
    fallback_ : ndarray of bool, shape (n_samples,)
        Set by every call to ``transform``: ``True`` for the rows where no face was found
        and ``on_missing`` was applied. ``fallback_.sum()`` counts detection failures.
    faces_ : list of (Face or None)
        Set by ``transform``: the face kept for each row, in that image's pixels.
    n_faces_ : ndarray of int, shape (n_samples,)
        Set by ``transform``: how many faces were found in each row.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.data import astronaut
    >>> from skfer import FaceCropper
    >>> X = [astronaut(), np.zeros((48, 48), np.uint8)]
    >>> cropper = FaceCropper(detector="hog")
    >>> cropper.fit_transform(X).shape
    (2, 48, 48)
    >>> cropper.fallback_.tolist()
    [False, True]
    """

    _parameter_constraints = {
        "detector": [str],
        "align": ["boolean"],
        "size": [Interval(Integral, 8, None, closed="left")],
        "margin": [Interval(Real, 0, 10, closed="both")],
        "eye_level": [Interval(Real, 0, 1, closed="neither")],
        "grayscale": ["boolean"],
        "supersample": [Interval(Integral, 1, 16, closed="both")],
        "select": [StrOptions({"largest", "best", "central"})],
        "on_missing": [StrOptions({"full", "center", "raise"})],
        "min_size": [Interval(Real, 0, None, closed="left"), None],
        "work_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        detector=DEFAULT_DETECTOR,
        align=True,
        size=48,
        margin=DEFAULT_MARGIN,
        eye_level=DEFAULT_EYE_LEVEL,
        grayscale=True,
        supersample=1,
        select="largest",
        on_missing="full",
        min_size=None,
        work_size=None,
        n_jobs=None,
    ):
        self.detector = detector
        self.align = align
        self.size = size
        self.margin = margin
        self.eye_level = eye_level
        self.grayscale = grayscale
        self.supersample = supersample
        self.select = select
        self.on_missing = on_missing
        self.min_size = min_size
        self.work_size = work_size
        self.n_jobs = n_jobs

    def _validate(self):
        self._validate_params()
        parse_detector(self.detector)
        _check_geometry(self.size, self.margin, self.eye_level)

    def fit(self, X=None, y=None):
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self
        """
        self._validate()
        return self

    def transform(self, X) -> np.ndarray:
        """Return one aligned face crop per image.

        Parameters
        ----------
        X : array-like of shape (n, H, W[, 3]), or a sequence of images or paths
            Images may differ in size; paths are read when their row is processed.

        Returns
        -------
        ndarray of uint8, shape (n, size, size) or (n, size, size, 3)
        """
        from joblib import Parallel, delayed

        self._validate()
        rows = image_rows(X)
        jobs = (delayed(self._crop_row)(item, i) for i, item in enumerate(rows))
        # local threads even under joblib's Dask backend (one task per image would be wasteful)
        results = Parallel(n_jobs=self.n_jobs, backend="threading")(jobs)
        crops, faces, counts = zip(*results)
        self.faces_ = list(faces)
        self.fallback_ = np.array([f is None for f in faces], dtype=bool)
        self.n_faces_ = np.array(counts, dtype=int)
        return np.stack(crops)

    def crop_faces(self, image) -> tuple[np.ndarray, list]:
        """Every face of one image, aligned and cropped, with its :class:`~skfer.Face`.

        The crop path of :func:`~skfer.analyze_video`, :func:`~skfer.analyze_images`,
        ``skfer predict`` and the Dask runner; :meth:`transform` keeps one face per
        image of the same crops.

        Parameters
        ----------
        image : array-like or path
            One ``(H, W)`` or ``(H, W, 3)`` image, or an image file.

        Returns
        -------
        crops : ndarray of uint8, shape (k, size, size) or (k, size, size, 3)
            One per face found, largest face first (``k = 0`` when none is).
        faces : list of Face
            Their boxes, scores and landmarks, in ``image``'s pixels.

        Examples
        --------
        >>> from skimage.data import astronaut
        >>> crops, faces = FaceCropper(detector="hog").crop_faces(astronaut())
        >>> len(crops) == len(faces), crops.shape[1:], [round(v) for v in faces[0].box]
        (True, (48, 48), [184, 85, 89, 90])
        """
        self._validate()
        image = _load_image(image, "image")
        faces = self._detect(image)
        image = self._colour(image)
        shape = (0, self.size, self.size) + (() if self.grayscale else (3,))
        crops = [self._align(image, face) for face in faces]
        return (np.stack(crops) if crops else np.zeros(shape, np.uint8)), faces

    def _detect(self, image):
        return detect_faces(
            image,
            detector=self.detector,
            min_size=self.min_size,
            work_size=self.work_size,
            landmarks=self.align,
        )

    def _colour(self, image):
        return to_gray(image) if self.grayscale else to_rgb(image)

    def _align(self, image, face):
        M = alignment_matrix(face, size=self.size, margin=self.margin, eye_level=self.eye_level)
        return _warp(image, M, self.size, self.supersample)

    def _crop_row(self, item, i):
        name = f"X[{i}]" + (f" ({str(item)!r})" if isinstance(item, (str, os.PathLike)) else "")
        try:
            image = _load_image(item, f"X[{i}]")
        except (OSError, ValueError) as exc:
            raise type(exc)(f"X[{i}]: {exc}") from exc
        faces = self._detect(image)
        image = self._colour(image)
        if not faces:
            return self._fallback(image, name), None, 0
        face = self._choose(faces, image.shape)
        return self._align(image, face), face, len(faces)

    def _choose(self, faces, shape):
        if self.select == "best":
            return max(faces, key=lambda f: f.score)
        if self.select == "central":
            cy, cx = shape[0] / 2, shape[1] / 2
            return min(faces, key=lambda f: (f.center[0] - cx) ** 2 + (f.center[1] - cy) ** 2)
        return faces[0]  # detect_faces sorts by area

    def _fallback(self, image, name):
        import cv2

        if self.on_missing == "raise":
            h, w = image.shape[:2]
            why = (
                f"the image ({w}x{h} px) is too small for face detection (under "
                f"{MIN_IMAGE_SIZE} px on its shorter side)"
                if too_small(image)
                else f"no face found by detector {self.detector!r}"
            )
            raise ValueError(f"{name}: {why}; use on_missing='full' or 'center' to keep such rows.")
        if self.on_missing == "center":
            h, w = image.shape[:2]
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            image = image[top : top + side, left : left + side]
        h, w = image.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > self.size else cv2.INTER_LINEAR
        return cv2.resize(image, (self.size, self.size), interpolation=interp)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
