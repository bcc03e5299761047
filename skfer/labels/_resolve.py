"""Scheme specs: names, mappings and their resolution; label checks and mapping of y."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..emotions import EMOTIONS, SCHEMES, normalize_emotion

__all__ = [
    "SCHEME_NAMES",
    "check_labels",
    "display_labels",
    "map_emotions",
    "resolve_scheme",
    "sorted_labels",
]

SCHEME_NAMES = ("ekman7", "top4", "top_n", "clusters", "valence")


def _check_scheme_name(scheme) -> None:
    if isinstance(scheme, str) and scheme not in SCHEME_NAMES:
        hint = ""
        if scheme.lower().startswith("top") and scheme[3:].isdigit():
            hint = f" For the {scheme[3:]} best emotions use scheme='top_n', n={scheme[3:]}."
        raise ValueError(
            f"Unknown label scheme {scheme!r}. Choose one of {', '.join(SCHEME_NAMES)}, or pass "
            f"a mapping {{emotion: label or None}}.{hint}"
        )


def resolve_scheme(scheme) -> dict:
    """Return ``{emotion: label or None}`` over the vocabulary of a scheme.

    Parameters
    ----------
    scheme : str, mapping or fitted EmotionLabelMapper
        A name other than ``"top_n"`` (which needs ``n``; use a mapper), a mapping
        ``{emotion: label or None}``, or a fitted mapper (its ``mapping_``).

    Raises
    ------
    ValueError
        For an unknown name, a key that is not an emotion, two keys naming the same
        emotion with different labels, or a mapping that leaves no class.

    Examples
    --------
    >>> resolve_scheme("top4")["sad"] is None
    True
    >>> resolve_scheme({"Happiness": "pos", "anger": None})
    {'happy': 'pos', 'angry': None}
    """
    if getattr(type(scheme), "_is_label_mapper", False):  # an EmotionLabelMapper
        check_is_fitted(scheme, "mapping_")
        return dict(scheme.mapping_)
    if isinstance(scheme, str):
        _check_scheme_name(scheme)
        if scheme == "top_n":
            raise ValueError(
                "scheme 'top_n' needs n and a ranking: pass EmotionLabelMapper('top_n', n=...) "
                "fitted, or 'top4', or an explicit mapping."
            )
        named = SCHEMES[scheme]
        vocabulary = list(EMOTIONS) + [e for e in named if e not in EMOTIONS]
        return {e: named.get(e) for e in vocabulary}
    if not isinstance(scheme, Mapping):
        raise TypeError(
            f"A label scheme is a name or a mapping {{emotion: label or None}}; "
            f"got {type(scheme).__name__}."
        )
    mapping: dict = {}
    for key, label in scheme.items():
        try:
            emotion = normalize_emotion(key)
        except ValueError as exc:
            raise ValueError(f"Scheme key {key!r} is not an emotion: {exc}") from None
        if emotion in mapping and mapping[emotion] != label:
            raise ValueError(
                f"Scheme keys name {emotion!r} twice with different labels "
                f"({mapping[emotion]!r} and {label!r})."
            )
        if label is not None and not isinstance(label, (str, Integral)):
            raise ValueError(
                f"Scheme label {label!r} for {emotion!r} must be a str, an int or None."
            )
        mapping[emotion] = label
    labels = [lab for lab in mapping.values() if lab is not None]
    if not labels:
        raise ValueError(
            "The label scheme leaves no class: every emotion maps to None "
            f"({sorted(mapping) or 'empty mapping'}). Map at least one emotion to a label."
        )
    if len({type(lab) is str for lab in labels}) > 1:
        raise ValueError(f"Scheme labels mix strings and numbers: {labels}. Use one type.")
    return mapping


def _top_n_mapping(ranking: tuple[str, ...], n: int) -> dict:
    vocabulary = list(EMOTIONS) + [e for e in ranking if e not in EMOTIONS]
    kept = set(ranking[:n])
    return {e: (e if e in kept else None) for e in vocabulary}


def sorted_labels(mapping: Mapping) -> list:
    """The distinct labels of a resolved mapping, sorted."""
    return sorted({lab for lab in mapping.values() if lab is not None})


def display_labels(mapping: Mapping) -> list:
    """The distinct labels of a resolved mapping in order of first appearance."""
    return list(dict.fromkeys(lab for lab in mapping.values() if lab is not None))


def _label_array(labels) -> np.ndarray:
    """Labels as a plain ndarray (str or int dtype) that sklearn classifiers accept."""
    return np.asarray(list(labels))


def check_labels(y, what: str = "y", *, emotions: bool = False) -> np.ndarray:
    """``y`` as a 1-D object array of labels.

    ``emotions=True``: ``y`` holds emotion names or FER2013 codes, which may mix
    (``["happy", 3]``); otherwise ``y`` holds a classifier's labels, which must be all
    strings or all numbers.

    Raises
    ------
    ValueError
        If ``y`` is None or not one-dimensional, holds a missing label (None, NaN), or
        (``emotions=False``) mixes strings with numbers; the message names ``what``.

    Examples
    --------
    >>> check_labels(["happy", 3], emotions=True).tolist()
    ['happy', 3]
    """
    from .._targets import check_label_values

    if y is None:
        raise ValueError(f"{what} is required: emotion labels, got None.")
    check_label_values(y, what, emotions=emotions)
    arr = np.asarray(y, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of emotion labels, got shape {arr.shape}.")
    return arr


def map_emotions(y, mapping: Mapping, *, scheme=None, what: str = "y") -> np.ndarray:
    """Map emotion labels through a resolved mapping: object array, ``None`` = left out.

    Errors name the offending ``{what}[i]`` and the scheme.
    """
    emotions = _normalize_target(y, vocabulary=mapping, scheme=scheme, what=what)
    out = np.empty(len(emotions), dtype=object)
    out[:] = [mapping[e] for e in emotions]
    return out


def _normalize_target(y, vocabulary: Mapping | None, scheme=None, what: str = "y") -> np.ndarray:
    """Canonical emotion names of ``y``; errors name ``y[i]``.

    With a ``vocabulary`` (a resolved mapping of ``scheme``), each emotion must be
    one of its keys.
    """
    arr = check_labels(y, what=what, emotions=True)
    out = np.empty(len(arr), dtype=object)
    cache: dict = {}
    for i, value in enumerate(arr):
        key = (type(value), value)
        name = cache.get(key)
        if name is None:
            try:
                name = normalize_emotion(value)
            except ValueError as exc:
                raise ValueError(f"{what}[{i}]: {exc}") from None
            if vocabulary is not None and name not in vocabulary:
                if isinstance(scheme, str):
                    desc = f"label scheme {scheme!r}"
                    fix = f"scheme={{**skfer.SCHEMES[{scheme!r}], {name!r}: None}}"
                else:
                    desc, fix = "the label scheme", f"add {name!r}: None to the mapping"
                raise ValueError(
                    f"{what}[{i}] = {value!r} ({name}) is outside the vocabulary of {desc}, "
                    f"which covers {', '.join(vocabulary)}. To drop such samples, {fix}."
                )
            cache[key] = name
        out[i] = name
    return out
