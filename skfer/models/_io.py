"""skfer's weight format: a safetensors file plus a JSON config in its metadata.

The tensors are the timm module's ``state_dict``; ``__metadata__["skfer"]`` is
``json.dumps(config)`` with the keys below. A model loads from it without
unpickling any code, and predicts exactly as the model that was saved.

======================  ===============================================================
``format_version``      1
``architecture``        timm model name (``timm.create_model(architecture, ...)``)
``backbone``            the name the user gave (``"Xception"``, ``"skfer_cnn"``)
``num_classes``         output units
``in_chans``            input channels (1: grayscale)
``input_size``          ``[H, W]`` the network sees; images are resized to it
``mean``, ``std``       per channel: pixels scaled to [0, 1], then ``(x - mean) / std``
``classes``             the labels, in output order
``classes_kind``        ``"str"`` or ``"int"``
``model_kwargs``        extra keyword arguments for ``timm.create_model``
``skfer_version``       version that wrote the file
``tta``                 optional: test-time augmentation: false, true, ``"flip"``, ``"flip+shift"``
``standardize``         optional: per-face contrast normalisation instead of ``mean``/``std``
``framing``             optional: the :class:`~skfer.FaceCropper` parameters that made the
                        faces (detector, size, margin, eye level, grayscale...); absent:
                        ``FaceCropper()`` defaults
``metrics``             optional: free-form dict (e.g. test accuracy)
``checksum``            ``"sha256:<hex>"`` of the config (without this key, as canonical
                        JSON) and of every tensor (name, dtype, shape, bytes) in key order;
                        :func:`write_weights` always writes it, :func:`read_weights`
                        verifies it when present
======================  ===============================================================

A file is untrusted input: :func:`read_weights` checks the config against
:func:`check_config` (types, :data:`LIMITS`, the ``model_kwargs`` each architecture
may take: nothing that names a file or reaches the network) before it reads a tensor,
then the checksum and that every floating-point tensor is finite.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .._shipped import WEIGHTS_DIR as WEIGHTS_DIR
from .._shipped import resolve_weights as _resolve
from .._shipped import shipped_models as shipped_models
from ._trust import ARCHITECTURES as ARCHITECTURES  # re-exported: the rules live there
from ._trust import COMPACT_ARCHITECTURES as COMPACT_ARCHITECTURES
from ._trust import LIMITS as LIMITS
from ._trust import _is_int, check_config
from ._trust import allowed_model_kwargs as allowed_model_kwargs

__all__ = [
    "ARCHITECTURES",
    "FORMAT_VERSION",
    "LIMITS",
    "check_config",
    "config_tta",
    "model_config",
    "read_weights",
    "shipped_models",
    "stamp_checksum",
    "weights_checksum",
    "write_weights",
]

FORMAT_VERSION = 1
_REQUIRED = (
    "format_version",
    "architecture",
    "backbone",
    "num_classes",
    "in_chans",
    "input_size",
    "mean",
    "std",
    "classes",
    "classes_kind",
    "model_kwargs",
)


def weights_checksum(state_dict: dict, config: dict) -> str:
    """``"sha256:<hex>"`` of ``config`` (without ``checksum``, as canonical JSON) and of
    every tensor's name, dtype, shape and bytes, in key order.

    Examples
    --------
    >>> import torch
    >>> a = weights_checksum({"w": torch.zeros(2)}, {"classes": ["a", "b"]})
    >>> a == weights_checksum({"w": torch.zeros(2)}, {"classes": ["a", "b"], "checksum": a})
    True
    >>> a == weights_checksum({"w": torch.tensor([0.0, 1e-45])}, {"classes": ["a", "b"]})
    False
    """
    import torch

    digest = hashlib.sha256()
    meta = json.loads(json.dumps({k: v for k, v in config.items() if k != "checksum"}))
    digest.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().to("cpu").contiguous()
        digest.update(f"\0{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return "sha256:" + digest.hexdigest()


def write_weights(path: str | os.PathLike, state_dict: dict, config: dict) -> Path:
    """Write ``state_dict`` and ``config`` to ``path`` in skfer's format (atomically).

    Parameters
    ----------
    path : path-like
        Destination; ``.safetensors`` is the conventional suffix.
    state_dict : dict of str to torch.Tensor
        Moved to the CPU; tensors sharing memory are copied apart.
    config : dict
        JSON-serialisable, with the keys of the module docstring. Its ``checksum`` is
        (re)computed (see :func:`weights_checksum`).

    Returns
    -------
    pathlib.Path
    """
    from safetensors.torch import save_file

    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise ValueError(f"config lacks the key(s) {missing}.")
    config = {k: v for k, v in config.items() if k != "checksum"}
    tensors, seen = {}, set()
    for key, value in state_dict.items():
        tensor = value.detach().to("cpu").contiguous()
        ptr = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if ptr in seen and tensor.numel():
            tensor = tensor.clone()
        seen.add(ptr)
        tensors[key] = tensor
    config["checksum"] = weights_checksum(tensors, config)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={"skfer": json.dumps(config)})
        # safetensors creates 0600 files: keep the mode of the file replaced, else 0644
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_weights(path_or_name: str | os.PathLike) -> tuple[dict, dict]:
    """Read and validate a skfer weights file.

    Parameters
    ----------
    path_or_name : path-like or str
        A file, or the name of a shipped model (see :func:`shipped_models`).

    Returns
    -------
    state_dict : dict of str to torch.Tensor (on the CPU)
    config : dict

    Raises
    ------
    FileNotFoundError
        Neither a file nor a shipped name.
    ValueError
        Truncated or corrupt file, no or invalid skfer metadata, a newer format, a
        config outside :func:`check_config`'s bounds, a checksum that does not match,
        a tensor with NaN or infinite values.
    """
    from safetensors import safe_open

    path = _resolve(path_or_name)
    where = repr(str(path))
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            try:  # the config is checked before any tensor is read
                config, problem = _read_config(fh.metadata() or {}, where), None
            except ValueError as exc:
                problem = exc
            else:
                state = {key: fh.get_tensor(key) for key in fh.keys()}
    except Exception as exc:
        raise ValueError(
            f"{where} is not a readable safetensors file (truncated or corrupt?): {exc}"
        ) from exc
    if problem is not None:
        raise problem
    if "checksum" in config and weights_checksum(state, config) != config["checksum"]:
        raise ValueError(
            f"{where}: checksum mismatch: the tensors or the metadata are not those that "
            "were saved (the file is damaged or was altered)."
        )
    _check_finite(state, where)
    return state, config


def _check_finite(state: dict, where: str) -> None:
    import torch

    for key, tensor in state.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(
            torch.isfinite(tensor).all()
        ):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ValueError(
                f"{where}: tensor {key!r} holds {bad} NaN or infinite value(s); the weights "
                "are unusable."
            )


def _read_config(metadata: dict, where: str) -> dict:
    if "skfer" not in metadata:
        raise ValueError(
            f"{where} has no skfer metadata: it is not a model saved by EmotionCNN.save. "
            "To start from plain backbone weights use EmotionCNN(backbone=..., pretrained=path)."
        )
    try:
        config = json.loads(metadata["skfer"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: the skfer metadata is not valid JSON ({exc}).") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{where}: the skfer metadata must be a JSON object.")
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise ValueError(f"{where}: skfer metadata lacks the key(s) {missing}.")
    version = config["format_version"]
    if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"{where} uses skfer weight format {version!r}; this skfer reads format "
            f"{FORMAT_VERSION}. Upgrade skfer."
        )
    return check_config(config, where)


def stamp_checksum(path: str | os.PathLike) -> Path:
    """Add (or refresh) the checksum of an skfer weights file, in place and atomically.

    The file is read with :func:`read_weights` (so a checksum it already has must match)
    and written back by :func:`write_weights`: same tensors, same config plus
    ``checksum``.

    Examples
    --------
    ``python -c "from skfer.models._io import stamp_checksum as s; s('m.safetensors')"``
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No weights file {str(path)!r}.")
    state, config = read_weights(path)
    return write_weights(path, state, config)


def model_config(model, *, metrics: dict | None = None, framing: dict | None = None) -> dict:
    """The config of a fitted :class:`~skfer.EmotionCNN`, as :meth:`EmotionCNN.save` writes it.

    ``framing``: the parameters of the :class:`~skfer.FaceCropper` that made the faces.
    """
    import skfer

    if model.classes_.dtype.kind in "iu":
        kind, classes = "int", [int(c) for c in model.classes_]
    elif all(isinstance(c, str) for c in model.classes_.tolist()):
        kind, classes = "str", [str(c) for c in model.classes_]
    else:
        raise ValueError(
            f"Only str or int labels can be saved in safetensors; classes_ has dtype "
            f"{model.classes_.dtype}. Pickle the model instead."
        )
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": model.architecture_,
        "backbone": model.backbone,
        "num_classes": len(classes),
        "in_chans": int(model.in_chans_),
        "input_size": [int(v) for v in model.input_size_],
        "mean": list(model.mean_),
        "std": list(model.std_),
        "classes": classes,
        "classes_kind": kind,
        "model_kwargs": model.model_kwargs_,
        "skfer_version": skfer.__version__,
        "tta": model.tta if isinstance(model.tta, str) else bool(model.tta),
        "standardize": bool(getattr(model.preprocess_, "standardize", False)),
        "metrics": dict(metrics or {}),
    }
    if framing is not None:
        config["framing"] = dict(framing)
    try:
        json.dumps(config)
    except TypeError as exc:
        raise ValueError(
            f"Cannot save: module__ options, metrics or framing are not JSON-serialisable "
            f"({exc}). Pickle the model instead."
        ) from exc
    return config


def config_tta(value):
    """A weights file's ``tta`` entry: a mode name, or a boolean (older files)."""
    from ._inference import TTA_MODES

    return value if value in TTA_MODES else bool(value)
