"""The on-disk side of skfer's checkpoints (see ``_checkpoint``): files written atomically
and verified, complete epoch sets named by a manifest written last, and
:func:`read_checkpoint`, which refuses an incomplete or damaged set."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MANIFEST", "CheckpointSet", "read_checkpoint", "write_verified"]


MANIFEST = "checkpoint.json"


STATE = "state.pt"


FORMAT = 1


_LEGACY = ("params.pt", "optimizer.pt", "history.json")  # skorch Checkpoint, older skfer


_SET = re.compile(r"epoch-(\d{4,})$")


_ADVICE = "delete the folder (or use another checkpoint_dir) to start afresh"


def _where(folder) -> str:
    return f"checkpoint_dir {str(folder)!r}"


def _set_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_error(folder, name, exc: BaseException, kept: str) -> OSError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "errno", None) or errno.EIO
    return OSError(
        code,
        f"{_where(folder)}: cannot write {name} ({reason}); {kept}. Free disk space or "
        "make the folder writable, then fit again to resume.",
    )


def write_verified(folder: Path, name: str, data: bytes, *, kept: str, root=None) -> dict:
    """Write ``data`` to ``folder/name`` atomically and check it landed.

    Temporary file, fsync, size and sha256 of the file read back against ``data``, then
    :func:`os.replace`. Returns ``{"bytes", "sha256"}``; raises :class:`OSError` naming
    the folder ``root`` (default ``folder``) and the file's path in it (``kept`` says
    what is left intact).
    """
    root = Path(folder) if root is None else Path(root)
    shown = Path(folder, name).relative_to(root).as_posix()
    path = Path(folder) / name
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    expected = hashlib.sha256(data).hexdigest()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        size = os.stat(tmp).st_size
        if size != len(data):
            raise OSError(errno.EIO, f"{size} of {len(data)} bytes landed on disk")
        if _sha256_file(tmp) != expected:
            raise OSError(errno.EIO, "the file read back differs from what was written")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise _write_error(root, shown, exc, kept) from exc
    except BaseException:  # Ctrl-C mid-write: no temporary file left behind
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return {"bytes": len(data), "sha256": expected}


@dataclass
class CheckpointSet:
    """A complete, verified checkpoint found in a folder (see :func:`read_checkpoint`)."""

    folder: Path
    epoch: int
    history: list
    params: Path
    optimizer: Path | None
    history_file: Path
    state: Path | None = None
    best_epoch: int | None = None
    best_params: Path | None = None
    manifest: dict | None = None  # None: a folder written by older skfer (legacy)
    sets: dict = field(default_factory=dict)  # set name -> epoch, in the manifest


def _read_history(folder: Path, path: Path, shown: str) -> list:
    try:
        history = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{_where(folder)}: cannot read {shown} ({exc}); {_ADVICE}.") from exc
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise ValueError(f"{_where(folder)}: {shown} is not a list of epochs; {_ADVICE}.")
    return history


def _check_manifest(folder: Path, info) -> None:
    where = _where(folder)
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{where}: {MANIFEST} is not an skfer checkpoint manifest; {_ADVICE}.")
    epoch, last, files = info.get("epoch"), info.get("last"), info.get("files")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise ValueError(f"{where}: {MANIFEST} has no valid epoch; {_ADVICE}.")
    if not isinstance(last, str) or not _SET.match(last) or not isinstance(files, dict):
        raise ValueError(f"{where}: {MANIFEST} does not name its files; {_ADVICE}.")
    for rel, entry in files.items():
        parts = rel.split("/")
        if len(parts) != 2 or not _SET.match(parts[0]) or parts[1] in ("", ".", ".."):
            raise ValueError(f"{where}: {MANIFEST} lists an unexpected path {rel!r}.")
        if not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int):
            raise ValueError(f"{where}: {MANIFEST} has no size for {rel}; {_ADVICE}.")


def _verify(folder: Path, rel: str, entry: dict) -> Path:
    path = folder / rel
    where = _where(folder)
    if not path.is_file():
        raise ValueError(
            f"{where}: incomplete checkpoint: {rel} is missing ({MANIFEST} lists it); "
            f"restore it or {_ADVICE}."
        )
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise ValueError(
            f"{where}: {rel} is damaged: {size} bytes, {MANIFEST} says {entry['bytes']}; {_ADVICE}."
        )
    if _sha256_file(path) != entry.get("sha256"):
        raise ValueError(
            f"{where}: {rel} is damaged: its sha256 differs from the one in {MANIFEST}; {_ADVICE}."
        )
    return path


def read_checkpoint(folder) -> CheckpointSet | None:
    """The complete checkpoint in ``folder``, verified; None when there is none.

    Raises
    ------
    ValueError
        An incomplete or damaged checkpoint: the message names the folder and the
        missing or damaged file. Nothing is ever silently ignored: a folder that holds
        checkpoint files but no usable set is an error, not a fresh start.
    """
    folder = Path(os.fspath(folder)).expanduser()
    where = _where(folder)
    if not folder.exists():
        return None
    if not folder.is_dir():
        raise ValueError(f"{where} exists and is not a folder.")
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            info = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{where}: cannot read {MANIFEST} ({exc}); {_ADVICE}.") from exc
        _check_manifest(folder, info)
        files = info["files"]
        last = info["last"]
        sets = {}
        for rel in files:
            name = rel.split("/")[0]
            sets[name] = int(_SET.match(name).group(1))
        needed = ("params.pt", "history.json")
        for name in needed:
            if f"{last}/{name}" not in files:
                raise ValueError(
                    f"{where}: incomplete checkpoint: {MANIFEST} lists no {last}/{name}; {_ADVICE}."
                )
        paths = {rel: _verify(folder, rel, entry) for rel, entry in files.items()}
        history = _read_history(folder, paths[f"{last}/history.json"], f"{last}/history.json")
        if len(history) != info["epoch"]:
            raise ValueError(
                f"{where}: {last}/history.json holds {len(history)} epochs, {MANIFEST} "
                f"says {info['epoch']}; {_ADVICE}."
            )
        best, best_epoch = info.get("best"), info.get("best_epoch")
        best_params = paths.get(f"{best}/params.pt") if isinstance(best, str) else None
        return CheckpointSet(
            folder=folder,
            epoch=info["epoch"],
            history=history,
            params=paths[f"{last}/params.pt"],
            optimizer=paths.get(f"{last}/optimizer.pt"),
            history_file=paths[f"{last}/history.json"],
            state=paths.get(f"{last}/{STATE}"),
            best_epoch=best_epoch if best_params is not None else None,
            best_params=best_params,
            manifest=info,
            sets=sets,
        )
    present = [name for name in _LEGACY if (folder / name).exists()]
    if present:  # written by skorch's Checkpoint (older skfer)
        for name in _LEGACY:
            if not (folder / name).is_file():
                raise ValueError(
                    f"{where}: incomplete checkpoint: {name} is missing but {present[0]} "
                    f"is there; restore it or {_ADVICE}."
                )
        history = _read_history(folder, folder / "history.json", "history.json")
        if not history:
            raise ValueError(f"{where}: history.json holds no epoch; {_ADVICE}.")
        return CheckpointSet(
            folder=folder,
            epoch=len(history),
            history=history,
            params=folder / "params.pt",
            optimizer=folder / "optimizer.pt",
            history_file=folder / "history.json",
        )
    stray = sorted(p.name for p in folder.iterdir() if _SET.match(p.name))
    if stray and stray != [_set_name(1)]:  # epoch-0001 alone: the first save was cut short
        raise ValueError(
            f"{where}: {MANIFEST} is missing but the folder holds {', '.join(stray)}: "
            f"the checkpoint cannot be trusted; {_ADVICE}."
        )
    return None
