"""What ``skfer predict`` and ``skfer demo`` read, print and write: the input images
(files, folders, glob patterns), the faces table (printed, CSV, JSON), annotated images
and their file names (never one over another)."""

from __future__ import annotations

import os
from pathlib import Path

from ._cli_options import CommandError

__all__ = [
    "annotated_targets",
    "display_names",
    "expand_inputs",
    "print_faces",
    "save_annotated",
    "write_tables",
]

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


def expand_inputs(items: list[str], *, recursive: bool = False) -> list[Path]:
    """The image files named by ``skfer predict``'s arguments: a file as it is, a folder's
    image files (sorted; with ``recursive``, its subfolders' too), a glob pattern's
    matches (sorted; expanded here too, for shells that pass it on unexpanded)."""
    import glob

    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            images = sorted(p for p in found if p.is_file() and _is_image(p))
            if not images:
                raise CommandError(
                    f"no image files ({', '.join(_IMAGE_SUFFIXES)}) in folder {item!r}"
                    + ("" if recursive else " (--recursive searches its subfolders)")
                )
            paths.extend(images)
        elif path.is_file() or not glob.has_magic(item):
            paths.append(path)  # a missing file: read_image names it
        else:
            matches = sorted(Path(m) for m in glob.glob(item, recursive=recursive))
            matches = [m for m in matches if m.is_file() and _is_image(m)]
            if not matches:
                raise CommandError(f"no image files match {item!r}")
            paths.extend(matches)
    return paths


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in _IMAGE_SUFFIXES and not path.name.startswith(".")


def write_tables(table, paths: list[Path], *, csv=None, json=None) -> list[Path]:
    """``skfer predict --csv/--json``: the faces table with each image's path, every
    column kept (NaN: empty in CSV, null in JSON); returns the files written."""
    out = table.copy()
    out.insert(0, "path", [str(paths[int(i)]) for i in out["image"]])
    written = []
    if csv:
        Path(csv).parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(csv, index=False)
        written.append(Path(csv))
    if json:
        Path(json).parent.mkdir(parents=True, exist_ok=True)
        out.to_json(json, orient="records", indent=1)
        written.append(Path(json))
    return written


def crop_counted(images, detector, *, desc: str, enabled: bool | None = None, chunk: int = 32):
    """``FaceCropper(detector=...).fit_transform(images)``, ``chunk`` images at a time,
    with a progress bar (:func:`skfer._progress.progress_bar`) over the images.

    Parameters
    ----------
    images : sequence of images
    detector : str or None
        ``--detector`` (None: FaceCropper's default).
    desc : str
        The bar's label.
    enabled : bool or None, default=None
        The bar's rule (:func:`skfer._progress.progress_enabled`).
    chunk : int, default=32
        Images cropped per update.

    Returns
    -------
    crops : numpy.ndarray
        One face per image, as :class:`skfer.FaceCropper` returns them.
    cropper : skfer.FaceCropper
        The fitted cropper (its detector and framing go into ``run.json``).
    """
    import numpy as np

    from ._cli_options import given
    from ._progress import progress_bar
    from .faces import FaceCropper

    cropper = FaceCropper(**given(detector=detector)).fit()
    parts = []
    with progress_bar(len(images), desc=desc, unit="image", enabled=enabled) as bar:
        for start in range(0, len(images), chunk):
            parts.append(cropper.transform(images[start : start + chunk]))
            bar.update(len(parts[-1]))
    if not parts:
        return cropper.transform(images), cropper
    return np.concatenate(parts), cropper
