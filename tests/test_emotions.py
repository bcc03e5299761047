import numpy as np
import pytest

from skfer.emotions import (
    EMOTIONS,
    FER2013_CODES,
    SCHEMES,
    VALENCE_AROUSAL,
    normalize_emotion,
    normalize_emotions,
)


def test_fer2013_code_order():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert [FER2013_CODES[e] for e in EMOTIONS] == list(range(7))


@pytest.mark.parametrize(
    "alias, name",
    [
        ("Angry", "angry"),
        ("anger", "angry"),
        ("happiness", "happy"),
        ("HAPPY", "happy"),
        ("sadness", "sad"),
        ("afraid", "fear"),
        ("surprised", "surprise"),
        ("Neutral", "neutral"),
        ("Disgust", "disgust"),
        ("contempt", "contempt"),
        (0, "angry"),
        (np.int64(6), "neutral"),
        ("3", "happy"),
        (5.0, "surprise"),
    ],
)
def test_aliases(alias, name):
    assert normalize_emotion(alias) == name


@pytest.mark.parametrize("bad", ["joyful-ish", "", 7, -1, True, None, 2.5])
def test_unknown_lists_known_names(bad):
    with pytest.raises(ValueError, match="angry") as info:
        normalize_emotion(bad)
    assert "neutral" in str(info.value) or "0..6" in str(info.value)


def test_vectorised_names_position():
    assert normalize_emotions(["Sad", 0]).tolist() == ["sad", "angry"]
    with pytest.raises(ValueError, match="position 2"):
        normalize_emotions(["sad", "happy", "bored"])


def test_schemes_are_subsets_of_vocabulary():
    assert set(SCHEMES) >= {"ekman7", "top4", "clusters", "valence"}
    assert set(SCHEMES["top4"]) == {"happy", "surprise", "neutral", "angry"}
    assert "surprise" not in SCHEMES["clusters"]
    assert set(SCHEMES["clusters"].values()) == {"positive", "neutral", "negative"}
    for mapping in SCHEMES.values():
        assert set(mapping) <= set(VALENCE_AROUSAL)
    for v, a in VALENCE_AROUSAL.values():
        assert -1 <= v <= 1 and -1 <= a <= 1
