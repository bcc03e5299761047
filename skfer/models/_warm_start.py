"""Fine-tuning: start an :class:`~skfer.EmotionCNN` from a fitted skfer model, freeze layers.

``EmotionCNN(pretrained="fer2013")`` (a shipped name, or a file written by
:meth:`~skfer.EmotionCNN.save`) starts from that model: its architecture, widths,
input channels, input size and normalisation, all its weights, and the classifier
rows of every class it shares with the new labels (matched by label, emotion
aliases included: ``"happiness"`` takes the row of ``"happy"``). Classes it does not
know get fresh rows. ``freeze`` keeps the first layers fixed.
"""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

__all__ = ["freeze_layers", "read_source_model", "warm_start_head"]


def read_source_model(pretrained) -> tuple[dict, dict] | None:
    """``(state, config)`` when ``pretrained`` names a skfer model, else None.

    None for ``True``/``False`` and for files without skfer metadata (plain backbone
    weights, handled by ``_pretrained``). A name that is neither a file nor a shipped
    model raises ``FileNotFoundError`` listing the shipped names.
    """
    from ._io import _resolve, read_weights

    if isinstance(pretrained, bool):
        return None
    path = Path(os.fspath(pretrained)).expanduser()
    if path.is_file():
        if not _has_skfer_metadata(path):
            return None
    elif path.suffix or len(path.parts) > 1:
        return None  # a path that does not exist: the plain-weights loader says so
    else:
        _resolve(pretrained)  # raises with the shipped names when it is neither
    return read_weights(pretrained)


def _has_skfer_metadata(path: Path) -> bool:
    if path.suffix != ".safetensors":
        return False
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return "skfer" in (fh.metadata() or {})
    except Exception:  # unreadable: let the plain-weights path report it
        return False


def _label_key(label) -> str:
    """Emotion names compare by their canonical name; other labels as they are."""
    from ..emotions import normalize_emotion

    if not isinstance(label, str):
        return f"{type(label).__name__}:{label}"
    try:
        return normalize_emotion(label)
    except ValueError:
        return label


def warm_start_head(model, state: dict, source_classes, classes) -> list:
    """Load ``state`` into ``model`` except the classifier, then copy the classifier rows
    of the classes both label sets share. Returns the labels that got fresh rows.

    Parameters
    ----------
    model : torch.nn.Module
        A timm model of the source's architecture with ``len(classes)`` outputs.
    state : dict
        The source model's state dict.
    source_classes, classes : sequence
        Labels of the source's outputs and of the new model's.
    """
    import torch

    head = model.get_classifier()
    head_names = {f"{name}." for name, mod in model.named_modules() if mod is head}
    own = model.state_dict()
    body = {k: v for k, v in state.items() if not k.startswith(tuple(head_names))}
    missing = [k for k in own if k not in body and not k.startswith(tuple(head_names))]
    shapes = [k for k, v in body.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    unexpected = [k for k in body if k not in own]
    if missing or shapes or unexpected:
        raise ValueError(
            "The source model's weights do not fit this network: "
            f"missing {missing[:3]}, shape mismatch {shapes[:3]}, unexpected {unexpected[:3]}."
        )
    model.load_state_dict({**own, **body})
    source_rows = {_label_key(c): i for i, c in enumerate(source_classes)}
    fresh = []
    prefix = next(iter(head_names)) if head_names else None
    weight = state.get(f"{prefix}weight") if prefix else None
    bias = state.get(f"{prefix}bias") if prefix else None
    with torch.no_grad():
        for j, label in enumerate(classes):
            i = source_rows.get(_label_key(label))
            if i is None or weight is None or not isinstance(head, torch.nn.Linear):
                fresh.append(label)
                continue
            head.weight[j] = weight[i].to(head.weight.dtype)
            if bias is not None and head.bias is not None:
                head.bias[j] = bias[i].to(head.bias.dtype)
    return fresh


def freeze_layers(model, freeze) -> list:
    """Freeze the first ``freeze`` convolutions (with the normalisation layers that follow
    them), or everything but the classifier for ``"backbone"``. Returns the frozen
    normalisation layers, which must stay in eval mode while the rest trains.
    """
    from torch import nn

    if freeze is None or freeze == 0:
        return []
    head = model.get_classifier()
    head_params = {id(p) for p in head.parameters()}
    leaves = [m for m in model.modules() if not list(m.children())]
    n_convs = sum(isinstance(m, nn.modules.conv._ConvNd) for m in leaves)
    if isinstance(freeze, Integral) and freeze > n_convs:
        raise ValueError(f"freeze={freeze} but the network has only {n_convs} convolutions.")
    limit = n_convs if freeze == "backbone" else int(freeze)
    seen, frozen_norms = 0, []
    for module in leaves:
        if isinstance(module, nn.modules.conv._ConvNd):
            seen += 1
            if seen > limit:
                break
        params = [p for p in module.parameters(recurse=False) if id(p) not in head_params]
        for p in params:
            p.requires_grad_(False)
        if isinstance(module, nn.modules.batchnorm._BatchNorm | nn.GroupNorm | nn.LayerNorm):
            frozen_norms.append(module)
    if freeze == "backbone":
        for p in model.parameters():
            if id(p) not in head_params:
                p.requires_grad_(False)
        frozen_norms = [
            m
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m is not head
        ]
    return frozen_norms
