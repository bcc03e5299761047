"""Assemble docs/results.md from the committed results files in benchmarks/results/.

Every figure in docs/results.md comes from one of these files; each section names
the script (one command) that regenerates it.

Usage::

    python benchmarks/make_results_doc.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT = ROOT / "docs" / "results.md"

#: (results file, section title, regenerating command), in reading order.
SECTIONS = [
    (
        "paper_tables.md",
        "The paper's tables: FER2013, SFEW and label schemes (Tables 6 and 8)",
        "python benchmarks/paper_tables.py",
    ),
    (
        "train_fer2013.md",
        "Training the shipped model `fer2013`",
        "python benchmarks/train_shipped.py --arch skfer_cnn --epochs 18 --name fer2013",
    ),
    (
        "train_fer2013-fast.md",
        "Training the shipped model `fer2013-fast`",
        "python benchmarks/train_shipped.py --arch skfer_cnn_fast --epochs 15 --name fer2013-fast",
    ),
    ("inference_speed.md", "Inference speed", "python benchmarks/inference_speed.py"),
    ("imbalance.md", "Class imbalance (Table 7)", "python benchmarks/imbalance.py"),
    ("backbones.md", "Backbones (Table 5)", "python benchmarks/backbones.py"),
    ("detectors.md", "Face detectors on film frames", "python benchmarks/detectors.py"),
    (
        "video_throughput.md",
        "Film analysis throughput and memory",
        "python benchmarks/video_throughput.py",
    ),
]

INTRO = """# Results

All figures below were produced on this project's CI machine class (2 CPU cores, no GPU)
by the committed scripts in `benchmarks/`; each section names its command and the
results file it was copied from. Regenerate this page with
`python benchmarks/make_results_doc.py` after re-running the scripts.

Evaluation discipline: FER2013 Training is for training, PublicTest for choosing
(epochs, test-time augmentation), PrivateTest only for the reported figure. SFEW is
never trained on or tuned on: it is the cross-dataset test, as in the paper.
"""


def _demote(text: str) -> str:
    """Drop the file's own title and push its headings two levels down."""
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    lines = [re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 1) + " ", ln) for ln in lines]
    return "\n".join(lines).strip()


def _targets() -> str:
    """The issue tracker's targets beside what the results files say was reached."""
    import pandas as pd

    paper = RESULTS / "paper_tables.csv"
    speed = RESULTS / "inference_speed.csv"
    if not (paper.is_file() and speed.is_file()):
        return ""
    acc = pd.read_csv(paper).groupby(["model", "dataset", "scheme"])["accuracy"].first() * 100
    fps = pd.read_csv(speed).groupby("model")["faces_per_s"].max()

    def a(model, dataset, scheme="ekman7"):
        return acc.get((model, dataset, scheme), float("nan"))

    m = "fer2013"
    rows = [
        ("FER2013 PrivateTest, 7 classes", ">= 68 (aim 72)", a(m, "FER2013 PrivateTest")),
        ("SFEW Train aligned, 7 classes", ">= 50", a(m, "SFEW aligned (FaceCropper)")),
        ("Clusters, FER2013 PrivateTest", ">= 85", a(m, "FER2013 PrivateTest", "clusters")),
        ("Clusters, SFEW aligned", ">= 64", a(m, "SFEW aligned (FaceCropper)", "clusters")),
        ("Top-4, FER2013 PrivateTest", ">= 83", a(m, "FER2013 PrivateTest", "top4")),
        ("Top-4, SFEW aligned", ">= 47", a(m, "SFEW aligned (FaceCropper)", "top4")),
        ("SFEW full frames, top emotion right", ">= 50", a(m, "SFEW frames (FaceCropper)")),
    ]
    lines = [
        "## Targets at a glance (`fer2013` model, %)",
        "",
        "| target | wanted | reached | met |",
        "|---|---|---|---|",
    ]
    for name, wanted, got in rows:
        bound = float(wanted.split()[1])
        lines.append(f"| {name} | {wanted} | {got:.1f} | {'yes' if got >= bound else 'no'} |")
    fast = fps.get("fer2013-fast", float("nan"))
    lines.append(
        f"| Inference, aligned 48x48 faces/s on 2 cores (`fer2013-fast`) | >= 3000 | {fast:.0f} "
        f"| {'yes' if fast >= 3000 else 'no'} |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parts = [INTRO, _targets()]
    for name, title, command in SECTIONS:
        path = RESULTS / name
        parts.append(f"## {title}\n")
        parts.append(f"Regenerate: `{command}` (writes `benchmarks/results/{name}`).\n")
        if path.is_file():
            body = _demote(path.read_text())
            # images referenced relative to the results folder
            body = re.sub(r"\]\((?!http)([^)]+\.png)\)", r"](../benchmarks/results/\1)", body)
            parts.append(body + "\n")
        else:
            parts.append("_Not run yet._\n")
    OUT.write_text("\n".join(parts))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
