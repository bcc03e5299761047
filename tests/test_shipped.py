"""The shipped models load offline and score what their metadata and docs/results.md say."""

from pathlib import Path

import numpy as np
import pytest

from skfer import EmotionCNN, load_model
from skfer.emotions import EMOTIONS
from skfer.models import shipped_models

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


SHIPPED = ["fer2013", "fer2013-large", "fer2013-fast"]


def test_shipped_models_are_listed():
    assert set(SHIPPED) <= set(shipped_models())


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_offline_and_predicts_sample_faces(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = EmotionCNN.from_pretrained(name)
    assert model.classes_.tolist() == list(EMOTIONS)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    proba = model.predict_proba(faces)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(model.predict(faces)) <= set(EMOTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_private_test_accuracy_matches_documented(name, fer2013):
    from skfer.models._io import read_weights

    _, config = read_weights(name)
    documented = config["metrics"]["private_test_accuracy"]
    model = load_model(name)
    mask = fer2013.usage == "PrivateTest"
    accuracy = np.mean(model.predict(fer2013.images[mask]) == fer2013.target[mask])
    assert abs(accuracy - documented) <= 0.01, (accuracy, documented)
    # docs/results.md shows the figure of benchmarks/results/paper_tables.csv: same check
    table = RESULTS / "paper_tables.csv"
    if table.is_file():
        import pandas as pd

        rows = pd.read_csv(table)
        shown = rows[
            (rows.model == name)
            & (rows.dataset == "FER2013 PrivateTest")
            & (rows.scheme == "ekman7")
        ].accuracy.iloc[0]
        assert abs(accuracy - shown) <= 0.01, (accuracy, shown)
