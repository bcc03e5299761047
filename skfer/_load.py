"""``skfer.load_model``: a model by name, file or object, on the torch or ONNX backend.

The one resolver of skfer (``skfer.load_model`` and ``skfer.models.load_model`` are this
function). The ONNX branch imports no torch; the torch branch is
``skfer/models/_loading.py``.
"""

from __future__ import annotations

import os

__all__ = ["BACKENDS", "load_model", "serving_backend"]

#: the values of ``load_model``'s ``backend``
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")

#: the string values of ``tta`` (``skfer.models``' ``TTA_MODES``, without importing torch)
_TTA_MODES = ("flip", "flip+shift")


def load_model(
    model,
    *,
    backend: str = "torch",
    device: str = "auto",
    with_cropper: bool = False,
    allow_architectures=(),
    n_threads: int | None = None,
    tta=None,
):
    """Load a fitted emotion classifier by name or file, or check a fitted model.

    Parameters
    ----------
    model : str, path-like or fitted classifier
        A shipped model name (see :func:`skfer.shipped_models`), a ``.safetensors``
        file from :meth:`EmotionCNN.save`, an ``.onnx`` file from
        :func:`skfer.export_onnx`, or a fitted classifier (returned as it is).
    backend : {"torch", "onnx", "onnx-int8", "auto"}, default="torch"
        ``"torch"``: an :class:`~skfer.EmotionCNN`.
        ``"onnx-int8"``: the int8 graph (from ``export_onnx(..., quantize="int8")``)
        beside the weights, ``<stem>.int8.onnx``; the shipped ``fer2013``,
        ``fer2013-fast`` and ``film`` have one (calibrated on FER2013 Training). It is
        not built at first use: quantising needs calibration faces.
        ``"onnx"``: an :class:`~skfer.OnnxEmotionModel` run by ONNX Runtime on the CPU,
        without importing torch: the ONNX file exported from these weights, found
        beside them or in the cache (``$SKFER_CACHE/onnx``), else exported there now
        (this once imports torch; needs ``onnx``). ``"auto"``: the fastest backend that
        serves a prediction: ONNX on a CPU (``device`` ``"cpu"``, or ``"auto"`` on a
        machine without an NVIDIA GPU), the file found or exported as for ``"onnx"``;
        torch on a GPU, or when onnxruntime or the exporter is missing. The analysis
        functions (:func:`skfer.analyze_video`, :func:`skfer.analyze_images`), ``skfer
        predict``/``video`` and the Dask workers load names and files with ``"auto"``
        (``"torch"`` when they adapt to a film); this function's default stays
        ``"torch"`` because an :class:`~skfer.EmotionCNN` is what one trains, adapts and
        inspects.
    device : str, default="auto"
        For the torch backend (``"cpu"``, ``"cuda"``, ``"auto"``). The ONNX backend
        runs on the CPU.
    with_cropper : bool, default=False
        Return ``skfer.Pipeline([FaceCropper(...), model])`` framed as the model's faces.
    allow_architectures : iterable of str, default=()
        Torch backend: extra timm architectures to build from a file.
    n_threads : int, optional
        ONNX backends: the threads that run the graph, each on whole batches (default:
        one per usable core; see :class:`~skfer.OnnxEmotionModel`).
    tta : None, False, True, "flip" or "flip+shift", default=None
        Test-time augmentation of a model loaded by name or file (see
        :class:`~skfer.EmotionCNN`; ``True`` is ``"flip"``). None: the model's own. The
        ONNX graphs have it inside: ``"onnx"``/``"auto"`` use an exported graph with that
        TTA, exported into the cache at first use; ``"onnx-int8"`` needs an int8 graph
        with it beside the weights (``<stem>.int8.onnx`` has the model's own TTA,
        ``<stem>.tta-<off|flip|flip+shift>.int8.onnx`` another; the shipped ``fer2013``
        has ``fer2013.tta-off.int8.onnx``, its fastest setting).

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
        An unknown backend or ``tta``, ``tta`` with a fitted classifier (use its
        ``set_params``) or with an ONNX file of another TTA, a device the ONNX backend
        does not run on, or a file the torch loader refuses (architecture, kwargs,
        bounds, finiteness, checksum; see docs/robustness.md).

    Examples
    --------
    >>> from skfer import load_model
    >>> model = load_model("fer2013-fast", backend="onnx")
    >>> type(model).__name__, model.classes_[:2].tolist()
    ('OnnxEmotionModel', ['angry', 'disgust'])
    """
    check_backend(backend)
    tta = check_tta(tta)
    if isinstance(model, (str, os.PathLike)):
        path = _onnx_path(model, backend, device, tta)
        if path is not None:
            from ._onnx import OnnxEmotionModel, same_tta

            model = OnnxEmotionModel(path, n_threads=n_threads).fit()
            if tta is not None and not same_tta(model.tta, tta):
                raise ValueError(
                    f"{os.fspath(path)!r} has tta={model.tta!r} inside the graph, not "
                    f"tta={tta!r}: export one with skfer.export_onnx(..., tta={tta!r})."
                )
        else:
            from .models._loading import load_model as load_torch

            model = load_torch(model, device=device, allow_architectures=allow_architectures)
            if tta is not None:
                model.set_params(tta=tta)
    else:
        check_fitted(model)
        if tta is not None:
            raise ValueError(
                f"tta={tta!r} applies to a model loaded by name or file; set it on a "
                "fitted classifier with set_params(tta=...)."
            )
    return with_cropper_pipeline(model) if with_cropper else model


def check_tta(tta):
    """``tta`` if it is None or a test-time augmentation mode (``True`` as ``"flip"``),
    else a ``ValueError``."""
    if tta is None or isinstance(tta, bool) or (isinstance(tta, str) and tta in _TTA_MODES):
        from ._onnx import canonical_tta

        return None if tta is None else canonical_tta(tta)
    raise ValueError(f"tta must be None, False, True, 'flip' or 'flip+shift', got {tta!r}.")


def check_backend(backend) -> None:
    """A ``ValueError`` unless ``backend`` is one of :data:`BACKENDS`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")


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


def _onnx_path(model, backend: str, device: str, tta=None):
    """The ONNX file to load for ``model`` under ``backend`` (with test-time
    augmentation ``tta``; None: the model's own), or None for torch."""
    from ._onnx import _require_onnxruntime, find_onnx, int8_path, onnx_cache_path, weights_path

    is_onnx_file = not (isinstance(model, str) and _is_shipped(model)) and str(
        os.fspath(model)
    ).lower().endswith(".onnx")
    if backend == "torch":
        if is_onnx_file:
            raise ValueError(
                f"{os.fspath(model)!r} is an ONNX file: load it with backend='onnx' or 'auto'."
            )
        return None
    if backend.startswith("onnx") and device not in ("auto", "cpu"):
        raise ValueError(f"The ONNX backend runs on the CPU; got device={device!r}.")
    if backend == "auto":
        if not is_onnx_file and (device not in ("auto", "cpu") or (device == "auto" and _gpu())):
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
    if backend == "onnx-int8":
        found = find_onnx(model, quantized=True, tta=tta)
        if found is None:
            where = int8_path(weights_path(model), tta=tta)
            also = "" if tta is None else f" or {int8_path(weights_path(model))}"
            raise FileNotFoundError(
                f"No int8 graph for {os.fspath(model)!r}"
                f"{'' if tta is None else f' with tta={tta!r}'} (looked for {where}{also}, "
                "exported from these weights): make one with skfer.export_onnx(model, "
                f"{where.name!r}, quantize='int8', calibration=faces"
                f"{'' if tta is None else f', tta={tta!r}'})."
            )
        return found
    found = find_onnx(model, tta=tta)
    if found is not None:
        return found
    if backend == "auto":
        import importlib.util

        if importlib.util.find_spec("onnx") is None:  # no exporter: torch serves
            return None
    from .models._export import export_onnx  # first use: build it into the cache

    weights = weights_path(model)
    options = {} if tta is None else {"tta": tta}
    if backend == "onnx":
        return export_onnx(weights, onnx_cache_path(weights, tta=tta), **options)
    try:
        return export_onnx(weights, onnx_cache_path(weights, tta=tta), **options)
    except Exception as exc:  # noqa: BLE001 - "auto" falls back to what always works
        import warnings

        warnings.warn(
            f"Could not export {os.fspath(model)!r} to ONNX ({type(exc).__name__}: {exc}); "
            "torch serves it.",
            stacklevel=3,
        )
        return None


def _gpu() -> bool:
    """Whether an NVIDIA GPU is visible, asked without importing torch (its driver's
    device files; ``CUDA_VISIBLE_DEVICES`` set empty or to -1 hides them)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


def serving_backend(backend: str, adapt=None) -> str:
    """The backend that serves an analysis: ``backend``, or torch when it adapts to the
    faces (batch-norm statistics live in the torch network)."""
    check_backend(backend)
    return "torch" if adapt is not None and backend == "auto" else backend


def _is_shipped(name: str) -> bool:
    from ._shipped import shipped_models

    return name in shipped_models()
