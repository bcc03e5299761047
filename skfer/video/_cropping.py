"""What :func:`analyze_video` and :func:`analyze_images` share before classifying: the
model's face cropper and the classifier of its crops, the ``min_score`` check and filter,
and a face's box as a table row."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["check_min_score", "cropper_and_classifier", "keep_sure"]


def cropper_and_classifier(
    model,
    default: str,
    *,
    backend: str = "auto",
    adapt=None,
    min_score=None,
    detector=None,
    min_size=None,
    work_size=None,
    landmarks=None,
    crop_size=None,
):
    """The face cropper and the classifier of its crops for ``model``, as
    :func:`analyze_video` and :func:`analyze_images` take their options.

    ``model``: None (the shipped ``default``), a name or file (:func:`skfer.load_model`),
    a fitted classifier, or a fitted ``skfer.Pipeline`` that starts with a
    :class:`~skfer.FaceCropper` (that cropper, then the rest of the pipeline). The
    cropper frames faces as the model's were (:meth:`skfer.EmotionCNN.cropper`);
    ``detector``, ``min_size``, ``work_size``, ``landmarks`` (the cropper's ``align``)
    and ``crop_size`` (its ``size``) replace its parameters where they are not None.
    A name or file is served by ``backend`` as :func:`skfer._load.serving_backend`
    decides for ``adapt``. ``min_score`` is checked first.
    """
    from .._load import load_model, serving_backend  # torch-free for an ONNX model
    from ..faces import FaceCropper
    from ..faces._framing import framed_cropper

    check_min_score(min_score)
    framing = dict(
        detector=detector, min_size=min_size, work_size=work_size, align=landmarks, size=crop_size
    )
    backend = serving_backend(backend, adapt)
    model = load_model(default if model is None else model, backend=backend)
    steps = getattr(model, "steps", None)
    if steps and isinstance(steps[0][1], FaceCropper):
        from sklearn.base import clone

        cropper = clone(steps[0][1]).set_params(
            **{k: v for k, v in framing.items() if v is not None}
        )
        model = model[1:]
    elif hasattr(model, "cropper"):
        cropper = model.cropper(**framing)
    else:  # any classifier: FaceCropper defaults, colour crops for a 3-channel model
        cropper = framed_cropper(None, in_chans=getattr(model, "in_chans_", 1), **framing)
    cropper.fit()  # checks the parameters once, before the film is read
    return cropper, model


def check_min_score(min_score) -> None:
    """A number, or a dict of detector name -> number (or None)."""
    from numbers import Real

    def number(value) -> bool:
        return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)

    if min_score is None or number(min_score):
        return
    if isinstance(min_score, dict) and all(
        isinstance(k, str) and number(v) for k, v in min_score.items()
    ):
        from ..faces import DETECTORS

        unknown = sorted(set(min_score) - set(DETECTORS))
        if unknown:
            raise ValueError(
                f"min_score names no detector {unknown}: its keys are detector names, "
                f"{', '.join(DETECTORS)} (a chain's faces carry the name of the one that "
                "found them)."
            )
        return
    raise ValueError(
        "min_score must be a number or a dict {detector: number} such as {'yunet': 0.7}, "
        f"got {min_score!r}."
    )


def keep_sure(crops, faces, min_score):
    """The crops and faces whose detector score reaches ``min_score``."""
    if min_score is None or not faces:
        return crops, faces
    if isinstance(min_score, dict):
        keep = [f.score >= min_score.get(f.detector, -math.inf) for f in faces]
    else:
        keep = [f.score >= min_score for f in faces]
    return crops[np.asarray(keep, dtype=bool)], [f for f, k in zip(faces, keep) if k]


def _box_row(face) -> tuple:
    return (*face.box, face.score)
