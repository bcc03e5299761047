"""EmotionCNN: a scikit-learn classifier that trains a timm CNN through skorch."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._images import check_images, to_gray
from ._adapt import ADAPT_MODES
from ._backbones import backbone_config, channel_stats, create_backbone, resolve_backbone
from ._inference import TTA_MODES, tta_views
from ._warm_start import freeze_layers, read_source_model, warm_start_head

__all__ = ["EmotionCNN"]

# parameters routed to skorch (``optimizer__momentum``, ``callbacks__print_log__sink``)
# or, for ``module__*``, to ``timm.create_model``
_NESTED_PREFIXES = ("module", "optimizer", "criterion", "callbacks")
_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
# activations of larger CPU batches overflow the caches: 32-64 faces per batch were
# 10-25 % faster than 128 (and 2x faster than 256) on the compact CNNs
_CPU_PREDICT_BATCH = 64


class _Preprocess:
    """uint8 ``(N, C, H, W)`` batch -> normalised float batch the backbone expects.

    Augmentation (training only) runs at the images' own size, before resizing.
    """

    def __init__(self, in_chans, input_size, mean, std, standardize=False):
        self.in_chans = int(in_chans)
        self.input_size = tuple(int(v) for v in input_size)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.standardize = bool(standardize)

    def __call__(self, x, augment=None, generator=None):
        import torch
        import torch.nn.functional as F

        x = x.float()
        if augment is not None:
            x = augment.augment_batch(x, generator).clamp_(0, 255)
        if tuple(x.shape[-2:]) != self.input_size:
            shrink = x.shape[-2] > self.input_size[0] or x.shape[-1] > self.input_size[1]
            x = F.interpolate(
                x, size=self.input_size, mode="bilinear", align_corners=False, antialias=shrink
            )
        if getattr(self, "standardize", False):  # mean 0, spread 1: lighting, contrast go
            centred = x - x.mean(dim=(1, 2, 3), keepdim=True)
            spread = centred.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt_().add_(1.0)
            x = centred.div_(spread)
            if x.shape[1] != self.in_chans:
                return x.expand(-1, self.in_chans, -1, -1)
            return x
        shape = (1, self.in_chans, 1, 1)
        mean = torch.tensor([m * 255.0 for m in self.mean], device=x.device).view(shape)
        scale = torch.tensor([1.0 / (s * 255.0) for s in self.std], device=x.device).view(shape)
        if x.shape[1] != self.in_chans:  # gray images into a colour network
            return (x.expand(-1, self.in_chans, -1, -1) - mean) * scale
        return x.sub_(mean).mul_(scale)  # x is a fresh float copy: safe in place


def _images_to_tensor(images: np.ndarray, in_chans: int):
    """Checked uint8 images -> ``(n, C, H, W)`` uint8 tensor without copying where possible.

    Colour images for a 1-channel network become gray; gray images for a colour
    network keep one channel (expanded later, batch by batch).
    """
    import torch

    if images.ndim == 4:
        if in_chans == 1:
            n, h, w, _ = images.shape
            gray = to_gray(np.ascontiguousarray(images).reshape(n * h, w, 3)).reshape(n, h, w)
            return torch.from_numpy(gray)[:, None]
        return torch.from_numpy(images).permute(0, 3, 1, 2)
    return torch.from_numpy(images)[:, None]


def _make_net_class():
    """The skorch net subclass, defined lazily so that skorch loads only when fitting."""
    import torch
    from skorch import NeuralNetClassifier

    class _Dataset(torch.utils.data.Dataset):
        def __init__(self, X, y):
            self.X, self.y = X, y

        def __len__(self):
            return len(self.X)

        def __getitem__(self, i):
            return self.X[i], self.y[i]

    class _Batches:
        """Whole-batch tensor indexing: no per-sample Python work, no DataLoader."""

        def __init__(self, dataset, batch_size, *, shuffle, generator=None):
            self.dataset, self.batch_size = dataset, batch_size
            self.shuffle, self.generator = shuffle, generator

        def __len__(self):
            n = len(self.dataset)
            full, rest = divmod(n, self.batch_size)
            return full + (rest > 1 or (rest == 1 and (not self.shuffle or n == 1)))

        def __iter__(self):
            X, y, n, bs = self.dataset.X, self.dataset.y, len(self.dataset), self.batch_size
            order = torch.randperm(n, generator=self.generator) if self.shuffle else None
            for start in range(0, n, bs):
                if order is None:
                    yield X[start : start + bs], y[start : start + bs]
                    continue
                idx = order[start : start + bs]
                if len(idx) == 1 and n > 1:
                    break  # a lone training sample breaks batch norm; it is reshuffled next epoch
                yield X[idx], y[idx]

    class _Net(NeuralNetClassifier):
        """skorch classifier over uint8 image tensors, preprocessing on the device."""

        preprocess_ = None
        augment_ = None
        rng_ = None
        amp_dtype_ = None
        memory_format_ = None

        def get_iterator(self, dataset, training=False):
            return _Batches(dataset, self.batch_size, shuffle=training, generator=self.rng_)

        frozen_norms_ = ()
        weight_decay_ = 0.0

        def get_params_for_optimizer(self, prefix, named_parameters):
            """Split each parameter group: weights decay by ``weight_decay_``, biases and
            normalisation parameters (1-d tensors) do not."""
            args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
            if prefix != "optimizer" or not self.weight_decay_:
                return args, kwargs
            groups = []
            for group in args[0]:
                extra = {k: v for k, v in group.items() if k != "params"}
                decay = [p for p in group["params"] if p.ndim > 1]
                flat = [p for p in group["params"] if p.ndim <= 1]
                if decay:
                    groups.append({"weight_decay": self.weight_decay_, **extra, "params": decay})
                if flat:
                    groups.append({**extra, "weight_decay": 0.0, "params": flat})
            return (groups, *args[1:]), kwargs

        def infer(self, x, **fit_params):
            x = x.to(self.device, non_blocking=True)
            if self.module_.training:
                for norm in self.frozen_norms_:  # frozen layers keep their statistics
                    norm.eval()
            augment = self.augment_ if self.module_.training else None
            x = self.preprocess_(x, augment, self.rng_)
            x = x.contiguous(memory_format=self.memory_format_)
            with _autocast(x.device, self.amp_dtype_):
                out = self.module_(x, **fit_params)
            return out.float()

    return _Net, _Dataset


def _autocast(device, dtype):
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _resolve_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"Invalid device {device!r}: {exc}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available here; use device='auto' or 'cpu'."
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) are visible."
        )
    return resolved


def _amp_dtype(amp, device):
    import torch

    if amp is False or (amp == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16


@contextlib.contextmanager
def _seeded(seed: int, device):
    """Seed torch inside a forked RNG state, so the caller's global RNG is untouched."""
    import torch

    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class EmotionCNN(ClassifierMixin, BaseEstimator):
    """Facial-expression classifier: a timm CNN trained with the paper's recipe through skorch.

    Any backbone timm knows, the paper's seven by name, or skfer's compact CNNs
    for 48x48 faces. Labels stay the user's: ``classes_`` holds them and
    :meth:`predict` returns them. Preprocessing (channels, input size,
    normalisation) is part of the fitted model and of its saved weights.

    Parameters
    ----------
    backbone : str, default="skfer_cnn"
        A paper name (``"MobileNetV2"``, ``"Xception"``, ``"VGG16"``, ``"VGG19"``,
        ``"ResNetV2"``, ``"InceptionV3"``, ``"DenseNet"``), a compact skfer model
        (``"skfer_cnn"``, ``"skfer_cnn_fast"``) or any timm model name; case and
        punctuation do not matter. See :func:`~skfer.list_backbones`.
    pretrained : bool, str or path-like, default=False
        ``True``: start from timm's ImageNet weights, read from the local Hugging
        Face / torch-hub cache (downloaded only if absent, the hub is reachable and
        ``HF_HUB_OFFLINE`` is unset; otherwise it fails within seconds saying how
        to supply them). A path: a local safetensors file or torch state dict; the
        classifier head is re-initialised for ``classes_``. A fitted skfer model (a
        shipped name such as ``"fer2013"``, or a file from :meth:`save`): fine-tuning.
        Its architecture and widths (``backbone`` must name the same network), input
        channels, size, normalisation and all weights are the start, including the
        classifier rows of the labels it shares with ``y`` (emotion aliases match);
        other labels get fresh rows.
    freeze : int, "backbone" or None, default=None
        Layers kept fixed while training: the first ``freeze`` convolutions with the
        normalisation layers after them (their statistics too), or every layer but
        the classifier for ``"backbone"``. Meant for fine-tuning with ``pretrained``.
    in_chans : {"auto", 1, 3}, default="auto"
        Network input channels. ``"auto"``: 1 when the training images are
        grayscale, else 3 (timm adapts the first convolution). Colour images
        given to a 1-channel model are converted to gray, and vice versa.
    input_size : "auto", "native", int or (int, int), default="auto"
        Size the network sees; images are resized to it. ``"auto"``: the training
        images' size, enlarged to the backbone's minimum (e.g. 75 px for
        InceptionV3); ``"native"``: the backbone's pretraining size (299 px for
        Xception).
    standardize : bool or "auto", default="auto"
        Per-face contrast normalisation, in training and prediction alike: each face
        is shifted and scaled to mean 0 and unit spread (instead of the dataset's
        ``mean``/``std``), so that lighting and contrast, which differ between
        FER2013 and film, carry no signal. Saved with the weights. ``"auto"``: off
        when training from scratch, the start model's setting when fine-tuning.
    max_epochs : int, default=25
    batch_size : int, default=128
        Training and prediction batch size (prediction on the CPU uses at most 64,
        which keeps activations in cache).
    lr : float, default=0.1
        Initial learning rate.
    optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="sgd"
        ``"sgd"`` uses momentum 0.9 (override with ``optimizer__momentum``).
    weight_decay : float, default=0.0
        L2 penalty on the weights of convolutions and linear layers; biases and
        normalisation parameters are exempt (timm's convention). For a penalty on
        every parameter use ``optimizer__weight_decay`` instead.
    lr_schedule : {"plateau", "warmup-cosine"}, default="plateau"
        ``"plateau"``: the paper's schedule, the rate multiplied by ``lr_factor``
        after ``lr_patience`` epochs without gain. ``"warmup-cosine"``: a linear
        warm-up over the first epoch, then a cosine decay to zero at ``max_epochs``,
        batch by batch (:class:`~skfer.WarmupCosine`; the shipped models' recipe).
    lr_patience : int or None, default=3
        With ``lr_schedule="plateau"``: epochs without validation-accuracy gain
        before the learning rate is multiplied by ``lr_factor``
        (``ReduceLROnPlateau``; on the training loss when ``validation=None``).
        None keeps the rate constant.
    lr_factor : float, default=0.1
    early_stopping : int or None, default=6
        Stop after this many epochs without validation-accuracy gain and restore
        the best epoch's weights. None trains ``max_epochs`` epochs.
    validation : float, (X_val, y_val) or None, default=0.1
        A stratified fraction of the training data held out, or a given
        validation set, for the scheduler, early stopping and the log.
    augment : Augmenter, "default" or None, default="default"
        Applied on the fly to every training batch (a fresh draw each epoch).
        ``"default"`` is ``Augmenter()``: the paper's mirror and 10 % shift at p=0.5.
    class_weight : dict, "balanced" or None, default=None
        Loss weight per class. ``"balanced"``: ``n_samples / (n_classes * count)``.
    label_smoothing : float, default=0.0
    adapt : "batchnorm" or None, default=None
        Unsupervised adaptation to the faces of each prediction call, taken as one
        domain (e.g. all faces of one film): ``"batchnorm"`` re-estimates the
        network's batch-norm statistics on them (AdaBN, see
        :func:`~skfer.adapt_batchnorm`). Predictions then depend on the other faces of
        the call; calls with fewer than 16 faces are predicted unadapted. None: each
        face on its own.
    tta : bool, "flip" or "flip+shift", default=False
        Test-time augmentation: average the logits of several views of each face at
        prediction. ``True`` or ``"flip"``: the face and its mirror image.
        ``"flip+shift"``: also the face shifted 2 px (at 48 px) left, right, up and
        down, six views in all, which steadies predictions against crop jitter.
    device : str, default="auto"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... ``"auto"``: CUDA when available.
    amp : {"auto", True, False}, default="auto"
        Mixed precision (bfloat16 autocast). ``"auto"``: on CUDA only.
    callbacks : list of skorch callbacks or (name, callback) pairs, optional
        Added to the defaults (epoch log, scheduler, early stopping).
    checkpoint_dir : path-like or None, default=None
        Resumable training: after every epoch the weights, optimizer state and
        history are written to this folder (skorch ``Checkpoint``), and a ``fit``
        that finds a checkpoint there starts from it (skorch ``LoadInitState``)
        and trains only the epochs left to reach ``max_epochs``. Use one folder
        per training run; delete it to start afresh.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, augmentation and the validation
        split: with an int, CPU training is repeatable.
    verbose : int, default=0
        1: a table line per epoch; 2: plus a progress bar. 0: silent.
    **kwargs
        Routed parameters, grid-searchable like the others: ``module__<name>``
        goes to :func:`timm.create_model` (e.g. ``module__drop_rate=0.2``);
        ``optimizer__<name>``, ``criterion__<name>`` and ``callbacks__<cb>__<name>``
        are skorch's (e.g. ``optimizer__weight_decay=1e-4``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, in output order.
    module_ : torch.nn.Module
        The trained timm model (in eval mode).
    history_ : skorch.History or None
        Per-epoch training log (``train_loss``, ``valid_loss``, ``valid_acc``...).
    architecture_ : str
        The timm architecture.
    in_chans_ : int
        Input channels of the network.
    input_size_ : tuple of int
        ``(H, W)`` the network sees; faces of another size are resized to it.
    mean_, std_ : tuple of float
        Per-channel normalisation of pixels scaled to [0, 1].
    class_weight_ : ndarray of shape (n_classes,)
        Loss weight of each class.
    device_ : torch.device
    n_iter_ : int
        Epochs trained.

    See Also
    --------
    skfer.load_model : load a model saved with :meth:`save`.
    skfer.list_backbones : backbone names.

    Notes
    -----
    Pickling keeps weights, classes, preprocessing and history (not the optimizer
    state); the weights are stored on the CPU, so a model fitted on a GPU unpickles
    on a CPU-only machine. :meth:`save` writes a safetensors file that
    :func:`~skfer.load_model` reads without unpickling code.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import EmotionCNN
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (60, 48, 48), dtype=np.uint8)
    >>> y = np.array(["happy", "sad", "neutral"] * 20)
    >>> model = EmotionCNN(max_epochs=2, batch_size=16, random_state=0).fit(X, y)
    >>> model.classes_.tolist()
    ['happy', 'neutral', 'sad']
    >>> model.predict(X[:2]).shape, model.predict_proba(X[:2]).shape
    ((2,), (2, 3))
    """

    _parameter_constraints: dict = {
        "backbone": [str],
        "pretrained": ["boolean", str, os.PathLike],
        "freeze": [Interval(Integral, 0, None, closed="left"), StrOptions({"backbone"}), None],
        "adapt": [StrOptions(set(ADAPT_MODES)), None],
        "standardize": ["boolean", StrOptions({"auto"})],
        "in_chans": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "input_size": [
            StrOptions({"auto", "native"}),
            Interval(Integral, 1, None, closed="left"),
            tuple,
            list,
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"plateau", "warmup-cosine"})],
        "lr_patience": [Interval(Integral, 0, None, closed="left"), None],
        "lr_factor": [Interval(Real, 0, 1, closed="neither")],
        "early_stopping": [Interval(Integral, 1, None, closed="left"), None],
        "validation": [Interval(Real, 0, 1, closed="neither"), tuple, None],
        "augment": [StrOptions({"default"}), HasMethods(["augment_batch"]), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "tta": ["boolean", StrOptions(set(TTA_MODES))],
        "device": [str],
        "amp": ["boolean", StrOptions({"auto"})],
        "callbacks": [list, None],
        "checkpoint_dir": [str, os.PathLike, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="skfer_cnn",
        *,
        pretrained=False,
        freeze=None,
        in_chans="auto",
        input_size="auto",
        standardize="auto",
        max_epochs=25,
        batch_size=128,
        lr=0.1,
        optimizer="sgd",
        weight_decay=0.0,
        lr_schedule="plateau",
        lr_patience=3,
        lr_factor=0.1,
        early_stopping=6,
        validation=0.1,
        augment="default",
        class_weight=None,
        label_smoothing=0.0,
        adapt=None,
        tta=False,
        device="auto",
        amp="auto",
        callbacks=None,
        checkpoint_dir=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.backbone = backbone
        self.pretrained = pretrained
        self.freeze = freeze
        self.in_chans = in_chans
        self.input_size = input_size
        self.standardize = standardize
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.early_stopping = early_stopping
        self.validation = validation
        self.augment = augment
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.adapt = adapt
        self.tta = tta
        self.device = device
        self.amp = amp
        self.callbacks = callbacks
        self.checkpoint_dir = checkpoint_dir
        self.random_state = random_state
        self.verbose = verbose
        vars(self).update(kwargs)

    # ------------------------------------------------------------------ parameters

    def _nested_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if "__" in k and not k.endswith("_")}

    def get_params(self, deep=True):
        """Get parameters, including routed ``module__``/``optimizer__``/... ones.

        Examples
        --------
        >>> EmotionCNN(optimizer__momentum=0.5).get_params()["optimizer__momentum"]
        0.5
        """
        params = super().get_params(deep=deep)
        params.update(self._nested_params())
        return params

    def set_params(self, **params):
        """Set parameters; ``module__*``, ``optimizer__*``, ``criterion__*`` and
        ``callbacks__*`` are stored for ``fit`` (skorch's routing), others as usual.

        Examples
        --------
        >>> EmotionCNN().set_params(module__drop_rate=0.2, lr=0.01).module__drop_rate
        0.2
        """
        routed = {
            k: v
            for k, v in params.items()
            if k.partition("__")[0] in _NESTED_PREFIXES and k.partition("__")[2]
        }
        for key, value in routed.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in routed}
        if rest:
            super().set_params(**rest)
        return self

    def _check_nested(self) -> dict[str, dict]:
        extra = self._nested_params()
        by_prefix: dict[str, dict] = {p: {} for p in _NESTED_PREFIXES}
        for key, value in extra.items():
            prefix, _, rest = key.partition("__")
            if prefix not in by_prefix or not rest:
                raise ValueError(
                    f"EmotionCNN got an unexpected parameter {key!r}: extra parameters must "
                    f"start with {', '.join(p + '__' for p in _NESTED_PREFIXES)}."
                )
            by_prefix[prefix][rest] = value
        return by_prefix

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # X is images (n, H, W[, C]) or paths
        tags.input_tags.three_d_array = True
        tags.non_deterministic = True  # torch kernels; seeded but not bit-exact on GPU
        return tags

    # ------------------------------------------------------------------ input checks

    @staticmethod
    def _check_y(y, n_images: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 0:
            raise ValueError(f"y must be a 1-d array of labels, got the scalar {y!r}.")
        y = column_or_1d(y, warn=True)
        if len(y) != n_images:
            raise ValueError(f"X has {n_images} images but y has {len(y)} labels; they must match.")
        try:
            check_classification_targets(y)
        except TypeError as exc:  # np.unique cannot order e.g. str and int
            kinds = sorted({type(v).__name__ for v in y.tolist()})
            raise ValueError(
                f"y mixes label types ({', '.join(kinds)}); use labels of one type."
            ) from exc
        return y

    @staticmethod
    def _unique(y: np.ndarray, what: str = "y"):
        try:
            return np.unique(y, return_inverse=True)
        except TypeError as exc:
            kinds = sorted({type(v).__name__ for v in y})
            raise ValueError(
                f"{what} mixes label types ({', '.join(kinds)}); use labels of one type."
            ) from exc

    def _resolve_in_chans(self, images: np.ndarray, cfg: dict) -> int:
        if self.in_chans == "auto":
            return 3 if images.ndim == 4 else 1
        if self.in_chans not in (1, 3):
            raise ValueError(f"in_chans must be 'auto', 1 or 3; got {self.in_chans!r}.")
        return int(self.in_chans)

    def _resolve_input_size(self, images: np.ndarray, cfg: dict, arch: str) -> tuple[int, int]:
        size = self.input_size
        min_size = cfg["min_size"]
        if size == "auto":
            h, w = images.shape[1:3]
            return max(h, min_size), max(w, min_size)
        if size == "native":
            return cfg["input_size"]
        if isinstance(size, Integral):
            size = (size, size)
        if (
            len(size) != 2
            or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in size)
            or min(size) < 1
        ):
            raise ValueError(
                f"input_size must be 'auto', 'native', an int or (height, width); got {size!r}."
            )
        if min(size) < min_size:
            raise ValueError(
                f"Backbone {arch!r} needs inputs of at least {min_size}x{min_size} px; "
                f"input_size={self.input_size!r} is too small."
            )
        return int(size[0]), int(size[1])

    def _split(self, X_t, y_enc, classes, seed):
        """Training and validation tensors from ``validation``."""
        import torch
        from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

        n = len(y_enc)
        if self.validation is None:
            return np.arange(n), None
        if isinstance(self.validation, tuple):
            if len(self.validation) != 2:
                raise ValueError(
                    "validation must be a fraction, an (X_val, y_val) pair or None; got a "
                    f"tuple of length {len(self.validation)}."
                )
            X_val, y_val = self.validation
            images = check_images(X_val, stack=True)
            y_val = self._check_y(y_val, len(images))
            known = {v: i for i, v in enumerate(classes.tolist())}
            unknown = sorted({str(v) for v in y_val.tolist() if v not in known})
            if unknown:
                raise ValueError(
                    f"validation labels {unknown[:5]} do not occur in y (classes: "
                    f"{classes.tolist()})."
                )
            codes = np.array([known[v] for v in y_val.tolist()], dtype=np.int64)
            return np.arange(n), (images, torch.from_numpy(codes))
        n_valid = int(np.ceil(self.validation * n))
        if n_valid < 1 or n - n_valid < 2:
            raise ValueError(
                f"validation={self.validation} leaves {n - n_valid} of {n} images for "
                "training; use more images or validation=None."
            )
        try:
            splitter = StratifiedShuffleSplit(1, test_size=n_valid, random_state=seed)
            train, valid = next(splitter.split(np.zeros(n), y_enc))
        except ValueError:  # a class too rare to stratify
            splitter = ShuffleSplit(1, test_size=n_valid, random_state=seed)
            train, valid = next(splitter.split(np.zeros(n)))
        return np.sort(train), np.sort(valid)

    def _class_weights(self, y_enc: np.ndarray, classes: np.ndarray) -> np.ndarray:
        k = len(classes)
        if self.class_weight is None:
            return np.ones(k)
        if isinstance(self.class_weight, str):  # "balanced"
            counts = np.bincount(y_enc, minlength=k)
            return len(y_enc) / (k * counts)
        labels = classes.tolist()
        unknown = [key for key in self.class_weight if key not in labels]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown[:5]} that do not occur in y (classes: {labels})."
            )
        weights = np.array([float(self.class_weight.get(c, 1.0)) for c in labels])
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("class_weight values must be finite and non-negative.")
        return weights

    # ------------------------------------------------------------------ fit

    def fit(self, X, y):
        """Train the backbone on face images.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, H, W, 3), or a list of same-size images
            Face crops, uint8 or float (see :func:`skfer.check_images`); e.g. the
            output of :class:`~skfer.FaceCropper`.
        y : array-like of shape (n,)
            Labels of any kind (emotion names, FER2013 codes...); at least two classes.

        Returns
        -------
        self
        """
        self._validate_params()
        nested = self._check_nested()
        import torch
        from skorch.helper import predefined_split

        images = check_images(X, stack=True)
        y = self._check_y(y, len(images))
        classes, y_enc = self._unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class ({classes[:1].tolist()[0]!r}); a classifier needs at "
                "least 2."
            )
        arch = resolve_backbone(self.backbone)
        cfg = backbone_config(arch)
        source = None if self.pretrained is False else read_source_model(self.pretrained)
        module_kwargs = dict(nested["module"])
        if source is None:
            in_chans = self._resolve_in_chans(images, cfg)
            input_size = self._resolve_input_size(images, cfg, arch)
            mean, std = channel_stats(cfg["mean"], in_chans), channel_stats(cfg["std"], in_chans)
        else:
            in_chans, input_size, mean, std = self._source_preprocessing(source[1], cfg, arch)
            module_kwargs = {**source[1]["model_kwargs"], **module_kwargs}
        device = _resolve_device(self.device)
        optimizer = self.optimizer
        if isinstance(optimizer, str):
            optimizer = getattr(torch.optim, _OPTIMIZERS[optimizer])
        elif not issubclass(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer class, got {optimizer}.")
        opt_kwargs = dict(nested["optimizer"])
        if self.optimizer == "sgd":
            opt_kwargs.setdefault("momentum", 0.9)
        class_weight = self._class_weights(y_enc, classes)
        augment = self.augment
        if augment == "default":
            from ..augment import Augmenter

            augment = Augmenter()

        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        data = _images_to_tensor(images, in_chans)
        y_t = torch.from_numpy(y_enc.astype(np.int64))
        train_idx, valid = self._split(data, y_enc, classes, seed)
        Net, Dataset = _make_net_class()
        if valid is None:
            train_ds, valid_ds = Dataset(data, y_t), None
        elif isinstance(valid, tuple):  # a given validation set
            train_ds = Dataset(data, y_t)
            valid_ds = Dataset(_images_to_tensor(valid[0], in_chans), valid[1])
        else:
            idx = torch.from_numpy(train_idx)
            vidx = torch.from_numpy(valid)
            train_ds = Dataset(data[idx], y_t[idx])
            valid_ds = Dataset(data[vidx], y_t[vidx])

        callbacks = self._make_callbacks(validation=valid_ds is not None)
        epochs_left = self.max_epochs - self._checkpointed_epochs()
        if self.verbose:
            n_valid = 0 if valid_ds is None else len(valid_ds)
            print(
                f"EmotionCNN: training {arch} on {device} ({len(train_ds)} images, "
                f"{n_valid} for validation, {in_chans}x{input_size[0]}x{input_size[1]} "
                f"input, {len(classes)} classes, up to {self.max_epochs} epochs)"
            )
        with _seeded(seed, device):
            if source is None:
                model = self._create_module(arch, len(classes), in_chans, module_kwargs)
            else:
                model = create_backbone(
                    arch, num_classes=len(classes), in_chans=in_chans, **module_kwargs
                )
                warm_start_head(model, source[0], source[1]["classes"], classes.tolist())
            frozen_norms = freeze_layers(model, self.freeze)
            standardize = self.standardize
            if standardize == "auto":
                standardize = bool(source and source[1].get("standardize", False))
            preprocess = _Preprocess(in_chans, input_size, mean, std, standardize)
            memory_format = self._probe(model, preprocess, data[:2], arch)
            net = Net(
                module=model,
                criterion=torch.nn.CrossEntropyLoss,
                criterion__weight=torch.as_tensor(class_weight, dtype=torch.float32),
                criterion__label_smoothing=float(self.label_smoothing),
                optimizer=optimizer,
                lr=self.lr,
                max_epochs=max(epochs_left, 0),
                batch_size=self.batch_size,
                train_split=None if valid_ds is None else predefined_split(valid_ds),
                callbacks=callbacks,
                classes=list(range(len(classes))),
                device=str(device),
                verbose=int(self.verbose),
                **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
                **{f"criterion__{k}": v for k, v in nested["criterion"].items()},
                **{f"callbacks__{k}": v for k, v in nested["callbacks"].items()},
            )
            net.preprocess_ = preprocess
            net.augment_ = augment
            net.rng_ = torch.Generator().manual_seed(seed)
            net.amp_dtype_ = _amp_dtype(self.amp, device)
            net.memory_format_ = memory_format
            net.frozen_norms_ = frozen_norms
            net.weight_decay_ = float(self.weight_decay)
            try:
                net.fit(train_ds, None)
            finally:
                for param in model.parameters():
                    param.requires_grad_(True)

        self.classes_ = classes
        self.module_ = net.module_.eval()
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self.architecture_ = arch
        self.model_kwargs_ = module_kwargs
        self.in_chans_ = in_chans
        self.input_size_ = tuple(input_size)
        self.mean_, self.std_ = tuple(mean), tuple(std)
        self.class_weight_ = class_weight
        self.device_ = device
        self.preprocess_ = preprocess
        return self

    def _source_preprocessing(self, config: dict, cfg: dict, arch: str):
        """Input channels, size and normalisation of the model fine-tuning starts from."""
        name = self.pretrained if isinstance(self.pretrained, str) else os.fspath(self.pretrained)
        if config["architecture"] != arch:
            raise ValueError(
                f"pretrained={name!r} is a {config['architecture']!r} network but "
                f"backbone={self.backbone!r} is {arch!r}; set "
                f"backbone={config['architecture']!r} to fine-tune it."
            )
        in_chans = int(config["in_chans"])
        if self.in_chans not in ("auto", in_chans):
            raise ValueError(
                f"pretrained={name!r} takes {in_chans} input channel(s); in_chans="
                f"{self.in_chans!r} cannot fine-tune it (use 'auto')."
            )
        size = tuple(int(v) for v in config["input_size"])
        if self.input_size != "auto":  # fine-tune at another size: the user's choice
            size = self._resolve_input_size(np.zeros((1, *size), np.uint8), cfg, arch)
        mean = tuple(float(v) for v in config["mean"])
        std = tuple(float(v) for v in config["std"])
        return in_chans, size, mean, std

    def _make_callbacks(self, *, validation: bool) -> list:
        """The paper's schedule and stopping as skorch callbacks, then the user's."""
        from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar

        monitor, mode = ("valid_acc", "max") if validation else ("train_loss", "min")
        callbacks = []
        if self.lr_patience is not None and self.lr_schedule == "plateau":
            scheduler = LRScheduler(
                policy="ReduceLROnPlateau",
                monitor=monitor,
                mode=mode,
                patience=self.lr_patience,
                factor=self.lr_factor,
            )
            callbacks.append(("lr_scheduler", scheduler))
        if self.early_stopping is not None and validation:
            stopper = EarlyStopping(
                monitor="valid_acc",
                lower_is_better=False,
                patience=self.early_stopping,
                load_best=True,
            )
            callbacks.append(("early_stopping", stopper))
        if self.verbose and self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        if self.checkpoint_dir is not None:
            from skorch.callbacks import Checkpoint, LoadInitState

            checkpoint = Checkpoint(
                monitor=None,  # every epoch: a resumed run loses at most one epoch
                dirname=os.fspath(self.checkpoint_dir),
                f_params="params.pt",
                f_optimizer="optimizer.pt",
                f_criterion=None,
                f_history="history.json",
                f_pickle=None,
            )
            callbacks.append(("checkpoint", checkpoint))
            callbacks.append(("load_checkpoint", LoadInitState(checkpoint)))
        if self.lr_schedule == "warmup-cosine":  # after the checkpoint: it reads the history
            from ._schedule import WarmupCosine

            callbacks.append(("lr_scheduler", WarmupCosine()))
        return callbacks + list(self.callbacks or [])

    def _checkpointed_epochs(self) -> int:
        """Epochs already trained according to ``checkpoint_dir`` (0 without one)."""
        if self.checkpoint_dir is None:
            return 0
        path = Path(os.fspath(self.checkpoint_dir)).expanduser() / "history.json"
        if not path.is_file():
            return 0
        try:
            history = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"checkpoint_dir {os.fspath(self.checkpoint_dir)!r}: cannot read "
                f"{path.name} ({exc}); delete the folder to start afresh."
            ) from exc
        return len(history) if isinstance(history, list) else 0

    def _create_module(self, arch, num_classes, in_chans, module_kwargs):
        if self.pretrained is False:
            return create_backbone(
                arch, num_classes=num_classes, in_chans=in_chans, **module_kwargs
            )
        from ._pretrained import create_pretrained_backbone

        return create_pretrained_backbone(
            arch, self.pretrained, num_classes=num_classes, in_chans=in_chans, **module_kwargs
        )

    @staticmethod
    def _probe(model, preprocess, sample, arch):
        """One forward pass at the training size, so that a size the backbone cannot
        take fails here with a clear message rather than deep inside skorch.

        Returns the memory format to train in: channels-last (faster on CPU and GPU)
        when the backbone runs with it, and moves ``model`` to it.
        """
        import torch

        training = model.training
        model.eval()
        batch = preprocess(sample)
        try:
            try:  # not under inference_mode: .to() would make the weights inference tensors
                model.to(memory_format=torch.channels_last)
                with torch.no_grad():
                    model(batch.contiguous(memory_format=torch.channels_last))
                return torch.channels_last
            except RuntimeError:
                model.to(memory_format=torch.contiguous_format)
                with torch.no_grad():
                    model(batch)
                return torch.contiguous_format
        except RuntimeError as exc:
            h, w = preprocess.input_size
            raise ValueError(
                f"Backbone {arch!r} cannot process {h}x{w} inputs ({exc}). "
                "Pass a larger input_size (e.g. input_size='native')."
            ) from exc
        finally:
            model.train(training)

    # ------------------------------------------------------------------ predict

    def _device(self):
        return next(self.module_.parameters()).device

    def decision_function(self, X):
        """Class scores: the network's logits (with ``tta``, averaged over the views
        of each face).

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, H, W, 3), or a list of same-size images
            Resized to ``input_size_`` and converted to ``in_chans_`` when needed.

        Returns
        -------
        ndarray of shape (n, n_classes), or (n,) for two classes
            For two classes, as scikit-learn expects, the score of ``classes_[1]``
            relative to ``classes_[0]`` (the logit difference).
        """
        logits = self._logits(X).numpy()
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, H, W, 3), or a list of same-size images

        Returns
        -------
        ndarray of shape (n, n_classes)
        """
        import torch

        return torch.softmax(self._logits(X).double(), dim=1).numpy()

    def predict(self, X):
        """Predicted labels (values of ``classes_``).

        Parameters
        ----------
        X : array-like of shape (n, H, W) or (n, H, W, 3), or a list of same-size images

        Returns
        -------
        ndarray of shape (n,)
        """
        codes = self._logits(X).argmax(dim=1).numpy()
        return self.classes_[codes]

    def _predictor(self):
        """The network used for prediction: an optimised copy of ``module_`` (see
        ``_inference``), rebuilt whenever ``module_`` or its weights change."""
        import torch

        from ._inference import optimize_for_inference

        module = self.module_
        tensors = [*module.parameters(), *module.buffers()]
        key = (id(module), self._device(), tuple(t._version for t in tensors))
        cache = getattr(self, "_predictor_cache", None)
        if cache is None or cache[0] != key:
            h, w = self.input_size_
            gen = torch.Generator().manual_seed(0)
            probe = torch.randint(0, 256, (2, self.in_chans_, h, w), generator=gen)
            sample = self.preprocess_(probe.to(torch.uint8).to(self._device()))
            cache = (key, *optimize_for_inference(module, sample))
            self._predictor_cache = cache
        return cache[1], cache[2]

    def _logits(self, X):
        import torch

        check_is_fitted(self, ("classes_", "module_"))
        images = check_images(X, stack=True)
        data = _images_to_tensor(images, self.in_chans_)
        if self.adapt is not None and self.adapt not in ADAPT_MODES:
            self._validate_params()  # the same message as fit's
        module, memory_format = self._predictor()
        device = self._device()
        amp = _amp_dtype(self.amp, device)
        n, bs = len(data), int(self.batch_size)
        if device.type == "cpu":
            bs = min(bs, _CPU_PREDICT_BATCH)

        def batches():
            for start in range(0, n, bs):
                batch = self.preprocess_(data[start : start + bs].to(device, non_blocking=True))
                yield start, batch.contiguous(memory_format=memory_format)

        if self.adapt and "batchnorm" in self.adapt:
            from ._adapt import adapt_batchnorm

            with torch.no_grad():
                module = adapt_batchnorm(self.module_, (b for _, b in batches()))
        out = torch.empty((n, len(self.classes_)), dtype=torch.float32)
        with torch.inference_mode(), _autocast(device, amp):
            for start, batch in batches():
                views = tta_views(batch, self.tta)
                logits = module(torch.cat(views) if len(views) > 1 else batch)
                logits = logits.view(len(views), len(batch), -1).mean(0)
                out[start : start + bs] = logits.float()
        return out

    # ------------------------------------------------------------------ persistence

    def save(
        self, path: str | os.PathLike, *, metrics: dict | None = None, dtype: str = "float32"
    ) -> Path:
        """Write the fitted model as a safetensors file (see :mod:`skfer.models._io`).

        Parameters
        ----------
        path : path-like
            Destination, conventionally ``*.safetensors``.
        metrics : dict, optional
            Free-form, JSON-serialisable figures to store with the model.
        dtype : {"float32", "float16"}, default="float32"
            Storage precision of the floating-point weights; ``"float16"`` halves the
            file (loading casts back to float32).

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> X = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
        >>> model = EmotionCNN(max_epochs=1, validation=None).fit(X, [0, 1] * 10)
        >>> path = model.save(os.path.join(tempfile.mkdtemp(), "m.safetensors"))
        >>> EmotionCNN.from_pretrained(path).classes_.tolist()
        [0, 1]
        """
        import skfer

        from ._io import FORMAT_VERSION, write_weights

        check_is_fitted(self, ("classes_", "module_"))
        if self.classes_.dtype.kind in "iu":
            kind, classes = "int", [int(c) for c in self.classes_]
        elif all(isinstance(c, str) for c in self.classes_.tolist()):
            kind, classes = "str", [str(c) for c in self.classes_]
        else:
            raise ValueError(
                f"Only str or int labels can be saved in safetensors; classes_ has dtype "
                f"{self.classes_.dtype}. Pickle the model instead."
            )
        config = {
            "format_version": FORMAT_VERSION,
            "architecture": self.architecture_,
            "backbone": self.backbone,
            "num_classes": len(classes),
            "in_chans": int(self.in_chans_),
            "input_size": [int(v) for v in self.input_size_],
            "mean": list(self.mean_),
            "std": list(self.std_),
            "classes": classes,
            "classes_kind": kind,
            "model_kwargs": self.model_kwargs_,
            "skfer_version": skfer.__version__,
            "tta": self.tta if isinstance(self.tta, str) else bool(self.tta),
            "standardize": bool(getattr(self.preprocess_, "standardize", False)),
            "metrics": dict(metrics or {}),
        }
        try:
            json.dumps(config)
        except TypeError as exc:
            raise ValueError(
                f"Cannot save: module__ options or metrics are not JSON-serialisable ({exc}). "
                "Pickle the model instead."
            ) from exc
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}.")
        state = self.module_.state_dict()
        if dtype == "float16":
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        return write_weights(path, state, config)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device: str = "auto"):
        """Load a fitted model: a shipped name (e.g. ``"fer2013"``) or a file from :meth:`save`.

        Same as :func:`skfer.load_model`.

        Examples
        --------
        >>> EmotionCNN.from_pretrained("fer2013").predict(faces)  # doctest: +SKIP
        """
        from ._io import load_model

        return load_model(name_or_path, device=device)

    @classmethod
    def _from_weights(cls, state: dict, config: dict, *, device: str = "auto"):
        """Build a fitted estimator from a state dict and an skfer config (see ``_io``)."""
        import timm

        from . import _compact  # noqa: F401

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
        est = cls(
            backbone,
            in_chans=int(config["in_chans"]),
            input_size=tuple(int(v) for v in config["input_size"]),
            tta=_config_tta(config.get("tta", False)),
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
        est.preprocess_ = _Preprocess(
            est.in_chans_, est.input_size_, est.mean_, est.std_, est.standardize
        )
        est.device_ = _resolve_device(device)
        est.module_ = est._build_module(state, source=f"architecture {arch!r}")
        return est

    def _build_module(self, state: dict, *, source: str):
        """Create ``architecture_`` and load ``state`` strictly, with a clear error."""
        with _seeded(0, _resolve_device("cpu")):  # keep the caller's RNG untouched
            model = create_backbone(
                self.architecture_,
                num_classes=len(self.classes_),
                in_chans=self.in_chans_,
                **self.model_kwargs_,
            )
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        shapes = [
            f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
            for k, v in state.items()
            if k in own and tuple(v.shape) != tuple(own[k].shape)
        ]
        if missing or unexpected or shapes:
            parts = [
                f"{label} {', '.join(items[:4])}{' ...' if len(items) > 4 else ''}"
                for label, items in (
                    ("missing", missing),
                    ("unexpected", unexpected),
                    ("shape mismatch", shapes),
                )
                if items
            ]
            raise ValueError(
                f"The weights do not fit {source} with {len(self.classes_)} classes and "
                f"{self.in_chans_} input channel(s): {'; '.join(parts)}."
            )
        model.load_state_dict(state)
        return model.to(self.device_).eval()

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        state.pop("_predictor_cache", None)
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {
                k: v.detach().to("cpu") for k, v in module.state_dict().items()
            }
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is not None:
            import torch

            if self.device_.type == "cuda" and not torch.cuda.is_available():
                warnings.warn(
                    "This EmotionCNN was fitted on CUDA, which is not available here: "
                    "it runs on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )
                self.device_ = torch.device("cpu")
            elif self.device_.type == "cuda" and (
                (self.device_.index or 0) >= torch.cuda.device_count()
            ):
                warnings.warn(
                    f"This EmotionCNN was fitted on {self.device_}, which is not visible here "
                    "(e.g. a Dask worker pinned to one GPU): it runs on cuda:0.",
                    UserWarning,
                    stacklevel=2,
                )
                self.device_ = torch.device("cuda")
            self.module_ = self._build_module(
                module_state, source=f"architecture {self.architecture_!r}"
            )


def _config_tta(value):
    """A weights file's ``tta`` entry: a mode name, or a boolean (older files)."""
    return value if value in TTA_MODES else bool(value)
