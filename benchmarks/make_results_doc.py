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


def main() -> None:
    parts = [INTRO]
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
