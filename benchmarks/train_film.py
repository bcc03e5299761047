"""Fine-tune a shipped model on film faces: the ``film`` model, trained on SFEW 2.0 Train.

The workflow a film researcher follows with faces of their own films, in a few lines
of :class:`skfer.EmotionCNN` (``pretrained="fer2013"``, optional ``freeze``, a small
learning rate, their labels). Here the faces are SFEW 2.0 Train (860 aligned faces
from 70-odd films) cropped by ``FaceCropper()`` defaults.

Because the model trains on SFEW Train, it is never scored on SFEW Train or the 84
frames with a model that saw them. Recipes are compared by **leave-films-out
cross-validation**: the faces are split into folds by film (``GroupKFold``), each fold
is predicted by a model fine-tuned on the other films only, and so are the 84 frames
(each by the fold model that did not see its film). That estimates accuracy on
films the model has not seen, which is what a user gets. The chosen recipe is then
fine-tuned on all 860 faces and shipped as ``skfer/models/weights/film.safetensors``.

Usage::

    python benchmarks/train_film.py            # compare recipes, then ship the best
    python benchmarks/train_film.py --recipes freeze3_lr0.01

writes ``benchmarks/results/train_film.{md,csv,json}`` and the chosen recipe's
leave-films-out predictions, ``benchmarks/results/train_film_predictions.csv``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import (  # noqa: E402
    FILM_PHOTOMETRY,
    SHIPPED_AUGMENT,
    accuracy_se,
    average_weights,
    fer2013_split,
    film_dev_set,
    fine_tuner,
    interpolate_weights,
    recall_and_share,
    save_table,
    with_se,
)
from _machine import hardware, load  # noqa: E402

from skfer import Augmenter  # noqa: E402
from skfer._onnx import file_sha256  # noqa: E402
from skfer._shipped import resolve_weights  # noqa: E402
from skfer.faces import resolve_detector  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WEIGHTS = ROOT / "skfer" / "models" / "weights" / "film.safetensors"
N_FOLDS = 5

_PHOTO = dict(FILM_PHOTOMETRY, scale=0.15)

#: name -> EmotionCNN parameters (beyond the shared ones in ``make_model``)
RECIPES = {
    "head_only": dict(freeze="backbone", lr=0.05, max_epochs=15),
    "freeze3_lr0.01": dict(freeze=3, lr=0.01, max_epochs=15),
    "all_lr0.01": dict(freeze=None, lr=0.01, max_epochs=15),
    "all_lr0.003": dict(freeze=None, lr=0.003, max_epochs=15),
    "all_lr0.01_photo": dict(freeze=None, lr=0.01, max_epochs=15, photo=True),
    "all_lr0.01_balanced": dict(freeze=None, lr=0.01, max_epochs=15, class_weight="balanced"),
    "all_lr0.01_standardize": dict(freeze=None, lr=0.01, max_epochs=15, standardize=True),
    "all_lr0.003_replay2": dict(freeze=None, lr=0.003, max_epochs=10, replay=2),
    "all_lr0.003_soup3": dict(freeze=None, lr=0.003, max_epochs=15, soup=3),
    "all_lr0.003_wise0.3": dict(freeze=None, lr=0.003, max_epochs=15, wise=0.3),
    "all_lr0.003_wise0.5": dict(freeze=None, lr=0.003, max_epochs=15, wise=0.5),
    "all_lr0.003_wise0.7": dict(freeze=None, lr=0.003, max_epochs=15, wise=0.7),
}


def with_replay(recipe: dict, faces: np.ndarray, target: np.ndarray, *, seed: int = 0):
    """The film faces, and for a recipe with ``replay=r`` also ``r`` times as many
    FER2013 Training faces (a random draw, the same for a given seed and size).

    Rehearsal: 700-odd faces of some 60 films are few; trained on alone, the network
    forgets what 28,709 FER2013 faces taught it (PublicTest falls by 9 points) and fits
    those films' actors and lighting. FER2013 faces beside them keep the general
    expression features while the film faces pull the features towards film faces.
    """
    ratio = recipe.get("replay", 0)
    if not ratio:
        return faces, target
    fer_x, fer_y = fer2013_split("Training")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(fer_x), size=min(len(fer_x), int(ratio * len(faces))), replace=False)
    return np.concatenate([faces, fer_x[pick]]), np.concatenate([target, fer_y[pick]])


def fit_recipe(recipe: dict, x: np.ndarray, y: np.ndarray, *, start: str):
    """The recipe's model fitted on ``x`` (the film faces, with the FER2013 faces of
    ``with_replay`` beside them); with ``soup=k``, the weights of ``k`` fine-tunes
    (seeds 0..k-1) averaged.

    A soup (Wortsman et al. 2022): fine-tunes of one start on a few hundred faces differ
    much from seed to seed (batch order, augmentation draws), and their average keeps
    what they share; it costs ``k`` fine-tunes once and nothing at prediction.
    With ``wise=a``, the fine-tuned weights are then interpolated with the start's
    (``interpolate_weights``: a share ``a`` of the fine-tune, WiSE-FT).
    """
    models = [
        make_model(recipe, len(x), start=start, seed=seed).fit(x, y)
        for seed in range(recipe.get("soup", 1))
    ]
    model = average_weights(models, x)
    if "wise" in recipe:
        from skfer import load_model

        model = interpolate_weights(load_model(start), model, recipe["wise"])
    return model


def make_model(recipe: dict, n_train: int, *, start: str, seed: int = 0):
    params = dict(recipe)
    params.pop("replay", None)  # the training set's business: with_replay
    params.pop("soup", None)  # fit_recipe's
    params.pop("wise", None)  # fit_recipe's
    photo = params.pop("photo", False)
    augment = Augmenter(**SHIPPED_AUGMENT, **(_PHOTO if photo else {}))
    epochs = params.pop("max_epochs")
    return fine_tuner(
        start,
        augment=augment,
        epochs=epochs,
        n_train=n_train,
        batch_size=32,
        random_state=seed,
        **params,
    )


def cross_validate(recipe: dict, dev: dict, *, start: str) -> dict:
    """Leave-films-out predictions for the SFEW faces and the 84 frames."""
    from sklearn.model_selection import GroupKFold

    faces, target, films = (dev["sfew"][k] for k in ("faces", "target", "film"))
    frames = dev["frames"]
    pred = np.empty(len(faces), dtype=object)
    adapted = np.empty(len(faces), dtype=object)
    frame_pred = np.empty(len(frames["faces"]), dtype=object)
    for train, test in GroupKFold(N_FOLDS).split(faces, target, films):
        x, y = with_replay(recipe, faces[train], target[train])
        model = fit_recipe(recipe, x, y, start=start)
        pred[test] = model.predict(faces[test])
        for film in np.unique(films[test]):  # AdaBN per held-out film (< 16 faces: none)
            idx = test[films[test] == film]
            model.set_params(adapt="batchnorm")
            adapted[idx] = model.predict(faces[idx])
            model.set_params(adapt=None)
        held_out = np.isin(frames["film"], np.unique(films[test]))
        if held_out.any():
            frame_pred[held_out] = model.predict(frames["faces"][held_out])
    seen = np.isin(frames["film"], films)
    # frames whose film is not in SFEW Train were never seen: any fold model will do
    if (~seen).any():
        frame_pred[~seen] = model.predict(frames["faces"][~seen])
    row = {"_predictions": (pred.astype(str), frame_pred.astype(str))}
    row["sfew_cv"], row["sfew_cv_se"] = accuracy_se(target, pred.astype(str))
    row["frames_cv"], row["frames_cv_se"] = accuracy_se(frames["target"], frame_pred.astype(str))
    row["sfew_cv_adabn"], _ = accuracy_se(target, adapted.astype(str))
    row.update(recall_and_share(target, pred.astype(str)))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--start", default="fer2013")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-ship", action="store_true", help="compare only")
    parser.add_argument("--append", action="store_true", help="keep earlier rows of the table")
    parser.add_argument(
        "--render", action="store_true", help="rewrite the md from the CSV; nothing is run"
    )
    args = parser.parse_args()
    if args.render:
        summary = json.loads((RESULTS / "train_film.json").read_text())
        write_md(pd.read_csv(RESULTS / "train_film.csv"), summary)
        return
    import torch

    torch.set_num_threads(args.threads)
    dev = film_dev_set()
    public = fer2013_split("PublicTest")
    rows = []
    for name in args.recipes:
        t0 = time.perf_counter()
        row = {
            "recipe": name,
            "start": Path(args.start).stem if args.start.endswith(".safetensors") else args.start,
            "start_sha256": file_sha256(resolve_weights(args.start))[:12],  # which fer2013
            "crops": resolve_detector(None),  # FaceCropper()'s default: the film dev set's
            **cross_validate(RECIPES[name], dev, start=args.start),
        }
        row["cv_minutes"] = round((time.perf_counter() - t0) / 60, 1)
        row["command"] = "python benchmarks/train_film.py " + shlex.join(sys.argv[1:])
        print(
            json.dumps({k: row[k] for k in ("recipe", "sfew_cv", "frames_cv", "cv_minutes")}),
            flush=True,
        )
        rows.append(row)
    predictions = {row["recipe"]: row.pop("_predictions") for row in rows}
    df = pd.DataFrame(rows)
    best = df.sort_values("sfew_cv", ascending=False).iloc[0]
    summary = {
        "chosen": best["recipe"],
        "machine": f"{hardware()}, load {load():.1f}",
        "command": "python benchmarks/train_film.py " + shlex.join(sys.argv[1:]),
    }
    if args.no_ship:  # a comparison only: the shipped model's record and predictions stay
        summary = json.loads((RESULTS / "train_film.json").read_text())
    else:
        save_predictions(dev, *predictions[best["recipe"]], recipe=best["recipe"])
        recipe = RECIPES[best["recipe"]]
        faces, target = dev["sfew"]["faces"], dev["sfew"]["target"]
        t0 = time.perf_counter()
        x, y = with_replay(recipe, faces, target)
        model = fit_recipe(recipe, x, y, start=args.start)
        n_fer = len(x) - len(faces)
        minutes = (time.perf_counter() - t0) / 60
        pub_acc, pub_se = accuracy_se(public[1], model.predict(public[0]))
        metrics = {
            "trained_on": "SFEW 2.0 Train aligned faces (860)"
            + (f" and {n_fer} FER2013 Training faces" if n_fer else "")
            + ", fine-tuned from "
            + args.start,
            "recipe": best["recipe"],
            "sfew_leave_films_out_accuracy": round(float(best["sfew_cv"]) / 100, 4),
            "frames_leave_films_out_accuracy": round(float(best["frames_cv"]) / 100, 4),
            "public_test_accuracy": round(pub_acc / 100, 4),
            "train_minutes": round(minutes, 2),
        }
        model.save(WEIGHTS, metrics=metrics)
        summary.update(metrics, public_test_se=round(pub_se, 2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv = RESULTS / "train_film.csv"
    if args.append and csv.is_file():  # earlier comparisons (e.g. from another start) stay
        df = pd.concat([pd.read_csv(csv), df], ignore_index=True)
    save_table(df, csv)
    if not args.no_ship:
        (RESULTS / "train_film.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_md(df, summary)


def save_predictions(dev: dict, sfew_pred, frame_pred, *, recipe: str) -> None:
    """The chosen recipe's leave-films-out predictions, for ``film_faces.py``."""
    parts = []
    for part, pred in (("sfew", sfew_pred), ("frames", frame_pred)):
        d = dev[part]
        parts.append(
            pd.DataFrame(
                {
                    "set": part,
                    "filename": d["filename"],
                    "film": d["film"],
                    "target": d["target"],
                    "predicted": pred,
                    "recipe": recipe,
                }
            )
        )
    pd.concat(parts).to_csv(RESULTS / "train_film_predictions.csv", index=False)


def write_md(df: pd.DataFrame, summary: dict) -> None:
    show = df[["recipe", "start", "crops"]].copy()
    if "start_sha256" in df:  # which file the start name meant (rows before it: "-")
        sha = df["start_sha256"].where(df["start_sha256"].notna(), "-")
        show.insert(2, "start_sha256", sha)
    for c in ("sfew_cv", "frames_cv"):
        show[c] = with_se(df, c)
    if "sfew_cv_adabn" in df:
        show["sfew_cv, AdaBN per film"] = df["sfew_cv_adabn"].round(1)
    show["over_sad"] = df["over_sad"].round(2)
    show["recall_neutral"] = df["recall_neutral"].round(1)
    show["cv_minutes"] = df["cv_minutes"]
    recipes = "; ".join(f"`{n}`: {json.dumps(RECIPES[n])}" for n in df["recipe"])
    lines = [
        "# The `film` model: fine-tuned on SFEW 2.0 Train",
        "",
        # the run that shipped `film` (a --no-ship comparison adds rows, not the model)
        f"Command: `{summary['command']}`"
        + (
            " (the rows recorded with theirs: "
            + ", ".join(f"`{c}`" for c in dict.fromkeys(df["command"].dropna()))
            + ")"
            if "command" in df
            else ""
        )
        + ".",
        f"Machine: {summary['machine']}.",
        "",
        f"Leave-films-out cross-validation ({N_FOLDS} folds by film, `GroupKFold`): every "
        "SFEW face, and every one of the 84 frames, is predicted by a model fine-tuned "
        "without its film. Accuracy in % ± one standard error. `AdaBN per film`: the "
        'same fold models adapted (`adapt="batchnorm"`) to each held-out film\'s '
        "faces (films with fewer than 16 faces are predicted unadapted).",
        "",
        show.to_markdown(index=False),
        "",
        f"Recipes: {recipes}. Shared: batch 32, SGD (Nesterov, momentum 0.9, weight decay "
        "5e-4), cosine decay, label smoothing 0.1, flip/shift/rotation/brightness "
        "augmentation, flip+shift TTA.",
        "",
        f"Chosen: `{summary['chosen']}`."
        + (
            f" Shipped as `film`, fine-tuned on all 860 faces in {summary['train_minutes']} "
            f"min; FER2013 PublicTest {100 * summary['public_test_accuracy']:.1f} % "
            f"(± {summary['public_test_se']})."
            if "train_minutes" in summary
            else ""
        ),
        "",
    ]
    (RESULTS / "train_film.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
