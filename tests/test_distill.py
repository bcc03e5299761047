"""EmotionCNN(teacher=...): knowledge distillation from a fitted model or an ensemble."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_cnn
from sklearn.base import clone

pytest.importorskip("torch")

from skfer.models._distill import teacher_targets  # noqa: E402


class ConstantTeacher:
    """A fitted classifier that gives every face the same probabilities."""

    def __init__(self, classes, proba):
        self.classes_ = np.asarray(classes, dtype=object)
        self.proba = np.asarray(proba, dtype=float)
        self.calls = 0

    def predict_proba(self, X):
        self.calls += 1
        return np.tile(self.proba, (len(X), 1))


def test_targets_mix_teacher_and_labels_and_align_classes():
    classes = np.array(["happy", "neutral", "sad"], dtype=object)
    # the teacher lists its classes in another order, by alias, with one more class
    teacher = ConstantTeacher(["Sadness", "happiness", "neutral", "angry"], [0.2, 0.4, 0.2, 0.2])
    y_enc = np.array([0, 2])
    got = teacher_targets(teacher, np.zeros((2, 8, 8), np.uint8), y_enc, classes, 0.5)
    # angry's mass is dropped, the rest renormalised: happy .5, neutral .25, sad .25
    np.testing.assert_allclose(got, [[0.75, 0.125, 0.125], [0.25, 0.125, 0.625]])
    assert got.dtype == np.float32
    ensemble = [teacher, ConstantTeacher(classes, [0.0, 1.0, 0.0])]
    got = teacher_targets(ensemble, np.zeros((1, 8, 8), np.uint8), y_enc[:1], classes, 1.0)
    np.testing.assert_allclose(got, [[0.25, 0.625, 0.125]])


def test_a_teacher_that_lacks_a_label_is_refused(tiny_faces):
    teacher = ConstantTeacher(["happy", "sad"], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"no class for \['neutral'\]"):
        tiny_cnn(teacher=teacher).fit(*tiny_faces)
    with pytest.raises(ValueError, match="not a fitted classifier"):
        tiny_cnn(teacher=[object()]).fit(*tiny_faces)


def test_the_student_learns_the_teachers_beliefs(tiny_faces):
    """With teacher_weight=1 the labels are ignored: a teacher sure every face is sad
    makes a student that calls every face sad, whatever y says."""
    X, y = tiny_faces
    teacher = ConstantTeacher(["happy", "neutral", "sad"], [0.0, 0.0, 1.0])
    student = tiny_cnn(teacher=teacher, teacher_weight=1.0, max_epochs=6, lr=0.05).fit(X, y)
    assert teacher.calls == 1  # the training faces are predicted once
    assert set(student.predict(X)) == {"sad"}
    unlabelled = tiny_cnn(max_epochs=6, lr=0.05).fit(X, y)
    assert set(unlabelled.predict(X)) != {"sad"}


def test_a_shipped_teacher_by_name_clones(tiny_faces):
    X, y = tiny_faces
    student = tiny_cnn(teacher="fer2013", teacher_weight=0.3)
    assert clone(student).get_params()["teacher"] == "fer2013"
    student.fit(X, y)
    assert student.predict_proba(X).shape == (len(X), 3)
