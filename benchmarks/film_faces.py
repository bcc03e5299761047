"""Film faces: the chosen models and settings on the film development set, class by class.

For each model (optionally with per-film adaptation, ``name:adapt``): accuracy on
FER2013 PublicTest, SFEW Train aligned faces and the 84 SFEW frames with standard
errors, the recall of every emotion on SFEW and the share of SFEW faces predicted as
each emotion beside its true share. On SFEW each model also gets the standard error
with films as the sampling units (``film_clustered_se``), and its difference from the
default ``fer2013`` on the same faces with the same kind of error: what the figure and
the comparison would carry to other films. The ``film`` model trained on SFEW Train is shown
by its leave-films-out predictions (``benchmarks/train_film.py``), never by a model
that saw the face's film.

Usage::

    python benchmarks/film_faces.py [--models fer2013 fer2013:batchnorm fer2013-large ...]

writes ``benchmarks/results/film_faces.{md,csv}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import (  # noqa: E402
    accuracy_se,
    fer2013_split,
    film_clustered_se,
    film_dev_set,
    recall_and_share,
    save_table,
    with_se,
)
from _machine import hardware, load  # noqa: E402
from film_adaptation import STAGE1, label, predict  # noqa: E402

from skfer import load_model, resolve_detector  # noqa: E402
from skfer.emotions import EMOTIONS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def score_model(spec: str, dev: dict, public) -> dict:
    name, _, adapt = spec.rpartition(":") if spec.count(":") else (spec, "", "")
    adapt = adapt or "none"
    model = load_model(name)
    row = {"model": label(name), "adapt": adapt, "trained_on": "FER2013 Training"}
    if name == "film":
        raise ValueError("the film model is scored from its leave-films-out predictions")
    pub_pred = predict(model, public[0], np.zeros(len(public[0])), adapt=adapt, grouping="pooled")
    row["public"], row["public_se"] = accuracy_se(public[1], pub_pred)
    for part in ("sfew", "frames"):
        d = dev[part]
        grouping = "per film" if adapt != "none" else "pooled"
        pred = predict(model, d["faces"], d["film"], adapt=adapt, grouping=grouping)
        row[part], row[f"{part}_se"] = accuracy_se(d["target"], pred)
        if part == "sfew":
            row.update(recall_and_share(d["target"], pred))
            row["_sfew_pred"] = np.asarray(pred)
    return row


def film_row(public) -> dict | None:
    path = RESULTS / "train_film_predictions.csv"
    weights = ROOT / "skfer" / "models" / "weights" / "film.safetensors"
    if not path.is_file():
        return None
    pred = pd.read_csv(path)
    row = {"model": "film", "adapt": "none", "trained_on": "SFEW Train (leave-films-out)"}
    if weights.is_file():
        row["public"], row["public_se"] = accuracy_se(
            public[1], load_model("film").predict(public[0])
        )
    for part in ("sfew", "frames"):
        p = pred[pred["set"] == part]
        row[part], row[f"{part}_se"] = accuracy_se(p["target"], p["predicted"])
        if part == "sfew":
            row.update(recall_and_share(p["target"].to_numpy(), p["predicted"].to_numpy()))
            row["_sfew_pred"] = p["predicted"].to_numpy()  # the film dev set's face order
    return row


def add_film_level_errors(rows: list[dict], sfew: dict) -> None:
    """Each row's SFEW standard error by film, and its paired difference from the
    default (``fer2013``, unadapted) with the same error; the predictions are dropped."""
    hits = {id(r): r.pop("_sfew_pred") == sfew["target"] for r in rows}
    reference = next((r for r in rows if r["model"] == "fer2013" and r["adapt"] == "none"), None)
    default = hits[id(reference)] if reference is not None else None
    for r in rows:
        h = hits[id(r)]
        r["sfew_se_film"] = film_clustered_se(h, sfew["film"])
        if default is None or r is reference:
            r["sfew_vs_default"] = r["sfew_vs_default_se_film"] = np.nan
            continue
        diff = h.astype(float) - default
        r["sfew_vs_default"] = 100 * float(diff.mean())
        r["sfew_vs_default_se_film"] = film_clustered_se(diff, sfew["film"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=[
            STAGE1,
            "fer2013",
            "fer2013:batchnorm",
            "fer2013-large",
            "fer2013-large:batchnorm",
            "fer2013-fast",
        ],
        help="model names or files, ':batchnorm' for AdaBN per film",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    dev = film_dev_set()
    public = fer2013_split("PublicTest")
    rows = [score_model(spec, dev, public) for spec in args.models]
    film = film_row(public)
    if film is not None:
        rows.append(film)
    add_film_level_errors(rows, dev["sfew"])
    df = pd.DataFrame(rows)
    save_table(df, RESULTS / "film_faces.csv")
    true_share = {e: 100 * float(np.mean(dev["sfew"]["target"] == e)) for e in EMOTIONS}

    acc = df[["model", "adapt", "trained_on"]].copy()
    for c in ("public", "sfew", "frames"):
        acc[c] = with_se(df, c)
    acc.insert(acc.columns.get_loc("sfew") + 1, "sfew SE by film", df["sfew_se_film"].round(1))
    acc["sfew - fer2013, paired"] = [
        "-" if d != d else f"{d:+.1f} ± {e:.1f}"
        for d, e in zip(df["sfew_vs_default"], df["sfew_vs_default_se_film"])
    ]
    recall = df[["model", "adapt"]].copy()
    share = df[["model", "adapt"]].copy()
    for e in EMOTIONS:
        recall[e] = df[f"recall_{e}"].round(1)
        share[e] = df[f"share_{e}"].round(1)
    truth = {
        "model": "(true share)",
        "adapt": "",
        **{e: round(v, 1) for e, v in true_share.items()},
    }
    share = pd.concat([share, pd.DataFrame([truth])], ignore_index=True)
    lines = [
        "# Film faces: the chosen models, class by class",
        "",
        "Command: `python benchmarks/film_faces.py " + " ".join(sys.argv[1:]) + "`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s.",
        "",
        "Accuracy in % ± one standard error. `public`: FER2013 PublicTest; `sfew`: SFEW "
        f"Train aligned faces (860) through `FaceCropper()` (detector {resolve_detector()}); "
        "`frames`: the 84 SFEW frames "
        "(top emotion of the largest face). `batchnorm`: AdaBN per film (faces grouped by "
        "the film in their file name). The `film` model's SFEW and frames figures are "
        "leave-films-out: each face predicted by a model fine-tuned without its film "
        "(on the crops of `train_film.py`'s run, `train_film.md`). `sfew SE by film`: the "
        "standard error of the SFEW figure with its 51 films, not its 860 faces, as the "
        "sampling units (a film's faces share actors, lighting and grade, and are misread "
        "together). `sfew - fer2013, paired`: the difference from the default on the "
        "same faces, ± its standard error by film.",
        "",
        acc.to_markdown(index=False),
        "",
        "Recall per emotion on SFEW (%):",
        "",
        recall.to_markdown(index=False),
        "",
        "Share of SFEW faces predicted as each emotion (%), and the true share:",
        "",
        share.to_markdown(index=False),
        "",
    ]
    (RESULTS / "film_faces.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
