"""Lane figures of a timeline: one lane per person or track over the whole film
(:func:`plot_tracks`, labels at each sample; :func:`plot_persons`, probability strips).

Lanes beyond ``max_rows`` share one "other (k)" lane, so the whole film is always drawn.
"""

from __future__ import annotations

import math
import os
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from ._classify import proba_columns
from ._plots import (
    _canvas,
    _draw_shots,
    _finish,
    _legend,
    _screen_text,
    _time_axis,
    _title,
    label_colors,
)
from ._profile import _duration, _step, timeline_labels

__all__ = ["plot_persons", "plot_tracks"]

_MAX_COLUMNS = 1200  # time columns of a probability strip (plot_persons)


def _check_rows(max_rows) -> int:
    if isinstance(max_rows, bool) or not isinstance(max_rows, Integral) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}.")
    return int(max_rows)


def _id_text(value) -> str:
    if isinstance(value, Real) and not isinstance(value, bool) and float(value).is_integer():
        return str(int(value))
    return str(value)


class _Lanes(NamedTuple):
    by: str  # "person" or "track"
    ids: list  # the ids with a lane of their own, most screen time first
    n_ids: int  # all ids
    lane: object  # Series: each timeline row's lane (len(ids): "other"; NaN: none)
    names: list  # the lanes' labels


def _lanes(timeline, max_rows: int) -> _Lanes:
    """The rows of a lane plot: persons when the timeline has them, else tracks.

    The ids with the most screen time get a lane each; the rest (past ``max_rows - 1``)
    and the rows without a person id share a last lane, "other (k)" ("no person" for
    the latter).
    """
    by = "person" if "person" in timeline.columns else "track"
    key = timeline[by]
    screen = timeline.groupby(by)["time"].nunique()
    first = timeline.groupby(by)["time"].min()
    order = sorted(screen.index, key=lambda k: (-screen[k], first[k]))
    unassigned = bool(key.isna().any())
    ids = order if len(order) + unassigned <= max_rows else order[: max_rows - 1]
    lane = key.map({k: i for i, k in enumerate(ids)})
    names = [f"{by} {_id_text(k)}" for k in ids]
    rest = len(order) - len(ids)
    if rest or unassigned:
        lane = lane.fillna(len(ids))
        parts = ([f"other ({rest})"] if rest else []) + ([f"no {by}"] if unassigned else [])
        names.append(" + ".join(parts))
    return _Lanes(by, ids, len(order), lane, names)


def _lane_title(by: str, ids, n_ids: int) -> str:
    plural = f"{n_ids} {by}{'s' if n_ids != 1 else ''}"
    if n_ids > len(ids):
        return f"{plural}, {len(ids)} shown, {n_ids - len(ids)} in 'other'"
    return plural


def _thumbnail(thumbnails, key):
    image = thumbnails.get(key)
    if image is None:
        image = thumbnails.get(_id_text(key))
    if image is None and isinstance(key, Real) and float(key).is_integer():
        image = thumbnails.get(int(key))
    if isinstance(image, (list, tuple)):
        image = image[0] if image else None
    if image is None:
        return None
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"thumbnails[{key!r}] must be an RGB uint8 image of shape (H, W, 3), got "
            f"{image.dtype} of shape {image.shape}."
        )
    return image


def _draw_thumbnails(ax, fig, thumbnails, ids, n_lanes: int) -> None:
    """Each shown id's face left of its row label, about the lane's height."""
    if not thumbnails or not ids:
        return
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    # lane height in points, from the axes' current place (before the layout's tweaks)
    lane_pts = ax.get_position().height * fig.get_figheight() * 72 / max(n_lanes, 1)
    widest = 0.0
    for row, key in enumerate(ids):
        image = _thumbnail(thumbnails, key)
        if image is None:
            continue
        zoom = 0.9 * lane_pts / image.shape[0]  # OffsetImage: one image pixel = zoom points
        widest = max(widest, image.shape[1] * zoom)
        box = AnnotationBbox(
            OffsetImage(image, zoom=zoom),
            (0, row),
            xycoords=("axes fraction", "data"),
            xybox=(-3, 0),
            boxcoords="offset points",
            box_alignment=(1, 0.5),
            frameon=False,
            annotation_clip=False,
            pad=0,
        )
        ax.add_artist(box)
    if widest:
        ax.tick_params(axis="y", length=0, pad=widest + 6)


# ----------------------------------------------------------------- timeline


def _runs(times: np.ndarray, labels: np.ndarray, step: float, width: float):
    """Runs of consecutive samples with one label: ``{label: [(start, width), ...]}``."""
    out: dict = {}
    if not len(times):
        return out
    gap = 1.5 * step if step > 0 else 0.0
    breaks = np.flatnonzero((labels[1:] != labels[:-1]) | (np.diff(times) > gap)) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(times)] - 1
    for a, b in zip(starts, ends):
        out.setdefault(labels[a], []).append((times[a], times[b] - times[a] + width))
    return out


def _lane_setup(timeline, max_rows):
    """What every lane figure starts from: labels, sampling step, duration, label
    colours and the lanes (:func:`_lanes`)."""
    max_rows = _check_rows(max_rows)
    labels = timeline_labels(timeline)
    step = _step(timeline)
    duration = _duration(timeline, step)
    return labels, step, duration, label_colors(labels), _lanes(timeline, max_rows)


def _finish_lanes(ax, fig, timeline, handles, shots, duration, thumbnails, ids, n_lanes):
    """What every lane figure ends with: lanes top down, the legend (with the shot
    cuts), the time axis (on top too when tall) and the lanes' thumbnails."""
    ax.set_ylim(n_lanes - 0.5 if n_lanes else 0.5, -0.5)
    if not n_lanes:
        ax.text(0.5, 0.5, "no faces found", ha="center", va="center", transform=ax.transAxes)
    _legend(ax, [*handles, *_draw_shots(ax, timeline, shots)])
    _time_axis(ax, duration)
    if n_lanes > 12:  # tall: the time axis on top too
        ax.tick_params(axis="x", top=True, labeltop=True)
    _draw_thumbnails(ax, fig, thumbnails, ids, n_lanes)


def plot_tracks(
    timeline,
    path: str | os.PathLike | None = None,
    *,
    ax=None,
    max_rows: int = 30,
    thumbnails: dict | None = None,
    shots: bool = True,
    title: str | None = None,
    max_tracks: int | None = None,
):
    """One lane per person (or face track), coloured by the label at each sample.

    Rows are persons when the timeline has a ``person`` column (one person's tracks
    do not overlap in time, so a lane each), else face tracks; the ones with the most
    screen time come first. Every face of the film is drawn: when there are more rows
    than ``max_rows``, the first ``max_rows - 1`` get their lane and the rest share a
    last lane, ``"other (k)"`` (k persons or tracks), which the default title counts
    too (e.g. "40 persons, 29 shown, 11 in 'other'"). A lane showing several faces at
    one time (the "other" lane, a person seen twice) shows the largest. Thin vertical
    lines mark the shot cuts.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it.
    path : path-like, optional
        Where to write the figure (with ``ax``, the whole figure it belongs to);
        nothing is written without it.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes of the caller's figure. Default: a new figure sized to
        the number of rows.
    max_rows : int, default=30
        Lanes at most, the "other" lane included.
    thumbnails : dict, optional
        ``{person or track id: RGB uint8 image}`` (or a list of images, the first is
        used), as :func:`face_thumbnails` returns: drawn left of the row's label.
    shots : bool, default=True
        Draw the shot cuts, as :func:`plot_timeline` does.
    title : str, optional
        Default: how many rows, shown and in "other".
    max_tracks : int, optional
        Deprecated name of ``max_rows``.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the root figure of ``ax``.

    Examples
    --------
    >>> import pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 0.5, 1.0], "track": [0, 0, 1, 2],
    ...     "p_happy": [0.9, 0.6, 0.2, 0.3], "p_sad": [0.1, 0.4, 0.8, 0.7],
    ...     "label": ["happy", "happy", "sad", "sad"],
    ...     "valence": [0.7, 0.2, -0.6, -0.5], "arousal": [0.4, 0.1, -0.3, -0.2]})
    >>> fig = plot_tracks(timeline, max_rows=2)
    >>> fig.axes[0].get_title()
    "3 tracks, 1 shown, 2 in 'other': label at each sample"
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['track 0', 'other (2)']
    """
    from matplotlib.patches import Patch

    if max_tracks is not None:
        warnings.warn(
            "plot_tracks' max_tracks was renamed max_rows; max_tracks will be removed.",
            FutureWarning,
            stacklevel=2,
        )
        max_rows = max_tracks
    labels, step, duration, colors, (by, ids, n_ids, lane, names) = _lane_setup(
        timeline, max_rows
    )
    n_lanes = len(names)
    row_height = 0.55 if thumbnails else 0.35
    fig, ax = _canvas(ax, (12, 1.4 + row_height * max(n_lanes, 1)))
    width = step if step > 0 else max(duration / 200, 1e-3)
    data = timeline.assign(_lane=lane)
    data = data[data["_lane"].notna() & data["label"].notna()]
    if {"w", "h"} <= set(data.columns):
        data = data.assign(_area=data["w"].astype(float) * data["h"].astype(float))
        data = data.sort_values(["_lane", "time", "_area"], ascending=[True, True, False])
    else:
        data = data.sort_values(["_lane", "time"])
    data = data.drop_duplicates(["_lane", "time"])  # the largest face of a lane per time
    for row, part in data.groupby("_lane"):
        times = part["time"].to_numpy(dtype=float)
        runs = _runs(times, part["label"].to_numpy(dtype=object), step, width)
        for label, bars in runs.items():
            ax.broken_barh(bars, (row - 0.4, 0.8), facecolors=colors.get(label, "#000000"))
    ax.set_yticks(range(n_lanes), names)
    handles = [Patch(color=colors[label], label=str(label)) for label in labels]
    _finish_lanes(ax, fig, timeline, handles, shots, duration, thumbnails, ids, n_lanes)
    ax.set_title(title or f"{_lane_title(by, ids, n_ids)}: label at each sample")
    return _finish(fig, path)


def _strip_image(proba: np.ndarray, present: np.ndarray, colors: np.ndarray, height: int):
    """RGBA image (height, n_columns): each column's probabilities stacked, first at the
    bottom; transparent where ``present`` is False."""
    total = proba.sum(axis=1, keepdims=True)
    cum = np.cumsum(proba / np.where(total > 0, total, 1.0), axis=1)
    frac = (np.arange(height)[::-1] + 0.5) / height  # top row first
    index = (frac[:, None, None] > cum[None, :, :]).sum(axis=2)
    index = np.minimum(index, len(colors) - 1)
    image = colors[index]
    image[:, ~present, 3] = 0.0
    return image


def plot_persons(
    timeline,
    path: str | os.PathLike | None = None,
    *,
    ax=None,
    max_rows: int = 30,
    thumbnails: dict | None = None,
    shots: bool = True,
    title: str | None = None,
):
    """Emotion lanes per person: each person's stacked probabilities over time.

    One lane per person (per face track without a ``person`` column), the most
    screen time first; in a lane, at each time the person is on screen, the
    probabilities of the labels stacked from the bottom (first label lowest), blank
    when the person is not on screen. Rows past ``max_rows`` are merged into a last
    lane ``"other (k)"`` (their mean probabilities), as in :func:`plot_tracks`, and
    the default title says so. Long films are drawn in at most 1200 time columns
    (each the mean of the samples within it). Thin vertical lines mark the shot cuts.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it.
    path : path-like, optional
        Where to write the figure (with ``ax``, the whole figure it belongs to);
        nothing is written without it.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes of the caller's figure. Default: a new figure.
    max_rows : int, default=30
        Lanes at most, the "other" lane included.
    thumbnails : dict, optional
        ``{person or track id: RGB uint8 image or list of them}`` (see
        :func:`face_thumbnails`): the (first) face is drawn left of the row label.
    shots : bool, default=True
        Draw the shot cuts, as :func:`plot_timeline` does.
    title : str, optional
        Default: how many persons, shown and in "other", and the video's name.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the root figure of ``ax``.

    Examples
    --------
    >>> import pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 0.5, 1.0], "track": [0, 0, 1, 2], "person": [0, 0, 1, 0],
    ...     "p_happy": [0.9, 0.6, 0.2, 0.3], "p_sad": [0.1, 0.4, 0.8, 0.7],
    ...     "label": ["happy", "happy", "sad", "sad"],
    ...     "valence": [0.7, 0.2, -0.6, -0.5], "arousal": [0.4, 0.1, -0.3, -0.2]})
    >>> fig = plot_persons(timeline)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['person 0\\n1.5 s', 'person 1\\n0.5 s']
    """
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    labels, step, duration, colors, (by, ids, n_ids, lane, names) = _lane_setup(
        timeline, max_rows
    )
    n_lanes = len(names)
    fig, ax = _canvas(ax, (12, 1.5 + (0.6 if thumbnails else 0.45) * max(n_lanes, 1)))
    span = max(duration, float(timeline["time"].max()) + step if len(timeline) else 0.0)
    column = max(step, span / _MAX_COLUMNS) if step > 0 else max(span / _MAX_COLUMNS, 1e-3)
    n_columns = max(1, math.ceil(span / column - 1e-9))
    rgba = np.array([to_rgba(colors[label]) for label in labels])
    data = timeline.assign(_lane=lane)[lambda d: d["_lane"].notna()]
    data = data.assign(_col=np.minimum((data["time"] / column + 1e-9).astype(int), n_columns - 1))
    screen = data.groupby("_lane")["time"].nunique() * step
    for row, part in data.groupby("_lane"):
        mean = part.groupby("_col")[proba_columns(labels)].mean()
        proba = np.zeros((n_columns, len(labels)))
        present = np.zeros(n_columns, dtype=bool)
        proba[mean.index.to_numpy()] = mean.to_numpy(dtype=float)
        present[mean.index.to_numpy()] = True
        ax.imshow(
            _strip_image(np.nan_to_num(proba), present, rgba, 24),
            extent=(0.0, n_columns * column, row + 0.42, row - 0.42),
            aspect="auto",
            interpolation="nearest",
            zorder=2,
        )
    names = [f"{name}\n{_screen_text(screen.get(row, 0.0))}" for row, name in enumerate(names)]
    ax.set_yticks(range(n_lanes), names, fontsize=8)
    for row in range(n_lanes):  # a faint baseline: where the lane is when empty
        ax.axhline(row + 0.42, color="#dddddd", linewidth=0.6, zorder=1)
    handles = [Patch(color=colors[label], label=str(label)) for label in labels[::-1]]
    _finish_lanes(ax, fig, timeline, handles, shots, duration, thumbnails, ids, n_lanes)
    what = _lane_title(by, ids, n_ids) if n_lanes else "no faces"
    ax.set_title(title or _title(timeline, f"Emotions per {by} ({what})"))
    return _finish(fig, path)
