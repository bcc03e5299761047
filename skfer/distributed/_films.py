"""Many films on a Dask cluster: :func:`analyze_videos`, one Parquet timeline per film."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._cluster import _connect, _require_dask
from ._pickling import check_picklable
from ._worker import _analyze_film

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from distributed import Client

__all__ = ["analyze_videos"]

#: Columns of the summary returned by :func:`analyze_videos`.
SUMMARY_COLUMNS = ("path", "output", "status", "rows", "seconds", "error")


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
    """Rows of a complete Parquet timeline; None when it is not one, or holds a film
    read only in part (``attrs["complete"]`` False), which is then analysed again."""
    import json

    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        attrs = json.loads((meta.metadata or {}).get(b"PANDAS_ATTRS", b"{}"))
    except Exception:  # noqa: BLE001 - not a complete Parquet file
        return None
    if isinstance(attrs, dict) and attrs.get("complete") is False:
        return None
    return meta.num_rows


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

    from ..video import analyze_video

    try:
        inspect.signature(analyze_video).bind("film", None, **kwargs)
    except TypeError as exc:
        raise TypeError(f"analyze_videos: invalid argument for analyze_video: {exc}.") from None


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
    ``overwrite=True`` to recompute), unless that timeline is partial. A film that
    fails is reported in the summary and does not stop the others; a truncated or
    corrupted film that is read only in part has its timeline written for the part
    read and is reported ``"partial"``.

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
        file), ``status`` (``"done"``, ``"partial"``, ``"skipped"`` or ``"failed"``),
        ``rows`` (timeline rows), ``seconds`` (time on the worker; a worker's first
        film includes loading the model; 0 when skipped) and ``error``
        (``"ExceptionType: message"`` when failed; for a partial film, what was
        missing and the range read, as in ``timeline.attrs["damage"]``).
        ``"partial"``: the film was read only in part (truncated or corrupted,
        ``timeline.attrs["complete"]`` False); its Parquet holds the part read
        (``attrs["covered"]``) and the film is analysed again by the next run.

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
                damage = None
                try:
                    result = future.result()
                    if result["error"] is None:
                        _write_parquet_atomic(result["timeline"], Path(record["output"]))
                    record.update(seconds=result["seconds"], error=result["error"])
                    if result["error"] is None:
                        attrs = result["timeline"].attrs
                        partial = attrs.get("complete", True) is False
                        record.update(status="partial" if partial else "done",
                                      rows=len(result["timeline"]))  # fmt: skip
                        if partial:
                            damage = attrs.get("damage") or "read only in part"
                except Exception as exc:  # noqa: BLE001 - a worker died, or writing failed
                    record.update(error=f"{type(exc).__name__}: {exc}")
                if record["error"] is not None:
                    failed += 1
                    record["status"] = "failed"
                elif damage is not None:
                    record["error"] = damage
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
