"""Is a FER2013-trained model mis-calibrated to film's class shares?

A per-class offset added to the model's log-probabilities (seven numbers, fitted by
maximum likelihood on labelled film faces) is the most a fixed recalibration can do for
a model whose errors come from its decision thresholds rather than from the faces it
reads. It is fitted leave-films-out (``GroupKFold`` by film, ``--folds``): every SFEW
Train face is predicted with an offset fitted on other films only, so the figure says
what the offset would bring to a film it has not seen. The offset fitted on all of SFEW
Train is also applied to the 84 frames (other crops of some of the same films, so that
row is optimistic). Nothing is shipped from here: it measures.

Usage::

    python benchmarks/film_logit_offset.py [--model fer2013] [--folds 5]

writes ``benchmarks/results/film_logit_offset.{md,csv}``.
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
    film_dev_set,
    fit_bcts,
    part_scores,
    with_se,
)
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fer2013")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    from sklearn.model_selection import GroupKFold

    t0 = time.perf_counter()
    dev = film_dev_set()
    model = load_model(args.model, device="cpu")
    classes = np.asarray(model.classes_)
    index = {c: i for i, c in enumerate(classes)}
    parts = {}
    for part in ("sfew", "frames"):
        proba = model.predict_proba(dev[part]["faces"])
        y = np.array([index[t] for t in dev[part]["target"]])
        parts[part] = (np.log(np.clip(proba, 1e-12, 1.0)), y)
    log_p, y = parts["sfew"]
    held_out = np.empty_like(y)
    for train, test in GroupKFold(args.folds).split(log_p, y, dev["sfew"]["film"]):
        _, fold_offset = fit_bcts(log_p[train], y[train], temperature=False)
        held_out[test] = (log_p[test] + fold_offset).argmax(1)
    _, offset = fit_bcts(log_p, y, temperature=False)
    offset -= offset[0]  # shown against the first class: a common shift changes nothing
    frames_p, frames_y = parts["frames"]
    rows = []
    for name, sfew_pred, frames_pred in (
        ("none", log_p.argmax(1), frames_p.argmax(1)),
        ("offset, leave-films-out", held_out, None),
        ("offset fitted on all SFEW Train", None, (frames_p + offset).argmax(1)),
    ):
        row = {"model": args.model, "offset": name}
        if sfew_pred is not None:
            row.update(part_scores("sfew", classes[y], classes[sfew_pred]))
        if frames_pred is not None:
            row.update(part_scores("frames", frames_y, frames_pred))
        rows.append(row)
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "film_logit_offset.csv", index=False)
    show = df[["model", "offset"]].copy()
    for c in ("sfew", "frames"):
        show[c] = with_se(df, c)
    show["over_sad"] = df["over_sad"].fillna("-")
    show["recall_neutral"] = df["recall_neutral"].fillna("-")
    command = "python benchmarks/film_logit_offset.py " + " ".join(sys.argv[1:])
    lines = [
        "# A per-class logit offset for film, scored leave-films-out",
        "",
        f"Command: `{command.strip()}`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s.",
        "",
        "Accuracy in % ± one standard error, the model's shipped TTA. `sfew`: SFEW Train "
        f"aligned faces through `FaceCropper()`, each predicted with an offset fitted on "
        f"the other films ({args.folds} folds by film); `frames`: the 84 SFEW frames with "
        "the offset fitted on all of SFEW Train (optimistic: the frames share films with "
        "it). `over_sad`: predicted / true share of sad on SFEW.",
        "",
        show.to_markdown(index=False),
        "",
        "Offset fitted on all of SFEW Train (added to the log-probabilities): "
        + ", ".join(f"{c} {b:+.2f}" for c, b in zip(classes, offset))
        + ".",
        "",
    ]
    (RESULTS / "film_logit_offset.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
