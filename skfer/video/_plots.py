"""Figures of a timeline: matplotlib ``Figure`` objects on the Agg canvas, pyplot untouched.

Every plot takes the timeline, an optional ``path`` and a keyword-only ``ax``: it
draws into ``ax`` (a caller's Axes) or into a new figure, returns the figure, and
writes it only when ``path`` is given. Shot cuts are drawn as thin vertical lines.
"""

from __future__ import annotations

import math
import os
from numbers import Real
from pathlib import Path

import numpy as np

from ._classify import PROBA_PREFIX, proba_columns
from ._profile import _duration, _step, timeline_labels

__all__ = ["annotate_image", "label_colors", "plot_timeline"]

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
_SHOT_COLOR = "#333333"
_DPI = 110  # of the written files


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


# ----------------------------------------------------------------- shared helpers


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on) of a time in seconds.

    Examples
    --------
    >>> clock(75.4), clock(3725)
    ('1:15', '1:02:05')
    """
    total = int(round(float(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _time_axis(ax, duration: float) -> None:
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    if duration >= 120:
        # ticks at round minutes, 12 at most
        nice = (30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200)
        step = next((s for s in nice if duration / s <= 12), nice[-1])
        ax.xaxis.set_major_locator(MultipleLocator(step))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: clock(t)))
        ax.set_xlabel("time (h:min:s)" if duration >= 3600 else "time (min:s)")
    else:
        ax.set_xlabel("time (s)")
    ax.set_xlim(0, max(duration, 1e-6))


def _screen_text(seconds: float) -> str:
    """A screen time for a lane label: ``12.5 s``, ``2:05``."""
    return f"{seconds:.3g} s" if seconds < 60 else clock(seconds)


def _save(fig, path) -> Path:
    path = Path(os.fspath(path)).expanduser()
    if path.parent and not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save the figure: folder {str(path.parent)!r} does not exist."
        )
    fig.savefig(path, dpi=_DPI)
    return path


def _finish(fig, path):
    if path is not None:
        _save(fig, path)
    return fig


def _root_figure(ax):
    try:
        return ax.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:
        return ax.figure.figure  # a SubFigure's .figure is its root Figure


def _canvas(ax, figsize):
    """``(figure, axes)``: a new Figure with one Axes, or the caller's ``ax``."""
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.subplots()
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}.")
    return _root_figure(ax), ax


def _title(timeline, what: str) -> str:
    source = timeline.attrs.get("source")
    return f"{what}: {os.path.basename(str(source))}" if source else what


def shot_starts(timeline) -> np.ndarray:
    """Times (s) of the shot cuts: the start of every shot but the first.

    From ``timeline.attrs["shots"]`` (as :func:`analyze_video` records it), else the
    first sampled face of each shot after shot 0 in the ``shot`` column (a timeline
    read back from CSV); empty without either.

    Examples
    --------
    >>> import pandas as pd
    >>> timeline = pd.DataFrame({"time": [0.0, 0.5, 2.0], "shot": [0, 0, 1]})
    >>> shot_starts(timeline).tolist()
    [2.0]
    >>> timeline.attrs["shots"] = [0.0, 1.5]
    >>> shot_starts(timeline).tolist()
    [1.5]
    """
    shots = timeline.attrs.get("shots")
    if shots is not None and len(shots):
        starts = np.sort(np.asarray(shots, dtype=float))[1:]
    elif "shot" in timeline.columns and len(timeline):
        first = timeline.groupby("shot")["time"].min()
        starts = first[first.index != first.index.min()].to_numpy(dtype=float)
        if first.index.min() != 0:  # shot 0 had no face: its successor's start is a cut
            starts = first.to_numpy(dtype=float)
    else:
        return np.empty(0)
    return np.unique(starts[np.isfinite(starts)])


#: Beyond this many cuts, full-height lines would hide the plot: ticks at the top instead.
_DENSE_SHOTS = 150


def _draw_shots(ax, timeline, shots: bool) -> list:
    """Thin lines at the shot cuts (short ticks at the top when dense); returns a
    legend handle (or nothing)."""
    starts = shot_starts(timeline) if shots else np.empty(0)
    if not len(starts):
        return []
    from matplotlib.lines import Line2D

    dense = len(starts) > _DENSE_SHOTS
    width = 0.8 if len(starts) <= 60 else 0.4
    # dense: ticks about 6 points long, whatever the axes' height
    height = ax.get_position().height * _root_figure(ax).get_figheight() * 72
    ax.vlines(
        starts,
        1.0 - min(0.04, 6 / max(height, 1.0)) if dense else 0.0,
        1.0,
        transform=ax.get_xaxis_transform(),
        colors=_SHOT_COLOR,
        linewidth=width,
        alpha=0.8 if dense else 0.6,
        zorder=3,
    )
    label = f"shot cut ({len(starts)}{', ticks at top' if dense else ''})"
    return [Line2D([], [], color=_SHOT_COLOR, linewidth=width, label=label)]


def _legend(ax, handles) -> None:
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
    )


def _on_grid(per_time, step: float, duration: float):
    """Per-time means on the regular sampling grid: rows without faces are NaN (gaps)."""
    times = per_time.index.to_numpy(dtype=float)
    if step <= 0:
        return times, per_time.to_numpy(dtype=float)
    grid = np.arange(0.0, max(duration, times.max() + step) + 1e-9, step)
    slot = np.rint(times / step).astype(int)
    full = np.full((len(grid), per_time.shape[1]), np.nan)
    keep = slot < len(grid)
    full[slot[keep]] = per_time.to_numpy(dtype=float)[keep]
    return grid, full


def _smooth_seconds(smooth, step: float, duration: float) -> float:
    if smooth is None:
        return 0.0
    if isinstance(smooth, str):
        if smooth != "auto":
            raise ValueError(f"smooth must be 'auto', a number of seconds or None, got {smooth!r}.")
        return max(4 * step, duration / 100) if step > 0 else 0.0
    if isinstance(smooth, bool) or not isinstance(smooth, Real) or not smooth >= 0:
        raise ValueError(
            f"smooth must be 'auto', a number of seconds >= 0 or None, got {smooth!r}."
        )
    if not math.isfinite(smooth):
        raise ValueError(f"smooth must be a finite number of seconds, got {smooth!r}.")
    return float(smooth)


def _rolling_mean(values: np.ndarray, step: float, seconds: float) -> np.ndarray:
    """Centred rolling mean over ``seconds`` of the faces seen; gaps stay gaps."""
    n = int(round(seconds / step)) if step > 0 else 0
    if n < 2:
        return values
    import pandas as pd

    n += 1 - n % 2  # odd, so that the window is centred on its sample
    out = pd.DataFrame(values).rolling(n, center=True, min_periods=1).mean().to_numpy(copy=True)
    out[np.isnan(values).all(axis=1)] = np.nan
    return out


def plot_timeline(
    timeline,
    path: str | os.PathLike | None = None,
    *,
    ax=None,
    smooth: float | str | None = "auto",
    shots: bool = True,
    title: str | None = None,
):
    """The emotion timeline of a film: stacked mean probabilities over time.

    Top panel: at each sampled time, the probabilities of the labels averaged over the
    faces on screen, smoothed by a centred rolling mean, stacked; blank where no face
    is on screen. Bottom panel: the mean valence and arousal of those faces, smoothed
    alike. Thin vertical lines mark the shot cuts.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it (or read back from its CSV).
    path : path-like, optional
        Where to write the figure (the format follows the suffix; ``.png`` usually;
        with ``ax``, the whole figure it belongs to). Nothing is written without it.
    ax : matplotlib.axes.Axes, optional
        Draw the probability panel into this Axes (of the caller's figure); the
        valence/arousal panel is then omitted. Default: a new figure with both panels.
    smooth : "auto", float or None, default="auto"
        Length in seconds of the centred rolling mean over the sampled times (it
        averages the faces seen within the window, so gaps shorter than the window
        do not dilute it; sampled times with no face stay blank). ``"auto"``: four
        sampling steps or 1 % of the film, whichever is longer (2 s for a 60 s clip
        sampled every 0.5 s, 72 s for a two-hour film). ``0`` or None: the raw
        per-sample means.
    shots : bool, default=True
        Draw the shot cuts (:func:`shot_starts`): full-height lines, or short ticks
        along the top edge for more than 150 cuts (a feature film).
    title : str, optional
        Default: "Emotion timeline" and the video's file name, when recorded.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the root figure of ``ax``.

    See Also
    --------
    plot_persons : the same per person, one lane each.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from matplotlib.figure import Figure
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 1.0], "track": [0, 0, 0], "shot": [0, 0, 1],
    ...     "p_happy": [0.9, 0.6, 0.2], "p_sad": [0.1, 0.4, 0.8],
    ...     "label": ["happy", "happy", "sad"],
    ...     "valence": [0.7, 0.2, -0.6], "arousal": [0.4, 0.1, -0.3]})
    >>> fig = plot_timeline(timeline, os.path.join(tempfile.mkdtemp(), "timeline.png"))
    >>> len(fig.axes)
    2

    Into a caller's figure, next to another plot, writing nothing:

    >>> fig = Figure(figsize=(12, 3))
    >>> left, right = fig.subplots(1, 2)
    >>> plot_timeline(timeline, ax=right, smooth=None) is fig
    True
    """
    labels = timeline_labels(timeline)
    step = _step(timeline)
    duration = _duration(timeline, step)
    seconds = _smooth_seconds(smooth, step, duration)
    colors = label_colors(labels)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 5.5), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    else:
        fig, top = _canvas(ax, None)
        bottom = None
    smoothed = seconds > 0 and step > 0 and int(round(seconds / step)) >= 2
    if len(timeline):
        columns = [*proba_columns(labels), "valence", "arousal"]
        per_time = timeline.groupby("time")[columns].mean()
        times, values = _on_grid(per_time, step, duration)
        if smoothed:
            values = _rolling_mean(values, step, seconds)
        proba = np.nan_to_num(values[:, : len(labels)]).T
        top.stackplot(
            times,
            proba,
            labels=[str(label) for label in labels],
            colors=[colors[label] for label in labels],
            step="post" if step > 0 else None,
            linewidth=0,
        )
        handles, _ = top.get_legend_handles_labels()
        handles = handles[::-1]  # in stacking order, top first
        if bottom is not None:
            bottom.plot(
                times, values[:, -2], color="#2ca02c", label="valence", drawstyle="steps-post"
            )
            bottom.plot(
                times, values[:, -1], color="#d62728", label="arousal", drawstyle="steps-post"
            )
            bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    else:
        handles = []
        top.text(0.5, 0.5, "no faces found", ha="center", va="center", transform=top.transAxes)
    handles += _draw_shots(top, timeline, shots)
    if handles:
        _legend(top, handles)
    top.set_ylim(0, 1)
    top.set_ylabel(
        f"mean probability\n({seconds:g} s rolling mean)" if smoothed else "mean probability"
    )
    if bottom is not None:
        bottom.set_ylim(-1, 1)
        bottom.axhline(0, color="black", linewidth=0.5)
        bottom.set_ylabel("valence /\narousal")
        _draw_shots(bottom, timeline, shots)
        _time_axis(bottom, duration)
    else:
        _time_axis(top, duration)
    top.set_title(title or _title(timeline, "Emotion timeline"))
    return _finish(fig, path)


# ----------------------------------------------------------------- lanes


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
