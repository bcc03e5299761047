"""What a weights file may ask for: the architectures, ``model_kwargs`` and sizes skfer
builds from an untrusted file, and :func:`check_config`, which checks a config against
them before anything is built (see docs/robustness.md, "Safe loading")."""

from __future__ import annotations

import math
import re
from numbers import Integral, Real

from ._backbones import PAPER_BACKBONES

__all__ = [
    "ARCHITECTURES",
    "COMPACT_ARCHITECTURES",
    "LIMITS",
    "allowed_model_kwargs",
    "check_config",
]


#: skfer's compact CNNs (``skfer/models/_compact.py``)
COMPACT_ARCHITECTURES = ("skfer_cnn", "skfer_cnn_fast")


#: the timm architectures :func:`~skfer.load_model` builds from a file without being
#: told to: the compact nets, the paper's seven (:data:`PAPER_BACKBONES`) and
#: ``resnet18`` (documented by :func:`~skfer.resolve_backbone`)
ARCHITECTURES = (*COMPACT_ARCHITECTURES, *PAPER_BACKBONES.values(), "resnet18")


#: bounds on a file's config, checked before anything is built
LIMITS = {
    "num_classes": 1000,  # output units
    "input_size": 1024,  # pixels per side
    "stages": 8,  # len(widths) of a compact net
    "width": 1024,  # channels per stage
    "depth": 8,  # convolutions per stage
    "framing_size": 1024,  # FaceCropper size
    "work_size": 8192,  # FaceCropper work_size
    "n_jobs": 256,  # |FaceCropper n_jobs|
    "label": 200,  # characters of a class name
}


# the model_kwargs each architecture takes from a file (timm's other options, such as
# checkpoint_path, pretrained_cfg_overlay or pretrained, are refused)
_COMPACT_KWARGS = ("drop_rate", "widths", "depths", "stem_stride")


_TIMM_KWARGS = ("drop_rate", "drop_path_rate")


_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}$")


def allowed_model_kwargs(architecture: str) -> tuple[str, ...]:
    """The ``model_kwargs`` keys a weights file may give for ``architecture``.

    Examples
    --------
    >>> allowed_model_kwargs("skfer_cnn")
    ('drop_rate', 'widths', 'depths', 'stem_stride')
    >>> allowed_model_kwargs("resnet18")
    ('drop_rate', 'drop_path_rate')
    """
    return _COMPACT_KWARGS if architecture in COMPACT_ARCHITECTURES else _TIMM_KWARGS


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (bool, str, int)) or _is_real(value)


def _int_list(where, key, value, *, lo, hi, length=None) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{where}: {key} must be a non-empty list of integers, got {value!r}.")
    if length is not None and len(value) != length:
        raise ValueError(f"{where}: {key} must have {length} entries, got {len(value)}.")
    for v in value:
        if not _is_int(v) or not lo <= v <= hi:
            raise ValueError(f"{where}: {key} entries must be integers in [{lo}, {hi}], got {v!r}.")
    return list(value)


def _check_model_kwargs(where, architecture, kwargs) -> None:
    if not isinstance(kwargs, dict):
        raise ValueError(f"{where}: model_kwargs must be a JSON object.")
    allowed = allowed_model_kwargs(architecture)
    refused = sorted(k for k in kwargs if k not in allowed)
    if refused:
        raise ValueError(
            f"{where}: model_kwargs {refused} are not accepted for architecture "
            f"{architecture!r} (a weights file may set only {', '.join(allowed)}); "
            "the file was not built."
        )
    for key in ("drop_rate", "drop_path_rate"):
        if key in kwargs and not (_is_real(kwargs[key]) and 0 <= kwargs[key] < 1):
            raise ValueError(f"{where}: model_kwargs {key} must be in [0, 1), got {kwargs[key]!r}.")
    if "stem_stride" in kwargs and (
        not _is_int(kwargs["stem_stride"]) or kwargs["stem_stride"] not in (1, 2)
    ):
        raise ValueError(
            f"{where}: model_kwargs stem_stride must be 1 or 2, got {kwargs['stem_stride']!r}."
        )
    stages = None
    if "widths" in kwargs:
        widths = _int_list(where, "model_kwargs widths", kwargs["widths"], lo=1, hi=LIMITS["width"])
        stages = len(widths)
        if stages > LIMITS["stages"]:
            raise ValueError(
                f"{where}: model_kwargs widths has {stages} stages; at most {LIMITS['stages']}."
            )
    if "depths" in kwargs:
        depths = kwargs["depths"]
        length = 4 if stages is None else stages  # the default widths have 4 stages
        _int_list(where, "model_kwargs depths", depths, lo=1, hi=LIMITS["depth"], length=length)
    elif stages is not None and stages != 4:
        raise ValueError(f"{where}: model_kwargs widths has {stages} stages but no depths.")


_FRAMING = {  # FaceCropper parameters: check(value) -> bool, what is expected
    "detector": (lambda v: isinstance(v, str) and 0 < len(v) <= 100, "a detector name"),
    "align": (lambda v: isinstance(v, bool), "true or false"),
    "grayscale": (lambda v: isinstance(v, bool), "true or false"),
    "size": (
        lambda v: _is_int(v) and 8 <= v <= LIMITS["framing_size"],
        f"an integer in [8, {LIMITS['framing_size']}]",
    ),
    "margin": (lambda v: _is_real(v) and 0 <= v <= 10, "a number in [0, 10]"),
    "eye_level": (lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)"),
    "select": (lambda v: isinstance(v, str) and len(v) <= 20, "a select mode"),
    "on_missing": (lambda v: isinstance(v, str) and len(v) <= 20, "an on_missing mode"),
    "min_size": (
        lambda v: v is None or (_is_real(v) and 0 <= v <= LIMITS["work_size"]),
        "null or a size in pixels",
    ),
    "work_size": (
        lambda v: v is None or (_is_int(v) and 1 <= v <= LIMITS["work_size"]),
        f"null or an integer in [1, {LIMITS['work_size']}]",
    ),
    "n_jobs": (
        lambda v: v is None or (_is_int(v) and abs(v) <= LIMITS["n_jobs"]),
        f"null or an integer in [-{LIMITS['n_jobs']}, {LIMITS['n_jobs']}]",
    ),
}


def _check_framing(where, framing) -> None:
    if framing is None or framing == {}:
        return
    if not isinstance(framing, dict):
        raise ValueError(f"{where}: framing must be a JSON object of FaceCropper parameters.")
    from ..faces import FaceCropper

    known = FaceCropper().get_params()
    unknown = sorted(k for k in framing if k not in known)
    if unknown:
        raise ValueError(
            f"{where}: framing has parameter(s) {unknown} that FaceCropper does not have "
            "(a file from a newer skfer?)."
        )
    for key, value in framing.items():
        check, expected = _FRAMING.get(key, (_is_scalar, "a JSON scalar"))
        if not check(value):
            raise ValueError(f"{where}: framing {key} must be {expected}, got {value!r}.")


def check_config(config: dict, where: str = "the weights file") -> dict:
    """Check a weights file's config before anything is built from it.

    Types and :data:`LIMITS` of every key a model is built from: ``num_classes``,
    ``in_chans`` (1 or 3), ``input_size``, ``mean``/``std`` (finite, std > 0),
    ``classes`` (unique, of ``classes_kind``), ``model_kwargs`` (only the keys of
    :func:`allowed_model_kwargs`, widths and depths bounded), ``tta``, ``standardize``,
    ``framing`` and ``checksum``. Raises ValueError naming ``where`` and the key.

    Examples
    --------
    >>> check_config({"format_version": 1, "architecture": "skfer_cnn",
    ...     "backbone": "skfer_cnn", "num_classes": 10**9, "in_chans": 1,
    ...     "input_size": [48, 48], "mean": [0.5], "std": [0.25], "classes": [],
    ...     "classes_kind": "str", "model_kwargs": {}})
    Traceback (most recent call last):
    ...
    ValueError: the weights file: num_classes must be an integer in [2, 1000], got 1000000000.
    """
    arch = config["architecture"]
    if not isinstance(arch, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", arch):
        raise ValueError(f"{where}: architecture must be a timm model name, got {arch!r}.")
    if not isinstance(config["backbone"], str) or len(config["backbone"]) > 100:
        raise ValueError(f"{where}: backbone must be a name, got {config['backbone']!r}.")
    n = config["num_classes"]
    if not _is_int(n) or not 2 <= n <= LIMITS["num_classes"]:
        raise ValueError(
            f"{where}: num_classes must be an integer in [2, {LIMITS['num_classes']}], got {n!r}."
        )
    if config["in_chans"] not in (1, 3) or isinstance(config["in_chans"], bool):
        raise ValueError(f"{where}: in_chans must be 1 or 3, got {config['in_chans']!r}.")
    _int_list(where, "input_size", config["input_size"], lo=1, hi=LIMITS["input_size"], length=2)
    for key in ("mean", "std"):
        values = config[key]
        if (
            not isinstance(values, (list, tuple))
            or len(values) != config["in_chans"]
            or not all(_is_real(v) for v in values)
            or (key == "std" and not all(v > 0 for v in values))
        ):
            raise ValueError(
                f"{where}: {key} must be {config['in_chans']} finite number(s)"
                f"{' > 0' if key == 'std' else ''}, got {values!r}."
            )
    kind, classes = config["classes_kind"], config["classes"]
    if kind not in ("str", "int"):
        raise ValueError(f"{where}: classes_kind must be 'str' or 'int'.")
    if not isinstance(classes, list) or len(classes) != n:
        count = len(classes) if isinstance(classes, list) else classes
        raise ValueError(f"{where}: {count} classes listed but num_classes is {n}.")
    ok = (lambda c: isinstance(c, str) and len(c) <= LIMITS["label"]) if kind == "str" else _is_int
    if not all(ok(c) for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"{where}: classes must be {n} distinct {kind} labels, got {classes!r}.")
    _check_model_kwargs(where, arch, config["model_kwargs"])
    if "tta" in config:
        from ._inference import TTA_MODES

        if not (isinstance(config["tta"], bool) or config["tta"] in TTA_MODES):
            raise ValueError(f"{where}: tta must be true, false or one of {TTA_MODES}.")
    if "standardize" in config and not isinstance(config["standardize"], bool):
        raise ValueError(f"{where}: standardize must be true or false.")
    _check_framing(where, config.get("framing"))
    if "metrics" in config and not isinstance(config["metrics"], (dict, type(None))):
        raise ValueError(f"{where}: metrics must be a JSON object.")
    if "checksum" in config and not (
        isinstance(config["checksum"], str) and _CHECKSUM.match(config["checksum"])
    ):
        raise ValueError(f"{where}: checksum must be 'sha256:' and 64 hex digits.")
    return config
