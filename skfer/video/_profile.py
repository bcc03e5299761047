"""Film profile: per-track, per-window and whole-film summaries of an emotion timeline."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ._classify import PROBA_PREFIX, proba_columns

__all__ = ["SHARE_PREFIX", "film_profile", "timeline_labels"]

#: Prefix of a summary's share columns: ``share_happy`` is the share of a group's
#: sampled faces whose most probable label is *happy* (hard labels, not probabilities).
SHARE_PREFIX = "share_"


def timeline_labels(timeline) -> list:
    """The labels of a timeline's probability columns (``p_<label>``), in order.

    ``timeline.attrs["labels"]`` when present (as :func:`analyze_video` sets it),
    else every ``p_`` column's label (so a timeline read back from CSV works too).

    Examples
    --------
    >>> import pandas as pd
    >>> timeline = pd.DataFrame(columns=["time", "frame", "track", "p_happy", "p_sad", "label"])
    >>> timeline_labels(timeline)
    ['happy', 'sad']
    """
    import pandas as pd

    if not isinstance(timeline, pd.DataFrame):
        raise ValueError(
            "Expected a timeline DataFrame (as analyze_video returns), got "
            f"{type(timeline).__name__}."
        )
    missing = [c for c in ("time", "track", "label") if c not in timeline.columns]
    if missing:
        raise ValueError(
            f"timeline lacks the column(s) {missing}: pass the DataFrame analyze_video returns "
            "(or its CSV read back with pandas.read_csv)."
        )
    labels = timeline.attrs.get("labels")
    if labels and all(c in timeline.columns for c in proba_columns(labels)):
        return list(labels)
    labels = [c[len(PROBA_PREFIX) :] for c in timeline.columns if str(c).startswith(PROBA_PREFIX)]
    if not labels:
        raise ValueError(
            "timeline has no probability columns (p_<label>, as analyze_video writes them)."
        )
    return labels


def _step(timeline) -> float:
    step = timeline.attrs.get("step")
    if isinstance(step, Real) and step > 0:
        return float(step)
    times = np.unique(timeline["time"].to_numpy(dtype=float))
    return float(np.median(np.diff(times))) if len(times) > 1 else 0.0


def _duration(timeline, step: float) -> float:
    duration = timeline.attrs.get("duration")
    if isinstance(duration, Real) and math.isfinite(duration) and duration > 0:
        return float(duration)
    return float(timeline["time"].max()) + step if len(timeline) else 0.0


def _summaries(groups, labels, step):
    """Shares of hard labels, dominant label, face and screen time, mean valence/arousal."""
    import pandas as pd

    counts = pd.crosstab(groups["key"], groups["label"]).reindex(columns=labels, fill_value=0)
    counts.columns.name = None
    n = counts.sum(axis=1)
    shares = counts.div(n.where(n > 0, 1), axis=0)
    # dominant: largest share; ties go to the larger mean probability
    mean_proba = groups.groupby("key")[proba_columns(labels)].mean().reindex(counts.index)
    score = shares.to_numpy() * 1e6 + mean_proba.to_numpy()
    dominant = pd.Series(np.asarray(labels, dtype=object)[score.argmax(axis=1)], index=counts.index)
    means = groups.groupby("key")[["valence", "arousal"]].mean().reindex(counts.index)
    sampled = groups.groupby("key")["time"].nunique().reindex(counts.index)
    out = shares.set_axis([f"{SHARE_PREFIX}{label}" for label in labels], axis=1)
    out.insert(0, "n_faces", n.astype(int))
    out.insert(1, "face_time", n * step)
    out.insert(2, "screen_time", sampled * step)
    out["dominant"] = dominant
    out["valence"] = means["valence"]
    out["arousal"] = means["arousal"]
    return out


def _by(data, column: str, labels, step):
    """Summaries per value of ``column`` (track, person, shot), longest on screen first."""
    out = _summaries(data.assign(key=data[column]), labels, step)
    span = data.groupby(column)["time"].agg(["min", "max"]).reindex(out.index)
    out.insert(0, "start", span["min"].astype(float))
    out.insert(1, "end", span["max"].astype(float) + step)
    if column != "track":
        n_tracks = data.groupby(column)["track"].nunique().reindex(out.index)
        out.insert(2, "n_tracks", n_tracks.astype(int))
    out.index.name = column
    return out.sort_values(["screen_time", "start"], ascending=[False, True], kind="stable")


def film_profile(timeline, *, window: float = 10.0):
    """Summaries of a timeline: per face track, person, shot, scene window and the whole film.

    Shares count sampled faces, and samples are evenly spaced in time, so
    ``share_<label>`` is the share of a group's on-screen face time whose most probable
    label is that one (hard labels; the timeline's ``p_<label>`` are probabilities).
    The *dominant* emotion of a group is the label with the largest share (ties go to
    the larger mean probability).

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it (or read back from its CSV).
    window : float, default=10.0
        Length in seconds of the fixed scene windows ``[0, window), [window, 2 window)...``
        that cover the film.

    Returns
    -------
    profile : sklearn.utils.Bunch
        ``tracks``: DataFrame indexed by track, columns ``start, end`` (s), ``n_faces``
        (sampled faces), ``face_time`` (s: faces x sampling step), ``screen_time`` (s:
        time with at least one of the group's faces on screen; for a track the same as
        ``face_time``), ``share_<label>`` per label, ``dominant``, ``valence``,
        ``arousal`` (means); sorted by screen time, longest first.
        ``persons``: the same per person (with ``n_tracks``), when the timeline has a
        ``person`` column, else None. ``shots``: the same per shot, when it has a
        ``shot`` column, else None.
        ``windows``: DataFrame, one row per window (faceless windows included), columns
        ``start, end, n_faces, face_time, screen_time``, the shares, ``dominant`` (None
        without faces), ``valence``, ``arousal``.
        ``film``: Series with ``duration``, ``n_tracks``, ``n_persons`` (when known),
        ``n_faces``, ``face_time``, ``screen_time``, the shares over all faces,
        ``dominant``, ``valence``, ``arousal``.
        ``labels``: the labels, in column order.

    Examples
    --------
    >>> import pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 1.0, 0.0], "track": [0, 0, 0, 1],
    ...     "p_happy": [0.9, 0.8, 0.3, 0.1], "p_sad": [0.1, 0.2, 0.7, 0.9],
    ...     "label": ["happy", "happy", "sad", "sad"],
    ...     "valence": [0.7, 0.6, -0.3, -0.8], "arousal": [0.4, 0.3, -0.2, -0.4]})
    >>> profile = film_profile(timeline, window=1.0)
    >>> profile.tracks[["n_faces", "share_happy", "share_sad", "dominant"]].round(2)
           n_faces  share_happy  share_sad dominant
    track
    0            3         0.67       0.33    happy
    1            1         0.00       1.00      sad
    >>> profile.windows[["start", "n_faces", "screen_time", "dominant"]]
       start  n_faces  screen_time dominant
    0    0.0        3          1.0    happy
    1    1.0        1          0.5      sad
    >>> profile.film["dominant"], float(profile.film["share_happy"])
    ('happy', 0.5)
    """
    import pandas as pd
    from sklearn.utils import Bunch

    labels = timeline_labels(timeline)
    if isinstance(window, bool) or not isinstance(window, Real) or not window > 0:
        raise ValueError(f"window must be a positive number of seconds, got {window!r}.")
    step = _step(timeline)
    duration = _duration(timeline, step)
    groups = [c for c in ("person", "shot") if c in timeline.columns]
    columns = ["time", "track", *groups, "label", "valence", "arousal", *proba_columns(labels)]
    data = timeline[columns].copy()
    data["label"] = data["label"].astype(object)
    shares = [f"{SHARE_PREFIX}{label}" for label in labels]

    by_track = _by(data, "track", labels, step)
    persons = _by(data, "person", labels, step) if "person" in groups else None
    shots = _by(data, "shot", labels, step).sort_index() if "shot" in groups else None

    n_windows = max(1, math.ceil(duration / window - 1e-9)) if duration > 0 else 0
    if len(data):
        n_windows = max(n_windows, int(data["time"].max() // window) + 1)
    keys = (data["time"] // window).astype(int)
    per_window = _summaries(data.assign(key=keys), labels, step)
    windows = per_window.reindex(range(n_windows))
    windows["n_faces"] = windows["n_faces"].fillna(0).astype(int)
    windows[["face_time", "screen_time"]] = windows[["face_time", "screen_time"]].fillna(0.0)
    windows[shares] = windows[shares].fillna(0.0)
    windows["dominant"] = windows["dominant"].astype(object).where(windows["n_faces"] > 0, None)
    windows.insert(0, "start", np.arange(n_windows) * float(window))
    windows.insert(1, "end", np.minimum(windows["start"] + window, max(duration, 0.0)))
    windows = windows.reset_index(drop=True)

    whole = _summaries(data.assign(key=0), labels, step)
    film = {"duration": duration, "n_tracks": int(data["track"].nunique())}
    if persons is not None:
        film["n_persons"] = int(data["person"].nunique())
    if len(whole):
        film.update(whole.iloc[0].to_dict())
        film["n_faces"] = int(film["n_faces"])
    else:
        film.update(n_faces=0, face_time=0.0, screen_time=0.0, **dict.fromkeys(shares, 0.0))
        film.update(dominant=None, valence=math.nan, arousal=math.nan)
    film = pd.Series(film, dtype=object)
    film.name = "film"
    return Bunch(
        tracks=by_track, persons=persons, shots=shots, windows=windows, film=film, labels=labels
    )
