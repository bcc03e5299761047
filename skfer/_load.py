"""``skfer.load_model``: a model by name, file or object, on the torch or ONNX backend.

The one resolver of skfer (``skfer.load_model`` and ``skfer.models.load_model`` are this
function). The ONNX branch imports no torch; the torch branch is
``skfer/models/_loading.py``.
"""

from __future__ import annotations

import os

__all__ = ["BACKENDS", "load_model"]

#: the values of ``load_model``'s ``backend``
BACKENDS = ("auto", "onnx", "torch")


def load_model(
    model,
    *,
    backend: str = "torch",
    device: str = "auto",
    with_cropper: bool = False,
    allow_architectures=(),
    n_threads: int | None = None,
):
    """Load a fitted emotion classifier by name or file, or check a fitted model.

    Parameters
    ----------
    model : str, path-like or fitted classifier
        A shipped model name (see :func:`skfer.shipped_models`), a ``.safetensors``
        file from :meth:`EmotionCNN.save`, an ``.onnx`` file from
        :func:`skfer.export_onnx`, or a fitted classifier (returned as it is).
    backend : {"torch", "onnx", "auto"}, default="torch"
        ``"torch"``: an :class:`~skfer.EmotionCNN`.
        ``"onnx"``: an :class:`~skfer.OnnxEmotionModel` run by ONNX Runtime on the CPU,
        without importing torch: the ONNX file exported from these weights, found
        beside them or in the cache (``$SKFER_CACHE/onnx``), else exported there now
        (this once imports torch; needs ``onnx``). ``"auto"``: ONNX when onnxruntime is
        installed, ``device`` is ``"auto"`` or ``"cpu"`` and such a file already
        exists (or ``model`` is an ``.onnx`` file), else torch.
    device : str, default="auto"
        For the torch backend (``"cpu"``, ``"cuda"``, ``"auto"``). The ONNX backend
        runs on the CPU.
    with_cropper : bool, default=False
        Return ``skfer.Pipeline([FaceCropper(...), model])`` framed as the model's faces.
    allow_architectures : iterable of str, default=()
        Torch backend: extra timm architectures to build from a file.
    n_threads : int, optional
        ONNX backend: ONNX Runtime's intra-op threads (default: one per core).

    Returns
    -------
    EmotionCNN, OnnxEmotionModel, the given classifier, or skfer.Pipeline

    Raises
    ------
    ImportError
        ``backend="onnx"`` (or an ``.onnx`` file) without onnxruntime installed.
    FileNotFoundError
        Neither a file nor a shipped name.
    ValueError
        An unknown backend, a device the ONNX backend does not run on, or a file the
        torch loader refuses (architecture, kwargs, bounds, finiteness, checksum; see
        docs/robustness.md).

    Examples
    --------
    >>> from skfer import load_model
    >>> model = load_model("fer2013-fast", backend="onnx")
    >>> type(model).__name__, model.classes_[:2].tolist()
    ('OnnxEmotionModel', ['angry', 'disgust'])
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if isinstance(model, (str, os.PathLike)):
        path = _onnx_path(model, backend, device)
        if path is not None:
            from ._onnx import OnnxEmotionModel

            model = OnnxEmotionModel(path, n_threads=n_threads).fit()
        else:
            from .models._loading import load_model as load_torch

            return load_torch(
                model,
                device=device,
                with_cropper=with_cropper,
                allow_architectures=allow_architectures,
            )
    else:
        check_fitted(model)
    return with_cropper_pipeline(model) if with_cropper else model


def check_fitted(model) -> None:
    """A ``ValueError`` unless ``model`` is a fitted classifier (``predict_proba``,
    ``classes_``)."""
    missing = [attr for attr in ("predict_proba", "classes_") if not hasattr(model, attr)]
    if missing:
        raise ValueError(
            f"model must be a fitted classifier with predict_proba and classes_ (e.g. a "
            f"fitted EmotionCNN), a model file or a shipped model name; "
            f"{type(model).__name__} has no {' or '.join(missing)}."
        )


def with_cropper_pipeline(model):
    """``skfer.Pipeline([model's FaceCropper, model])``: predicts from whole images."""
    from .pipeline import make_pipeline

    cropper = model.cropper() if hasattr(model, "cropper") else None
    if cropper is None:
        from .faces import FaceCropper

        cropper = FaceCropper()
    return make_pipeline(cropper, model)


def _onnx_path(model, backend: str, device: str):
    """The ONNX file to load for ``model`` under ``backend``, or None for torch."""
    from ._onnx import _require_onnxruntime, find_onnx, onnx_cache_path, weights_path

    is_onnx_file = not (isinstance(model, str) and _is_shipped(model)) and str(
        os.fspath(model)
    ).lower().endswith(".onnx")
    if backend == "torch":
        if is_onnx_file:
            raise ValueError(
                f"{os.fspath(model)!r} is an ONNX file: load it with backend='onnx' or 'auto'."
            )
        return None
    if backend == "onnx" and device not in ("auto", "cpu"):
        raise ValueError(f"The ONNX backend runs on the CPU; got device={device!r}.")
    if backend == "auto":
        if device not in ("auto", "cpu"):
            return None
        try:
            _require_onnxruntime()
        except ImportError:
            if is_onnx_file:
                raise
            return None
    else:
        _require_onnxruntime()
    if is_onnx_file:
        path = os.path.expanduser(os.fspath(model))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No ONNX file {path!r}.")
        return path
    found = find_onnx(model)
    if found is not None or backend == "auto":
        return found
    from .models._export import export_onnx  # first use: build it into the cache

    weights = weights_path(model)
    return export_onnx(weights, onnx_cache_path(weights))


def _is_shipped(name: str) -> bool:
    from ._shipped import shipped_models

    return name in shipped_models()
