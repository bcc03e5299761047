"""Still images to a table of faces and emotions: :func:`analyze_images`, the one-frame
case of :func:`analyze_video`, and what it does with an image where no face is found
(``on_missing``)."""

from __future__ import annotations

import os

import numpy as np

from ..faces import resolve_detector
from ._classify import FaceClassifier, served_by
from ._cropping import _box_row, cropper_and_classifier, keep_sure

__all__ = ["ON_MISSING", "analyze_images"]


def analyze_images(
    images,
    model=None,
    *,
    detector: str | None = None,
    scheme: str | None = "ekman7",
    batch_size: int = 64,
    min_size: float | None = None,
    work_size: int | None = None,
    landmarks: bool | None = None,
    crop_size: int | None = None,
    adapt: str | None = None,
    backend: str = "auto",
    on_missing: str = "skip",
    min_score=None,
):
    """Every face in still images with its emotion: the one-frame case of :func:`analyze_video`.

    Parameters
    ----------
    images : sequence of images or paths
        RGB or gray arrays (anything :func:`skfer.check_image` accepts) or image files.
    model, detector, scheme, batch_size, min_size, work_size, landmarks, crop_size
        As :func:`analyze_video`, except that the default model is
        :data:`IMAGE_MODEL`; faces are cropped as the model's were framed.
    adapt : "batchnorm" or None, default=None
        As :func:`analyze_video`, with all images as one domain (say, frames of one
        film).
    backend : {"auto", "onnx", "torch"}, default="auto"
        As :func:`analyze_video`.
    on_missing : {"skip", "full", "center", "raise"}, default="skip"
        An image where no face is found (or under 8 px on a side, too small to
        search): ``"skip"`` reports it with no emotion, ``"full"`` classifies the
        whole image resized as if it were a face, ``"center"`` its central square
        (both as :class:`~skfer.FaceCropper`'s ``on_missing``, for pre-cropped
        faces), ``"raise"`` raises ``ValueError`` naming ``images[i]``.
    min_score : float or dict, optional
        As :func:`analyze_video`; an image whose faces are all dropped counts as an
        image without faces.

    Returns
    -------
    pandas.DataFrame
        One row per face: ``image`` (position in ``images``), ``face`` (0 = largest in
        its image), ``face_found`` (True), ``x, y, w, h, score, detector``, one probability
        column ``p_<label>`` per scheme label, ``label``, ``valence``, ``arousal``. An image
        without faces has one row with ``face`` -1 and ``face_found`` False: with
        ``on_missing="skip"`` its box, probabilities, ``label`` and valence/arousal
        are missing (NaN / None); with ``"full"`` or ``"center"`` they are those of
        the whole image or its centre (box in image pixels, ``score`` NaN).
        ``attrs`` records ``detector`` (as resolved), ``framing`` (the cropper's
        parameters) and ``backend`` (as :func:`analyze_video`).

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.data import astronaut
    >>> from sklearn.dummy import DummyClassifier
    >>> from skfer.video import analyze_images
    >>> model = DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), ["happy"] * 3 + ["sad"])
    >>> table = analyze_images([astronaut()], model, detector="hog")
    >>> first = table.iloc[0]
    >>> int(first["face"]), first["label"], round(float(first["p_happy"]), 2), round(first["x"])
    (0, 'happy', 0.75, 184)
    """
    from .._images import check_image, read_image
    from ._analyze import IMAGE_MODEL  # where it is defined, which imports this module

    if isinstance(images, (str, os.PathLike)) or (
        isinstance(images, np.ndarray)
        and images.ndim in (2, 3)
        and images.dtype != object
        and (images.ndim == 2 or images.shape[-1] in (3, 4))
    ):
        raise ValueError(
            "images must be a sequence of images or paths; wrap a single image or path in a list."
        )
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing must be one of {ON_MISSING}; got {on_missing!r}.")
    cropper, model = cropper_and_classifier(
        model,
        IMAGE_MODEL,
        backend=backend,
        adapt=adapt,
        min_score=min_score,
        detector=detector,
        min_size=min_size,
        work_size=work_size,
        landmarks=landmarks,
        crop_size=crop_size,
    )
    whole = None if on_missing == "skip" else cropper_with(cropper, on_missing=on_missing)
    classifier = FaceClassifier(model, scheme=scheme, batch_size=batch_size, adapt=adapt)
    faceless = []
    for i, image in enumerate(images):
        if isinstance(image, (str, os.PathLike)):
            image = read_image(image)
        else:
            image = check_image(image, name=f"images[{i}]")
        crops, faces = keep_sure(*cropper.crop_faces(image), min_score)
        if faces:
            rows = [(i, k, *_box_row(f)) for k, f in enumerate(faces)]
            classifier.add(rows, crops, [f.detector for f in faces])
        elif whole is None:
            faceless.append(i)
        else:  # the whole image (or its centre) as the face: FaceCropper's fallback
            crop = whole._fallback(whole._colour(image), f"images[{i}]")
            classifier.add([(i, -1, *_whole_box(image.shape, on_missing), np.nan)], [crop])
    table = _flag_faceless(classifier.table(["image", "face"]), faceless)
    table.attrs.update(
        detector=resolve_detector(cropper.detector),
        framing=cropper.get_params(),
        backend=served_by(model),
    )
    return table


#: What :func:`analyze_images` does with an image where no face is found.
ON_MISSING = ("skip", "full", "center", "raise")


def cropper_with(cropper, **params):
    from sklearn.base import clone

    return clone(cropper).set_params(**params).fit()


def _whole_box(shape, on_missing: str) -> tuple:
    """The box (x, y, w, h) FaceCropper's ``on_missing`` fallback classifies."""
    h, w = shape[:2]
    if on_missing == "center":
        side = min(h, w)
        return ((w - side) // 2, (h - side) // 2, side, side)
    return (0, 0, w, h)


def _flag_faceless(table, faceless: list[int]):
    """``table`` with a ``face_found`` column and one row per faceless image (no emotion)."""
    import pandas as pd

    if faceless:
        empty = pd.DataFrame(index=range(len(faceless)), columns=table.columns)
        empty["image"], empty["face"] = faceless, -1
        empty = empty.astype({c: table[c].dtype for c in table.columns if c != "label"})
        empty["label"] = None
        table = table.astype({"label": object}) if table.empty else table
        table = pd.concat([table, empty], ignore_index=True)
        table = table.sort_values("image", kind="stable", ignore_index=True)
    table.insert(table.columns.get_loc("face") + 1, "face_found", table["face"] >= 0)
    return table
