"""Dask clusters on this machine (one GPU per worker) and the client a run connects to."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from distributed import SpecCluster

__all__ = ["local_cluster"]

_INSTALL_HINT = 'pip install "skfer[dask]"  (or: pip install "dask[distributed]" pyarrow)'


def _require_dask(what: str) -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{what} needs Dask's distributed scheduler: {_INSTALL_HINT}") from exc


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
