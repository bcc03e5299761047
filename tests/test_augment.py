"""Augmenter: the sampler (fit_resample) and the on-the-fly batch transform."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from skfer import Augmenter


def flatten(X):
    return X.reshape(len(X), -1) / 255.0


@pytest.fixture
def faces():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (6, 12, 12), dtype=np.uint8)
    y = np.array(["happy", "sad", "sad", "fear", "happy", "angry"])
    return X, y


def test_fit_resample_appends_copies_and_repeats_labels(faces):
    X, y = faces
    X_res, y_res = Augmenter(n_copies=2, random_state=0).fit_resample(X, y)
    assert X_res.shape == (18, 12, 12) and X_res.dtype == np.uint8
    np.testing.assert_array_equal(X_res[:6], X)
    assert y_res.tolist() == y.tolist() * 3


def test_fit_resample_is_seeded(faces):
    X, y = faces
    a = Augmenter(random_state=1, rotation=10, brightness=0.2).fit_resample(X, y)[0]
    b = Augmenter(random_state=1, rotation=10, brightness=0.2).fit_resample(X, y)[0]
    c = Augmenter(random_state=2, rotation=10, brightness=0.2).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_p_zero_copies_unchanged_and_p_one_flip_mirrors(faces):
    X, y = faces
    same = Augmenter(p=0.0, random_state=0).fit_resample(X, y)[0]
    np.testing.assert_array_equal(same[6:], X)
    flipped = Augmenter(p=1.0, shift=0.0, random_state=0).fit_resample(X, y)[0]
    np.testing.assert_array_equal(flipped[6:], X[:, :, ::-1])


def test_colour_images_and_batches():
    import torch

    X = np.random.default_rng(0).integers(0, 256, (3, 10, 10, 3), dtype=np.uint8)
    X_res, _ = Augmenter(random_state=0).fit_resample(X, np.arange(3))
    assert X_res.shape == (6, 10, 10, 3)
    batch = torch.rand(4, 3, 10, 10)
    out = Augmenter(rotation=15, brightness=0.1).augment_batch(
        batch, torch.Generator().manual_seed(0)
    )
    assert out.shape == batch.shape and out.dtype == batch.dtype


def test_params_validated_cloned_pickled(faces):
    X, y = faces
    with pytest.raises(ValueError, match="shift"):
        Augmenter(shift=0.7).fit_resample(X, y)
    with pytest.raises(ValueError, match="6 images but y has 5"):
        Augmenter().fit_resample(X, y[:5])
    aug = Augmenter(shift=0.2, n_copies=3, random_state=4)
    assert clone(aug).get_params() == aug.get_params()
    assert pickle.loads(pickle.dumps(aug)).get_params() == aug.get_params()


def test_sampler_acts_only_in_fit_inside_imblearn_pipeline(faces):
    from imblearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    X, y = faces
    pipe = make_pipeline(
        Augmenter(n_copies=2, random_state=0),
        FunctionTransformer(flatten),
        LogisticRegression(max_iter=50),
    )
    pipe.fit(X, y)
    assert pipe[-1].n_features_in_ == 144
    assert pipe.predict(X).shape == (6,)  # no copies at predict time


def test_an_imblearn_sampler_whose_params_are_validated_at_fit(faces):
    from imblearn.base import is_sampler
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = faces
    aug = Augmenter(random_state=0)
    assert is_sampler(aug)
    with pytest.raises(InvalidParameterError) as direct:
        Augmenter(shift=0.7).fit_resample(X, y)
    aug.set_params(shift=0.7)  # no error yet
    for call in (aug.fit_resample, aug.fit):
        with pytest.raises(InvalidParameterError) as later:
            call(X, y)
        assert str(later.value) == str(direct.value)
    assert aug.set_params(shift=0.1).fit(X, y) is aug


def test_augment_batch_validates_once_not_per_batch(monkeypatch):
    import torch
    from sklearn.utils._param_validation import InvalidParameterError

    calls = []
    original = Augmenter._validate_params
    monkeypatch.setattr(
        Augmenter, "_validate_params", lambda self: calls.append(1) or original(self)
    )
    aug = Augmenter(rotation=5)
    batch = torch.rand(2, 1, 8, 8)
    for _ in range(5):
        aug.augment_batch(batch)
    assert len(calls) == 1
    aug.set_params(p=1.5)  # a change is validated at the next batch
    with pytest.raises(InvalidParameterError, match="'p' parameter of Augmenter"):
        aug.augment_batch(batch)
    aug.p = 1.0
    aug.augment_batch(batch)
    aug.augment_batch(batch)
    assert len(calls) == 3
    Augmenter(n_copies=2, random_state=0).fit_resample(np.zeros((2, 8, 8), np.uint8), [0, 1])
    assert len(calls) == 4  # fit_resample: once, not once per copy


def test_sample_indices_name_the_source_of_each_copy(faces):
    X, y = faces
    aug = Augmenter(n_copies=2, random_state=0)
    X_res, _ = aug.fit_resample(X, y)
    np.testing.assert_array_equal(aug.sample_indices_, np.tile(np.arange(6), 3))
    assert len(aug.sample_indices_) == len(X_res)


def test_shading_darkens_one_side_linearly():
    """A flat grey face under ``shading`` becomes a ramp: lit edge unchanged, the
    opposite edge at most ``shading`` darker, linear in between; ``p`` gates it."""
    torch = pytest.importorskip("torch")
    flat = torch.full((64, 1, 24, 24), 200.0)
    aug = Augmenter(flip=False, shift=0.0, shading=0.6, p=1.0)
    out = aug.augment_batch(flat, torch.Generator().manual_seed(0)) / 200.0
    assert out.amax(dim=(1, 2, 3)).allclose(torch.ones(64))  # the lit side keeps its light
    darkest = out.amin(dim=(1, 2, 3))
    assert (darkest >= 0.4 - 1e-5).all() and (darkest < 0.99).float().mean() > 0.8
    rows, cols = out[:, 0].diff(dim=1), out[:, 0].diff(dim=2)  # a plane: constant steps
    assert (rows - rows[:, :1, :1]).abs().max() < 1e-4 and (
        cols - cols[:, :1, :1]
    ).abs().max() < 1e-4
    directions = torch.atan2(-rows[:, 0, 0], -cols[:, 0, 0])  # where the light falls off to
    assert directions.max() - directions.min() > 4  # every direction, not one side
    untouched = Augmenter(flip=False, shift=0.0, shading=0.6, p=0.0)
    assert torch.equal(untouched.augment_batch(flat), flat)
    with pytest.raises(ValueError, match="shading"):
        Augmenter(shading=1.5).augment_batch(flat)
