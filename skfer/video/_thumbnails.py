"""Face thumbnails of a timeline, read back from its video: a few faces per person or track.

The timeline holds boxes, not pixels: the chosen faces' frames are read from the film
in one pass, in frame order (seeking over long gaps, grabbing over short ones), and
only the small crops are kept.
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import numpy as np

__all__ = ["face_thumbnails"]

#: Frames to grab (decode without converting) rather than seek over: seeking costs a
#: keyframe search and the decode of the frames after it.
_SEEK_AFTER = 48


def _group_column(timeline, by: str | None) -> str:
    if by is None:
        return "person" if "person" in timeline.columns else "track"
    if by not in ("person", "track"):
        raise ValueError(f"by must be 'person', 'track' or None, got {by!r}.")
    if by not in timeline.columns:
        raise ValueError(
            f"timeline has no {by!r} column"
            + (
                " (analyze_video(..., persons=True) adds it); use by='track'."
                if by == "person"
                else "."
            )
        )
    return by


def _check_count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    return int(value)


def thumbnail_rows(timeline, *, per_group: int = 6, by: str | None = None):
    """The sampled faces to show per person (or track): spread over its screen time.

    Each group's faces, in time order, are cut into ``per_group`` runs of equal
    length; from each run the face ranked best by size and detector score (the sum of
    its ranks within the group) is kept.

    Returns
    -------
    pandas.DataFrame
        The chosen timeline rows with a ``group`` column, ordered by group (most
        screen time first) then time.

    Examples
    --------
    >>> import pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5, 1.0, 1.5], "frame": [0, 12, 25, 37], "track": [0, 0, 0, 0],
    ...     "x": 0.0, "y": 0.0, "w": [10.0, 30.0, 20.0, 10.0], "h": [10.0, 30.0, 20.0, 10.0],
    ...     "score": [0.9, 0.8, 0.9, 0.9], "label": "happy"})
    >>> thumbnail_rows(timeline, per_group=2)["frame"].tolist()
    [12, 25]
    """
    import pandas as pd

    per_group = _check_count("per_group", per_group, 1)
    group = _group_column(timeline, by)
    missing = [c for c in ("time", "frame", group, "x", "y", "w", "h") if c not in timeline]
    if missing:
        raise ValueError(f"timeline lacks the column(s) {missing} needed to crop faces.")
    boxes = timeline[["x", "y", "w", "h"]].to_numpy(dtype=float)
    data = timeline[np.isfinite(boxes).all(axis=1) & (boxes[:, 2:] > 0).all(axis=1)]
    data = data[data[group].notna()]
    if data.empty:
        return data.assign(group=data[group])
    data = data.assign(group=data[group], _area=data["w"].astype(float) * data["h"].astype(float))
    score = data["score"] if "score" in data else pd.Series(0.0, index=data.index)
    data = data.assign(_score=score.astype(float).fillna(-np.inf))
    screen = data.groupby("group")["time"].nunique()
    first = data.groupby("group")["time"].min()
    order = sorted(screen.index, key=lambda k: (-screen[k], first[k]))
    chosen = []
    for key in order:
        part = data[data["group"] == key].sort_values(["time", "_area"], ascending=[True, False])
        quality = part["_area"].rank(pct=True) + part["_score"].rank(pct=True)
        runs = np.array_split(np.arange(len(part)), min(per_group, len(part)))
        chosen.extend(part.index[run[np.argmax(quality.to_numpy()[run])]] for run in runs)
    return data.loc[chosen].drop(columns=["_area", "_score"])


def _crop(frame_rgb: np.ndarray, box, size: int, margin: float) -> np.ndarray:
    """A square crop around the box, ``margin`` of its side added on each side, padded
    with black past the frame's edges, resized to ``size`` x ``size``."""
    import cv2

    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = max(1, int(round(side)))
    out = np.zeros((n, n, 3), np.uint8)
    H, W = frame_rgb.shape[:2]
    a0, b0 = max(0, x0), max(0, y0)
    a1, b1 = min(W, x0 + n), min(H, y0 + n)
    if a1 > a0 and b1 > b0:
        out[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0] = frame_rgb[b0:b1, a0:a1]
    interpolation = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(out, (size, size), interpolation=interpolation)


def read_crops(video, rows, *, size: int = 96, margin: float = 0.25) -> list:
    """Crop ``rows``' boxes (columns ``frame, x, y, w, h``) from ``video``, in one pass.

    Returns a list aligned with ``rows``: an RGB uint8 array, or None for a frame the
    decoder could not deliver. Raises as :func:`~skfer.video.open_video` for a
    missing or unreadable video.
    """
    import cv2

    from ._frames import open_video

    frames = rows["frame"].to_numpy()
    if not len(frames):
        return []
    if not np.isfinite(frames.astype(float)).all():
        raise ValueError("timeline's frame column has missing values: cannot find the faces.")
    frames = frames.astype(np.int64)
    boxes = rows[["x", "y", "w", "h"]].to_numpy(dtype=float)
    out: list = [None] * len(frames)
    capture, _ = open_video(video)
    try:
        position = 0  # index of the frame the next grab() decodes
        for target in np.unique(frames):
            if target - position > _SEEK_AFTER:
                capture.set(cv2.CAP_PROP_POS_FRAMES, int(target))
                landed = int(round(capture.get(cv2.CAP_PROP_POS_FRAMES)))
                if 0 <= landed <= target:
                    position = landed
                else:  # overshot: back to where the pass was, and decode on from there
                    capture.set(cv2.CAP_PROP_POS_FRAMES, position)
            ok = True
            while ok and position < target:
                ok = capture.grab()
                position += 1
            ok, bgr = capture.read() if ok else (False, None)
            position += 1
            if not ok or bgr is None:
                continue
            code = cv2.COLOR_GRAY2RGB if bgr.ndim == 2 else cv2.COLOR_BGR2RGB
            rgb = cv2.cvtColor(bgr, code)
            del bgr
            for i in np.flatnonzero(frames == target):
                out[i] = _crop(rgb, boxes[i], size, margin)
            del rgb
    finally:
        capture.release()
    return out


def face_thumbnails(
    timeline,
    video: str | os.PathLike | None = None,
    *,
    per_group: int = 6,
    by: str | None = None,
    size: int = 96,
    margin: float = 0.25,
) -> dict:
    """A few face crops per person (or track), read back from the film.

    Per group, ``per_group`` sampled faces spread over its screen time, preferring
    large, high-score faces (:func:`thumbnail_rows`), are cropped from their frames.
    The frames are read in one pass in frame order (OpenCV; a seek over gaps of more
    than 48 frames, else decoding on), and only the crops are kept, so memory is
    about ``size * size * 3`` bytes per face.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it (``frame`` and the boxes are used).
    video : path-like, optional
        The film. Default: ``timeline.attrs["source"]``, where the analysis read it.
    per_group : int, default=6
        Faces at most per person (track).
    by : {"person", "track"} or None, default=None
        Group faces by person (needs the ``person`` column) or by track. None:
        persons when the timeline has them, else tracks.
    size : int, default=96
        Side of the square thumbnails, in pixels.
    margin : float, default=0.25
        Added around the box on each side, as a fraction of its longer side.

    Returns
    -------
    dict
        ``{person or track id: [RGB uint8 arrays of shape (size, size, 3)]}``, groups
        with the most screen time first, each group's faces in time order. Empty for a
        timeline without faces (the video is then not opened).

    Raises
    ------
    FileNotFoundError
        If the video does not exist (moved since the analysis: pass ``video``).
    ValueError
        If the video is unreadable, the timeline records no video and none is given,
        or it lacks the columns needed.

    Warns
    -----
    UserWarning
        When some chosen frames could not be decoded (their faces are left out).

    Examples
    --------
    >>> from skfer.video import analyze_video, face_thumbnails  # doctest: +SKIP
    >>> timeline = analyze_video("film.mp4")  # doctest: +SKIP
    >>> faces = face_thumbnails(timeline, per_group=3)  # doctest: +SKIP
    >>> {person: len(crops) for person, crops in faces.items()}  # doctest: +SKIP
    {0: 3, 1: 3, 2: 1}
    """
    size = _check_count("size", size, 8)
    if isinstance(margin, bool) or not isinstance(margin, Real) or not 0 <= margin <= 2:
        raise ValueError(f"margin must be a number in [0, 2], got {margin!r}.")
    rows = thumbnail_rows(timeline, per_group=per_group, by=by)
    if rows.empty:
        return {}
    if video is None:
        video = timeline.attrs.get("source")
        if not video:
            raise ValueError("timeline does not record its video (attrs['source']): pass video=.")
        if not os.path.isfile(video):
            raise FileNotFoundError(
                f"Video file not found: {str(video)!r} (the timeline's source; pass video= "
                "if the film has moved)."
            )
    crops = read_crops(video, rows, size=size, margin=margin)
    out: dict = {}
    lost = 0
    for key, crop in zip(rows["group"].tolist(), crops):
        key = int(key) if isinstance(key, float) and key.is_integer() else key
        if crop is None:
            lost += 1
            continue
        out.setdefault(key, []).append(crop)
    if lost:
        warnings.warn(
            f"{lost} of {len(crops)} chosen faces could not be read from {str(video)!r} "
            "(frames the decoder did not deliver); they are left out.",
            UserWarning,
            stacklevel=2,
        )
    return out
