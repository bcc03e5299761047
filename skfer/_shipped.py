"""The models shipped in ``skfer/models/weights/`` and how a name resolves to a file.

Torch-free (importing :mod:`skfer.models` loads torch): the torch and ONNX backends of
:func:`skfer.load_model` both resolve names here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["WEIGHTS_DIR", "resolve_weights", "shipped_models"]

WEIGHTS_DIR = Path(__file__).parent / "models" / "weights"


def shipped_models() -> list[str]:
    """Names of the models shipped in ``skfer/models/weights/``.

    Examples
    --------
    >>> "fer2013" in shipped_models()
    True
    """
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def resolve_weights(path_or_name: str | os.PathLike) -> Path:
    """A shipped model's file for a bare shipped name (``"fer2013"``), even when the
    working directory holds a file of that name (write ``./fer2013`` for the file);
    else the file ``path_or_name``."""
    name = os.fspath(path_or_name)
    if isinstance(path_or_name, str) and name in shipped_models():
        return WEIGHTS_DIR / f"{name}.safetensors"
    path = Path(name).expanduser()
    if path.is_file():
        return path
    names = shipped_models()
    raise FileNotFoundError(
        f"No model file {str(path)!r} and no shipped model of that name "
        f"(shipped: {', '.join(names) if names else 'none installed'})."
    )
