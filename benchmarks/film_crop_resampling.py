"""Does the crop's resampling blur film faces? One resampling against two.

``FaceCropper()`` shrinks a large face in two steps: ``INTER_AREA`` to the crop's scale,
then a bilinear warp that rotates and places it at sub-pixel offsets, which averages
neighbouring pixels once more. Film crops come out with less than half of FER2013's
high-frequency energy (``film_adaptation.md``). ``FaceCropper(supersample=4)`` warps at
4x the crop's size and area-averages down, one resampling. A third crop,
``FaceCropper(size=192)`` brought to 48 px by ``INTER_AREA``, is the same sharper crop
placed 0.375 px higher and further left (its area average centres each pixel on the
first of four sub-pixels' middle, not on the pixel's centre): a control for how much a
sub-pixel placement alone moves the models. Each FER2013-trained shipped model is
scored on the three crops of the film development set, with the faces it gains and
loses against the default crops (a paired comparison: ``z`` is McNemar's statistic,
(gained - lost) / sqrt(gained + lost)). Nothing is trained; ``film`` (fine-tuned on the
default crops) is not scored.

Usage::

    python benchmarks/film_crop_resampling.py [--models fer2013 fer2013-large fer2013-fast]

writes ``benchmarks/results/film_crop_resampling.{md,csv}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _film_dev import (  # noqa: E402
    film_dev_set,
    high_frequency_share,
    part_scores,
    save_table,
    with_se,
)
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fer2013", "fer2013-large", "fer2013-fast"])
    args = parser.parse_args()
    t0 = time.perf_counter()
    default = film_dev_set()
    sharp = film_dev_set(supersample=4)
    large = film_dev_set(size=4 * default["sfew"]["faces"].shape[1])
    size = default["sfew"]["faces"].shape[1]
    crops = {
        "default (supersample=1)": {p: d["faces"] for p, d in default.items()},
        "supersample=4": {p: d["faces"] for p, d in sharp.items()},
        f"size={4 * size}, area to {size}": {
            p: np.stack(
                [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in d["faces"]]
            )
            for p, d in large.items()
        },
    }
    for part in default:
        assert (default[part]["filename"] == sharp[part]["filename"]).all()
        assert (default[part]["filename"] == large[part]["filename"]).all()
    rows = []
    for name in args.models:
        model = load_model(name, device="cpu")
        hits = {}
        for crop, faces in crops.items():
            row = {"model": name, "crops": crop}
            for part in ("sfew", "frames"):
                target = default[part]["target"]
                pred = model.predict(faces[part])
                row.update(part_scores(part, target, pred))
                hit = pred == target
                if crop.startswith("default"):
                    hits[part] = hit
                row[f"{part}_gained"] = int((hit & ~hits[part]).sum())
                row[f"{part}_lost"] = int((~hit & hits[part]).sum())
            changed = row["sfew_gained"] + row["sfew_lost"]
            row["sfew_z"] = (
                (row["sfew_gained"] - row["sfew_lost"]) / np.sqrt(changed) if changed else 0.0
            )
            rows.append(row)
            print(row, flush=True)
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    save_table(df, RESULTS / "film_crop_resampling.csv")
    show = df[["model", "crops"]].copy()
    show["sfew"] = with_se(df, "sfew")
    show["sfew gained / lost"] = [f"{g} / {k}" for g, k in zip(df.sfew_gained, df.sfew_lost)]
    show["z"] = df["sfew_z"].round(2)
    show["frames"] = with_se(df, "frames")
    show["frames gained / lost"] = [f"{g} / {k}" for g, k in zip(df.frames_gained, df.frames_lost)]
    show[["over_sad", "recall_neutral"]] = df[["over_sad", "recall_neutral"]]
    sharpness = ", ".join(f"{c} {high_frequency_share(crops[c]['sfew']):.3f}" for c in crops)
    command = "python benchmarks/film_crop_resampling.py " + " ".join(sys.argv[1:])
    lines = [
        "# Film crops: one resampling against two",
        "",
        f"Command: `{command.strip()}`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s.",
        "",
        "Accuracy in % ± one standard error, each model's shipped TTA. `sfew`: SFEW Train "
        "aligned faces (860), `frames`: the 84 SFEW frames, through `FaceCropper()` "
        "(`default`: area-shrink, then a bilinear warp to 48 px), `FaceCropper("
        "supersample=4)` (warp at 4x, one area average) or `FaceCropper(size=192)` and "
        "`INTER_AREA` to 48 px (the same sharper crop placed 0.375 px higher and further "
        "left). `gained / lost`: faces right on the row's crops and wrong on the default "
        "ones / the reverse; `z`: McNemar's statistic on SFEW ((gained - lost) / "
        "sqrt(gained + lost)). `over_sad`, `recall_neutral`: on SFEW. Nothing is trained.",
        "",
        show.to_markdown(index=False),
        "",
        f"Sharpness of the SFEW crops (as in `film_adaptation.md`): {sharpness}.",
        "",
    ]
    (RESULTS / "film_crop_resampling.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
