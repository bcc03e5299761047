"""``load_model``: the one resolver from a model name, file or object to a fitted model."""

from __future__ import annotations

import os

import numpy as np

from ._backbones import resolve_backbone
from ._estimator import EmotionCNN
from ._io import config_tta, read_weights
from ._torch import Preprocess, resolve_device

__all__ = ["load_model", "model_from_weights"]


def load_model(model, *, device: str = "auto", with_cropper: bool = False):
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

    Returns
    -------
    EmotionCNN, the given classifier, or skfer.Pipeline
        Fitted: ``classes_``, preprocessing and weights come from the file.

    Raises
    ------
    FileNotFoundError
        Neither a file nor a shipped name.
    ValueError
        Truncated file, missing metadata, weights that do not fit the architecture,
        or an object that is not a fitted classifier.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skfer import EmotionCNN, load_model
    >>> X = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    >>> y = np.array(["happy", "sad"] * 20)
    >>> model = EmotionCNN(max_epochs=1, validation=None, random_state=0).fit(X, y)
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
        model = model_from_weights(*read_weights(model), device=device)
    else:
        missing = [attr for attr in ("predict_proba", "classes_") if not hasattr(model, attr)]
        if missing:
            raise ValueError(
                f"model must be a fitted classifier with predict_proba and classes_ (e.g. a "
                f"fitted EmotionCNN), a model file or a shipped model name; "
                f"{type(model).__name__} has no {' or '.join(missing)}."
            )
    if not with_cropper:
        return model
    from ..pipeline import make_pipeline

    cropper = model.cropper() if hasattr(model, "cropper") else None
    if cropper is None:
        from ..faces import FaceCropper

        cropper = FaceCropper()
    return make_pipeline(cropper, model)


def model_from_weights(state: dict, config: dict, *, device: str = "auto") -> EmotionCNN:
    """Build a fitted estimator from a state dict and an skfer config (see ``_io``)."""
    import timm

    from . import _compact  # noqa: F401  (registers skfer_* with timm)

    arch = config["architecture"]
    if not timm.is_model(arch):
        raise ValueError(
            f"The weights are for architecture {arch!r}, which this timm "
            f"({timm.__version__}) does not have."
        )
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
