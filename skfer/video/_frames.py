"""Frame streaming: read a video file one frame at a time and sample it.

OpenCV's :class:`cv2.VideoCapture` decodes the file as a stream; only the current
frame is ever held, so memory does not grow with the film's length. Frames that
are not sampled are only grabbed (decoded, not converted to RGB).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np

__all__ = ["VideoInfo", "iter_frames", "open_video", "read_sampled"]


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV reports about a video file before it is read.

    Parameters
    ----------
    path : str
    fps : float
        Frames per second (``nan`` when the container does not say).
    n_frames : int
        Frame count from the container header (``0`` when unknown; it can be off by a
        few frames for some codecs, so reading goes on until the decoder stops).
    width, height : int
        Frame size in pixels.

    Examples
    --------
    >>> info = VideoInfo("clip.mp4", 25.0, 250, 720, 576)
    >>> info.duration
    10.0
    """

    path: str
    fps: float
    n_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        """Length in seconds from the header (``nan`` when unknown)."""
        if self.n_frames > 0 and self.fps > 0:
            return self.n_frames / self.fps
        return math.nan


def open_video(path: str | os.PathLike):
    """Open a video file with OpenCV and check that it holds a decodable frame.

    Returns
    -------
    capture : cv2.VideoCapture
        Positioned at the first frame.
    info : VideoInfo

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is empty, not a video OpenCV can decode, or holds no frame.

    Examples
    --------
    >>> open_video("no/such/film.mp4")
    Traceback (most recent call last):
    ...
    FileNotFoundError: Video file not found: 'no/such/film.mp4'
    """
    import cv2

    file = Path(os.fspath(path)).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"Video file not found: {str(path)!r}")
    size = file.stat().st_size
    if size == 0:
        raise ValueError(f"Cannot read video {str(path)!r}: the file is empty (0 bytes).")
    capture = cv2.VideoCapture(str(file))
    if not capture.isOpened():
        capture.release()
        raise ValueError(
            f"Cannot open video {str(path)!r} ({size} bytes): not a video format or codec "
            "OpenCV's FFmpeg backend decodes, or the file is truncated."
        )
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    info = VideoInfo(
        path=str(file),
        fps=fps if math.isfinite(fps) and fps > 0 else math.nan,
        n_frames=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
    )
    return capture, info


def check_sampling(every, every_n_frames) -> tuple[float | None, int | None]:
    """Validate the sampling arguments; ``every_n_frames`` wins when given."""
    if every_n_frames is not None:
        if (
            not isinstance(every_n_frames, Integral)
            or isinstance(every_n_frames, bool)
            or every_n_frames < 1
        ):
            raise ValueError(f"every_n_frames must be a positive integer, got {every_n_frames!r}.")
        return None, int(every_n_frames)
    if every is None:
        raise ValueError("Give a sampling step: every (seconds) or every_n_frames.")
    if isinstance(every, bool) or not isinstance(every, Real) or not every > 0:
        raise ValueError(f"every must be a positive number of seconds, got {every!r}.")
    if not math.isfinite(every):
        raise ValueError(f"every must be a finite number of seconds, got {every!r}.")
    return float(every), None


def _sample_slot(index: int, time: float, every: float | None, every_n: int | None) -> int:
    """The sampling slot a frame falls in; a frame is sampled when it opens a new slot."""
    if every_n is not None:
        return index // every_n
    return math.floor(time / every + 1e-9)


def iter_frames(
    path: str | os.PathLike,
    *,
    every: float | None = 0.5,
    every_n_frames: int | None = None,
    on_frame=None,
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield sampled frames of a video as ``(frame index, time in s, RGB uint8 array)``.

    Parameters
    ----------
    path : path-like
        Any file OpenCV's FFmpeg backend decodes (mp4, avi, mkv, mov...).
    every : float, default=0.5
        Sample the first frame of every ``every``-second slot: frames ``i`` with
        ``floor(i / fps / every)`` larger than the previous frame's. A clip of ``d``
        seconds gives ``ceil(d / every)`` frames when ``every`` is a multiple of the
        frame period.
    every_n_frames : int, optional
        Sample frames ``0, k, 2k...`` instead; takes precedence over ``every``.
    on_frame : callable, optional
        Called with no argument after each frame is read, sampled or not (progress).

    Yields
    ------
    index : int
    time : float
        ``index / fps``; the decoder's timestamp when the file gives no frame rate.
    frame : ndarray of shape (H, W, 3), uint8 RGB
        A fresh array each time: keep it only as long as you need it.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`open_video`, and ``ValueError`` for invalid sampling arguments.

    Examples
    --------
    >>> import os, tempfile, numpy as np, cv2
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.avi")
    >>> writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    >>> for _ in range(20):
    ...     writer.write(np.full((48, 64, 3), 128, np.uint8))
    >>> writer.release()
    >>> [(i, t) for i, t, _ in iter_frames(path, every=0.5)]
    [(0, 0.0), (5, 0.5), (10, 1.0), (15, 1.5)]
    """
    every, every_n = check_sampling(every, every_n_frames)
    capture, info = open_video(path)
    yield from read_sampled(capture, info, every=every, every_n=every_n, on_frame=on_frame)


def read_sampled(
    capture, info: VideoInfo, *, every: float | None, every_n: int | None, on_frame=None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """The loop of :func:`iter_frames` over an opened capture, which it releases."""
    import cv2

    try:
        index, last_slot = 0, -1
        while capture.grab():
            if info.fps > 0:
                time = index / info.fps
            else:  # no frame rate in the header: the decoder's timestamp
                time = float(capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
            slot = _sample_slot(index, time, every, every_n)
            rgb = None
            if slot > last_slot:
                ok, bgr = capture.retrieve()
                if ok and bgr is not None:
                    last_slot = slot
                    code = cv2.COLOR_GRAY2RGB if bgr.ndim == 2 else cv2.COLOR_BGR2RGB
                    rgb = cv2.cvtColor(bgr, code)
            if on_frame is not None:
                on_frame()
            if rgb is not None:
                yield index, time, rgb
            index += 1
        if index == 0:
            raise ValueError(
                f"Cannot read video {info.path!r}: OpenCV opened it but decoded no frame "
                "(empty, truncated, or an unsupported codec)."
            )
    finally:
        capture.release()
