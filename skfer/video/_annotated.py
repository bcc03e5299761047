"""An annotated copy of a film: every frame with the boxes and labels of its timeline."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

__all__ = ["write_annotated_video"]

#: Containers OpenCV writes with the ``mp4v`` (MPEG-4 Part 2) or ``MJPG`` codec.
_FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}


def write_annotated_video(timeline, path: str | os.PathLike, *, video=None) -> Path:
    """Write a copy of the film with each face's box, label and probability drawn on it.

    Every frame of the film is written (at its own frame rate and size). A sampled
    frame's faces, as the timeline has them, stay drawn on the frames that follow it
    until the next sampled frame, so the annotation is steady between samples; frames
    before the first sample are written as they are. The film is read and written as
    a stream, one frame in memory at a time.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it (``frame``, ``x, y, w, h``, ``label`` and
        the ``p_<label>`` columns).
    path : path-like
        The video to write: ``.mp4`` or ``.mov`` (MPEG-4 Part 2, ``mp4v``) or ``.avi``
        (Motion JPEG).
    video : path-like, optional
        The analysed film. Default: ``timeline.attrs["source"]``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If the film is not found.
    ValueError
        For another suffix, a timeline without the needed columns, or a film that
        cannot be read or written.

    Examples
    --------
    >>> import pandas as pd
    >>> write_annotated_video(pd.DataFrame(), "out.gif", video="film.mp4")
    Traceback (most recent call last):
    ...
    ValueError: Cannot write 'out.gif': the annotated video must be .avi, .mov or .mp4.
    """
    import cv2

    from ._frames import open_video
    from ._plots import annotate_image

    out = Path(os.fspath(path))
    fourcc = _FOURCC.get(out.suffix.lower())
    if fourcc is None:
        raise ValueError(
            f"Cannot write {str(path)!r}: the annotated video must be .avi, .mov or .mp4."
        )
    missing = [c for c in ("frame", "x", "y", "w", "h", "label") if c not in timeline.columns]
    if missing:
        raise ValueError(
            f"timeline lacks the column(s) {missing}: pass the DataFrame analyze_video returns."
        )
    source = video if video is not None else timeline.attrs.get("source")
    if source is None:
        raise ValueError("The timeline does not name its film (attrs['source']): pass video=.")
    capture, info = open_video(source)
    fps = info.fps if info.fps > 0 and math.isfinite(info.fps) else 25.0
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(out), cv2.VideoWriter_fourcc(*fourcc), fps, (info.width, info.height)
    )
    if not writer.isOpened():
        capture.release()
        raise ValueError(f"Cannot write the video {str(out)!r} (codec {fourcc!r}).")
    faces_at = {int(f): rows for f, rows in timeline.groupby("frame", sort=True)}
    sampled = np.array(sorted(faces_at), dtype=int)
    try:
        index, current = 0, None
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            if index in faces_at:
                current = faces_at[index]
            if current is not None and _still_shown(index, sampled, current):
                rgb = annotate_image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), current)
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            writer.write(bgr)
            index += 1
    finally:
        capture.release()
        writer.release()
    return out


def _hold(sampled: np.ndarray) -> int:
    """Frames a sample's faces stay drawn: the usual distance between samples."""
    return int(np.median(np.diff(sampled))) if sampled.size > 1 else 1


def _still_shown(index: int, sampled: np.ndarray, rows) -> bool:
    """Whether the faces of the last sample up to ``index`` still apply there: a sample
    without faces (absent from the timeline) ends them after the usual gap."""
    last = int(rows["frame"].iloc[0])
    return index - last < max(_hold(sampled), 1)
