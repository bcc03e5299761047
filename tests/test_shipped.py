"""The shipped models load offline and score what their metadata and docs/results.md say."""

from pathlib import Path

import numpy as np
import pytest

from skfer import load_model
from skfer.emotions import EMOTIONS
from skfer.models import shipped_models

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


SHIPPED = ["fer2013", "fer2013-large", "fer2013-fast", "film"]
DOCS = Path(__file__).resolve().parents[1] / "docs"
README = Path(__file__).resolve().parents[1] / "README.md"


def test_shipped_models_are_listed():
    assert set(SHIPPED) <= set(shipped_models())


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_offline_and_predicts_sample_faces(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_model(name)
    assert sorted(model.classes_.tolist()) == sorted(EMOTIONS)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    proba = model.predict_proba(faces)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(model.predict(faces)) <= set(EMOTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED[:3])
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


@pytest.mark.parametrize(
    "table, columns",
    [
        ("film_robust.csv", ("public", "sfew", "frames", "sfew_tta_off", "frames_tta_off")),
        ("film_adaptation.csv", ("public", "sfew", "frames")),
        ("train_film.csv", ("sfew_cv", "frames_cv", "sfew_cv_adabn")),
    ],
)
def test_film_tables_keep_the_measured_fractions(table, columns):
    """The film tables' md files are made from their CSVs read back, so an accuracy there
    must still be k/n of its set (PublicTest 3,589, SFEW 860, frames 84): stored at 2
    decimals, 427/860 = 49.651 % was kept as 49.65 and shown as 49.6."""
    import pandas as pd

    df = pd.read_csv(RESULTS / table)
    sizes = {"public": 3589, "sfew": 860, "frames": 84}
    for column in columns:
        n = sizes[column.split("_")[0]]
        hits = df[column].dropna() * n / 100
        assert np.abs(hits - hits.round()).max() < 2e-3, (table, column)


def test_film_figures_match_the_results_files():
    """The figures the weights carry, docs/results.md and the README show are those of
    the committed results files of the film benchmarks."""
    import json

    import pandas as pd

    from skfer.models._io import read_weights

    fer, film = read_weights("fer2013")[1]["metrics"], read_weights("film")[1]["metrics"]
    robust = pd.read_csv(RESULTS / "film_robust.csv").set_index("variant")
    variant = fer["recipe"].split("variant ")[1].split("'")[1]
    assert fer["sfew_train_accuracy"] == pytest.approx(robust.loc[variant, "sfew"] / 100, abs=1e-4)
    record = json.loads((RESULTS / "train_film.json").read_text())
    assert film["sfew_leave_films_out_accuracy"] == record["sfew_leave_films_out_accuracy"]
    chosen = pd.read_csv(RESULTS / "train_film.csv")
    chosen = chosen[(chosen.recipe == record["chosen"]) & (chosen.start == "fer2013")]
    assert film["sfew_leave_films_out_accuracy"] == pytest.approx(
        chosen.sfew_cv.iloc[-1] / 100, abs=1e-4
    )
    results = (DOCS / "results.md").read_text()
    for name in (
        "film_faces.md",
        "film_adaptation.md",
        "film_capture.md",
        "film_crop_resampling.md",
        "film_face_features.md",
        "film_face_finetune.md",
        "film_landmarks.md",
        "film_logit_offset.md",
        "film_robust.md",
        "train_film.md",
    ):
        body = (RESULTS / name).read_text()
        table = next(line for line in body.splitlines() if line.startswith("| "))
        assert table in results, f"docs/results.md is older than {name}: regenerate it"
    readme = README.read_text()
    assert f"{100 * fer['private_test_accuracy']:.1f} %" in readme
    assert f"{100 * film['sfew_leave_films_out_accuracy']:.1f} %" in readme
    faces = pd.read_csv(RESULTS / "film_faces.csv")
    shown = faces[(faces.model == "fer2013") & (faces.adapt == "none")].sfew.iloc[0]
    assert f"{shown:.1f} %" in readme
    lead = faces[faces.model == "film"].iloc[0]  # leave-films-out, paired, SE by film
    lead = f"{lead.sfew_vs_default:.1f} ± {lead.sfew_vs_default_se_film:.1f} points"
    assert lead in readme.replace("\n", " "), lead
    assert lead in (DOCS / "film.rst").read_text().replace("\n", " "), lead


def test_film_clustered_se_counts_films_not_faces():
    """The SE by film that docs/film.rst and the README quote: with one face per film it
    is the usual standard error of a mean; when a film's faces are right or wrong
    together it is that of a sample of films, larger than the binomial SE of its faces."""
    import sys

    sys.path.insert(0, str(RESULTS.parent))
    from _film_dev import film_clustered_se

    rng = np.random.default_rng(0)
    hits = rng.random(400) < 0.5
    alone = film_clustered_se(hits, np.arange(400))
    assert alone == pytest.approx(100 * hits.std(ddof=1) / np.sqrt(400), rel=1e-9)
    films = np.repeat(np.arange(20), 20)
    together = np.repeat(rng.random(20) < 0.5, 20)  # each film all right or all wrong
    p = together.mean()
    assert film_clustered_se(together, films) == pytest.approx(
        100 * np.sqrt(p * (1 - p) / 20 * 20 / 19), rel=1e-9
    )
    binomial = 100 * np.sqrt(p * (1 - p) / 400)  # as if the 400 faces were independent
    assert film_clustered_se(together, films) > 3 * binomial
