"""Emotion classifiers: :class:`EmotionCNN` over timm backbones, and skfer's weight format.

Importing this package registers skfer's compact architectures (``skfer_cnn``,
``skfer_cnn_fast``) with timm, so ``timm.create_model("skfer_cnn")`` works too.
"""

from .._load import load_model  # the one resolver (torch or ONNX); ._loading is its torch side
from . import _compact  # noqa: F401  (registers skfer_* with timm)
from ._adapt import adapt_batchnorm
from ._backbones import PAPER_BACKBONES, list_backbones, resolve_backbone
from ._estimator import EmotionCNN
from ._export import export_onnx
from ._io import shipped_models
from ._schedule import WarmupCosine

__all__ = [
    "PAPER_BACKBONES",
    "EmotionCNN",
    "WarmupCosine",
    "adapt_batchnorm",
    "export_onnx",
    "list_backbones",
    "load_model",
    "resolve_backbone",
    "shipped_models",
]
