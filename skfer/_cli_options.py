"""What the ``skfer`` command makes of its options before it calls the library.

Options left out are ``None`` and reach the library as absent (:func:`given`); ``--model``
loads through :func:`skfer.models.load_model`; ``--scheme`` is a scheme name or a mapping
(:func:`parse_scheme`).
"""

from __future__ import annotations

import argparse
import inspect
import json
from contextlib import contextmanager

from .emotions import SCHEMES, normalize_emotion


class CommandError(Exception):
    """A user error the command reports as one line."""


def given(**options):
    """The options given on the command line: ``None`` (the library's default) is left out."""
    return {name: value for name, value in options.items() if value is not None}


@contextmanager
def model_hint():
    """A missing ``--model`` file or name: the library's message, and what --model takes."""
    try:
        yield
    except FileNotFoundError as exc:
        raise CommandError(
            f"{exc} Give --model a .safetensors file saved by EmotionCNN.save, or a shipped name."
        ) from None


def describe_model(name) -> str:
    """Which model a ``--model`` value (a shipped name or a file) stands for, as
    :func:`skfer.load_model` resolves it: ``"fer2013 (shipped: .../fer2013.safetensors)"``
    or ``"file ./my.safetensors"``."""
    from ._shipped import resolve_weights, shipped_models  # torch-free

    with model_hint():
        path = resolve_weights(name)
    if isinstance(name, str) and name in shipped_models():
        return f"{name} (shipped: {path})"
    return f"file {path}"


def say_model(name) -> None:
    """Tell, on stderr, which model the command ran (stdout stays the results); called
    once the command succeeded, so that an error stays one line."""
    import sys

    print(f"model: {describe_model(name)}", file=sys.stderr)


def model_option(
    name, *, default: str | None = None, backend: str | None = None, adapt=None
) -> dict:
    """``{"model": the loaded --model}`` (``default`` when absent and a ``--backend`` is
    given); nothing when both are absent (the library's default model and backend).
    The backend is ``--backend``, else ``"auto"`` (ONNX Runtime on a CPU, without
    importing torch; torch when ``adapt`` is set)."""
    if name is None and backend is None:
        return {}
    from ._load import load_model, serving_backend  # torch-free for the ONNX backend

    backend = serving_backend(backend or "auto", adapt)
    with model_hint():
        return {"model": load_model(default if name is None else name, backend=backend)}


class Scheme:
    """A parsed ``--scheme``: what the library takes (a name or a mapping) and a report name."""

    def __init__(self, name, value):
        self.name, self.value = name, value


def parse_scheme(text: str) -> Scheme:
    """``NAME``, ``[NAME,]EMOTION=LABEL,...`` (empty LABEL: left out) or a JSON object."""
    text = text.strip()
    if text in SCHEMES:
        return Scheme(text, text)
    base = None
    is_json = text.startswith(("{", "["))
    if is_json:
        try:
            given = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"invalid JSON in {text!r}: {exc}") from None
        if not isinstance(given, dict):
            raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object {{emotion: label}}")
    else:
        given = {}
        for i, item in enumerate(part.strip() for part in text.split(",")):
            if "=" not in item:
                if i == 0 and item in SCHEMES:
                    base = item
                    continue
                where = "" if item == text else f" in {text!r}"
                raise argparse.ArgumentTypeError(
                    f"{item!r}{where} is neither a scheme name ({', '.join(SCHEMES)}) "
                    "nor EMOTION=LABEL"
                )
            key, _, label = item.partition("=")
            given[key.strip()] = label.strip() or None
    from .labels import resolve_scheme

    named = {} if base is None else resolve_scheme(base)
    try:
        mapping = resolve_scheme(
            {**named, **{normalize_emotion(key): label for key, label in given.items()}}
        )
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    # the named scheme that only leaves out more emotions (ekman7,contempt=) keeps its name
    only_drops = base is not None and all(
        mapping[e] == named.get(e) if e in named else mapping[e] is None for e in mapping
    )
    name = base if only_drops else ("custom" if is_json else text)
    return Scheme(name, mapping)


def scheme_value(scheme: Scheme | None):
    return None if scheme is None else scheme.value


def scheme_help(names: str) -> str:
    listed = ", ".join(SCHEMES)
    return (
        f"{names}: a name ({listed}); or NAME,EMOTION=LABEL,... to change some emotions of "
        "a named scheme, an empty LABEL leaving that emotion out (ekman7,contempt= "
        "leaves out the contempt faces of CK+ or FER+); or EMOTION=LABEL,... or a JSON "
        'object such as \'{"happy": "pos", "sad": "neg", "contempt": null}\' listing '
        "every emotion of the scheme"
    )


def library_default(func, name: str, none: str = "the library's default") -> str:
    """How the help shows the library's default of ``func``'s parameter ``name``."""
    value = inspect.signature(func).parameters[name].default
    return none if value is None else str(value)


def parse_min_score(text: str):
    """``--min-score``: ``0.5`` (every detector) or ``yunet=0.7,hog=0.2`` (per detector).

    Examples
    --------
    >>> parse_min_score("0.5"), parse_min_score("yunet=0.7, hog=0")
    (0.5, {'yunet': 0.7, 'hog': 0.0})
    """
    import argparse
    import math

    from .faces._detectors import DETECTORS

    try:
        if "=" not in text:
            scores = float(text)
            if not math.isfinite(scores):
                raise ValueError(text)
            return scores
        pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
        scores = {name.strip().lower(): float(value) for name, value in pairs}
        if not all(math.isfinite(v) for v in scores.values()):
            raise ValueError(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a score: give a number (0.5) or detector=number pairs "
            "(yunet=0.7,hog=0.2)"
        ) from None
    unknown = [name for name in scores if name not in DETECTORS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"{unknown[0]!r} in {text!r} is not a detector: use {', '.join(DETECTORS)} "
            "(the name in the outputs' detector column)"
        )
    return scores
