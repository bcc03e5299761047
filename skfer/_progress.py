"""Progress of skfer's long work (films, datasets, many images), on stderr, plain ASCII.

One rule for every entry point that takes ``progress`` (:func:`skfer.analyze_video`,
the ``skfer`` commands through ``--quiet``), decided by :func:`progress_mode`:

- ``progress=False``, ``--quiet``, or the environment variable ``SKFER_PROGRESS=0``:
  nothing.
- stderr is a terminal: a live tqdm bar with an ETA, redrawn in place.
- stderr is not a terminal (a log file, a pipe, a notebook, a test's captured stream):
  plain lines, each one a complete status (``film.mp4:  40%|####  | 4000/10000
  [01:20<02:00, 50.0frame/s]``), at most one every :data:`LINE_INTERVAL` seconds and
  a last one when the work ends, never a carriage return or an escape code; the first
  line waits :data:`LINE_DELAY` seconds, so work shorter than that prints nothing.
- ``progress=True`` or ``SKFER_PROGRESS=1`` (forced): the same, except that the lines of a
  non-terminal start at once.

The bars are tqdm's, in ASCII characters and without colour.
"""

from __future__ import annotations

import os
import sys

__all__ = ["counted", "counting_predictions", "progress_bar", "progress_enabled", "progress_mode"]

#: The environment variable that turns progress off (``"0"``) or forces it (``"1"``).
PROGRESS_ENV = "SKFER_PROGRESS"
#: Off a terminal: seconds before the first line (shorter work prints none) ...
LINE_DELAY = 10.0
#: ... and the least seconds between two lines.
LINE_INTERVAL = 30.0


def _isatty(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def progress_mode(progress: bool | None = None, stream=None) -> str:
    """How progress is shown on ``stream`` (default: stderr), by the module's rule.

    Parameters
    ----------
    progress : bool or None, default=None
        False: off; True: forced on; None: on, unless ``SKFER_PROGRESS`` is ``"0"``
        (``"1"`` forces it).
    stream : file-like, optional
        Where it goes; default ``sys.stderr``.

    Returns
    -------
    {"off", "bar", "lines", "lines-now"}
        ``"bar"``: a live bar (a terminal); ``"lines"``: plain lines, the first after
        :data:`LINE_DELAY` seconds; ``"lines-now"``: plain lines from the start (forced
        off a terminal).

    Examples
    --------
    >>> import io
    >>> progress_mode(False), progress_mode(True, io.StringIO())
    ('off', 'lines-now')
    """
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None, got {progress!r}.")
    forced = progress is True
    if progress is None:
        setting = os.environ.get(PROGRESS_ENV, "").strip().lower()
        if setting in ("0", "false", "no", "off"):
            return "off"
        forced = setting in ("1", "true", "yes", "on")
    elif not progress:
        return "off"
    if _isatty(sys.stderr if stream is None else stream):
        return "bar"
    return "lines-now" if forced else "lines"


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether progress is shown at all (:func:`progress_mode` is not ``"off"``).

    Parameters
    ----------
    enabled : bool or None, default=None
        As ``progress`` of :func:`progress_mode`.

    Returns
    -------
    bool

    Examples
    --------
    >>> progress_enabled(False), progress_enabled(True)
    (False, True)
    """
    return progress_mode(enabled) != "off"


class _Lines:
    """tqdm's stream off a terminal: each refresh a line of its own, no carriage return."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").rstrip()
        if text:
            self._stream.write(text + "\n")

    def flush(self) -> None:
        flush = getattr(self._stream, "flush", None)
        if flush is not None:
            flush()


def progress_bar(total: int | None, *, desc: str, unit: str, enabled: bool | None = None):
    """A progress bar on stderr following the module's rule, or a silent stand-in.

    Parameters
    ----------
    total : int or None
        The count at completion (None: unknown, no ETA).
    desc : str
        What is counted, shown before the bar (``"cropping sfew-Train"``).
    unit : str
        The unit counted (``"image"``, ``"face"``, ``"frame"``).
    enabled : bool or None, default=None
        ``progress`` of :func:`progress_mode`; a disabled bar prints nothing and costs
        nothing.

    Returns
    -------
    tqdm.tqdm
        ASCII, no colour: a live bar on a terminal, plain lines (at most one every
        :data:`LINE_INTERVAL` seconds) elsewhere. Use ``update(n)`` and ``close()``,
        or ``with`` it.

    Examples
    --------
    >>> with progress_bar(3, desc="demo", unit="item", enabled=False) as bar:
    ...     bar.update(3)
    """
    from tqdm import tqdm

    mode = progress_mode(enabled)
    options = dict(total=total, desc=desc, unit=unit, ascii=True, colour=None, leave=True)
    if mode == "bar":
        return tqdm(**options, file=sys.stderr, dynamic_ncols=True)
    if mode == "off":
        return tqdm(**options, file=sys.stderr, disable=True)
    return tqdm(
        **options,
        file=_Lines(sys.stderr),
        ncols=80,
        mininterval=LINE_INTERVAL,
        maxinterval=LINE_INTERVAL,
        delay=0.0 if mode == "lines-now" else LINE_DELAY,
    )


def counted(items, bar):
    """``items`` one by one, ``bar`` counting each once the next one is asked for (the
    consumer is done with it), the last one when the consumer asks for more.

    Examples
    --------
    >>> with progress_bar(2, desc="images", unit="image", enabled=False) as bar:
    ...     list(counted(["a", "b"], bar))
    ['a', 'b']
    """
    for item in items:
        yield item
        bar.update(1)


class _Counted:
    """``model``, whose ``predict`` and ``predict_proba`` run in chunks, each one
    counted on ``bar``; everything else is the model's own (attributes, ``hasattr``)."""

    def __init__(self, model, bar, chunk: int):
        self._model, self._bar, self._chunk = model, bar, chunk

    def __getattr__(self, name):
        attr = getattr(self._model, name)
        if name in ("predict", "predict_proba") and callable(attr):
            return lambda X: self._chunked(attr, X)
        return attr

    def _chunked(self, method, X):
        import numpy as np

        n = len(X)
        if n <= self._chunk:
            out = method(X)
            self._count(n)
            return out
        parts = []
        for start in range(0, n, self._chunk):
            parts.append(np.asarray(method(X[start : start + self._chunk])))
            self._count(min(self._chunk, n - start))
        return np.concatenate(parts)

    def _count(self, n: int) -> None:
        bar = self._bar
        if bar.total is not None and bar.n + n > bar.total:  # a second pass (predict)
            bar.total = bar.n + n
        bar.update(n)


def counting_predictions(model, bar, *, chunk: int = 256):
    """``model`` with its predictions counted on ``bar``, ``chunk`` samples at a time.

    For a progress bar over a function that only takes the model, such as
    :func:`skfer.cross_dataset_report`: ``predict`` and ``predict_proba`` of the
    returned object predict ``chunk`` samples at a time and update ``bar`` after each;
    every other attribute is the model's.

    Parameters
    ----------
    model : estimator
        A fitted model with ``predict`` (and perhaps ``predict_proba``).
    bar : tqdm.tqdm
        From :func:`progress_bar`.
    chunk : int, default=256
        Samples predicted at once.

    Returns
    -------
    object
        The counting stand-in of ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 1, 1])
    >>> bar = progress_bar(5, desc="predicting", unit="face", enabled=False)
    >>> counting_predictions(model, bar, chunk=2).predict(np.zeros((5, 1))).tolist()
    [1, 1, 1, 1, 1]
    >>> hasattr(counting_predictions(model, bar), "predict_proba")
    True
    """
    return _Counted(model, bar, chunk)
