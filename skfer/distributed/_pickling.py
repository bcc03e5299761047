"""Will an estimator travel to worker processes? :func:`check_picklable` and its audit."""

from __future__ import annotations

import io
import pickle
import socket
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["check_picklable"]

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _problem(obj: Any) -> str | None:
    """Why ``obj`` must not travel to another process, or None."""
    if isinstance(obj, io.IOBase):
        state = "a closed" if obj.closed else "an open"
        return f"{state} file object {obj!r}"
    if isinstance(obj, socket.socket):
        return f"a socket {obj!r}"
    if isinstance(obj, _LOCK_TYPES):
        return "a thread lock"
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(obj, torch.Tensor) and obj.device.type != "cpu":
            return f"a tensor on {obj.device} (it would be rebuilt on that device of the worker)"
        if isinstance(obj, torch.Generator) and obj.device.type != "cpu":
            return f"a random generator on {obj.device}"
        cuda_types = tuple(
            t for t in (getattr(torch.cuda, n, None) for n in ("Stream", "Event")) if t
        )
        if cuda_types and isinstance(obj, cuda_types):
            return f"CUDA state ({type(obj).__name__})"
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        handles = tuple(
            t for t in (getattr(cv2, n, None) for n in ("VideoCapture", "VideoWriter")) if t
        )
        if handles and isinstance(obj, handles):
            return f"an OpenCV {type(obj).__name__} (an open video file or device)"
    return None


def _scan(obj: Any) -> tuple[bytes | None, list[str], BaseException | None]:
    """Pickle ``obj`` as Dask and loky would; return (payload, problems, error)."""
    try:
        import cloudpickle

        base = cloudpickle.CloudPickler  # what Dask falls back to, and what loky uses
    except ImportError:  # pragma: no cover - cloudpickle comes with joblib
        base = pickle.Pickler

    class _Scanner(base):
        def reducer_override(self, o):
            problem = _problem(o)
            if problem is not None:
                problems.append(problem)
            parent = getattr(super(), "reducer_override", None)
            return NotImplemented if parent is None else parent(o)

    problems: list[str] = []
    buffer = io.BytesIO()
    try:
        _Scanner(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return None, problems, exc
    return buffer.getvalue(), problems, None


def _children(obj: Any) -> Iterable[tuple[str, Any]]:
    """What pickle serialises inside ``obj``, with the suffix naming each part."""
    if isinstance(obj, Mapping):
        return [(f"[{k!r}]", v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, (str, bytes, int, float, type)) or obj is None:
        return []
    try:
        state = obj.__getstate__()  # what pickle stores (EmotionCNN drops its module here)
    except Exception:  # noqa: BLE001
        return []
    if isinstance(state, tuple) and len(state) == 2:  # (dict state, slots state)
        merged: dict = {}
        for part in state:
            if isinstance(part, Mapping):
                merged.update(part)
        state = merged
    if isinstance(state, Mapping):
        return [(f".{k}", v) for k, v in state.items()]
    return []


def _locate(obj: Any, where: str, depth: int = 0) -> list[tuple[str, str]]:
    """The innermost parts of ``obj`` that do not travel: [(path, reason)]."""
    _, problems, error = _scan(obj)
    if error is None and not problems:
        return []
    if depth < 12:
        found = []
        for suffix, child in _children(obj):
            found += _locate(child, where + suffix, depth + 1)
        if found:
            return found
    if problems:
        return [(where, f"holds {problems[0]}")]
    return [(where, f"fails to pickle ({type(error).__name__}: {error})")]


def check_picklable(estimator: Any, *, name: str = "estimator") -> int:
    """Check that an estimator travels to worker processes (Dask, joblib) cleanly.

    The estimator is pickled the way Dask and joblib's loky backend pickle it
    (cloudpickle, so lambdas and local functions are fine), every object pickle
    meets is inspected, and the payload is unpickled again. An object fails if
    it cannot be pickled or unpickled, or if it holds process-bound state that
    should not travel: open files, sockets, locks, OpenCV video handles, or
    tensors and CUDA streams on a GPU (unpickled on a worker, a CUDA tensor goes
    back to the same device number, which a worker pinned to another GPU does
    not have). Fitted :class:`~skfer.EmotionCNN` models pass: they ship their
    weights as CPU tensors and rebuild them on the worker's device.

    Parameters
    ----------
    estimator : object
        Usually an estimator or pipeline, fitted or not; any object works.
    name : str, default="estimator"
        How the error message names ``estimator``.

    Returns
    -------
    n_bytes : int
        Size of the pickled payload (worth a ``client.scatter`` above a few MB).

    Raises
    ------
    TypeError
        If it does not travel; the message names each offending attribute as a
        path from ``name`` (e.g. ``estimator.steps[1][1].log_file``) and why.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfer import EmotionLabelMapper, make_pipeline
    >>> from skfer.distributed import check_picklable
    >>> pipe = make_pipeline(EmotionLabelMapper("top4"), LogisticRegression())
    >>> check_picklable(pipe) > 0
    True
    >>> pipe.steps[1][1].log = open(__file__)
    >>> check_picklable(pipe)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: estimator cannot travel ...: estimator.steps[1][1].log holds an open file object ...
    >>> pipe.steps[1][1].log.close()
    """
    payload, problems, error = _scan(estimator)
    if error is not None or problems:
        found = _locate(estimator, name) or [(name, f"fails to pickle ({error})")]
        details = "; ".join(f"{where} {why}" for where, why in found)
        raise TypeError(
            f"{name} cannot travel to another process: {details}. Open such resources "
            "inside fit/predict (or drop them in __getstate__) and keep tensors on the CPU "
            "between calls."
        ) from error
    try:
        pickle.loads(payload)
    except Exception as exc:
        raise TypeError(
            f"{name} pickles but does not unpickle ({type(exc).__name__}: {exc})."
        ) from exc
    return len(payload)
