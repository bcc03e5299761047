"""``run.json``: the record of one ``skfer`` command, written beside its outputs.

A result file alone does not say how it was made. Every CLI command writes, beside its
outputs, a JSON record of the run: the command line, when it ran and for how long,
the versions, the model (and the checksum of its weights file), the face detector and
framing, the sampling and what the film was (for ``skfer video``), and the files it
wrote. It is written atomically (a temporary file renamed), also after a command that
failed once its work had started (a partial film, say), with the error.

Fields (JSON; a value not known is ``null``):

- ``command`` (``predict``, ``video``, ``demo``, ``evaluate``), ``argv`` (``["skfer",
  ...]``), ``started`` and ``finished`` (UTC, ISO 8601), ``wall_s`` (seconds),
  ``status`` (``"ok"`` or ``"error"``, then ``error``: the one-line message);
- ``skfer``, ``python``, ``platform``; ``versions``: ``numpy``, and ``torch``,
  ``onnxruntime``, ``cv2``, ``dlib`` for those the run imported;
- ``model``: ``given`` (the name or file as given, or the default), ``file`` (resolved),
  ``shipped``, ``checksum``, ``classes``, ``architecture`` (from the file's metadata);
  for ``evaluate`` without ``--model``, ``trained`` (the estimator trained);
- ``detector`` (as resolved, ``"hog+yunet"``), ``framing`` (the cropper's parameters),
  ``min_score``, ``inputs`` (images read) for ``predict`` and ``demo``;
- ``video``: ``sampling`` (``every`` / ``every_n_frames`` as given) and ``film``: ``source,
  fps, step, duration, n_sampled, shots, scheme, labels, detector, framing, adapt,
  persons, complete, covered, damage`` (the timeline's ``attrs``);
- ``evaluate``: ``datasets`` (name -> faces);
- ``outputs``: the files written.

``predict`` writes it in ``--out``'s folder, else as ``<stem>.run.json`` beside ``--csv``
(or ``--json``); ``video`` in its output folder; ``demo`` and ``evaluate`` in ``--out``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["model_record", "new_record", "record_beside", "write_record"]

RUN_FILE = "run.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_record(argv: list[str], command: str) -> dict:
    """The record of a command starting now (completed by :func:`write_record`).

    Parameters
    ----------
    argv : list of str
        The command's arguments, without the program name.
    command : str
        The subcommand.

    Returns
    -------
    dict
        ``command, argv, started, skfer, python, platform`` (and a private start time).
    """
    from . import __version__

    return {
        "command": command,
        "argv": ["skfer", *argv],
        "started": _now(),
        "skfer": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "_t0": time.perf_counter(),
    }


def model_record(model, default: str) -> dict:
    """What ``--model`` stood for, as the record's ``model`` field.

    Parameters
    ----------
    model : str, path-like or None
        ``--model`` as given (None: ``default``); another object is recorded by type.
    default : str or None
        The command's default model name.

    Returns
    -------
    dict
        ``given, file, shipped, checksum, classes, architecture``: the file it resolves
        to, and the ``checksum`` and classes stored in that weights file (read from its
        header, no tensor loaded).
    """
    from ._shipped import resolve_weights, shipped_models

    given = default if model is None else model
    if not isinstance(given, (str, os.PathLike)):
        return {"given": type(given).__name__}
    path = resolve_weights(given)
    out = {"given": str(given), "file": str(path)}
    out["shipped"] = isinstance(given, str) and given in shipped_models()
    meta = _safetensors_metadata(path)
    config = json.loads(meta.get("skfer", "{}")) if "skfer" in meta else {}
    out["checksum"] = config.get("checksum")
    out["classes"] = config.get("classes")
    out["architecture"] = config.get("architecture")
    return out


def _safetensors_metadata(path: Path) -> dict:
    """The ``__metadata__`` of a safetensors file, read from its JSON header alone."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                return {}
            header = json.loads(f.read(n))
    except (OSError, ValueError):
        return {}
    meta = header.get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}


def _versions() -> dict:
    import numpy

    out = {"numpy": numpy.__version__}
    for name in ("torch", "onnxruntime", "cv2", "dlib"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", None)
    return out


def record_beside(path: str | os.PathLike) -> Path:
    """Where the record of a command whose output is the file ``path`` goes:
    ``<stem>.run.json`` beside it (``faces.csv`` -> ``faces.run.json``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.run.json")


def write_record(record: dict, where: str | os.PathLike, *, error: str | None = None) -> Path:
    """Finish ``record`` and write it atomically (a temporary file renamed over it).

    Parameters
    ----------
    record : dict
        From :func:`new_record`, with the command's own fields added.
    where : path-like
        A folder (the record is ``where/run.json``) or a ``.json`` file path.
    error : str, optional
        The one-line error of a failed command: ``status`` is then ``"error"``.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    data = {k: v for k, v in record.items() if not k.startswith("_")}
    data["finished"] = _now()
    data["wall_s"] = round(time.perf_counter() - record.get("_t0", time.perf_counter()), 3)
    data["versions"] = _versions()
    data["status"] = "error" if error else "ok"
    if error:
        data["error"] = error
    where = Path(where)
    target = where if where.suffix.lower() == ".json" else where / RUN_FILE
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".run-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(_clean(data), f, indent=2, allow_nan=False)
            f.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _clean(value):
    """``value`` as plain JSON, recursively: numpy scalars and arrays as Python values,
    every non-finite float (NaN, inf) as None, anything else unknown (a path) as text."""
    import math

    import numpy as np

    if isinstance(value, (np.generic, np.ndarray)):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
