"""Frame streaming: read a video file one frame at a time and sample it.

OpenCV's :class:`cv2.VideoCapture` decodes the file as a stream; only the current
frame is ever held, so memory does not grow with the film's length. Frames that
are not sampled are only grabbed (decoded, not converted to RGB).

Times are the decoder's presentation timestamps (``CAP_PROP_POS_MSEC``), so
variable-frame-rate films are timed right. A read that ends before the container
says the film ends (a truncated or corrupted file) is reported: a ``UserWarning``
naming the film and the time range that was read, and a :class:`ReadReport`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

__all__ = ["ReadReport", "VideoInfo", "iter_frames", "open_video", "read_sampled"]


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
        Sample the first frame of every ``every``-second slot: frames with
        ``floor(time / every)`` larger than the previous frame's, ``time`` being the
        decoder's timestamp, so sampling follows real time in variable-frame-rate
        films too. A constant-rate clip of ``d`` seconds gives ``ceil(d / every)``
        frames when ``every`` is a multiple of the frame period.
    every_n_frames : int, optional
        Sample frames ``0, k, 2k...`` instead; takes precedence over ``every``.
    on_frame : callable, optional
        Called with no argument after each frame is read, sampled or not (progress).

    Yields
    ------
    index : int
    time : float
        The frame's presentation time in seconds, from the decoder
        (``CAP_PROP_POS_MSEC``): exactly ``index / fps`` in a constant-rate film;
        a frame without a timestamp gets the previous frame's time plus ``1 / fps``.
    frame : ndarray of shape (H, W, 3), uint8 RGB
        A fresh array each time: keep it only as long as you need it.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`open_video`, and ``ValueError`` for invalid sampling arguments.

    Warns
    -----
    UserWarning
        When the film has been read to the end and the read fell short of what the
        container says (a truncated or corrupted file): the message names the film
        and the time range read (see :class:`ReadReport`).

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


@dataclass
class ReadReport:
    """How much of a film a read covered, filled in by :func:`read_sampled` at the end.

    Attributes
    ----------
    n_decoded : int
        Frames the decoder gave.
    n_failed : int
        Sampled frames the decoder could not convert to an image.
    covered : list of 2 floats
        ``[start, end]`` in seconds: the first frame's time and the end of the last
        frame (its time plus its duration). ``[0.0, 0.0]`` before the read ends.
    complete : bool
        False when the read fell short of the container: fewer frames than its frame
        count (exactly, for the containers that store one: MP4/MOV and AVI; else
        beyond a tolerance of ``max(2, 1 %)``, the count being an estimate from the
        duration), an end more than two frame periods before its duration, or
        decoder failures. True when the container gives neither count nor duration
        and nothing failed.
    message : str or None
        What was missing, naming the film (the text of the warning); None if complete.
    """

    n_decoded: int = 0
    n_failed: int = 0
    covered: list = field(default_factory=lambda: [0.0, 0.0])
    complete: bool = True
    message: str | None = None


#: Containers whose header stores the frame count (MP4/MOV sample tables, AVI headers);
#: elsewhere (Matroska, WebM, MPEG-TS...) OpenCV estimates it from duration and rate.
_COUNTED = {".mp4", ".m4v", ".mov", ".3gp", ".3g2", ".avi"}


class _Clock:
    """Frame times from the decoder's presentation timestamps.

    A frame whose timestamp agrees with ``index / fps`` to a millisecond (Matroska
    stores milliseconds) gets ``index / fps`` exactly, so constant-rate films keep
    their exact times; a frame without a usable timestamp (missing, or not after the
    previous one) gets the previous time plus one nominal frame period.
    """

    def __init__(self, fps: float):
        self.fps = fps
        self.previous: float | None = None
        self.gap = 1.0 / fps if fps > 0 else 0.0  # duration of the latest frame

    def time(self, msec, index: int) -> float:
        decoded = float(msec) / 1000.0 if msec is not None else math.nan
        nominal = index / self.fps if self.fps > 0 else math.nan
        if abs(decoded - nominal) <= min(1e-3, 0.25 / self.fps):
            time = nominal
        elif (
            math.isfinite(decoded)
            and decoded >= 0
            and (self.previous is None or decoded > self.previous)
        ):
            time = round(decoded, 6)
        elif self.previous is None:
            time = 0.0
        else:
            time = self.previous + (1.0 / self.fps if self.fps > 0 else 0.0)
        if self.previous is not None and time > self.previous:
            self.gap = time - self.previous
        self.previous = time
        return time


def _check_complete(info: VideoInfo, report: ReadReport, start: float, end: float) -> None:
    """Compare what was read with the container's frame count and duration."""
    report.covered = [round(float(start), 6), round(float(end), 6)]
    problems = []
    n = info.n_frames
    exact = Path(info.path).suffix.lower() in _COUNTED
    if n > 0 and report.n_decoded < n - (0 if exact else max(2, math.ceil(0.01 * n))):
        problems.append(f"decoded {report.n_decoded} of its {n} frames")
    duration = info.duration
    if math.isfinite(duration) and end < duration - 2.0 / info.fps - 1e-6:
        problems.append(f"the frames end at {end:.2f} s of {duration:.2f} s")
    if report.n_failed:
        problems.append(f"{report.n_failed} frame(s) failed to decode")
    if problems:
        report.complete = False
        report.message = (
            f"Video {info.path!r} is damaged or truncated: {', '.join(problems)}; "
            f"the results cover only the frames read, spanning {start:.2f}-{end:.2f} s."
        )


def read_sampled(
    capture,
    info: VideoInfo,
    *,
    every: float | None,
    every_n: int | None,
    on_frame=None,
    report: ReadReport | None = None,
) -> Iterator[tuple[int, float, np.ndarray]]:
    """The loop of :func:`iter_frames` over an opened capture, which it releases.

    When the film has been read to its last decodable frame, ``report`` (a
    :class:`ReadReport`) is filled in; if the read fell short of the container a
    ``UserWarning`` with :attr:`ReadReport.message` is issued.
    """
    import cv2

    report = ReadReport() if report is None else report
    clock = _Clock(info.fps)
    try:
        index, last_slot, start = 0, -1, 0.0
        while capture.grab():
            time = clock.time(capture.get(cv2.CAP_PROP_POS_MSEC), index)
            if index == 0:
                start = time
            slot = _sample_slot(index, time, every, every_n)
            rgb = None
            if slot > last_slot:
                ok, bgr = capture.retrieve()
                if ok and bgr is not None:
                    last_slot = slot
                    code = cv2.COLOR_GRAY2RGB if bgr.ndim == 2 else cv2.COLOR_BGR2RGB
                    rgb = cv2.cvtColor(bgr, code)
                else:
                    report.n_failed += 1
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
        report.n_decoded = index
        _check_complete(info, report, start, clock.previous + clock.gap)
        if not report.complete:
            warnings.warn(report.message, UserWarning, stacklevel=2)
    finally:
        capture.release()
