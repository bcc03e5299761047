"""Checks on label values, before NumPy turns them into something else.

``np.asarray([0, "happy", 6])`` is ``['0', 'happy', '6']`` and ``np.asarray(["happy",
nan])`` is ``['happy', 'nan']``: a classifier would then learn classes no one meant.
:func:`check_label_values` looks at the values as given, so that every place labels enter
skfer (``EmotionCNN.fit``, :class:`~skfer.EmotionLabelMapper`, the samplers, scoring)
refuses them with one message.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["check_label_values"]

_MISSING_TYPES = ("NAType", "NaTType")  # pandas' missing values, without importing pandas


def _kind(value) -> str:
    """``"missing"``, ``"str"``, ``"number"``, ``"bool"`` or the type's name."""
    if value is None or type(value).__name__ in _MISSING_TYPES:
        return "missing"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (str, np.str_, bytes)):
        return "str"
    if isinstance(value, (Integral, np.integer)):
        return "number"
    if isinstance(value, (Real, np.floating)):
        return "missing" if value != value else "number"  # NaN
    return type(value).__name__


def _show(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _missing_error(what: str, i: int, value) -> ValueError:
    return ValueError(
        f"{what}[{i}] is a missing label ({_show(value)}): every sample needs a label; drop the "
        "unlabelled rows first."
    )


def check_label_values(y, what: str = "y", *, emotions: bool = False) -> None:
    """Refuse missing labels and labels that mix strings with numbers.

    Parameters
    ----------
    y : array-like
        Labels as the user gave them (a list, an array, a pandas Series...).
    what : str, default="y"
        How messages name ``y``.
    emotions : bool, default=False
        ``y`` holds emotions (for :class:`~skfer.EmotionLabelMapper`): names and
        FER2013 codes may then mix, each naming one emotion (``[0, "happy"]`` is
        angry, happy); missing labels are still refused.

    Raises
    ------
    ValueError
        For a missing label (None, NaN, ``pandas.NA``, or the string ``'nan'`` that
        ``np.array`` makes of a NaN among strings), naming its position; for strings
        mixed with numbers (``[0, "happy", 6]``), naming one of each.

    Examples
    --------
    >>> check_label_values(["happy", "sad"])
    >>> check_label_values([0, "happy", 6])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y mixes label types: y[0] = 0 (int) and y[1] = 'happy' (str); ...
    """
    if isinstance(y, np.ndarray) and y.dtype.kind in "biu":
        return
    if isinstance(y, np.ndarray) and y.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(y.ravel()))
        if bad.size:
            raise _missing_error(what, int(bad[0]), y.ravel()[bad[0]])
        return
    if isinstance(y, np.ndarray) and y.dtype.kind in "US":
        flat = y.ravel()
        bad = np.flatnonzero(flat == (b"nan" if y.dtype.kind == "S" else "nan"))
        if bad.size:
            raise _missing_error(what, int(bad[0]), flat[bad[0]])
        return
    try:
        values = np.asarray(y, dtype=object).ravel()
    except (TypeError, ValueError):  # ragged input: the caller's shape check reports it
        return
    first: dict = {}
    for i, value in enumerate(values):
        kind = _kind(value)
        if kind == "missing" or (kind == "str" and value in ("nan", b"nan")):
            raise _missing_error(what, i, value)
        if kind not in first:
            first[kind] = i
            if "str" in first and len(first) > 1 and not emotions:
                j, k = sorted((first["str"], min(v for n, v in first.items() if n != "str")))
                a, b = values[j], values[k]
                raise ValueError(
                    f"{what} mixes label types: {what}[{j}] = {_show(a)} ({type(a).__name__}) "
                    f"and {what}[{k}] = {_show(b)} ({type(b).__name__}); use labels of one "
                    "type (all names or all numbers)."
                )
