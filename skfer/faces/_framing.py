"""A model's face framing: the :class:`~skfer.FaceCropper` its faces were cropped with."""

from __future__ import annotations

__all__ = ["framed_cropper"]


def framed_cropper(framing: dict | None, *, in_chans: int = 1, **overrides):
    """The :class:`~skfer.FaceCropper` of a saved ``framing`` (FaceCropper parameters).

    Without one: ``FaceCropper()`` defaults, with colour crops for a 3-channel
    network (``in_chans=3``). ``overrides`` that are not None replace parameters.

    Examples
    --------
    >>> framed_cropper({"margin": 0.7}, detector="hog").get_params()["margin"]
    0.7
    >>> framed_cropper(None, in_chans=3).grayscale
    False
    """
    from ._cropper import FaceCropper

    params = dict(framing) if framing else {"grayscale": in_chans != 3}
    known = FaceCropper().get_params()
    unknown = sorted(k for k in overrides if k not in known)
    if unknown:
        raise ValueError(f"FaceCropper has no parameter(s) {unknown}; it has {sorted(known)}.")
    params.update({k: v for k, v in overrides.items() if v is not None})
    return FaceCropper(**{k: v for k, v in params.items() if k in known})
