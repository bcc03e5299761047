"""The emotion vocabulary shared by every part of skfer.

Canonical names, FER2013's integer code order, alias normalisation, the named
label schemes of Almeida et al. (the paper skfer follows) and valence/arousal
coordinates of each emotion.

Examples
--------
>>> from skfer.emotions import normalize_emotion, EMOTIONS
>>> EMOTIONS
('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')
>>> normalize_emotion("Happiness")
'happy'
>>> normalize_emotion(3)
'happy'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np

__all__ = [
    "EMOTIONS",
    "EMOTIONS_WITH_CONTEMPT",
    "FER2013_CODES",
    "PAPER_RANKING",
    "SCHEMES",
    "VALENCE_AROUSAL",
    "normalize_emotion",
    "normalize_emotions",
]

#: The seven basic emotions in FER2013's integer code order (code ``i`` is ``EMOTIONS[i]``).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: The vocabulary plus ``contempt`` (FER+, CK+).
EMOTIONS_WITH_CONTEMPT: tuple[str, ...] = EMOTIONS + ("contempt",)

#: FER2013 integer code of each canonical emotion.
FER2013_CODES: Mapping[str, int] = MappingProxyType({name: i for i, name in enumerate(EMOTIONS)})

_ALIASES = {
    "angry": ("anger", "angered", "mad", "an", "ang"),
    "disgust": ("disgusted", "disgusting", "di", "dis"),
    "fear": ("afraid", "fearful", "scared", "fe"),
    "happy": ("happiness", "joy", "happily", "ha", "hap"),
    "sad": ("sadness", "sa"),
    "surprise": ("surprised", "su", "sur"),
    "neutral": ("neutrality", "calm", "ne", "neu"),
    "contempt": ("contemptuous", "co"),
}

_LOOKUP = {name: name for name in EMOTIONS_WITH_CONTEMPT}
_LOOKUP.update({alias: name for name, aliases in _ALIASES.items() for alias in aliases})

#: (valence, arousal) in [-1, 1] for each emotion, from the NRC Valence, Arousal and
#: Dominance Lexicon v1: Mohammad, S. M. (2018), "Obtaining Reliable Human Ratings of
#: Valence, Arousal, and Dominance for 20,000 English Words", Proc. ACL 2018, pp. 174-184
#: (file ``NRC-VAD-Lexicon.txt``). The lexicon rates words on [0, 1] by best-worst
#: scaling; each value here is ``2 * score - 1`` for the emotion's category noun:
#: anger (0.167, 0.865), disgust (0.052, 0.775), fear (0.073, 0.840), happiness
#: (0.960, 0.732), sadness (0.052, 0.288), surprise (0.875, 0.875), contempt (0.206,
#: 0.635). These are the two axes of Russell's circumplex model of affect (Russell
#: 1980, J. Pers. Soc. Psychol. 39(6), 1161-1178), measured on the emotion words
#: rather than read off his figure. ``neutral`` is placed at the origin by definition
#: (the absence of affect), not taken from the lexicon.
VALENCE_AROUSAL: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "angry": (-0.666, 0.730),
        "disgust": (-0.896, 0.550),
        "fear": (-0.854, 0.680),
        "happy": (0.920, 0.464),
        "sad": (-0.896, -0.424),
        "surprise": (0.750, 0.750),
        "neutral": (0.0, 0.0),
        "contempt": (-0.588, 0.270),
    }
)


def _valence_scheme() -> Mapping[str, str]:
    """Sign of the valence coordinate: positive, negative, or neutral at the origin."""
    labels = {}
    for name, (valence, _) in VALENCE_AROUSAL.items():
        labels[name] = "positive" if valence > 0 else "negative" if valence < 0 else "neutral"
    return MappingProxyType(labels)


#: Named label schemes: each maps a canonical emotion to the scheme's label; emotions
#: absent from a mapping are left out of that scheme (their samples are dropped).
#: ``top4`` and ``clusters`` are the paper's (Almeida et al., Appl. Sci. 2021, 11, 6827,
#: Table 8); ``valence`` groups by the sign of the valence coordinate of
#: :data:`VALENCE_AROUSAL` (so surprise, rated positive in the lexicon, is positive).
SCHEMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "ekman7": MappingProxyType({name: name for name in EMOTIONS}),
        "top4": MappingProxyType({n: n for n in ("happy", "surprise", "neutral", "angry")}),
        "clusters": MappingProxyType(
            {
                "happy": "positive",
                "neutral": "neutral",
                "angry": "negative",
                "sad": "negative",
                "fear": "negative",
                "disgust": "negative",
            }
        ),
        "valence": _valence_scheme(),
    }
)

#: The paper's ranking of the emotions by how well they are recognised (its ``top_n`` order).
PAPER_RANKING: tuple[str, ...] = ("happy", "surprise", "neutral", "angry", "sad", "fear", "disgust")


def normalize_emotion(label: str | int | np.integer) -> str:
    """Return the canonical name of one emotion label.

    Parameters
    ----------
    label : str or int
        A name in any case or common alias (``"Angry"``, ``"anger"``, ``"happiness"``,
        ``"afraid"``, ``"surprised"``...), or a FER2013 integer code 0..6.

    Returns
    -------
    str
        One of :data:`EMOTIONS_WITH_CONTEMPT`.

    Raises
    ------
    ValueError
        If the label is not a known emotion; the message lists the known names.

    Examples
    --------
    >>> normalize_emotion("Surprised")
    'surprise'
    >>> normalize_emotion(" AFRAID ")
    'fear'
    """
    if isinstance(label, (bool, np.bool_)):
        raise ValueError(
            f"Unknown emotion label {label!r}: booleans are not emotions. Known emotions: "
            f"{', '.join(EMOTIONS_WITH_CONTEMPT)}."
        )
    if isinstance(label, (int, np.integer)):
        if 0 <= int(label) < len(EMOTIONS):
            return EMOTIONS[int(label)]
        raise ValueError(
            f"Unknown emotion code {label!r}: FER2013 codes are 0..{len(EMOTIONS) - 1} "
            f"({', '.join(f'{i}={n}' for i, n in enumerate(EMOTIONS))})."
        )
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return normalize_emotion(int(label))
    if isinstance(label, (str, np.str_)):
        key = str(label).strip().lower()
        if key.isdigit():
            return normalize_emotion(int(key))
        if key in _LOOKUP:
            return _LOOKUP[key]
    raise ValueError(
        f"Unknown emotion label {label!r}. Known emotions: {', '.join(EMOTIONS_WITH_CONTEMPT)} "
        "(any case, common aliases such as 'anger', 'happiness', 'afraid', or FER2013 codes 0..6)."
    )


def normalize_emotions(labels: Iterable[str | int]) -> np.ndarray:
    """Vectorised :func:`normalize_emotion`: an object array of canonical names.

    The error for an unknown label names its position.

    Examples
    --------
    >>> normalize_emotions(["Angry", 3, "sadness"]).tolist()
    ['angry', 'happy', 'sad']
    """
    values = list(labels)
    cache: dict = {}
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        key = (type(value), value)
        if key not in cache:
            try:
                cache[key] = normalize_emotion(value)
            except ValueError as exc:
                raise ValueError(f"Label at position {i}: {exc}") from None
        out[i] = cache[key]
    return out
