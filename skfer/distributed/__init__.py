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

See ``docs/distributed.rst`` for a walk-through. Inside: ``_pickling`` (the pickling
audit behind :func:`check_picklable`), ``_cluster`` (:func:`local_cluster` and the client
a run connects to), ``_films`` (the film runner :func:`analyze_videos`) and ``_worker``
(what runs on a worker: one film, the model loaded once per process).
"""

from __future__ import annotations

from ._cluster import local_cluster
from ._films import SUMMARY_COLUMNS as SUMMARY_COLUMNS  # public, though not in __all__
from ._films import analyze_videos
from ._pickling import check_picklable

__all__ = ["analyze_videos", "check_picklable", "local_cluster"]
