"""Knowledge distillation: a teacher's probabilities as the training targets of EmotionCNN.

The teacher (one model or an ensemble) predicts the *clean* training faces once, before
training, with its own preprocessing and test-time augmentation; the student then
learns, on its *augmented* views of the same faces, a mix of those probabilities and
the hard labels (cross-entropy with soft targets). The student therefore learns both
the teacher's knowledge of which emotions a face resembles and to keep that belief
under the augmentation's flips, shifts and photometric changes.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["resolve_teacher", "teacher_targets"]


def resolve_teacher(teacher) -> list:
    """The teacher's members as fitted classifiers (names and files loaded)."""
    members = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
    if not members:
        raise ValueError("teacher is an empty list; give a model, a name or a list of them.")
    resolved = []
    for member in members:
        if isinstance(member, (str, os.PathLike)):
            from .._load import load_model

            member = load_model(member, backend="auto")
        if not (hasattr(member, "predict_proba") and hasattr(member, "classes_")):
            raise ValueError(
                f"teacher member {member!r} is not a fitted classifier: it needs "
                "predict_proba and classes_ (a fitted EmotionCNN, a shipped model name or a "
                "model file)."
            )
        resolved.append(member)
    return resolved


def _columns(member, classes: np.ndarray) -> np.ndarray:
    """Column of each student class in ``member.predict_proba``."""
    from ._warm_start import _label_key as key

    own = {key(c): i for i, c in enumerate(np.asarray(member.classes_).tolist())}
    missing = [c for c in classes.tolist() if key(c) not in own]
    if missing:
        raise ValueError(
            f"the teacher {type(member).__name__} has no class for {missing} "
            f"(its classes: {np.asarray(member.classes_).tolist()}); a teacher must know "
            "every label of y."
        )
    return np.array([own[key(c)] for c in classes.tolist()])


def teacher_targets(
    teacher, images: np.ndarray, y_enc: np.ndarray, classes: np.ndarray, weight: float
) -> np.ndarray:
    """Training targets ``weight * teacher + (1 - weight) * one_hot(y)``, float32 (n, k).

    The teacher's probabilities are restricted to the student's classes (emotion
    aliases match; mass on the teacher's other classes is dropped) and renormalised;
    an ensemble's members are averaged.
    """
    members = resolve_teacher(teacher)
    proba = np.zeros((len(images), len(classes)))
    for member in members:
        p = np.asarray(member.predict_proba(images), dtype=np.float64)[:, _columns(member, classes)]
        proba += p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    proba /= len(members)
    one_hot = np.eye(len(classes))[y_enc]
    return (weight * proba + (1.0 - weight) * one_hot).astype(np.float32)
