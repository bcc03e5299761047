"""skfer.Pipeline: bare steps, sklearn protocol, scheme-aware score, samplers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import tiny_cnn
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skfer import (
    Augmenter,
    EmotionLabelMapper,
    ImageResampler,
    Pipeline,
    make_pipeline,
    scheme_scorer,
)
from skfer.emotions import EMOTIONS


def flatten(X):
    """Images (n, H, W) -> rows, downsampled 2x (module level, so pipelines pickle)."""
    X = np.asarray(X, dtype=np.float32)[:, ::2, ::2]
    return X.reshape(len(X), -1) / 255.0


def _toy(n_per_class=12, seed=0):
    """Separable toy images: each emotion has its own brightness."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(EMOTIONS), n_per_class)
    level = {e: 30 * i for i, e in enumerate(EMOTIONS)}
    X = np.stack([np.full((6, 6), level[e]) + rng.integers(0, 20, (6, 6)) for e in y])
    return X.astype(np.uint8), y


def _pipe(scheme="ekman7", clf=None):
    return Pipeline(
        [
            ("labels", EmotionLabelMapper(scheme)),
            FunctionTransformer(flatten),
            clf if clf is not None else LogisticRegression(max_iter=500),
        ]
    )


# ---------------------------------------------------------------- bare steps
def test_bare_steps_are_named_like_make_pipeline():
    pipe = Pipeline([EmotionLabelMapper(), StandardScaler(), StandardScaler(), RidgeClassifier()])
    assert [name for name, _ in pipe.steps] == [
        "emotionlabelmapper", "standardscaler-1", "standardscaler-2", "ridgeclassifier",
    ]  # fmt: skip
    assert set(pipe.named_steps) == {n for n, _ in pipe.steps}


def test_named_and_bare_steps_mix_without_collisions():
    pipe = Pipeline([("standardscaler", StandardScaler()), StandardScaler(), RidgeClassifier()])
    assert [name for name, _ in pipe.steps] == [
        "standardscaler", "standardscaler-1", "ridgeclassifier",
    ]  # fmt: skip
    assert (
        make_pipeline(("labels", EmotionLabelMapper()), RidgeClassifier()).steps[0][0] == "labels"
    )


def test_naming_is_idempotent_and_clone_stable():
    pipe = _pipe()
    assert Pipeline(pipe.steps).steps is pipe.steps  # already named: stored as given
    names = [name for name, _ in pipe.steps]
    twin = clone(clone(pipe))
    assert [name for name, _ in twin.steps] == names
    assert all(a is not b for (_, a), (_, b) in zip(twin.steps, pipe.steps))


def test_get_params_set_params_and_steps_assignment():
    pipe = _pipe()
    params = pipe.get_params()
    assert params["labels__scheme"] == "ekman7"
    assert params["logisticregression__max_iter"] == 500
    pipe.set_params(labels__scheme="clusters", logisticregression__C=0.5)
    assert pipe.named_steps["labels"].scheme == "clusters"
    assert pipe.named_steps["logisticregression"].C == 0.5
    pipe.set_params(steps=[StandardScaler(), RidgeClassifier()])
    assert [name for name, _ in pipe.steps] == ["standardscaler", "ridgeclassifier"]
    pipe.steps = [StandardScaler(), DummyClassifier()]
    assert pipe.steps[1][0] == "dummyclassifier"


def test_fitted_pipeline_pickles():
    X, y = _toy()
    pipe = _pipe("top4").fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), pipe.predict(X))
    assert restored.score(X, y) == pipe.score(X, y)


# -------------------------------------------------------- scheme-aware score
def test_mapper_acts_only_in_fit_and_classes_are_the_schemes():
    X, y = _toy()
    pipe = _pipe("clusters").fit(X, y)
    assert pipe.classes_.tolist() == ["negative", "neutral", "positive"]
    assert len(pipe.predict(X)) == len(X)  # surprise rows are predicted too


def test_score_maps_and_filters_y_true_with_the_fitted_mapper():
    X, y = _toy(seed=1)
    X_test, y_test = _toy(n_per_class=5, seed=2)
    pipe = _pipe("clusters", DummyClassifier(strategy="stratified", random_state=0)).fit(X, y)
    mapper = pipe.named_steps["labels"]
    keep = mapper.keep_mask(y_test)
    expected = np.mean(pipe.predict(X_test[keep]) == mapper.map_labels(y_test)[keep])
    assert pipe.score(X_test, y_test) == pytest.approx(expected)
    assert pipe.score(X_test, y_test) == pytest.approx(scheme_scorer()(pipe, X_test, y_test))
    weights = np.where(y_test == "happy", 5.0, 1.0)
    correct = pipe.predict(X_test[keep]) == mapper.map_labels(y_test)[keep]
    expected_w = np.average(correct, weights=weights[keep])
    assert pipe.score(X_test, y_test, sample_weight=weights) == pytest.approx(expected_w)


def test_score_with_every_sample_excluded_is_an_error():
    X, y = _toy()
    pipe = _pipe("clusters").fit(X, y)
    with pytest.raises(ValueError, match="nothing to score"):
        pipe.score(X[:3], ["surprise"] * 3)


def test_score_of_a_pipeline_without_mapper_is_the_usual_one():
    X, y = _toy()
    pipe = Pipeline([FunctionTransformer(flatten), LogisticRegression(max_iter=500)]).fit(X, y)
    assert pipe.score(X, y) == pytest.approx(np.mean(pipe.predict(X) == y))


# ------------------------------------------------------- imbalance handling
def test_random_oversampling_of_images_in_a_pipeline():
    X, y = _toy()
    imbalanced = np.r_[np.flatnonzero(y != "happy"), np.flatnonzero(y == "happy")[:2]]
    X, y = X[imbalanced], y[imbalanced]
    pipe = Pipeline(
        [
            ("labels", EmotionLabelMapper("clusters")),
            ImageResampler(),  # RandomOverSampler on the images
            FunctionTransformer(flatten),
            DummyClassifier(strategy="prior"),
        ]
    ).fit(X, y)
    # clusters: negative has 4 x 12 samples, neutral 12, positive 2 -> all 48 after oversampling
    np.testing.assert_allclose(pipe[-1].class_prior_, [1 / 3] * 3)
    assert pipe.named_steps["imageresampler"].sampler_.sample_indices_.size == 144
    assert len(pipe.predict(X)) == len(X)  # the sampler does not act at predict time


def test_image_resampler_with_other_samplers():
    X, y = _toy(n_per_class=6)
    X, y = X[: 6 * 3 + 2], y[: 6 * 3 + 2]  # angry, disgust, fear x 6; happy x 2
    X_res, y_res = ImageResampler(RandomUnderSampler(random_state=0)).fit_resample(X, y)
    assert X_res.shape == (8, 6, 6) and X_res.dtype == np.uint8
    for image, label in zip(X_res, y_res):  # rows are original images with their labels
        assert any(np.array_equal(image, X[i]) and y[i] == label for i in range(len(X)))
    X_res, y_res = ImageResampler(SMOTE(k_neighbors=1, random_state=0)).fit_resample(X, y)
    assert X_res.shape == (24, 6, 6) and X_res.dtype == np.uint8
    with pytest.raises(ValueError, match="X has 20 images but y has 3"):
        ImageResampler().fit_resample(X, y[:3])


def test_class_weights_refer_to_the_schemes_labels():
    X, y = _toy()
    balanced = _pipe("clusters", LogisticRegression(class_weight="balanced", max_iter=500))
    assert balanced.fit(X, y).classes_.tolist() == ["negative", "neutral", "positive"]
    weights = {"negative": 1.0, "neutral": 4.0, "positive": 4.0}
    weighted = _pipe("clusters", LogisticRegression(class_weight=weights, max_iter=500))
    assert weighted.fit(X, y).score(X, y) > 0.5


# ------------------------------------------------ grid search on real FER2013
def test_grid_search_over_schemes_scores_each_in_its_own_label_space(fer2013):
    train = np.flatnonzero(fer2013.usage == "Training")[:600]
    X, y = fer2013.images[train], fer2013.target[train]
    pipe = Pipeline(
        [("labels", EmotionLabelMapper()), FunctionTransformer(flatten), RidgeClassifier(10.0)]
    )
    schemes = ["ekman7", "top4", "clusters"]
    cv = StratifiedKFold(3)
    scoring = {
        "acc": scheme_scorer("accuracy"),
        "bacc": scheme_scorer("balanced_accuracy"),
        "f1": scheme_scorer("f1_macro"),
    }
    search = GridSearchCV(
        pipe, {"labels__scheme": schemes}, cv=cv, scoring=scoring, refit="acc", error_score="raise"
    ).fit(X, y)
    default = GridSearchCV(pipe, {"labels__scheme": schemes}, cv=cv, error_score="raise").fit(X, y)
    results = search.cv_results_
    assert [p["labels__scheme"] for p in results["params"]] == schemes

    from sklearn.metrics import balanced_accuracy_score, f1_score

    fold_train, fold_test = next(cv.split(X, y))
    for i, scheme in enumerate(schemes):
        model = clone(pipe).set_params(labels__scheme=scheme).fit(X[fold_train], y[fold_train])
        mapper = EmotionLabelMapper(scheme).fit(None, y)
        keep = mapper.keep_mask(y[fold_test])
        y_true = mapper.map_labels(y[fold_test])[keep].astype(str)
        y_pred = model.predict(X[fold_test][keep])
        assert set(y_pred) <= set(mapper.classes_)  # predictions are in the scheme's space
        assert results["split0_test_acc"][i] == pytest.approx(np.mean(y_pred == y_true))
        assert default.cv_results_["split0_test_score"][i] == pytest.approx(
            np.mean(y_pred == y_true)
        )
        assert results["split0_test_bacc"][i] == pytest.approx(
            balanced_accuracy_score(y_true, y_pred)
        )
        assert results["split0_test_f1"][i] == pytest.approx(
            f1_score(y_true, y_pred, average="macro")
        )
    # the refitted best pipeline scores in its own scheme too
    best = search.best_estimator_
    assert search.score(X, y) == pytest.approx(best.score(X, y))


@pytest.mark.slow
def test_emotion_cnn_class_weights_in_a_scheme_pipeline():
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    y = np.repeat(["happy", "sad", "fear", "neutral", "surprise"], [8, 8, 8, 4, 4])
    X = rng.integers(0, 256, (len(y), 48, 48), dtype=np.uint8)
    cnn = tiny_cnn(class_weight="balanced")
    pipe = Pipeline([("labels", EmotionLabelMapper("clusters")), cnn]).fit(X, y)
    assert pipe.classes_.tolist() == ["negative", "neutral", "positive"]
    # balanced weights from the mapped counts: negative 16, neutral 4, positive 8
    np.testing.assert_allclose(pipe[-1].class_weight_, [28 / 48, 28 / 12, 28 / 24])
    mapper = pipe.named_steps["labels"]
    keep = mapper.keep_mask(y)
    expected = np.mean(pipe.predict(X[keep]) == mapper.map_labels(y)[keep])
    assert pipe.score(X, y) == pytest.approx(expected)


@pytest.mark.parametrize(
    "sampler",
    [EmotionLabelMapper(), Augmenter(random_state=0), ImageResampler()],
    ids=lambda s: type(s).__name__,
)
def test_skfers_samplers_are_imblearn_samplers_on_images(sampler):
    from imblearn.base import is_sampler
    from sklearn.utils import get_tags

    assert is_sampler(sampler)
    tags = get_tags(sampler)
    assert tags.estimator_type == "sampler" and tags.sampler_tags is not None
    assert tags.target_tags.required and not tags.input_tags.two_d_array
    X = np.random.default_rng(0).integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)
    y = np.array(["happy", "happy", "happy", "sad", "sad", "fear"])
    X_res, y_res = sampler.fit_resample(X, y)  # 4-D images pass: no check_X_y
    assert X_res.shape[1:] == (5, 5, 3) and X_res.dtype == np.uint8 and len(y_res) == len(X_res)


def test_image_resampler_set_params_and_nested_sampler_validation():
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = np.zeros((4, 2, 2), np.uint8), np.array(["happy", "happy", "happy", "sad"])
    with pytest.raises(InvalidParameterError) as direct:
        ImageResampler(sampler="ros").fit_resample(X, y)
    resampler = ImageResampler().set_params(sampler="ros")
    with pytest.raises(InvalidParameterError) as later:
        resampler.fit_resample(X, y)
    assert str(later.value) == str(direct.value)
    # the inner sampler's parameters are validated too (nested validation stays on)
    with pytest.raises(InvalidParameterError, match="sampling_strategy"):
        ImageResampler(RandomUnderSampler(sampling_strategy="bogus")).fit_resample(X, y)
