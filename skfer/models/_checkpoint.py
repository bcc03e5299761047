"""Checkpoints that cannot lie: ``EmotionCNN(checkpoint_dir=...)``.

A checkpoint folder holds complete epoch sets and a manifest naming them::

    checkpoint.json     the manifest, written last: the epoch it stands for, the set of
                        the last epoch, the set of the best one, and the size and sha256
                        of every file of both
    epoch-0007/         the last completed epoch: params.pt (weights), optimizer.pt,
                        history.json, state.pt (random generators, LR-scheduler state)
    epoch-0005/         the best epoch by the early-stopping monitor, kept while it is the
                        best (only with early stopping; else the last set is the best)

Every file is written under a temporary name, fsynced, read back and compared (size and
sha256) before it is renamed; the manifest is replaced (the same way) only once all files
of the new set are complete, so a crash, a full disk or a SIGKILL at any moment leaves the
previous good set and its manifest in place. A failed write raises an :class:`OSError`
naming the folder and the file: training stops, the estimator stays as it was.

An epoch is saved at the start of the next one (or when training ends), once every
callback has recorded its values for it; a resumed run restores weights, optimizer,
history, random generators and LR-scheduler state, so on the CPU it continues exactly as
an uninterrupted run would. :class:`ResumableEarlyStopping` replays the history to pick up
early stopping's count and best score, and takes the best epoch's weights from the
checkpoint, so the run restores the best epoch of the *whole* run at its end.

On resume :func:`read_checkpoint` refuses an incomplete or damaged set (a listed file
missing, a size or checksum that differs, ``history.json`` without ``params.pt``) with a
:class:`ValueError` naming the folder and the file. Folders written by older skfer (plain
skorch ``Checkpoint`` files ``params.pt``, ``optimizer.pt``, ``history.json`` at the top
level) are still resumed from, without the checks they cannot carry.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

from skorch.callbacks import Checkpoint, EarlyStopping
from skorch.utils import noop

from ._checkpoint_files import (
    _ADVICE,
    _LEGACY,
    _SET,
    FORMAT,
    MANIFEST,
    STATE,
    CheckpointSet,
    _fsync_dir,
    _set_name,
    _where,
    _write_error,
    read_checkpoint,
    write_verified,
)

__all__ = [
    "MANIFEST",
    "CheckpointSet",
    "ResumableEarlyStopping",
    "SafeCheckpoint",
    "read_checkpoint",
    "replay_early_stopping",
]


# ------------------------------------------------------------------ reading a checkpoint


# ------------------------------------------------------------------ early stopping


def replay_early_stopping(
    history: list,
    *,
    monitor: str = "valid_acc",
    lower_is_better: bool = False,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    patience: int | None = None,
) -> dict:
    """skorch ``EarlyStopping``'s state after the epochs of ``history``, as it computes it.

    Returns ``best_epoch`` (None: no epoch has the monitor), ``misses``,
    ``dynamic_threshold`` and ``stopped`` (the stopper would have ended the run).

    Examples
    --------
    >>> rows = [{"epoch": 1, "valid_acc": 0.5}, {"epoch": 2, "valid_acc": 0.7},
    ...         {"epoch": 3, "valid_acc": 0.6}]
    >>> state = replay_early_stopping(rows, patience=2)
    >>> state["best_epoch"], state["misses"], state["stopped"]
    (2, 1, False)
    """
    limit = float("inf") if lower_is_better else float("-inf")
    best, misses, stopped = None, 0, False
    for row in history:
        if monitor not in row:
            continue
        score = row[monitor]
        if (score < limit) if lower_is_better else (score > limit):
            misses = 0
            change = threshold * score if threshold_mode == "rel" else threshold
            limit = score - change if lower_is_better else score + change
            best = row.get("epoch", best)
        else:
            misses += 1
        if patience is not None and misses == patience:
            stopped = True
    return {"best_epoch": best, "misses": misses, "dynamic_threshold": limit, "stopped": stopped}


def _find(net, kind):
    for _, cb in getattr(net, "callbacks_", ()):
        if isinstance(cb, kind):
            return cb
    return None


class ResumableEarlyStopping(EarlyStopping):
    """skorch ``EarlyStopping`` that carries on across a resumed run.

    On a resumed run (the history loaded from a checkpoint) it replays the history to
    take up its count of epochs without gain and its best score where they were, and
    takes the best epoch's weights from the :class:`SafeCheckpoint` of the same net, so
    that ``load_best`` restores the best epoch of the whole run.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        history = net.history.to_list() if len(net.history) else []
        if not history:
            return
        state = replay_early_stopping(
            history,
            monitor=self.monitor,
            lower_is_better=self.lower_is_better,
            threshold=self.threshold,
            threshold_mode=self.threshold_mode,
            patience=self.patience,
        )
        self.misses_ = state["misses"]
        self.dynamic_threshold_ = state["dynamic_threshold"]
        best = state["best_epoch"]
        self.best_epoch_ = best or 0
        if not self.load_best or best is None or best == history[-1].get("epoch"):
            return
        checkpoint = _find(net, SafeCheckpoint)
        weights = None if checkpoint is None else checkpoint.best_weights(net, best)
        if weights is None:
            warnings.warn(
                f"Resumed training: the weights of the best epoch so far ({best}) are not in "
                "the checkpoint (written by an older skfer); the run ends with a later "
                "epoch that beats it, or else with the last one.",
                UserWarning,
                stacklevel=2,
            )
        self.best_model_weights_ = weights


# ------------------------------------------------------------------ the checkpoint


class SafeCheckpoint(Checkpoint):
    """skorch ``Checkpoint`` that writes verified, atomic, complete epoch sets and
    resumes from them (it replaces skorch's ``Checkpoint`` + ``LoadInitState``).

    Parameters
    ----------
    dirname : str
        The checkpoint folder (``EmotionCNN(checkpoint_dir=...)``).
    f_params, f_optimizer, f_history : str
        File names inside each epoch set.
    sink : callable, default=noop
        Receives a line per saved checkpoint.

    See the module docstring for the folder's layout and guarantees.
    """

    def __init__(
        self,
        dirname="",
        f_params="params.pt",
        f_optimizer="optimizer.pt",
        f_history="history.json",
        sink=noop,
    ):
        super().__init__(
            monitor=None,
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=None,
            f_history=f_history,
            f_pickle=None,
            dirname=dirname,
            sink=sink,
        )

    def initialize(self):
        self._validate_filenames()
        names = [self.f_params, self.f_optimizer, self.f_history, STATE]
        if any(not isinstance(n, str) or not n or "/" in n or os.sep in n for n in names[:3]):
            raise ValueError("SafeCheckpoint file names must be plain file names.")
        if len(set(names)) != len(names):
            raise ValueError(f"SafeCheckpoint file names must differ, got {names}.")
        self.committed_ = 0  # the epoch the manifest stands for
        self.complete_ = 0  # the last epoch whose callbacks all ran
        self.found_ = None
        self.manifest_ = None  # the manifest on disk, once read or written
        self.pending_state_ = None
        self.retry_ = None
        return self

    # -- helpers
    def _folder(self) -> Path:
        return Path(os.fspath(self.dirname)).expanduser()

    def best_weights(self, net, epoch: int):
        """The state dict of ``epoch`` when the checkpoint holds it, else None."""
        import torch

        found = self.found_
        if found is None:
            return None
        if epoch == found.best_epoch and found.best_params is not None:
            path = found.best_params
        elif epoch == found.epoch:
            path = found.params
        else:
            return None
        try:
            return torch.load(path, map_location=net.device, weights_only=True)
        except Exception as exc:
            raise ValueError(
                f"{_where(self._folder())}: cannot load the best epoch's weights from "
                f"{path.relative_to(self._folder())} ({exc}); {_ADVICE}."
            ) from exc

    def _probe(self, folder: Path) -> None:
        """Fail before training when the folder cannot hold a checkpoint."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(folder, "the folder", exc, "nothing was trained") from exc
        probe = f".write-probe{os.getpid()}"
        write_verified(folder, probe, b"skfer checkpoint probe\n", kept="nothing was trained")
        try:
            (folder / probe).unlink()
        except OSError:
            pass

    # -- skorch hooks
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        folder = self._folder()
        found = read_checkpoint(folder)  # ValueError on an incomplete or damaged set
        if net.max_epochs:  # something to train, hence to write
            self._probe(folder)
        self.found_ = found
        self.manifest_ = None if found is None else found.manifest
        if found is None:
            self.committed_ = self.complete_ = len(net.history)
            return
        import torch

        steps = [
            ("f_params", found.params),
            ("f_optimizer", found.optimizer),
            ("f_history", found.history_file),
            ("state", found.state),
        ]
        for key, path in steps:
            if path is None:
                continue
            try:
                if key == "state":
                    self.pending_state_ = torch.load(path, map_location="cpu", weights_only=True)
                else:
                    net.load_params(**{key: str(path)})
            except Exception as exc:
                raise ValueError(
                    f"{_where(folder)}: cannot resume from the checkpoint of epoch "
                    f"{found.epoch}: {path.relative_to(folder).as_posix()} does not load "
                    f"({type(exc).__name__}: {exc}); {_ADVICE}."
                ) from exc
        if found.state is None:
            warnings.warn(
                f"{_where(folder)} was written by an older skfer: resuming without the "
                "random-generator and LR-scheduler state, so the run will not repeat an "
                "uninterrupted one exactly.",
                UserWarning,
                stacklevel=2,
            )
        self.committed_ = self.complete_ = found.epoch

    def on_epoch_begin(self, net, **kwargs):
        if self.pending_state_ is not None:
            state, self.pending_state_ = self.pending_state_, None
            self._restore_state(net, state)
        done = len(net.history) - 1  # the row of this epoch is already there
        if done > self.committed_ and self.complete_ == done:
            try:
                self._commit(net, done)
            except KeyboardInterrupt:  # Ctrl-C while writing: nothing trained since
                self.retry_ = done
                raise

    def on_epoch_end(self, net, **kwargs):
        if self.event_name is not None:
            net.history.record(self.event_name, True)
        self.complete_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        epoch = len(net.history)
        if getattr(self, "retry_", None) == epoch - 1 > self.committed_:
            epoch -= 1  # the write interrupted at the start of the last epoch
        if epoch and self.complete_ == epoch and epoch > self.committed_:
            self._commit(net, epoch)
        self.retry_ = None

    def save_model(self, net):
        """Write the current epoch's set now (the hooks call :meth:`_commit`)."""
        self._commit(net, len(net.history))

    # -- state beyond skorch's files
    def _state(self, net) -> dict:
        import torch

        rng = {"torch": torch.get_rng_state()}
        generator = getattr(net, "rng_", None)
        if isinstance(generator, torch.Generator):
            rng["net"] = generator.get_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        schedulers = {}
        for name, cb in net.callbacks_:
            scheduler = getattr(cb, "lr_scheduler_", None)
            if hasattr(scheduler, "state_dict"):
                schedulers[name] = scheduler.state_dict()
        return {"rng": rng, "schedulers": schedulers}

    def _restore_state(self, net, state: dict) -> None:
        import torch

        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        generator = getattr(net, "rng_", None)
        if "net" in rng and isinstance(generator, torch.Generator):
            generator.set_state(rng["net"])
        if "cuda" in rng and torch.cuda.is_available():
            if len(rng["cuda"]) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(rng["cuda"])
        callbacks = dict(net.callbacks_)
        for name, saved in state.get("schedulers", {}).items():
            scheduler = getattr(callbacks.get(name), "lr_scheduler_", None)
            if hasattr(scheduler, "load_state_dict"):
                scheduler.load_state_dict(saved)

    def _best_epoch(self, net, rows: list, epoch: int) -> int:
        stopper = _find(net, EarlyStopping)
        if stopper is None or not stopper.load_best:
            return epoch
        best = replay_early_stopping(
            rows,
            monitor=stopper.monitor,
            lower_is_better=stopper.lower_is_better,
            threshold=stopper.threshold,
            threshold_mode=stopper.threshold_mode,
        )["best_epoch"]
        return epoch if best is None else int(best)

    # -- writing
    def _commit(self, net, epoch: int) -> None:
        """Write the set of ``epoch`` (the net's state now), then the manifest."""
        import io

        import torch

        folder = self._folder()
        name = _set_name(epoch)
        kept = (
            f"the checkpoint of epoch {self.committed_} is kept"
            if self.committed_
            else "no checkpoint was written yet"
        )
        rows = net.history.to_list()[:epoch]

        payload = {}
        for key, fname in (("f_params", self.f_params), ("f_optimizer", self.f_optimizer)):
            buffer = io.BytesIO()
            net.save_params(**{key: buffer})
            payload[fname] = buffer.getbuffer()
        try:
            payload[self.f_history] = json.dumps(rows).encode()
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{_where(folder)}: the training history cannot be saved as JSON ({exc}): "
                "a callback records a value that is not a number, string or list."
            ) from exc
        buffer = io.BytesIO()
        torch.save(self._state(net), buffer)
        payload[STATE] = buffer.getbuffer()

        target = folder / name
        try:
            if target.exists():  # an earlier, interrupted write of this epoch
                shutil.rmtree(target)
            target.mkdir(parents=True)
        except OSError as exc:
            raise _write_error(folder, name, exc, kept) from exc
        files = {}
        try:
            for fname, data in payload.items():
                entry = write_verified(target, fname, data, kept=kept, root=folder)
                files[f"{name}/{fname}"] = entry
            _fsync_dir(target)
            best = self._best_epoch(net, rows, epoch)
            best_name = _set_name(best)
            previous = self.manifest_ or {}
            if best != epoch:
                old = {
                    rel: entry
                    for rel, entry in previous.get("files", {}).items()
                    if rel.split("/")[0] == best_name
                }
                if f"{best_name}/{self.f_params}" in old:
                    files.update(old)
                else:
                    best, best_name = None, None  # not on disk (an older skfer's folder)
            manifest = {
                "format": FORMAT,
                "epoch": epoch,
                "last": name,
                "best": best_name,
                "best_epoch": best,
                "files": files,
            }
            write_verified(folder, MANIFEST, json.dumps(manifest, indent=1).encode(), kept=kept)
            _fsync_dir(folder)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)  # frees the space it took
            raise
        self.manifest_ = manifest
        self.committed_ = epoch
        self._sink(f"Checkpoint of epoch {epoch} written to {folder}.", net.verbose)
        self._clean(folder, {name, best_name})

    def _clean(self, folder: Path, keep: set) -> None:
        """Drop sets the manifest no longer names, older skfer's files and temporaries."""
        for path in folder.iterdir():
            try:
                if _SET.match(path.name) and path.name not in keep and path.is_dir():
                    shutil.rmtree(path)
                elif path.name in _LEGACY and path.is_file():
                    path.unlink()
                elif path.name.startswith(".") and ".tmp" in path.name and path.is_file():
                    path.unlink()
            except OSError:
                pass  # best effort: the manifest already says which set is current
