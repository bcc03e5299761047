"""``load_model``: the one resolver from a model name, file or object to a fitted model."""

from __future__ import annotations

import os

import numpy as np

from .._load import check_fitted, with_cropper_pipeline
from ._backbones import create_backbone, resolve_backbone
from ._estimator import EmotionCNN
from ._io import ARCHITECTURES, config_tta, read_weights
from ._torch import Preprocess, check_state_fits, resolve_device

__all__ = ["load_model", "model_from_weights"]


def load_model(model, *, device: str = "auto", with_cropper: bool = False, allow_architectures=()):
    """Load a fitted :class:`~skfer.EmotionCNN` by name or file, or check a fitted model.

    Every prediction path (Python, ``skfer`` CLI, :func:`~skfer.analyze_video`, Dask
    workers) resolves its ``model`` argument through this function.

    Parameters
    ----------
    model : str, path-like or fitted classifier
        A ``.safetensors`` file written by :meth:`EmotionCNN.save` (or
        :meth:`skfer.Pipeline.save`), the name of a model shipped with skfer (see
        :func:`shipped_models`; a bare shipped name means the shipped model even
        when the working directory holds a file of that name: write ``./fer2013``
        for the file), or an already fitted classifier with ``predict_proba``
        and ``classes_``, returned as it is.
    device : str, default="auto"
        Where a loaded model runs: ``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA if
        available). Ignored for a model object.
    with_cropper : bool, default=False
        Return ``skfer.Pipeline([FaceCropper(...), model])`` instead of the bare
        classifier: a model that predicts from whole images and frames, framed as
        the model's faces were (``model.framing_``, see :meth:`EmotionCNN.cropper`).
    allow_architectures : iterable of str, default=()
        timm architectures to build from a file beyond skfer's own list
        (``skfer.models._io.ARCHITECTURES``: the compact nets, the paper's seven and
        ``resnet18``), e.g. ``["efficientnet_b0"]`` for a model you trained on it.
        Only for files you trust; every other check still applies.

    Returns
    -------
    EmotionCNN, the given classifier, or skfer.Pipeline
        Fitted: ``classes_``, preprocessing and weights come from the file.

    Raises
    ------
    FileNotFoundError
        Neither a file nor a shipped name.
    ValueError
        Truncated file, missing metadata, an architecture outside the list, a config
        out of bounds or with ``model_kwargs`` a file may not set, a checksum that
        does not match, NaN or infinite weights, weights that do not fit the
        architecture (checked on PyTorch's meta device, before memory is allocated),
        or an object that is not a fitted classifier.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skfer import EmotionCNN, load_model
    >>> X = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    >>> y = np.array(["happy", "sad"] * 20)
    >>> model = EmotionCNN(max_epochs=1, validation=None, random_state=0, verbose=0).fit(X, y)
    >>> path = model.save(os.path.join(tempfile.mkdtemp(), "model.safetensors"))
    >>> loaded = load_model(path)
    >>> loaded.classes_.tolist()
    ['happy', 'sad']
    >>> bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
    True
    >>> load_model(model) is model
    True
    >>> [name for name, _ in load_model(path, with_cropper=True).steps]
    ['facecropper', 'emotioncnn']
    """
    if isinstance(model, (str, os.PathLike)):
        model = model_from_weights(
            *read_weights(model), device=device, allow_architectures=allow_architectures
        )
    else:
        check_fitted(model)
    return with_cropper_pipeline(model) if with_cropper else model


def model_from_weights(
    state: dict, config: dict, *, device: str = "auto", allow_architectures=()
) -> EmotionCNN:
    """Build a fitted estimator from a state dict and a checked skfer config (see
    ``_io.read_weights``): only architectures of ``_io.ARCHITECTURES`` or
    ``allow_architectures``, and only once the weights are known to fit it."""
    import timm

    from . import _compact  # noqa: F401  (registers skfer_* with timm)

    arch = config["architecture"]
    if isinstance(allow_architectures, str):
        allow_architectures = [allow_architectures]
    extra = list(allow_architectures or ())
    if not all(isinstance(a, str) for a in extra):
        raise ValueError(f"allow_architectures must be names, got {allow_architectures!r}.")
    if arch not in ARCHITECTURES and arch not in extra:
        raise ValueError(
            f"The weights are for architecture {arch!r}, which skfer does not build from a "
            f"file unless told to (it builds {', '.join(ARCHITECTURES)}). If you trust the "
            f"file, load it with load_model(..., allow_architectures=[{arch!r}])."
        )
    if not timm.is_model(arch):
        raise ValueError(
            f"The weights are for architecture {arch!r}, which this timm "
            f"({timm.__version__}) does not have."
        )
    _check_state_fits(arch, config, state)
    backbone = config["backbone"]
    try:
        if resolve_backbone(backbone) != arch:
            backbone = arch
    except ValueError:
        backbone = arch
    model_kwargs = dict(config["model_kwargs"])
    if config["classes_kind"] == "int":
        classes = np.asarray(config["classes"], dtype=np.int64)
    else:
        classes = np.asarray([str(c) for c in config["classes"]])
    est = EmotionCNN(
        backbone,
        in_chans=int(config["in_chans"]),
        input_size=tuple(int(v) for v in config["input_size"]),
        tta=config_tta(config.get("tta", False)),
        standardize=bool(config.get("standardize", False)),
        device=device,
        **{f"module__{k}": v for k, v in model_kwargs.items()},
    )
    est.classes_ = classes
    est.architecture_ = arch
    est.model_kwargs_ = model_kwargs
    est.in_chans_ = int(config["in_chans"])
    est.input_size_ = tuple(int(v) for v in config["input_size"])
    est.mean_ = tuple(float(v) for v in config["mean"])
    est.std_ = tuple(float(v) for v in config["std"])
    est.class_weight_ = np.ones(len(classes))
    est.history_ = None
    est.n_iter_ = 0
    est.metrics_ = dict(config.get("metrics") or {})
    est.framing_ = dict(config["framing"]) if config.get("framing") else None
    est.preprocess_ = Preprocess(
        est.in_chans_, est.input_size_, est.mean_, est.std_, est.standardize
    )
    est.device_ = resolve_device(device)
    est.module_ = est._build_module(state)
    est._device_param = device
    return est


def _check_state_fits(arch: str, config: dict, state: dict) -> None:
    """The state must match the architecture tensor for tensor, checked on the meta
    device (no memory): the real network, built next, is then no larger than the
    file's tensors."""
    import torch

    num_classes, in_chans = int(config["num_classes"]), int(config["in_chans"])
    try:
        with torch.device("meta"):
            model = create_backbone(
                arch, num_classes=num_classes, in_chans=in_chans, **config["model_kwargs"]
            )
    except (RuntimeError, NotImplementedError):  # cannot be built on meta: checked on load
        return
    own = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    check_state_fits(
        own,
        state,
        source=f"architecture {arch!r}",
        num_classes=num_classes,
        in_chans=in_chans,
    )
