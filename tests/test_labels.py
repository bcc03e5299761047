"""EmotionLabelMapper: schemes, normalisation, the sampler protocol and bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier

from skfer import SCHEMES, EmotionLabelMapper
from skfer.emotions import EMOTIONS, PAPER_RANKING
from skfer.labels import resolve_scheme

Y7 = np.array(EMOTIONS, dtype=object)  # one sample per emotion, FER2013 order


def _images(n):
    return np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2)


def test_ekman7_is_identity_and_normalises_aliases_and_codes():
    y = ["Angry", 0, "anger", "happiness", 6, "AFRAID", "surprised", "disgusted", "sadness"]
    X_res, y_res = EmotionLabelMapper().fit_resample(_images(len(y)), y)
    assert X_res.shape == (9, 2, 2)
    assert y_res.tolist() == [
        "angry", "angry", "angry", "happy", "neutral", "fear", "surprise", "disgust", "sad",
    ]  # fmt: skip


def test_top4_keeps_the_papers_four_and_drops_rows_with_their_images():
    X = _images(7)
    mapper = EmotionLabelMapper("top4")
    X_res, y_res = mapper.fit_resample(X, Y7)
    kept = [i for i, e in enumerate(EMOTIONS) if e in ("happy", "surprise", "neutral", "angry")]
    assert y_res.tolist() == [EMOTIONS[i] for i in kept]
    np.testing.assert_array_equal(X_res, X[kept])
    np.testing.assert_array_equal(mapper.sample_indices_, kept)
    assert mapper.classes_.tolist() == ["angry", "happy", "neutral", "surprise"]


def test_clusters_are_the_papers_three_without_surprise():
    mapper = EmotionLabelMapper("clusters")
    _, y_res = mapper.fit_resample(_images(7), Y7)
    expected = {
        "angry": "negative", "disgust": "negative", "fear": "negative", "happy": "positive",
        "sad": "negative", "surprise": None, "neutral": "neutral",
    }  # fmt: skip
    assert mapper.mapping_ == expected
    assert y_res.tolist() == [v for v in (expected[e] for e in EMOTIONS) if v is not None]
    assert mapper.classes_.tolist() == ["negative", "neutral", "positive"]


def test_valence_follows_the_sign_of_the_coordinates_and_accepts_contempt():
    mapper = EmotionLabelMapper("valence")
    _, y_res = mapper.fit_resample(None, ["contempt", "surprise", "neutral", "sad"])
    assert y_res.tolist() == ["negative", "positive", "neutral", "negative"]


def test_top_n_with_the_papers_ranking():
    mapper = EmotionLabelMapper("top_n", n=3).fit(None, Y7)
    assert mapper.ranking_ == PAPER_RANKING
    assert mapper.classes_.tolist() == ["happy", "neutral", "surprise"]
    assert EmotionLabelMapper("top_n", n=4).fit(None, Y7).mapping_ == resolve_scheme("top4")


def test_top_n_with_an_explicit_ranking_defaults_to_all_of_it():
    mapper = EmotionLabelMapper("top_n", ranking=["Sadness", "fear"]).fit(None, Y7)
    assert mapper.classes_.tolist() == ["fear", "sad"]
    mapper = EmotionLabelMapper("top_n", n=1, ranking=["sad", "fear"]).fit(None, Y7)
    assert mapper.classes_.tolist() == ["sad"]


def test_top_n_learned_ranks_by_cross_validated_recall():
    # happy and neutral are separable; angry and sad share their features (confusable)
    rng = np.random.default_rng(0)
    centres = {"happy": 0.0, "neutral": 10.0, "angry": 20.0, "sad": 20.0}
    y = np.repeat(list(centres), 30)
    X = np.array([[centres[e] + rng.normal(scale=0.5)] for e in y])
    knn = KNeighborsClassifier(3)
    cv = StratifiedKFold(3)
    mapper = EmotionLabelMapper("top_n", n=2, ranking="learned", estimator=knn, cv=cv)
    X_res, y_res = mapper.fit_resample(X, y)
    assert set(mapper.ranking_[:2]) == {"happy", "neutral"}
    assert set(mapper.ranking_[2:4]) == {"angry", "sad"}
    assert mapper.classes_.tolist() == ["happy", "neutral"]
    assert len(X_res) == 60 and set(y_res) == {"happy", "neutral"}
    pred = cross_val_predict(knn, X, y, cv=cv)
    labels = ["happy", "neutral", "angry", "sad"]
    expected = recall_score(y, pred, labels=labels, average=None)
    assert [mapper.recall_[e] for e in labels] == pytest.approx(expected)
    assert mapper.recall_["happy"] == 1.0 and mapper.recall_["sad"] < 1.0


def test_learned_ranking_needs_an_estimator():
    with pytest.raises(ValueError, match="needs estimator="):
        EmotionLabelMapper("top_n", n=2, ranking="learned").fit(np.zeros((7, 1)), Y7)


def test_user_mapping_with_aliases_none_and_integer_labels():
    scheme = {"Happiness": 1, "anger": 0, "sad": 0, "surprise": None}
    mapper = EmotionLabelMapper(scheme)
    _, y_res = mapper.fit_resample(None, ["happy", "surprise", "angry", 4])
    assert y_res.tolist() == [1, 0, 0]
    assert y_res.dtype.kind == "i"  # a plain integer array, as classifiers want
    assert mapper.classes_.tolist() == [0, 1]


def test_map_labels_and_keep_mask_for_scoring():
    mapper = EmotionLabelMapper("clusters").fit(None, Y7)
    assert mapper.map_labels(["surprise", 3, "Fear"]).tolist() == [None, "positive", "negative"]
    assert mapper.keep_mask(["surprise", 3, "Fear"]).tolist() == [False, True, True]


def test_fit_resample_keeps_the_type_of_X():
    paths = [f"img{i}.png" for i in range(7)]
    X_res, _ = EmotionLabelMapper("top4").fit_resample(paths, Y7)
    assert X_res == ["img0.png", "img3.png", "img5.png", "img6.png"]


# ------------------------------------------------------------------ bad input
def test_unknown_scheme_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Unknown label scheme 'top5'.*scheme='top_n', n=5"):
        EmotionLabelMapper("top5").fit(None, Y7)
    with pytest.raises(ValueError, match="Unknown label scheme 'emotions'"):
        EmotionLabelMapper("emotions").fit_resample(_images(7), Y7)


@pytest.mark.parametrize("scheme", [{"happy": None, "sad": None}, {}])
def test_a_mapping_that_leaves_no_class_is_an_error(scheme):
    with pytest.raises(ValueError, match="leaves no class"):
        EmotionLabelMapper(scheme).fit(None, ["happy"])


def test_labels_outside_the_vocabulary_are_errors_naming_the_sample():
    with pytest.raises(ValueError, match=r"y\[2\]: Unknown emotion label 'bored'"):
        EmotionLabelMapper().fit_resample(_images(3), ["happy", "sad", "bored"])
    with pytest.raises(ValueError, match=r"y\[1\]: Unknown emotion code 9"):
        EmotionLabelMapper().fit(None, [0, 9])
    with pytest.raises(
        ValueError,
        match=r"y\[1\] = 'contempt' \(contempt\) is outside the vocabulary of label "
        r"scheme 'ekman7'.*'contempt': None",
    ):
        EmotionLabelMapper("ekman7").fit(None, ["happy", "contempt"])
    mapper = EmotionLabelMapper({"happy": "pos", "sad": None}).fit(None, ["happy"])
    with pytest.raises(
        ValueError, match=r"y\[0\] = 'anger' \(angry\) is outside.*add 'angry': None"
    ):
        mapper.map_labels(["anger"])


def test_contempt_can_be_dropped_with_a_mapping():
    mapper = EmotionLabelMapper({**SCHEMES["ekman7"], "contempt": None})
    _, y_res = mapper.fit_resample(None, ["happy", "contempt"])
    assert y_res.tolist() == ["happy"]


def test_bad_mapping_keys_and_labels():
    with pytest.raises(ValueError, match="Scheme key 'joyful' is not an emotion"):
        EmotionLabelMapper({"joyful": "pos"}).fit(None, ["happy"])
    with pytest.raises(ValueError, match="name 'happy' twice"):
        EmotionLabelMapper({"happy": "pos", "happiness": "neg"}).fit(None, ["happy"])
    with pytest.raises(ValueError, match="mix strings and numbers"):
        EmotionLabelMapper({"happy": "pos", "sad": 0}).fit(None, ["happy"])


def test_every_sample_dropped_is_an_error():
    with pytest.raises(ValueError, match="every sample would be dropped"):
        EmotionLabelMapper("clusters").fit_resample(_images(2), ["surprise", "surprise"])


def test_other_bad_input():
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        EmotionLabelMapper().fit_resample(_images(3), ["happy", "sad"])
    with pytest.raises(ValueError, match="1-D array of emotion labels"):
        EmotionLabelMapper().fit(None, [["happy", "sad"]])
    with pytest.raises(ValueError, match="needs n"):
        EmotionLabelMapper("top_n").fit(None, Y7)
    with pytest.raises(ValueError, match="n=8 but the ranking holds only 7"):
        EmotionLabelMapper("top_n", n=8).fit(None, Y7)
    with pytest.raises(ValueError, match=r"ranking\[1\]: 'happy' appears twice"):
        EmotionLabelMapper("top_n", ranking=["happy", "happiness"]).fit(None, Y7)
    with pytest.raises(ValueError, match="'n' parameter"):
        EmotionLabelMapper("top_n", n=0).fit(None, Y7)
    with pytest.raises(NotFittedError):
        EmotionLabelMapper().map_labels(["happy"])


# ------------------------------------------------------------ sklearn protocol
def test_clone_pickle_and_params_round_trip():
    mapper = EmotionLabelMapper("top_n", n=2, ranking="learned", estimator=KNeighborsClassifier())
    params = mapper.get_params()
    assert params["scheme"] == "top_n" and params["estimator__n_neighbors"] == 5
    twin = clone(mapper)
    assert twin.get_params()["n"] == 2 and twin.estimator is not mapper.estimator
    twin.set_params(scheme="clusters", estimator__n_neighbors=1)
    assert twin.scheme == "clusters" and twin.estimator.n_neighbors == 1
    fitted = EmotionLabelMapper("top4").fit(None, Y7)
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.mapping_ == fitted.mapping_
    assert restored.map_labels(["sad", "angry"]).tolist() == [None, "angry"]
    assert not hasattr(clone(fitted), "mapping_")


def test_valence_scheme_is_the_sign_of_the_documented_coordinates():
    from skfer import VALENCE_AROUSAL

    for emotion, (valence, _) in VALENCE_AROUSAL.items():
        expected = "positive" if valence > 0 else "negative" if valence < 0 else "neutral"
        assert SCHEMES["valence"][emotion] == expected
    assert VALENCE_AROUSAL["neutral"] == (0.0, 0.0)
    assert VALENCE_AROUSAL["happy"][0] > 0 > VALENCE_AROUSAL["sad"][1]


# ------------------------------------------------- imbalanced-learn sampler protocol
def test_mapper_is_an_imblearn_sampler_and_fit_resample_keeps_images_as_they_are():
    from imblearn.base import is_sampler

    mapper = EmotionLabelMapper("top4")
    assert is_sampler(mapper)
    X = _images(7)
    X_res, _ = mapper.fit_resample(X, Y7)
    assert X_res.dtype == X.dtype and X_res.shape == (4, 2, 2)  # not checked by check_X_y
    np.testing.assert_array_equal(mapper.sample_indices_, [0, 3, 5, 6])


@pytest.mark.parametrize(
    ("param", "value"), [("n", 0), ("ranking", "best"), ("scheme", 3), ("estimator", "knn")]
)
def test_invalid_set_params_fails_at_the_next_fit_like_the_constructor(param, value):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError) as direct:
        EmotionLabelMapper(**{"scheme": "top_n", "n": 2, param: value}).fit(None, Y7)
    mapper = EmotionLabelMapper("top_n", n=2).fit(None, Y7)
    mapper.set_params(**{param: value})  # no error yet: validated at fit
    for call in (lambda: mapper.fit(None, Y7), lambda: mapper.fit_resample(_images(7), Y7)):
        with pytest.raises(InvalidParameterError) as later:
            call()
        assert str(later.value) == str(direct.value)
        assert f"'{param}' parameter of EmotionLabelMapper" in str(later.value)


def test_parameters_are_validated_once_per_fit_resample(monkeypatch):
    calls = []
    original = EmotionLabelMapper._validate_params
    monkeypatch.setattr(
        EmotionLabelMapper, "_validate_params", lambda self: calls.append(1) or original(self)
    )
    EmotionLabelMapper("clusters").fit_resample(_images(7), Y7)
    assert len(calls) == 1


# -------------------------------------------------------------------- Scheme
def test_scheme_of_a_named_scheme():
    from dataclasses import FrozenInstanceError

    from skfer import Scheme

    scheme = Scheme("clusters", EMOTIONS)
    assert scheme.labels == ("positive", "neutral", "negative")  # as SCHEMES lists them
    assert scheme.classes == EMOTIONS and scheme.mapping == resolve_scheme("clusters")
    assert scheme.matrix.shape == (7, 3)
    assert scheme.matrix[EMOTIONS.index("surprise")].sum() == 0  # left out
    assert scheme.matrix[EMOTIONS.index("sad"), 2] == 1.0
    proba = np.full((2, 7), 1 / 7)
    proba[1] = np.eye(7)[EMOTIONS.index("surprise")]  # no mass on the scheme's emotions
    np.testing.assert_allclose(scheme.project(proba), [[1 / 6, 1 / 6, 4 / 6], [0, 0, 0]])
    keep, labels = scheme.keep(["sad", "surprise", 3, "Neutral"])
    assert keep.tolist() == [True, False, True, True]
    assert labels.tolist() == ["negative", "positive", "neutral"]
    # immutable, and the same as the mapper's
    with pytest.raises(FrozenInstanceError):
        scheme.labels = ()
    with pytest.raises(ValueError, match="read-only"):
        scheme.matrix[0, 0] = 5.0
    mapper = EmotionLabelMapper("clusters").fit(None, Y7)
    assert Scheme(mapper, EMOTIONS).labels == scheme.labels
    assert Scheme(mapper).keep(Y7)[0].tolist() == mapper.keep_mask(Y7).tolist()
    restored = pickle.loads(pickle.dumps(scheme))
    np.testing.assert_array_equal(restored.matrix, scheme.matrix)
    assert "clusters" in repr(scheme) and "n_classes=7" in repr(scheme)


def test_scheme_of_a_mapping_that_drops_a_label():
    from skfer import Scheme

    # CK+'s eight classes read in the seven basic emotions: contempt left out
    classes = np.array([*EMOTIONS, "contempt"])
    scheme = Scheme({**SCHEMES["ekman7"], "contempt": None}, classes)
    assert scheme.labels == EMOTIONS  # first appearance
    assert scheme.matrix.shape == (8, 7) and scheme.matrix[7].sum() == 0
    np.testing.assert_array_equal(scheme.matrix[:7], np.eye(7))
    proba = np.r_[np.full(7, 0.05), 0.65][None]
    np.testing.assert_allclose(scheme.project(proba), np.full((1, 7), 1 / 7))
    keep, labels = scheme.keep(["contempt", "happy", "contempt"])
    assert keep.tolist() == [False, True, False] and labels.tolist() == ["happy"]
    # default classes: the mapping's vocabulary
    small = Scheme({"Happiness": "pos", "sad": "neg", "anger": None})
    assert small.classes == ("happy", "sad", "angry") and small.labels == ("pos", "neg")
    np.testing.assert_array_equal(small.matrix, [[1, 0], [0, 1], [0, 0]])
    with pytest.raises(ValueError, match=r"classes\[0\] = 'fear'.*outside the vocabulary"):
        Scheme({"happy": "pos", "sad": None}, ["fear"])
    with pytest.raises(ValueError, match=r"y\[0\] = 'fear'.*add 'fear': None"):
        small.keep(["fear"])


def test_scheme_none_keeps_the_classes():
    from skfer import Scheme

    classes = np.array([2, 0, 1])
    scheme = Scheme(None, classes)
    assert scheme.labels == (2, 0, 1) and all(type(c) is int for c in scheme.labels)
    assert scheme.mapping is None
    np.testing.assert_array_equal(scheme.matrix, np.eye(3))
    np.testing.assert_allclose(
        scheme.project([[2.0, 1.0, 1.0], [0, 0, 0]]), [[0.5, 0.25, 0.25], [0, 0, 0]]
    )
    keep, labels = scheme.keep([7, 0])  # nothing to leave out
    assert keep.all() and labels.tolist() == [7, 0]
    with pytest.raises(ValueError, match="pass classes="):
        Scheme(None)
    with pytest.raises(ValueError, match=r"proba must have shape \(n_samples, 3\)"):
        scheme.project(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        scheme.project([[np.nan, 0, 1]])
    with pytest.raises(ValueError, match="Unknown label scheme"):
        Scheme("nope", EMOTIONS)
