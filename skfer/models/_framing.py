"""A model's face framing (moved to :mod:`skfer.faces._framing`, which imports no torch)."""

from __future__ import annotations

from ..faces._framing import framed_cropper

__all__ = ["framed_cropper"]
