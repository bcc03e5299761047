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
