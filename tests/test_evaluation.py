"""Scheme-aware scorers, predictions in a scheme, cross-dataset split and report."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    get_scorer,
    precision_recall_fscore_support,
)
from sklearn.model_selection import cross_validate
from sklearn.preprocessing import FunctionTransformer

from skfer import (
    CrossDatasetSplit,
    EmotionLabelMapper,
    Pipeline,
    Scheme,
    cross_dataset_report,
    plot_confusion_matrices,
    predict_in_scheme,
    proba_in_scheme,
    scheme_scorer,
)
from skfer.emotions import EMOTIONS


def flatten(X):
    """Images (n, H, W) -> rows, downsampled 2x."""
    X = np.asarray(X, dtype=np.float32)[:, ::2, ::2]
    return X.reshape(len(X), -1) / 255.0


class FixedClassifier(DummyClassifier):
    """Answers ``answers[i]`` for the sample ``[i]``, to test the scoring rules exactly."""

    def __init__(self, *, answers=None):
        super().__init__(strategy="prior")
        self.answers = answers

    def predict(self, X):
        return np.asarray(self.answers)[np.asarray(X)[:, 0].astype(int)]


def _rows(n):
    return np.arange(n).reshape(-1, 1)


def _random_model(seed=0, n=70):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = np.array(EMOTIONS)[rng.integers(0, 7, n)]
    return LogisticRegression(max_iter=300).fit(X, y), X, y


# ------------------------------------------------------------------- scorers
@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1_macro"])
def test_scorer_equals_sklearns_without_a_mapper(metric):
    model, X, y = _random_model()
    X_test, y_test = _random_model(seed=1)[1:]
    assert scheme_scorer(metric)(model, X_test, y_test) == pytest.approx(
        get_scorer(metric)(model, X_test, y_test)
    )


def test_scorer_in_a_pipeline_scores_in_the_mappers_space():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (84, 3, 3)).astype(np.uint8)
    y = np.tile(np.array(EMOTIONS), 12)
    pipe = Pipeline(
        [("labels", EmotionLabelMapper("top4")), FunctionTransformer(flatten), LogisticRegression()]
    ).fit(X, y)
    mapper = pipe.named_steps["labels"]
    keep = mapper.keep_mask(y)
    y_true, y_pred = mapper.map_labels(y)[keep].astype(str), pipe.predict(X[keep])
    assert scheme_scorer()(pipe, X, y) == pytest.approx(accuracy_score(y_true, y_pred))
    assert scheme_scorer("balanced_accuracy")(pipe, X, y) == pytest.approx(
        balanced_accuracy_score(y_true, y_pred)
    )
    assert scheme_scorer("f1_macro")(pipe, X, y) == pytest.approx(
        f1_score(y_true, y_pred, average="macro")
    )


def test_after_the_fact_scheme_with_predict_counts_excluded_predictions_wrong():
    y = np.array(["happy", "sad", "surprise", "angry", "fear", "neutral"])
    answers = np.array(["happy", "surprise", "happy", "disgust", "fear", "sad"])
    model = FixedClassifier(answers=answers).fit(_rows(6), y)
    # clusters: the surprise sample is dropped; predicting surprise for sad is wrong
    # kept: happy->happy ok, sad->surprise wrong, angry->disgust ok (both negative),
    #       fear->fear ok, neutral->sad wrong
    score = scheme_scorer("accuracy", scheme="clusters", method="predict")
    assert score(model, _rows(6), y) == pytest.approx(3 / 5)
    # top4 keeps happy, surprise, angry, neutral: happy ok, surprise->happy wrong,
    # angry->disgust (outside top4) wrong, neutral->sad wrong
    score = scheme_scorer("accuracy", scheme="top4", method="predict")
    assert score(model, _rows(6), y) == pytest.approx(1 / 4)


def test_after_the_fact_scheme_with_proba_sums_within_the_scheme():
    model, X, y = _random_model()
    for scheme in ["top4", "clusters", "valence"]:
        mapper = EmotionLabelMapper(scheme).fit(None, y)
        keep = mapper.keep_mask(y)
        y_pred = predict_in_scheme(model.predict_proba(X[keep]), model.classes_, scheme)
        expected = accuracy_score(mapper.map_labels(y)[keep].astype(str), y_pred)
        assert scheme_scorer(scheme=scheme)(model, X, y) == pytest.approx(expected)


def test_scorer_repr_pickle_and_bad_arguments():
    scorer = scheme_scorer("f1_macro", scheme="clusters", method="proba")
    assert repr(scorer) == "scheme_scorer('f1_macro', scheme='clusters', method='proba')"
    assert pickle.loads(pickle.dumps(scorer)).metric == "f1_macro"
    with pytest.raises(ValueError, match="Unknown metric 'precision'"):
        scheme_scorer("precision")
    with pytest.raises(ValueError, match="method must be one of"):
        scheme_scorer(method="vote")
    model, X, y = _random_model()
    with pytest.raises(ValueError, match="Unknown label scheme 'top3'"):
        scheme_scorer(scheme="top3")(model, X, y)


# ------------------------------------------------------- predictions in scheme
def test_proba_in_scheme_drops_excluded_columns_and_renormalises():
    classes = ["happy", "surprise", "sad", "angry", "neutral"]
    proba = np.array([[0.1, 0.5, 0.2, 0.1, 0.1], [0.6, 0.1, 0.1, 0.1, 0.1]])
    summed, labels = proba_in_scheme(proba, classes, "clusters")
    assert labels.tolist() == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(summed, [[0.6, 0.2, 0.2], [0.2 / 0.9, 0.1 / 0.9, 0.6 / 0.9]])
    assert predict_in_scheme(proba, classes, "clusters").tolist() == ["negative", "positive"]
    fitted = EmotionLabelMapper("top_n", n=2).fit(None, classes)  # happy, surprise
    assert predict_in_scheme(proba, classes, fitted).tolist() == ["surprise", "happy"]
    unfitted = EmotionLabelMapper("top_n", n=1)
    assert predict_in_scheme(proba, classes, unfitted).tolist() == ["happy", "happy"]


@pytest.mark.parametrize(
    "scheme", ["clusters", "top4", {"happy": "pos", "sad": "neg", "angry": "neg", "fear": None}]
)
def test_proba_in_scheme_is_the_schemes_projection_in_sorted_columns(scheme):
    classes = np.array(["fear", "sad", "happy", "angry"])
    proba = np.random.default_rng(0).dirichlet(np.ones(4), size=5)
    summed, labels = proba_in_scheme(proba, classes, scheme)
    applied = Scheme(scheme, classes)
    assert labels.tolist() == sorted(applied.labels)
    order = [applied.labels.index(label) for label in labels]
    np.testing.assert_allclose(summed, applied.project(proba)[:, order])
    keep, y_scheme = applied.keep(classes)
    assert y_scheme.tolist() == [applied.labels[j] for j in applied.matrix[keep].argmax(1)]


def test_predict_in_scheme_bad_input():
    with pytest.raises(ValueError, match=r"classes\[1\] = 'contempt'.*outside the vocabulary"):
        predict_in_scheme(np.ones((1, 2)) / 2, ["happy", "contempt"], "ekman7")
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        predict_in_scheme(np.ones((1, 3)), ["happy", "sad"], "ekman7")
    with pytest.raises(ValueError, match="leaves no class"):
        predict_in_scheme(np.ones((1, 2)), ["happy", "sad"], {"happy": None})
    with pytest.raises(ValueError, match="needs n and a ranking"):
        predict_in_scheme(np.ones((1, 2)), ["happy", "sad"], "top_n")


# ------------------------------------------------------------------ splitter
def test_cross_dataset_split():
    groups = np.array(["a", "b", "a", "c", "b", "a"])
    cv = CrossDatasetSplit("a")
    splits = [(tr.tolist(), te.tolist()) for tr, te in cv.split(np.zeros(6), groups=groups)]
    assert splits == [([0, 2, 5], [1, 4]), ([0, 2, 5], [3])]
    assert cv.get_n_splits(groups=groups) == 2
    cv = CrossDatasetSplit(["a", "b"], test="c")
    assert [te.tolist() for _, te in cv.split(np.zeros(6), groups=groups)] == [[3]]
    assert cv.get_n_splits() == 1
    assert repr(cv) == "CrossDatasetSplit(test='c', train=['a', 'b'])"


def test_cross_dataset_split_errors():
    groups = np.array(["a", "b"])
    with pytest.raises(ValueError, match="needs groups="):
        list(CrossDatasetSplit("a").split(np.zeros(2)))
    with pytest.raises(ValueError, match=r"train dataset\(s\) \['x'\] not found.*\['a', 'b'\]"):
        list(CrossDatasetSplit("x").split(np.zeros(2), groups=groups))
    with pytest.raises(ValueError, match="both train and test"):
        list(CrossDatasetSplit("a", test=["a", "b"]).split(np.zeros(2), groups=groups))
    with pytest.raises(ValueError, match="No test dataset"):
        list(CrossDatasetSplit(["a", "b"]).split(np.zeros(2), groups=groups))
    with pytest.raises(ValueError, match="X has 3 samples but groups has 2"):
        list(CrossDatasetSplit("a").split(np.zeros(3), groups=groups))


def test_cross_dataset_split_in_cross_validate():
    model, X, y = _random_model(n=90)
    groups = np.repeat(["train", "test1", "test2"], 30)
    result = cross_validate(
        clone(model), X, y, groups=groups, cv=CrossDatasetSplit("train"), scoring=scheme_scorer()
    )
    fitted = clone(model).fit(X[:30], y[:30])
    expected = [fitted.score(X[30:60], y[30:60]), fitted.score(X[60:], y[60:])]
    np.testing.assert_allclose(result["test_score"], expected)


# -------------------------------------------------------------------- report
def test_report_shape_names_and_numbers_on_toy_data(tmp_path):
    y = np.array(["happy", "sad", "surprise", "angry", "fear", "neutral"])
    answers = np.array(["happy", "surprise", "happy", "disgust", "fear", "sad"])
    model = FixedClassifier(answers=answers).fit(_rows(6), y)
    report = cross_dataset_report(
        model,
        {"toy": (_rows(6), y)},
        schemes={"seven": "ekman7", "three": "clusters", "own": None},
        method="predict",
        confusion_dir=tmp_path,
    )
    assert report.columns.tolist() == [
        "dataset", "scheme", "label", "precision", "recall", "f1", "support", "accuracy",
    ]  # fmt: skip
    assert report.groupby("scheme").size().to_dict() == {"own": 7, "seven": 7, "three": 3}
    seven = report[report.scheme == "seven"]
    assert seven.label.tolist() == list(EMOTIONS)  # FER2013 order
    p, r, f, s = precision_recall_fscore_support(y, answers, labels=list(EMOTIONS), zero_division=0)
    np.testing.assert_allclose(seven[["precision", "recall", "f1"]].to_numpy(), np.c_[p, r, f])
    np.testing.assert_array_equal(seven.support, s)
    # rows in the scheme's display order, the same as skfer.Scheme's (and the video's)
    assert report[report.scheme == "three"].label.tolist() == list(Scheme("clusters").labels)
    three = report[report.scheme == "three"].set_index("label")
    assert three.loc["negative", "support"] == 3 and three.loc["negative", "recall"] == 2 / 3
    assert three.accuracy.iloc[0] == pytest.approx(3 / 5)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["confusion_toy_own.png", "confusion_toy_seven.png", "confusion_toy_three.png"]
    assert (tmp_path / "confusion_toy_three.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_and_plots_bad_input(tmp_path):
    model, X, y = _random_model()
    with pytest.raises(ValueError, match="non-empty mapping"):
        cross_dataset_report(model, [(X, y)])
    with pytest.raises(ValueError, match=r"datasets\['a'\] must be an \(X, y\) pair"):
        cross_dataset_report(model, {"a": X})
    with pytest.raises(ValueError, match="Unknown label scheme 'top9'"):
        plot_confusion_matrices(model, {"a": (X, y)}, tmp_path, schemes=["top9"])
    pipe_labels = DummyClassifier().fit(X, np.where(y == "happy", "pos", "neg"))
    with pytest.raises(ValueError, match="Prediction 'neg' .* is not an emotion"):
        cross_dataset_report(pipe_labels, {"a": (X, y)}, schemes="clusters", method="predict")


@pytest.fixture(scope="module")
def sfew_48(sfew_dir):
    """SFEW Train aligned faces as 48x48 grayscale, like FER2013."""
    import cv2

    from skfer._images import to_gray
    from skfer.datasets import load_sfew

    data = load_sfew(sfew_dir)
    X = np.stack(
        [cv2.resize(to_gray(im), (48, 48), interpolation=cv2.INTER_AREA) for im in data.images]
    )
    return X, data.target


@pytest.mark.slow
def test_cross_dataset_report_fer2013_to_sfew(fer2013, sfew_48, tmp_path):
    train = np.flatnonzero(fer2013.usage == "Training")[:1500]
    test = np.flatnonzero(fer2013.usage == "PublicTest")[:500]
    model = Pipeline([FunctionTransformer(flatten), LogisticRegression(C=0.05, max_iter=1000)])
    model.fit(fer2013.images[train], fer2013.target[train])
    datasets = {
        "fer2013": (fer2013.images[test], fer2013.target[test]),
        "sfew": sfew_48,
    }
    schemes = ["ekman7", "top4", "clusters"]
    report = cross_dataset_report(model, datasets, schemes=schemes, confusion_dir=tmp_path)
    assert report.shape == (2 * (7 + 4 + 3), 8)
    assert report.groupby(["dataset", "scheme"]).size().to_dict() == {
        (d, s): k for d in datasets for s, k in zip(schemes, (7, 4, 3))
    }
    for name, (X, y) in datasets.items():
        for scheme in schemes:
            labels = list(Scheme(scheme).labels)  # display order, as SCHEMES lists it
            mapper = EmotionLabelMapper(scheme).fit(None, y)
            keep = mapper.keep_mask(y)
            y_true = mapper.map_labels(y)[keep].astype(str)
            y_pred = predict_in_scheme(model.predict_proba(X[keep]), model.classes_, scheme)
            if scheme == "ekman7":
                np.testing.assert_array_equal(y_pred, model.predict(X))
            rows = report[(report.dataset == name) & (report.scheme == scheme)]
            assert rows.label.tolist() == labels
            p, r, f, s = precision_recall_fscore_support(
                y_true, y_pred, labels=labels, zero_division=0
            )
            np.testing.assert_allclose(rows.precision, p)
            np.testing.assert_allclose(rows.recall, r)
            np.testing.assert_allclose(rows.f1, f)
            np.testing.assert_array_equal(rows.support, s)
            assert rows.accuracy.unique() == pytest.approx(accuracy_score(y_true, y_pred))
    sfew = report[(report.dataset == "sfew") & (report.scheme == "ekman7")]
    assert sfew.support.sum() == len(sfew_48[1]) == 860
    pngs = sorted(tmp_path.glob("confusion_*.png"))
    assert len(pngs) == 6 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)

    # method="predict": an emotion predicted outside the scheme counts as wrong
    X, y = datasets["sfew"]
    by_predict = cross_dataset_report(model, {"sfew": (X, y)}, schemes="top4", method="predict")
    mapper = EmotionLabelMapper("top4").fit(None, y)
    keep = mapper.keep_mask(y)
    y_pred = mapper.map_labels(model.predict(X[keep]))
    y_pred = np.where(np.equal(y_pred, None), "(other)", y_pred).astype(str)
    labels = list(Scheme("top4").labels)
    p, r, _, s = precision_recall_fscore_support(
        mapper.map_labels(y)[keep].astype(str), y_pred, labels=labels, zero_division=0
    )
    np.testing.assert_allclose(by_predict.precision, p)
    np.testing.assert_allclose(by_predict.recall, r)

    # the same split as cv=: train on FER2013, one score for SFEW
    X_all = np.concatenate([fer2013.images[train], X])
    y_all = np.concatenate([fer2013.target[train], y])
    groups = np.repeat(["fer2013", "sfew"], [len(train), len(X)])
    result = cross_validate(model, X_all, y_all, groups=groups, cv=CrossDatasetSplit("fer2013"))
    ekman7 = report[(report.dataset == "sfew") & (report.scheme == "ekman7")]
    assert result["test_score"] == pytest.approx([ekman7.accuracy.iloc[0]])
