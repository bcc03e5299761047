"""Does the default detector change what the models read on film faces?

``FaceCropper()``'s detector is ``"auto"``, chosen here: the crops of the film
development set (SFEW 2.0 Train aligned faces, the 84 SFEW frames) are made with each
detector and the FER2013-trained shipped models scored on them:
faces found, accuracy with its binomial standard error, and the share of faces
predicted *sad* (the film failure mode). Alignment uses dlib's 68-point landmarks for
both (YuNet's own five points tilt film faces' eye lines, see ``tests/test_faces.py``).
The ``film`` model is trained on SFEW Train and is not scored here.

Usage::

    python benchmarks/film_detectors.py [--detectors hog+cnn yunet hog+yunet] [--models ...]

writes ``benchmarks/results/film_detectors.{md,csv}``.
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

from _film_dev import CACHE, accuracy_se, film_dev_set, with_se  # noqa: E402
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detectors", nargs="+", default=["hog+cnn", "yunet", "hog+yunet"])
    parser.add_argument("--models", nargs="+", default=["fer2013", "fer2013-fast", "fer2013-large"])
    args = parser.parse_args()
    start_load = load()
    previous = RESULTS / "film_detectors.csv"
    timed = {}  # cropping time of a cached set: as measured when it was made
    if previous.is_file():
        timed = pd.read_csv(previous).groupby("detector")["crop_seconds"].first().to_dict()
    rows = []
    for detector in args.detectors:
        cached = any(CACHE.glob(f"film_dev_{detector.replace('+', '-')}_*.npz"))
        t0 = time.perf_counter()
        dev = film_dev_set(detector=detector)
        seconds = time.perf_counter() - t0
        if cached and detector in timed:
            seconds = timed[detector]
        for name in args.models:
            model = load_model(name)
            row = {"detector": detector, "model": name, "crop_seconds": round(seconds, 1)}
            for part in ("sfew", "frames"):
                d = dev[part]
                pred = model.predict(d["faces"])
                row[f"{part}_found"] = int((~d["fallback"]).sum())
                row[f"{part}_n"] = len(d["fallback"])
                row[part], row[f"{part}_se"] = accuracy_se(d["target"], pred)
                row[f"{part}_sad_share"] = 100 * float(np.mean(pred == "sad"))
            rows.append(row)
            print(row, flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(RESULTS / "film_detectors.csv", index=False)
    show = pd.DataFrame(
        {
            "detector": df["detector"],
            "model": df["model"],
            "SFEW Train faces found": [
                f"{f}/{n}" for f, n in zip(df["sfew_found"], df["sfew_n"])
            ],
            "SFEW Train acc.": with_se(df, "sfew"),
            "SFEW Train sad share": df["sfew_sad_share"].round(1),
            "frames found": [f"{f}/{n}" for f, n in zip(df["frames_found"], df["frames_n"])],
            "frames acc.": with_se(df, "frames"),
            "crop s": df["crop_seconds"],
        }
    )
    lines = [
        "# Film faces by detector",
        "",
        "Command: `python benchmarks/film_detectors.py "
        + " ".join(["--detectors", *args.detectors, "--models", *args.models])
        + f"`. Hardware: {hardware()}; load {start_load:.1f} at start.",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        " Accuracy in % ± one binomial SE (true share of sad: 17.6 % of SFEW Train). Faces",
        " not found fall back to the whole image resized (`on_missing='full'`), as for a user.",
        " `crop s`: seconds to crop the 944 images, measured when the cached set was made",
        " (the machine was shared; the yunet set was made by a low-priority process).",
        "",
        show.to_markdown(index=False),
        "",
    ]
    (RESULTS / "film_detectors.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
