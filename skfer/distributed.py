"""Scale-out on Dask: grid searches over skfer pipelines, and many films at once.

Two jobs outgrow one machine: searching backbones x schemes x detectors, and
analysing a film archive. skfer runs both on `Dask <https://distributed.dask.org>`_
(extra ``skfer[dask]``) instead of a scheduler of its own:

- **Searches and cross-validation** need no special code: scikit-learn's
  ``GridSearchCV`` / ``cross_validate`` run on a Dask cluster inside
  ``joblib.parallel_backend("dask")``. skfer's estimators pickle cleanly (a fitted
  :class:`~skfer.EmotionCNN` ships its weights as CPU tensors and rebuilds them on
  the worker's device); :func:`check_picklable` checks your own pipeline before a
  long search, naming the attribute that would not travel.
- **Films**: :func:`analyze_videos` maps :func:`skfer.analyze_video` over many
  films on a cluster and writes one Parquet timeline per film, atomically and
  resumably.
- :func:`local_cluster` starts worker processes on this machine, one per GPU
  (``CUDA_VISIBLE_DEVICES`` pinned per worker) when there are GPUs.

See ``docs/distributed.md`` for a walk-through.
"""

from __future__ import annotations

import io
import os
import pickle
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from distributed import Client, SpecCluster

__all__ = ["analyze_videos", "check_picklable", "local_cluster"]

#: Columns of the summary returned by :func:`analyze_videos`.
SUMMARY_COLUMNS = ("path", "output", "status", "rows", "seconds", "error")

_INSTALL_HINT = 'pip install "skfer[dask]"  (or: pip install "dask[distributed]" pyarrow)'


def _require_dask(what: str) -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{what} needs Dask's distributed scheduler: {_INSTALL_HINT}") from exc


# ----------------------------------------------------------------- pickling
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


# ------------------------------------------------------------------ cluster
def _visible_gpus() -> list[str]:
    """CUDA devices this process sees, as the ids CUDA_VISIBLE_DEVICES takes."""
    if sys.platform.startswith("linux") and not os.path.exists("/dev/nvidiactl"):
        return []  # no NVIDIA driver: no need to import torch to know
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return []
    count = torch.cuda.device_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [str(i) for i in range(count)]
    return [v.strip() for v in visible.split(",") if v.strip()][:count]


def _resolve_gpus(gpus) -> tuple[list[str], bool]:
    """(physical GPU ids, one per worker; whether to hide GPUs from CPU workers)."""
    if gpus is None or gpus is False or (isinstance(gpus, int) and gpus == 0):
        return [], True
    if isinstance(gpus, str):
        if gpus != "auto":
            raise ValueError(f"gpus must be 'auto', an int or a list of GPU indices, got {gpus!r}.")
        return _visible_gpus(), False
    visible = _visible_gpus()
    if isinstance(gpus, bool) or not isinstance(gpus, (int, Sequence)):
        raise TypeError(f"gpus must be 'auto', an int or a list of GPU indices, got {gpus!r}.")
    if isinstance(gpus, int):
        if gpus < 0 or gpus > len(visible):
            raise ValueError(f"gpus={gpus} but this machine has {len(visible)} visible GPU(s).")
        return visible[:gpus], False
    chosen = []
    for index in gpus:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(visible):
            raise ValueError(
                f"gpus: {index!r} is not the index of a visible GPU (this machine has "
                f"{len(visible)}: indices 0..{len(visible) - 1})."
            )
        chosen.append(visible[index])
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"gpus lists a GPU twice: {list(gpus)}.")
    return chosen, not chosen


def local_cluster(
    n_workers: int | None = None,
    *,
    threads_per_worker: int = 1,
    gpus: str | int | Sequence[int] | None = "auto",
    memory_limit: str | int | None = "auto",
    dashboard_address: str | None = None,
) -> SpecCluster:
    """Start a Dask cluster of worker processes on this machine, one GPU per worker.

    With GPUs, each worker process sees exactly one of them (its
    ``CUDA_VISIBLE_DEVICES`` is set before it starts, as ``dask-cuda``'s
    ``LocalCUDACluster`` does), so ``EmotionCNN(device="auto")`` or
    ``device="cuda"`` trains and predicts on that worker's own GPU; each worker
    also advertises the resource ``{"GPU": 1}``. Without GPUs it is a plain
    ``LocalCluster`` of processes. Either way each worker runs single-threaded
    BLAS/OpenMP (Dask sets ``OMP_NUM_THREADS=1``), so workers do not fight for
    cores. Use it as a context manager, or close it.

    Parameters
    ----------
    n_workers : int, optional
        CPU worker processes (default: one per core, as Dask chooses). With GPUs
        it must be None or the number of GPUs used.
    threads_per_worker : int, default=1
        Tasks each worker runs at once.
    gpus : "auto", int, list of int or None, default="auto"
        ``"auto"``: one worker per visible GPU, or CPU workers when there is none.
        An int: the first that many visible GPUs. A list: those GPU indices (as
        ``torch.cuda`` numbers them in this process). ``None`` or ``0``: CPU
        workers that do not see the GPUs at all.
    memory_limit : str, int or None, default="auto"
        Per worker, as in :class:`distributed.LocalCluster`.
    dashboard_address : str, optional
        Serve Dask's dashboard there (e.g. ``":8787"``; needs ``bokeh``).

    Returns
    -------
    cluster : distributed.SpecCluster
        A ``LocalCluster`` without GPUs. Connect with ``distributed.Client(cluster)``.

    Raises
    ------
    ValueError
        A GPU index that is not visible, or ``n_workers`` different from the
        number of GPUs.

    Examples
    --------
    >>> from distributed import Client  # doctest: +SKIP
    >>> from skfer.distributed import local_cluster
    >>> with local_cluster(n_workers=2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     print(len(client.scheduler_info()["workers"]))
    2
    """
    _require_dask("local_cluster")
    import logging

    from distributed import LocalCluster, Nanny, Scheduler, SpecCluster

    if not isinstance(threads_per_worker, int) or threads_per_worker < 1:
        raise ValueError(f"threads_per_worker must be a positive int, got {threads_per_worker!r}.")
    if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 1):
        raise ValueError(f"n_workers must be a positive int or None, got {n_workers!r}.")
    gpu_ids, hide = _resolve_gpus(gpus)
    # the scheduler serves HTTP even without a dashboard: on a free port, not 8787
    http = {
        "dashboard": dashboard_address is not None,
        "dashboard_address": dashboard_address or ":0",
    }
    if not gpu_ids:
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=dashboard_address,
            scheduler_kwargs=http,
            env={"CUDA_VISIBLE_DEVICES": ""} if hide else {},
        )
    if n_workers is not None and n_workers != len(gpu_ids):
        raise ValueError(
            f"n_workers={n_workers} but {len(gpu_ids)} GPU(s) are used, one worker each; "
            "leave n_workers=None or choose the GPUs with gpus=[...]."
        )
    workers = {
        f"gpu-{gpu}": {
            "cls": Nanny,
            "options": {
                "host": "127.0.0.1",
                "silence_logs": logging.WARNING,
                "nthreads": threads_per_worker,
                "memory_limit": memory_limit,
                "env": {"CUDA_VISIBLE_DEVICES": gpu},
                "resources": {"GPU": 1},
            },
        }
        for gpu in gpu_ids
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", **http}}
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.WARNING)


# ------------------------------------------------------------------- films
_MODELS: dict[tuple, Any] = {}  # per worker process: (name or file, mtime, size) -> model


def _worker_model(model: Any) -> Any:
    """A model name or file is loaded once per worker process; objects pass through."""
    if model is None:
        from .video._analyze import VIDEO_MODEL

        model = VIDEO_MODEL  # analyze_video's default
    if not isinstance(model, (str, os.PathLike)):
        return model
    name = os.fspath(model)
    key: tuple = (name,)
    if os.path.isfile(name):  # a file: reload when it changes (workers outlive runs)
        stat = os.stat(name)
        key = (name, stat.st_mtime_ns, stat.st_size)
    if key not in _MODELS:
        from .models import load_model

        _MODELS[key] = load_model(name)
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
            from .video import analyze_video as analyze
        timeline = analyze(path, model=_worker_model(model), **kwargs)
        import pandas as pd

        if not isinstance(timeline, pd.DataFrame):
            raise TypeError(f"the analysis returned {type(timeline).__name__}, not a DataFrame")
    except Exception as exc:  # noqa: BLE001 - reported in the summary
        return {"timeline": None, "seconds": time.perf_counter() - start,
                "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    return {"timeline": timeline, "seconds": time.perf_counter() - start, "error": None}


def _write_parquet_atomic(frame: pd.DataFrame, target: Path) -> None:
    """Write ``frame`` to ``target`` through a temp file and os.replace (all or nothing)."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            frame.to_parquet(handle, engine="pyarrow")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _parquet_rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except Exception:  # noqa: BLE001 - not a complete Parquet file
        return None


def _check_paths(paths) -> list[Path]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(
            f"paths must be a list of video files, got the single path {paths!r}; "
            "pass [path], or e.g. sorted(Path(folder).glob('*.mp4'))."
        )
    try:
        items = list(paths)
    except TypeError:
        raise TypeError(
            f"paths must be a list of video files, got {type(paths).__name__}."
        ) from None
    checked, missing = [], []
    for i, item in enumerate(items):
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(
                f"paths[{i}] must be a str or path, got {type(item).__name__}: {item!r}."
            )
        path = Path(item).expanduser()
        if path.is_dir():
            raise ValueError(
                f"paths[{i}] {str(path)!r} is a folder; pass the films in it, e.g. "
                "sorted(Path(folder).glob('*.mp4'))."
            )
        if not path.is_file():
            missing.append(f"paths[{i}] {str(path)!r}")
        checked.append(path)
    if missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise FileNotFoundError(f"No such video file: {', '.join(missing[:5])}{more}.")
    by_stem: dict[str, Path] = {}
    for path in checked:
        other = by_stem.setdefault(path.stem, path)
        if other is not path:
            what = (
                "is listed twice"
                if other.resolve() == path.resolve()
                else (f"and {str(other)!r} share the output name {path.stem + '.parquet'!r}")
            )
            raise ValueError(f"{str(path)!r} {what}; each film needs its own file stem.")
    return checked


def _check_analyze_kwargs(kwargs: dict) -> None:
    import inspect

    from .video import analyze_video

    try:
        inspect.signature(analyze_video).bind("film", None, **kwargs)
    except TypeError as exc:
        raise TypeError(f"analyze_videos: invalid argument for analyze_video: {exc}.") from None


def _connect(client, n_films: int):
    """(client, cluster to close or None, client to close or None)."""
    from distributed import Client

    if client is None:  # no more workers than films
        from dask.system import CPU_COUNT

        gpus = _visible_gpus()
        if gpus:
            cluster = local_cluster(gpus=min(len(gpus), n_films))
        else:
            cluster = local_cluster(n_workers=min(n_films, CPU_COUNT), gpus="auto")
        try:
            own = Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
        return own, cluster, own
    if isinstance(client, str):
        own = Client(client, set_as_default=False)
        return own, None, own
    return client, None, None


def analyze_videos(
    paths: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    client: Client | str | None = None,
    model: Any = None,
    overwrite: bool = False,
    progress: bool = True,
    **analyze_kwargs: Any,
) -> pd.DataFrame:
    """Analyse many films in parallel on a Dask cluster, one Parquet timeline each.

    Each film goes to a worker, which runs :func:`skfer.analyze_video` on it; the
    timeline comes back and is written to ``<out_dir>/<stem>.parquet`` through a
    temporary file and :func:`os.replace`, so an interrupted run never leaves a
    partial file. Runs resume: a film whose Parquet exists is skipped (pass
    ``overwrite=True`` to recompute). A film that fails is reported in the summary
    and does not stop the others.

    Parameters
    ----------
    paths : iterable of path-like
        Video files; their stems name the outputs, so they must be distinct.
        Workers read them, so on a multi-machine cluster they must be on storage
        every worker sees (``out_dir`` only needs to be visible here).
    out_dir : path-like
        Folder for the timelines (created if absent).
    client : distributed.Client, str or None, default=None
        The cluster to use (a client, or a scheduler address). ``None`` starts a
        :func:`local_cluster` of processes for this call (one per GPU when there are
        GPUs, else up to one per core) and closes it afterwards.
    model : str, path-like, estimator or None, default=None
        A shipped model name or a weights file, loaded once per worker process
        with :func:`skfer.load_model`; or a fitted classifier (what
        :func:`skfer.analyze_video` takes), sent once to every worker. ``None``:
        :func:`skfer.analyze_video`'s default (the shipped ``"film"`` model).
    overwrite : bool, default=False
        Recompute films whose Parquet exists.
    progress : bool, default=True
        Show a progress bar (tqdm, on stderr) as films finish. The per-film bar of
        :func:`skfer.analyze_video` stays off on the workers.
    **analyze_kwargs
        Passed to :func:`skfer.analyze_video`: ``every``, ``detector``,
        ``scheme``... (names are checked before any work starts; values by
        :func:`skfer.analyze_video`, so a wrong value fails every film).

    Returns
    -------
    summary : pandas.DataFrame
        One row per film, in the order given: ``path``, ``output`` (the Parquet
        file), ``status`` (``"done"``, ``"skipped"`` or ``"failed"``), ``rows``
        (timeline rows), ``seconds`` (time on the worker; a worker's first film
        includes loading the model; 0 when skipped) and ``error``
        (``"ExceptionType: message"`` when failed).

    Raises
    ------
    FileNotFoundError
        A path that is not a file (all are checked before any work starts).
    ValueError
        Two films with the same stem, or a folder among the paths.
    TypeError
        ``paths`` is a single path, or ``model`` cannot be sent to workers
        (see :func:`check_picklable`).

    Examples
    --------
    >>> from pathlib import Path
    >>> from skfer.distributed import analyze_videos
    >>> films = sorted(Path("archive").glob("*.mp4"))  # doctest: +SKIP
    >>> summary = analyze_videos(films, "timelines", every=0.5)  # doctest: +SKIP
    >>> summary.status.value_counts()  # doctest: +SKIP
    done    12
    Name: count, dtype: int64
    >>> import pandas as pd  # doctest: +SKIP
    >>> timeline = pd.read_parquet("timelines/some_film.parquet")  # doctest: +SKIP
    """
    _require_dask("analyze_videos")
    import pandas as pd

    films = _check_paths(paths)
    _check_analyze_kwargs(analyze_kwargs)
    if client is not None and not isinstance(client, str) and not hasattr(client, "submit"):
        raise TypeError(
            "client must be a distributed.Client, a scheduler address or None, "
            f"got {type(client).__name__}."
        )
    if model is not None and not isinstance(model, (str, os.PathLike)):
        check_picklable(model, name="model")
    elif model is not None and Path(model).expanduser().is_file():
        model = str(Path(model).expanduser().resolve())  # workers may run elsewhere
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {str(out)!r} exists and is not a folder.")
    out.mkdir(parents=True, exist_ok=True)

    records = {}
    todo = []
    for film in films:
        target = out / f"{film.stem}.parquet"
        record = {"path": str(film), "output": str(target), "status": None, "rows": None,
                  "seconds": 0.0, "error": None}  # fmt: skip
        records[film.stem] = record
        if target.is_file() and not overwrite:
            rows = _parquet_rows(target)
            if rows is not None:
                record.update(status="skipped", rows=rows)
                continue
        for stale in out.glob(f".{target.name}.*.tmp"):  # left by a killed run
            stale.unlink(missing_ok=True)
        todo.append(film)

    if todo:
        _run_films(todo, out, records, client, model, analyze_kwargs, progress)

    summary = pd.DataFrame([records[f.stem] for f in films], columns=list(SUMMARY_COLUMNS))
    summary["rows"] = summary["rows"].astype("Int64")
    summary["seconds"] = summary["seconds"].astype(float)
    return summary


def _run_films(todo, out, records, client, model, kwargs, progress, analyze=None) -> None:
    from distributed import as_completed
    from tqdm.auto import tqdm

    client, cluster, own_client = _connect(client, len(todo))
    pending: dict = {}
    try:
        shipped = model
        if model is not None and not isinstance(model, (str, os.PathLike)):
            shipped = client.scatter(model, broadcast=True, hash=False)
        token = uuid.uuid4().hex[:8]
        for film in todo:
            future = client.submit(
                _analyze_film, str(film.absolute()), shipped, dict(kwargs), analyze,
                key=f"skfer-film-{film.stem}-{token}", pure=False,
            )  # fmt: skip
            pending[future.key] = (film.stem, future)
        failed = 0
        with tqdm(total=len(pending), desc="films", unit="film", disable=not progress) as bar:
            futures = [f for _, f in pending.values()]
            for future in as_completed(futures, loop=client.loop):  # not the default client
                stem, _ = pending.pop(future.key)  # dropping the future frees the worker's copy
                record = records[stem]
                try:
                    result = future.result()
                    if result["error"] is None:
                        _write_parquet_atomic(result["timeline"], Path(record["output"]))
                    record.update(seconds=result["seconds"], error=result["error"])
                    if result["error"] is None:
                        record.update(status="done", rows=len(result["timeline"]))
                except Exception as exc:  # noqa: BLE001 - a worker died, or writing failed
                    record.update(error=f"{type(exc).__name__}: {exc}")
                if record["error"] is not None:
                    failed += 1
                    record["status"] = "failed"
                del future
                bar.update(1)
                if failed:
                    bar.set_postfix(failed=failed)
    finally:
        for _, future in pending.values():
            future.cancel()
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()
