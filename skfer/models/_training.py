"""Fit-time set-up of :class:`~skfer.EmotionCNN`: labels, input geometry, the validation
split, class weights, the start model's preprocessing and the default callbacks.

Functions take the estimator whose (validated) parameters they read.
"""

from __future__ import annotations

import os
import re
import sys
from numbers import Integral

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from .._images import check_images
from ._backbones import create_backbone
from ._torch import amp_dtype, images_to_tensor, make_net_class, probe_memory_format, seeded
from ._warm_start import freeze_layers, warm_start_head

#: ``EmotionCNN(optimizer=...)`` names and their ``torch.optim`` classes
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}

__all__ = [
    "OPTIMIZERS",
    "check_y",
    "checkpointed_epochs",
    "class_weights",
    "create_module",
    "make_callbacks",
    "resolve_in_chans",
    "resolve_input_size",
    "source_preprocessing",
    "train_network",
    "unique_labels",
    "validation_split",
]


def check_y(y, n_images: int) -> np.ndarray:
    from .._targets import check_label_values

    check_label_values(y)  # before np.asarray makes [0, "happy"] strings, NaN 'nan'
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


def unique_labels(y: np.ndarray, what: str = "y"):
    try:
        return np.unique(y, return_inverse=True)
    except TypeError as exc:
        kinds = sorted({type(v).__name__ for v in y})
        raise ValueError(
            f"{what} mixes label types ({', '.join(kinds)}); use labels of one type."
        ) from exc


def resolve_in_chans(est, images: np.ndarray, cfg: dict) -> int:
    if est.in_chans == "auto":
        return 3 if images.ndim == 4 else 1
    if est.in_chans not in (1, 3):
        raise ValueError(f"in_chans must be 'auto', 1 or 3; got {est.in_chans!r}.")
    return int(est.in_chans)


def resolve_input_size(est, images: np.ndarray, cfg: dict, arch: str) -> tuple[int, int]:
    size = est.input_size
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
            f"input_size={est.input_size!r} is too small."
        )
    return int(size[0]), int(size[1])


def validation_split(est, X_t, y_enc, classes, seed):
    """Training and validation tensors from ``validation``."""
    import torch
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    n = len(y_enc)
    if est.validation is None:
        return np.arange(n), None
    if isinstance(est.validation, tuple):
        if len(est.validation) != 2:
            raise ValueError(
                "validation must be a fraction, an (X_val, y_val) pair or None; got a "
                f"tuple of length {len(est.validation)}."
            )
        X_val, y_val = est.validation
        images = check_images(X_val, stack=True)
        y_val = check_y(y_val, len(images))
        known = {v: i for i, v in enumerate(classes.tolist())}
        unknown = sorted({str(v) for v in y_val.tolist() if v not in known})
        if unknown:
            raise ValueError(
                f"validation labels {unknown[:5]} do not occur in y (classes: {classes.tolist()})."
            )
        codes = np.array([known[v] for v in y_val.tolist()], dtype=np.int64)
        return np.arange(n), (images, torch.from_numpy(codes))
    n_valid = int(np.ceil(est.validation * n))
    if n_valid < 1 or n - n_valid < 2:
        raise ValueError(
            f"validation={est.validation} leaves {n - n_valid} of {n} images for "
            "training; use more images or validation=None."
        )
    try:
        splitter = StratifiedShuffleSplit(1, test_size=n_valid, random_state=seed)
        train, valid = next(splitter.split(np.zeros(n), y_enc))
    except ValueError:  # a class too rare to stratify
        splitter = ShuffleSplit(1, test_size=n_valid, random_state=seed)
        train, valid = next(splitter.split(np.zeros(n)))
    return np.sort(train), np.sort(valid)


def class_weights(est, y_enc: np.ndarray, classes: np.ndarray) -> np.ndarray:
    k = len(classes)
    if est.class_weight is None:
        return np.ones(k)
    if isinstance(est.class_weight, str):  # "balanced"
        counts = np.bincount(y_enc, minlength=k)
        return len(y_enc) / (k * counts)
    labels = classes.tolist()
    unknown = [key for key in est.class_weight if key not in labels]
    if unknown:
        raise ValueError(
            f"class_weight has labels {unknown[:5]} that do not occur in y (classes: {labels})."
        )
    weights = np.array([float(est.class_weight.get(c, 1.0)) for c in labels])
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("class_weight values must be finite and non-negative.")
    return weights


def source_preprocessing(est, config: dict, cfg: dict, arch: str):
    """Input channels, size and normalisation of the model fine-tuning starts from."""
    name = est.pretrained if isinstance(est.pretrained, str) else os.fspath(est.pretrained)
    if config["architecture"] != arch:
        raise ValueError(
            f"pretrained={name!r} is a {config['architecture']!r} network but "
            f"backbone={est.backbone!r} is {arch!r}; set "
            f"backbone={config['architecture']!r} to fine-tune it."
        )
    in_chans = int(config["in_chans"])
    if est.in_chans not in ("auto", in_chans):
        raise ValueError(
            f"pretrained={name!r} takes {in_chans} input channel(s); in_chans="
            f"{est.in_chans!r} cannot fine-tune it (use 'auto')."
        )
    size = tuple(int(v) for v in config["input_size"])
    if est.input_size != "auto":  # fine-tune at another size: the user's choice
        size = resolve_input_size(est, np.zeros((1, *size), np.uint8), cfg, arch)
    mean = tuple(float(v) for v in config["mean"])
    std = tuple(float(v) for v in config["std"])
    return in_chans, size, mean, std


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def print_epoch_line(text: str) -> None:
    """skorch's epoch table, with its colour codes only on a terminal (a log file gets
    plain text), flushed at once (a long epoch's line is not held in a buffer)."""
    if not getattr(sys.stdout, "isatty", lambda: False)():
        text = _ANSI.sub("", str(text))
    print(text, flush=True)


def make_callbacks(est, *, validation: bool) -> list:
    """The paper's schedule and stopping as skorch callbacks, then the user's."""
    from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar

    monitor, mode = ("valid_acc", "max") if validation else ("train_loss", "min")
    callbacks = []
    Stopper = EarlyStopping
    if est.checkpoint_dir is not None:
        # first: it loads the checkpoint before the others start (the schedulers and
        # early stopping read the history), and saves each epoch before early stopping
        # or a user's callback can end the run
        from ._checkpoint import ResumableEarlyStopping, SafeCheckpoint

        checkpoint = SafeCheckpoint(dirname=os.fspath(est.checkpoint_dir))
        callbacks.append(("checkpoint", checkpoint))
        Stopper = ResumableEarlyStopping
    if est.lr_patience is not None and est.lr_schedule == "plateau":
        scheduler = LRScheduler(
            policy="ReduceLROnPlateau",
            monitor=monitor,
            mode=mode,
            patience=est.lr_patience,
            factor=est.lr_factor,
        )
        callbacks.append(("lr_scheduler", scheduler))
    if est.early_stopping is not None and validation:
        stopper = Stopper(
            monitor="valid_acc",
            lower_is_better=False,
            patience=est.early_stopping,
            load_best=True,
        )
        callbacks.append(("early_stopping", stopper))
    if est.verbose and est.verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    if est.lr_schedule == "warmup-cosine":  # after the checkpoint: it reads the history
        from ._schedule import WarmupCosine

        callbacks.append(("lr_scheduler", WarmupCosine()))
    return callbacks + list(est.callbacks or [])


def checkpointed_epochs(est) -> int:
    """Epochs already trained according to ``checkpoint_dir`` (0 without one).

    ``max_epochs`` (nothing left to train) when early stopping had ended the run. Raises
    ValueError, naming the folder and the file, for an incomplete or damaged checkpoint
    (see ``_checkpoint.read_checkpoint``).
    """
    if est.checkpoint_dir is None:
        return 0
    from ._checkpoint import read_checkpoint, replay_early_stopping

    found = read_checkpoint(est.checkpoint_dir)
    if found is None:
        return 0
    if est.early_stopping is not None and est.validation is not None:
        state = replay_early_stopping(found.history, patience=est.early_stopping)
        if state["stopped"]:
            return max(found.epoch, est.max_epochs)
    return found.epoch


def create_module(est, arch, num_classes, in_chans, module_kwargs):
    if est.pretrained is False:
        return create_backbone(arch, num_classes=num_classes, in_chans=in_chans, **module_kwargs)
    from ._pretrained import create_pretrained_backbone

    return create_pretrained_backbone(
        arch, est.pretrained, num_classes=num_classes, in_chans=in_chans, **module_kwargs
    )


def train_network(
    est,
    data,
    y_enc: np.ndarray,
    classes: np.ndarray,
    *,
    arch: str,
    source,
    module_kwargs: dict,
    preprocess,
    device,
    seed: int,
    nested: dict,
    soft=None,
):
    """Build the network and the skorch net from ``est``'s parameters and train it.

    ``data``: the uint8 ``(n, C, H, W)`` training tensor; ``source``: the ``(state,
    config)`` of the model fine-tuning starts from, or None; ``soft``: float ``(n, k)``
    training targets (a teacher's, see ``_distill``) in place of ``y_enc``, which the
    validation faces keep. Returns the fitted net, with ``class_weight_`` (the loss
    weight of each class) set on it.
    """
    import torch
    from skorch.helper import predefined_split

    optimizer = est.optimizer
    if isinstance(optimizer, str):
        optimizer = getattr(torch.optim, OPTIMIZERS[optimizer])
    elif not issubclass(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer class, got {optimizer}.")
    opt_kwargs = dict(nested["optimizer"])
    if est.optimizer == "sgd":
        opt_kwargs.setdefault("momentum", 0.9)
    weights = class_weights(est, y_enc, classes)
    augment = est.augment
    if augment == "default":
        from ..augment import Augmenter

        augment = Augmenter()
    in_chans = preprocess.in_chans
    y_t = torch.from_numpy(y_enc.astype(np.int64))
    targets = y_t if soft is None else torch.from_numpy(np.asarray(soft, dtype=np.float32))
    train_idx, valid = validation_split(est, data, y_enc, classes, seed)
    Net, Dataset = make_net_class()
    if valid is None:
        train_ds, valid_ds = Dataset(data, targets), None
    elif isinstance(valid, tuple):  # a given validation set
        train_ds = Dataset(data, targets)
        valid_ds = Dataset(images_to_tensor(valid[0], in_chans), valid[1])
    else:
        idx, vidx = torch.from_numpy(train_idx), torch.from_numpy(valid)
        train_ds = Dataset(data[idx], targets[idx])
        valid_ds = Dataset(data[vidx], y_t[vidx])
    callbacks = make_callbacks(est, validation=valid_ds is not None)
    epochs_left = est.max_epochs - checkpointed_epochs(est)
    if est.verbose:
        h, w = preprocess.input_size
        n_valid = 0 if valid_ds is None else len(valid_ds)
        print(
            f"EmotionCNN: training {arch} on {device} ({len(train_ds)} images, "
            f"{n_valid} for validation, {in_chans}x{h}x{w} input, {len(classes)} classes, "
            f"up to {est.max_epochs} epochs)"
        )
    with seeded(seed, device):
        if source is None:
            model = create_module(est, arch, len(classes), in_chans, module_kwargs)
        else:
            model = create_backbone(
                arch, num_classes=len(classes), in_chans=in_chans, **module_kwargs
            )
            warm_start_head(model, source[0], source[1]["classes"], classes.tolist())
        frozen_norms = freeze_layers(model, est.freeze)
        memory_format = probe_memory_format(model, preprocess, data[:2], arch)
        net = Net(
            module=model,
            criterion=torch.nn.CrossEntropyLoss,
            criterion__weight=torch.as_tensor(weights, dtype=torch.float32),
            criterion__label_smoothing=float(est.label_smoothing),
            optimizer=optimizer,
            lr=est.lr,
            max_epochs=max(epochs_left, 0),
            batch_size=est.batch_size,
            train_split=None if valid_ds is None else predefined_split(valid_ds),
            callbacks=callbacks,
            classes=list(range(len(classes))),
            device=str(device),
            verbose=int(est.verbose),
            **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
            **{f"criterion__{k}": v for k, v in nested["criterion"].items()},
            **{
                # skorch calls a sink that is not print whatever verbose is
                **({"callbacks__print_log__sink": print_epoch_line} if est.verbose else {}),
                **{f"callbacks__{k}": v for k, v in nested["callbacks"].items()},
            },
        )
        net.preprocess_ = preprocess
        net.augment_ = augment
        net.rng_ = torch.Generator().manual_seed(seed)
        net.amp_dtype_ = amp_dtype(est.amp, device)
        net.memory_format_ = memory_format
        net.frozen_norms_ = frozen_norms
        net.weight_decay_ = float(est.weight_decay)
        net.consistency_ = float(est.consistency)
        try:
            net.fit(train_ds, None)
        finally:
            for param in model.parameters():
                param.requires_grad_(True)
    net.class_weight_ = weights
    return net
