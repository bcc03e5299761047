"""Backbone names: the paper's seven, any timm model, and skfer's compact CNNs.

:func:`resolve_backbone` turns a user-facing name into a timm architecture;
:func:`backbone_config` reads the preprocessing that architecture expects
(channels, native and minimum input size, normalisation); :func:`create_backbone`
builds it. Everything else in skfer goes through these three.
"""

from __future__ import annotations

import difflib
import functools
import re

__all__ = [
    "PAPER_BACKBONES",
    "backbone_config",
    "create_backbone",
    "list_backbones",
    "resolve_backbone",
]

#: The seven backbones of Almeida et al. (Appl. Sci. 2021, 11, 6827) by their paper
#: names, mapped to the timm architecture closest to the Keras model the paper used
#: (Keras ``Xception`` is timm's ``legacy_xception``; ``ResNet50V2`` is ``resnetv2_50``).
PAPER_BACKBONES: dict[str, str] = {
    "MobileNetV2": "mobilenetv2_100",
    "Xception": "legacy_xception",
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "ResNetV2": "resnetv2_50",
    "InceptionV3": "inception_v3",
    "DenseNet": "densenet121",
}

# extra spellings, compared after lower-casing and dropping punctuation
_ALIASES = {
    "resnet50v2": "resnetv2_50",
    "densenet121": "densenet121",
    "mobilenet2": "mobilenetv2_100",
}

# smallest square input (pixels) an architecture accepts, where below 32 px fails;
# probed with timm 1.0 (inception_v3's stem needs 75 px, VGG and DenseNet pool 5 times)
_MIN_SIZES = (
    (re.compile(r"inception_v3$"), 75),
    (re.compile(r"vgg\d+(_bn)?$"), 32),
    (re.compile(r"densenet"), 32),
)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@functools.lru_cache(maxsize=1)
def _timm_keys() -> dict[str, str | None]:
    import timm

    from . import _compact  # noqa: F401  (registers skfer_* with timm)

    keys: dict[str, str | None] = {}
    for name in timm.list_models():
        key = _key(name)
        keys[key] = None if key in keys else name  # None marks an ambiguous spelling
    return keys


def resolve_backbone(name: str) -> str:
    """Return the timm architecture for a backbone name.

    Parameters
    ----------
    name : str
        A paper name (``"Xception"``, ``"MobileNetV2"``, ``"VGG16"``, ``"VGG19"``,
        ``"ResNetV2"``, ``"InceptionV3"``, ``"DenseNet"``), a compact skfer
        architecture (``"skfer_cnn"``), or any timm model name. Case, spaces,
        hyphens and underscores do not matter (``"inception-v3"``, ``"ResNet_18"``).

    Returns
    -------
    str
        A name :func:`timm.create_model` accepts.

    Raises
    ------
    ValueError
        If no timm architecture matches; the message suggests close names.

    Examples
    --------
    >>> resolve_backbone("Xception")
    'legacy_xception'
    >>> resolve_backbone("inception-v3")
    'inception_v3'
    >>> resolve_backbone("ResNet-18")
    'resnet18'
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"backbone must be a non-empty string, got {name!r}.")
    import timm

    from . import _compact  # noqa: F401

    key = _key(name)
    paper = {_key(k): v for k, v in PAPER_BACKBONES.items()}
    if key in paper:  # first: timm still accepts "xception" as a deprecated alias
        return paper[key]
    if key in _ALIASES:
        return _ALIASES[key]
    if timm.is_model(name):
        return name
    match = _timm_keys().get(key)
    if match is not None:
        return match
    choices = [*PAPER_BACKBONES, *timm.list_models()]
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.6)
    close += [c for c in difflib.get_close_matches(key, list(_timm_keys()), n=3) if c not in close]
    hint = f" Did you mean {', '.join(repr(c) for c in close[:5])}?" if close else ""
    raise ValueError(
        f"Unknown backbone {name!r}: not a paper backbone ({', '.join(PAPER_BACKBONES)}), "
        f"not a compact skfer model and not a timm model.{hint} "
        "See skfer.list_backbones() and timm.list_models()."
    )


@functools.lru_cache(maxsize=64)
def backbone_config(architecture: str) -> dict:
    """Preprocessing an architecture expects, from its timm pretrained config.

    Parameters
    ----------
    architecture : str
        A timm model name (see :func:`resolve_backbone`).

    Returns
    -------
    dict
        ``in_chans`` (int), ``input_size`` ``(H, W)`` native size, ``min_size``
        (smallest side it accepts), ``mean`` and ``std`` (per channel, for pixels
        scaled to [0, 1]), ``first_conv`` and ``classifier`` (state-dict prefixes,
        or None).

    Examples
    --------
    >>> cfg = backbone_config("skfer_cnn")
    >>> cfg["in_chans"], cfg["input_size"]
    (1, (48, 48))
    >>> backbone_config("inception_v3")["min_size"]
    75
    """
    import timm

    from . import _compact  # noqa: F401

    cfg = timm.get_pretrained_cfg(architecture)
    cfg = cfg.to_dict() if cfg is not None else None
    if cfg is None:  # models registered without a pretrained config (skfer_*): build one
        model = timm.create_model(architecture, pretrained=False)
        cfg = dict(getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", {}))
    in_chans, height, width = cfg.get("input_size") or (3, 224, 224)
    min_size = 1
    if cfg.get("min_input_size"):
        min_size = max(cfg["min_input_size"][1:])
    for pattern, size in _MIN_SIZES:
        if pattern.match(architecture):
            min_size = max(min_size, size)
    mean = tuple(float(v) for v in (cfg.get("mean") or (0.485, 0.456, 0.406)))
    std = tuple(float(v) for v in (cfg.get("std") or (0.229, 0.224, 0.225)))
    return {
        "in_chans": int(in_chans),
        "input_size": (int(height), int(width)),
        "min_size": int(min_size),
        "mean": mean,
        "std": std,
        "first_conv": cfg.get("first_conv"),
        "classifier": cfg.get("classifier"),
    }


def channel_stats(values: tuple[float, ...], in_chans: int) -> tuple[float, ...]:
    """Adapt per-channel mean or std to ``in_chans`` (average for gray, repeat for colour)."""
    if len(values) == in_chans:
        return tuple(values)
    if in_chans == 1:
        return (sum(values) / len(values),)
    if len(values) == 1:
        return tuple(values) * in_chans
    raise ValueError(f"Cannot adapt {len(values)}-channel statistics to {in_chans} channels.")


def create_backbone(architecture: str, *, num_classes: int, in_chans: int, **kwargs):
    """Create a randomly initialised timm model; bad ``kwargs`` give a clear error.

    Examples
    --------
    >>> model = create_backbone("skfer_cnn", num_classes=3, in_chans=1)
    >>> model.head.out_features
    3
    """
    import timm

    from . import _compact  # noqa: F401

    try:
        return timm.create_model(
            architecture, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kwargs
        )
    except TypeError as exc:
        if not kwargs:
            raise
        raise ValueError(
            f"Backbone {architecture!r} does not accept the module options "
            f"{sorted(kwargs)} (passed as module__<name>): {exc}"
        ) from exc


def list_backbones():
    """The backbones skfer knows by name: the paper's seven and the compact ones.

    Any other timm model name works too (``timm.list_models()`` lists them).

    Returns
    -------
    pandas.DataFrame
        One row per backbone: ``backbone`` (the name to pass to
        :class:`~skfer.EmotionCNN`), ``architecture`` (timm name), ``source``
        (``"paper"`` or ``"compact"``), ``in_chans``, ``input_size`` (native
        ``(H, W)``) and ``min_size`` (smallest side accepted; smaller faces are
        upsampled).

    Examples
    --------
    >>> table = list_backbones()
    >>> table.loc[table.backbone == "Xception", "architecture"].item()
    'legacy_xception'
    >>> table.loc[table.backbone == "InceptionV3", "input_size"].item()
    (299, 299)
    """
    import pandas as pd
    import timm

    from . import _compact  # noqa: F401

    rows = [(name, arch, "paper") for name, arch in PAPER_BACKBONES.items()]
    rows += [(arch, arch, "compact") for arch in timm.list_models("skfer_*")]
    records = []
    for name, arch, source in rows:
        cfg = backbone_config(arch)
        records.append(
            {
                "backbone": name,
                "architecture": arch,
                "source": source,
                "in_chans": cfg["in_chans"],
                "input_size": cfg["input_size"],
                "min_size": cfg["min_size"],
            }
        )
    return pd.DataFrame.from_records(records)
