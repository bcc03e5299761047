"""Worker side of the film runner: one film's analysis, the model loaded once per process."""

from __future__ import annotations

import os
import time
from typing import Any

# per worker process: (name or file, backend[, mtime, size]) -> model
_MODELS: dict[tuple, Any] = {}


def _worker_model(model: Any, backend: str = "auto") -> Any:
    """A model name or file is loaded once per worker process; objects pass through.

    ``None`` is :data:`skfer.video.VIDEO_MODEL`, :func:`skfer.analyze_video`'s default;
    names and files load through :func:`skfer.load_model` with ``backend`` (by default
    ONNX Runtime on a CPU: a worker then never imports torch).
    """
    if model is None:
        from ..video import VIDEO_MODEL

        model = VIDEO_MODEL
    if not isinstance(model, (str, os.PathLike)):
        return model
    name = os.fspath(model)
    key: tuple = (name, backend)
    if os.path.isfile(name):  # a file: reload when it changes (workers outlive runs)
        stat = os.stat(name)
        key = (name, backend, stat.st_mtime_ns, stat.st_size)
    if key not in _MODELS:
        from .._load import load_model

        _MODELS[key] = load_model(name, backend=backend)
    return _MODELS[key]


def _analyze_film(path: str, model: Any, kwargs: dict, analyze: Any = None) -> dict:
    """Worker side: one film's timeline and the seconds it took, or the error.

    Errors are returned, not raised, so that a few unreadable films in an archive
    do not fill the workers' logs with tracebacks; a worker that dies still
    surfaces as an exception of the future.
    """
    start = time.perf_counter()
    try:
        if analyze is None:
            from ..video import analyze_video as analyze
        # no per-film progress on the workers: the client shows one bar over the films
        kwargs = {"progress": False, **kwargs}
        from .._load import serving_backend

        backend = serving_backend(kwargs.get("backend", "auto"), kwargs.get("adapt"))
        timeline = analyze(path, model=_worker_model(model, backend), **kwargs)
        import pandas as pd

        if not isinstance(timeline, pd.DataFrame):
            raise TypeError(f"the analysis returned {type(timeline).__name__}, not a DataFrame")
    except Exception as exc:  # noqa: BLE001 - reported in the summary
        return {"timeline": None, "seconds": time.perf_counter() - start,
                "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    return {"timeline": timeline, "seconds": time.perf_counter() - start, "error": None}
