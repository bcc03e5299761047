"""Figures of a timeline (matplotlib ``Figure`` objects on the Agg canvas; pyplot untouched)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._classify import PROBA_PREFIX, proba_columns
from ._profile import _duration, _step, timeline_labels

__all__ = ["annotate_image", "label_colors", "plot_timeline", "plot_tracks"]

# one colour per label, the same in every figure
_COLORS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#ffbf00",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
    "neutral": "#9e9e9e",
    "contempt": "#17becf",
    "positive": "#ffbf00",
    "negative": "#1f77b4",
}
_FALLBACK = ["#2ca02c", "#e377c2", "#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a"]


def label_colors(labels) -> dict:
    """A colour per label: fixed ones for emotions and clusters, a cycle for others.

    Examples
    --------
    >>> label_colors(["happy", "mystery"])
    {'happy': '#ffbf00', 'mystery': '#2ca02c'}
    """
    out, k = {}, 0
    for label in labels:
        key = str(label).lower()
        if key in _COLORS:
            out[label] = _COLORS[key]
        else:
            out[label] = _FALLBACK[k % len(_FALLBACK)]
            k += 1
    return out


def _time_axis(ax, duration: float) -> None:
    from matplotlib.ticker import FuncFormatter

    if duration >= 120:
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda t, _: f"{int(t // 60)}:{int(t % 60):02d}")
        )
        ax.set_xlabel("time (min:s)")
    else:
        ax.set_xlabel("time (s)")
    ax.set_xlim(0, max(duration, 1e-6))


def _save(fig, path) -> Path:
    path = Path(os.fspath(path)).expanduser()
    if path.parent and not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save the figure: folder {str(path.parent)!r} does not exist."
        )
    fig.savefig(path, dpi=110)
    return path


def plot_timeline(timeline, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Save the emotion timeline of a film as a PNG: stacked probabilities over time.

    Top panel: at each sampled time, the probabilities of the labels averaged over the
    faces on screen, stacked (blank where no face is seen). Bottom panel: the mean
    valence and arousal of those faces.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it (or read back from its CSV).
    path : path-like
        Where to write the figure (the format follows the suffix; ``.png`` usually).
    title : str, optional
        Default: the video's file name, when the timeline records it.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 1.0], "track": [0, 0, 0], "p_happy": [0.9, 0.6, 0.2],
    ...     "p_sad": [0.1, 0.4, 0.8], "label": ["happy", "happy", "sad"],
    ...     "valence": [0.7, 0.2, -0.6], "arousal": [0.4, 0.1, -0.3]})
    >>> plot_timeline(timeline, os.path.join(tempfile.mkdtemp(), "timeline.png")).name
    'timeline.png'
    """
    from matplotlib.figure import Figure

    labels = timeline_labels(timeline)
    step = _step(timeline)
    duration = _duration(timeline, step)
    colors = label_colors(labels)
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    if len(timeline):
        columns = [*proba_columns(labels), "valence", "arousal"]
        per_time = timeline.groupby("time")[columns].mean()
        times = per_time.index.to_numpy(dtype=float)
        if step > 0:
            # a regular grid, so that stretches without faces show as gaps
            grid = np.arange(0.0, max(duration, times.max() + step) + 1e-9, step)
            slot = np.rint(times / step).astype(int)
            full = np.full((len(grid), len(per_time.columns)), np.nan)
            keep = slot < len(grid)
            full[slot[keep]] = per_time.to_numpy()[keep]
            times, values = grid, full
        else:
            values = per_time.to_numpy()
        proba = np.nan_to_num(values[:, : len(labels)]).T
        top.stackplot(
            times,
            proba,
            labels=[str(label) for label in labels],
            colors=[colors[label] for label in labels],
            step="post" if step > 0 else None,
            linewidth=0,
        )
        bottom.plot(times, values[:, -2], color="#2ca02c", label="valence", drawstyle="steps-post")
        bottom.plot(times, values[:, -1], color="#d62728", label="arousal", drawstyle="steps-post")
        handles, names = top.get_legend_handles_labels()
        top.legend(  # in stacking order, top first
            handles[::-1],
            names[::-1],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
        )
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    else:
        top.text(0.5, 0.5, "no faces found", ha="center", va="center", transform=top.transAxes)
    top.set_ylim(0, 1)
    top.set_ylabel("mean probability")
    bottom.set_ylim(-1, 1)
    bottom.axhline(0, color="black", linewidth=0.5)
    bottom.set_ylabel("valence /\narousal")
    _time_axis(bottom, duration)
    source = timeline.attrs.get("source")
    top.set_title(
        title or (f"Emotion timeline: {os.path.basename(source)}" if source else "Emotion timeline")
    )
    return _save(fig, path)


def plot_tracks(
    timeline, path: str | os.PathLike, *, max_tracks: int = 20, title: str | None = None
) -> Path:
    """Save one horizontal strip per face track, coloured by its label at each sample.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it.
    path : path-like
        Where to write the figure.
    max_tracks : int, default=20
        Show the tracks with the most screen time, at most this many.
    title : str, optional

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 0.5], "track": [0, 0, 1], "p_happy": [0.9, 0.6, 0.2],
    ...     "p_sad": [0.1, 0.4, 0.8], "label": ["happy", "happy", "sad"],
    ...     "valence": [0.7, 0.2, -0.6], "arousal": [0.4, 0.1, -0.3]})
    >>> plot_tracks(timeline, os.path.join(tempfile.mkdtemp(), "tracks.png")).name
    'tracks.png'
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if isinstance(max_tracks, bool) or not isinstance(max_tracks, int) or max_tracks < 1:
        raise ValueError(f"max_tracks must be a positive integer, got {max_tracks!r}.")
    labels = timeline_labels(timeline)
    step = _step(timeline)
    duration = _duration(timeline, step)
    colors = label_colors(labels)
    counts = timeline["track"].value_counts(sort=False)
    first = timeline.groupby("track")["time"].min()
    order = sorted(counts.index, key=lambda t: (-counts[t], first[t]))[:max_tracks]
    height = 1.2 + 0.35 * max(len(order), 1)
    fig = Figure(figsize=(12, height), layout="constrained")
    ax = fig.subplots()
    width = step if step > 0 else max(duration / 200, 1e-3)
    for row, track in enumerate(order):
        part = timeline[timeline["track"] == track]
        for label in labels:
            times = part.loc[part["label"] == label, "time"].to_numpy(dtype=float)
            if len(times):
                ax.broken_barh(
                    [(t, width) for t in times], (row - 0.4, 0.8), facecolors=colors[label]
                )
    ax.set_yticks(range(len(order)), [f"track {t}" for t in order])
    ax.set_ylim(len(order) - 0.5 if order else 0.5, -0.5)
    if not order:
        ax.text(0.5, 0.5, "no faces found", ha="center", va="center", transform=ax.transAxes)
    handles = [Patch(color=colors[label], label=str(label)) for label in labels]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
    )
    _time_axis(ax, duration)
    shown = f" (top {len(order)} of {len(counts)})" if len(counts) > len(order) else ""
    ax.set_title(title or f"Face tracks{shown}: label at each sample")
    return _save(fig, path)


def annotate_image(image, faces) -> np.ndarray:
    """Draw each face's box and label (with its probability) on a copy of an image.

    Parameters
    ----------
    image : array-like
        RGB or gray image (anything :func:`skfer.check_image` accepts).
    faces : pandas.DataFrame
        Rows of :func:`analyze_images` (or :func:`analyze_video`) for this image:
        ``x, y, w, h``, ``label`` and the probability columns.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8 RGB

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> faces = pd.DataFrame({"x": [10.0], "y": [10.0], "w": [40.0], "h": [40.0],
    ...                       "p_happy": [0.8], "p_sad": [0.2], "label": ["happy"]})
    >>> annotate_image(np.zeros((100, 100), np.uint8), faces).shape
    (100, 100, 3)
    """
    import cv2

    from .._images import check_image, to_rgb

    out = to_rgb(check_image(image)).copy()
    # rows of images without a face (analyze_images' face_found=False) have no box to draw
    faces = faces[faces["label"].notna() & np.isfinite(faces[["x", "y", "w", "h"]]).all(axis=1)]
    thickness = max(1, round(max(out.shape[:2]) / 400))
    scale = max(0.4, max(out.shape[:2]) / 1200)
    colors = label_colors(faces["label"].unique()) if len(faces) else {}
    for _, face in faces.iterrows():
        x, y, w, h = (int(round(face[c])) for c in ("x", "y", "w", "h"))
        label = face["label"]
        hexcolor = colors[label].lstrip("#")
        color = tuple(int(hexcolor[i : i + 2], 16) for i in (0, 2, 4))
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thickness + 1)
        p = face.get(f"{PROBA_PREFIX}{label}")
        text = f"{label} {p:.0%}" if isinstance(p, (int, float, np.floating)) else str(label)
        if not bool(face.get("face_found", True)):
            text += " (no face)"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + base + 4), color, -1)
        cv2.putText(
            out,
            text,
            (x + 2, top + th + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    return out
