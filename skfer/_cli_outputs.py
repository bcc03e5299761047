"""What ``skfer predict`` and ``skfer demo`` print and write: the faces table, annotated
images and their file names (never one over another)."""

from __future__ import annotations

import os
from pathlib import Path

from ._cli_options import CommandError

__all__ = ["annotated_targets", "display_names", "print_faces", "save_annotated"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _faces_table(table, names):
    """The columns worth printing: where, what, how sure, valence/arousal."""
    import pandas as pd

    from .video._classify import PROBA_PREFIX

    if "face_found" in table:  # images without a face have no emotion (unless --on-missing)
        table = table[table["label"].notna()]
    if table.empty:
        return pd.DataFrame(columns=["image", "face", "box", "label", "p", "valence", "arousal"])
    rows = []
    for _, r in table.iterrows():
        rows.append(
            {
                "image": names[int(r["image"])],
                "face": int(r["face"]) if r.get("face_found", True) else "-",
                "box": f"{r['x']:.0f},{r['y']:.0f},{r['w']:.0f}x{r['h']:.0f}",
                "label": r["label"],
                "p": f"{r[PROBA_PREFIX + r['label']]:.2f}",
                "valence": f"{r['valence']:+.2f}",
                "arousal": f"{r['arousal']:+.2f}",
            }
        )
    return pd.DataFrame(rows)


def print_faces(table, names, n_images):
    shown = _faces_table(table, names)
    if not shown.empty:
        print(shown.to_string(index=False))
    found = table["face_found"] if "face_found" in table else True
    found = set(table.loc[found, "image"].astype(int))
    whole = set(table.loc[table["label"].notna(), "image"].astype(int)) - found
    for i in range(n_images):
        if i not in found:
            also = "; the whole image was classified (face '-' above)" if i in whole else ""
            print(f"{names[i]}: no face found{also}")


def save_annotated(images, table, paths):
    import cv2

    from .video import annotate_image

    written = []
    for i, (image, path) in enumerate(zip(images, paths)):
        annotated = annotate_image(image, table[table["image"] == i])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR)):
            raise CommandError(f"cannot write image {str(path)!r} (unknown suffix?)")
        written.append(path)
    return written


def display_names(paths: list[Path]) -> list[str]:
    """File names, or the paths as given where two files share a name."""
    counts: dict = {}
    for p in paths:
        counts[p.name] = counts.get(p.name, 0) + 1
    return [p.name if counts[p.name] == 1 else str(p) for p in paths]


def annotated_targets(paths: list[Path], out: Path) -> list[Path]:
    """Where ``predict --out`` writes each image: ``out`` itself for one image and an
    image suffix, else ``out/<stem>_annotated.png`` with ``-1``, ``-2``... added to a
    stem already used in this run (``a/x.png b/x.jpg`` -> ``x_annotated.png``,
    ``x-1_annotated.png``), so no output replaces another, nor an input image."""
    if len(paths) == 1 and out.suffix.lower() in _IMAGE_SUFFIXES:
        targets = [out]
    else:
        targets, used = [], set()
        for p in paths:
            stem, k = p.stem, 0
            # case-insensitive: one file on macOS and Windows file systems
            while (name := f"{stem}{f'-{k}' if k else ''}_annotated.png").lower() in used:
                k += 1
            used.add(name.lower())
            targets.append(out / name)
    inputs = {os.path.normcase(os.path.abspath(p)) for p in paths}
    for target in targets:
        if os.path.normcase(os.path.abspath(target)) in inputs:
            raise CommandError(
                f"--out {str(out)!r} would overwrite the input image {str(target)!r}; "
                "choose another output."
            )
    return targets


# ------------------------------------------------------------------- commands
