"""EmotionCNN: a scikit-learn classifier that trains a timm CNN through skorch.

The estimator (parameters, ``fit``, ``predict``, ``save``) lives here; the torch side
(preprocessing, batches, devices, the skorch net) in ``_torch``, fit-time set-up in
``_training``, the weights file format in ``_io``.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._images import check_images
from .._tags import ImageInputMixin
from ..faces._framing import framed_cropper
from . import _training as training
from ._adapt import ADAPT_MODES
from ._backbones import backbone_config, channel_stats, resolve_backbone
from ._inference import TTA_MODES
from ._io import model_config, write_weights
from ._routing import RoutedParamsMixin
from ._torch import (
    Preprocess,
    build_module,
    device_after_unpickling,
    images_to_tensor,
    predict_logits,
    predictor,
    resolve_device,
)
from ._warm_start import read_source_model

__all__ = ["EmotionCNN"]


class EmotionCNN(ImageInputMixin, RoutedParamsMixin, ClassifierMixin, BaseEstimator):
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
    teacher : EmotionCNN, classifier, str, path-like, list of them, or None, default=None
        Knowledge distillation: a fitted model (a shipped name, a model file, or any
        fitted classifier with ``predict_proba`` and ``classes_`` that knows every
        label of ``y``), or a list of them averaged as an ensemble. It predicts the
        training faces once, clean and with its own preprocessing and TTA, and the
        network learns ``teacher_weight * its probabilities + (1 - teacher_weight) *
        the label`` on its augmented views of them. A fitted object is cloned unfitted
        by :func:`sklearn.base.clone`: in a grid search give a name or file, or wrap it
        in :class:`sklearn.frozen.FrozenEstimator`.
    teacher_weight : float in [0, 1], default=0.5
        Share of the teacher's probabilities in the training targets (1: the teacher's
        alone); unused without ``teacher``.
    consistency : float >= 0, default=0.0
        Weight of a consistency loss between two augmented views of every training
        face (the Jensen-Shannon divergence of their predicted distributions, as in
        AugMix, Hendrycks et al. 2020). Each batch is augmented twice and each view
        takes the classification loss; the extra term asks the network to read a face
        the same under the augmentation's lighting, blur and framing changes. Doubles
        the cost of a training step; 0 (one view) turns it off. Needs ``augment``.
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
        Resumable training: after every epoch the weights, optimizer, scheduler
        and random-generator state and the history are written to this folder,
        each file atomically and verified (a failed write raises ``OSError`` naming
        the file; the previous complete set is kept until the new one is), and a
        ``fit`` that finds a checkpoint there starts from it and trains only the
        epochs left to reach ``max_epochs``, restoring the best epoch of the whole
        run at the end. An incomplete or damaged set is refused with a message
        naming the folder and file. Use one folder per training run; delete it to
        start afresh (see ``skfer/models/_checkpoint.py``).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, augmentation and the validation
        split: with an int, CPU training is repeatable.
    verbose : int, default=1
        1: a line per epoch (training can take minutes to hours: it says so by
        default, as skorch does); 2: plus a progress bar per epoch; 0: silent.
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
    framing_ : dict or None
        Parameters of the :class:`~skfer.FaceCropper` that framed the training faces,
        when known (saved by :meth:`skfer.Pipeline.save` or ``save(framing=...)``);
        :meth:`cropper` builds the cropper every prediction path uses from it.

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
    EmotionCNN: training skfer_cnn on ... (54 images, 6 for validation, 1x48x48 input,
    3 classes, up to 2 epochs)
      epoch    train_loss    valid_acc    valid_loss  ...
    ...
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
        "optimizer": [StrOptions(set(training.OPTIMIZERS)), type],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"plateau", "warmup-cosine"})],
        "lr_patience": [Interval(Integral, 0, None, closed="left"), None],
        "lr_factor": [Interval(Real, 0, 1, closed="neither")],
        "early_stopping": [Interval(Integral, 1, None, closed="left"), None],
        "validation": [Interval(Real, 0, 1, closed="neither"), tuple, None],
        "augment": [StrOptions({"default"}), HasMethods(["augment_batch"]), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "teacher": [str, os.PathLike, list, tuple, HasMethods(["predict_proba"]), None],
        "teacher_weight": [Interval(Real, 0, 1, closed="both")],
        "consistency": [Interval(Real, 0, None, closed="left")],
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
        teacher=None,
        teacher_weight=0.5,
        consistency=0.0,
        adapt=None,
        tta=False,
        device="auto",
        amp="auto",
        callbacks=None,
        checkpoint_dir=None,
        random_state=None,
        verbose=1,
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
        self.teacher = teacher
        self.teacher_weight = teacher_weight
        self.consistency = consistency
        self.adapt = adapt
        self.tta = tta
        self.device = device
        self.amp = amp
        self.callbacks = callbacks
        self.checkpoint_dir = checkpoint_dir
        self.random_state = random_state
        self.verbose = verbose
        vars(self).update(kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True  # torch kernels; seeded but not bit-exact on GPU
        return tags

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
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
        nested = self._check_nested()
        images = check_images(X, stack=True)
        y = training.check_y(y, len(images))
        classes, y_enc = training.unique_labels(y)
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class ({classes[:1].tolist()[0]!r}); a classifier needs at "
                "least 2."
            )
        if self.consistency and self.augment is None:
            raise ValueError(
                f"consistency={self.consistency} compares two augmented views of each face, "
                "but augment=None makes them identical; give an Augmenter or set "
                "consistency=0."
            )
        soft = None
        if self.teacher is not None:
            from ._distill import teacher_targets

            soft = teacher_targets(self.teacher, images, y_enc, classes, self.teacher_weight)
        arch = resolve_backbone(self.backbone)
        cfg = backbone_config(arch)
        source = None if self.pretrained is False else read_source_model(self.pretrained)
        module_kwargs = dict(nested["module"])
        if source is None:
            in_chans = training.resolve_in_chans(self, images, cfg)
            input_size = training.resolve_input_size(self, images, cfg, arch)
            mean, std = channel_stats(cfg["mean"], in_chans), channel_stats(cfg["std"], in_chans)
        else:
            in_chans, input_size, mean, std = training.source_preprocessing(
                self, source[1], cfg, arch
            )
            module_kwargs = {**source[1]["model_kwargs"], **module_kwargs}
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        standardize = self.standardize
        if standardize == "auto":
            standardize = bool(source and source[1].get("standardize", False))
        preprocess = Preprocess(in_chans, input_size, mean, std, standardize)
        net = training.train_network(
            self,
            images_to_tensor(images, in_chans),
            y_enc,
            classes,
            arch=arch,
            source=source,
            module_kwargs=module_kwargs,
            preprocess=preprocess,
            device=device,
            seed=seed,
            nested=nested,
            soft=soft,
        )

        self.classes_ = classes
        self.module_ = net.module_.eval()
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self.architecture_ = arch
        self.model_kwargs_ = module_kwargs
        self.in_chans_ = in_chans
        self.input_size_ = tuple(input_size)
        self.mean_, self.std_ = tuple(mean), tuple(std)
        self.class_weight_ = net.class_weight_
        self.device_ = device
        self.preprocess_ = preprocess
        self.framing_ = None  # unknown; skfer.Pipeline.save records its cropper's
        self._device_param = self.device
        return self

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

    def _follow_device(self):
        """Move a fitted network to ``device`` when ``set_params`` changed it."""
        if self.device == getattr(self, "_device_param", self.device):
            return
        device = resolve_device(self.device)
        if device != self.device_:
            self.module_ = self.module_.to(device)
            self.device_ = device
        self._device_param = self.device

    def _predictor(self):
        """The network used for prediction: an optimised copy of ``module_`` (see
        ``_inference``), rebuilt whenever ``module_`` or its weights change."""
        cache = predictor(self.module_, self.preprocess_, getattr(self, "_predictor_cache", None))
        self._predictor_cache = cache
        return cache[1], cache[2]

    def _logits(self, X):
        check_is_fitted(self, ("classes_", "module_"))
        self._validate_params()  # a bad set_params fails here as in fit, with its message
        self._follow_device()
        images = check_images(X, stack=True)
        module, memory_format = self._predictor()
        return predict_logits(
            module,
            memory_format,
            self.preprocess_,
            images_to_tensor(images, self.in_chans_),
            n_classes=len(self.classes_),
            tta=self.tta,
            amp=self.amp,
            batch_size=self.batch_size,
            adapt=self.adapt,
            unfused=self.module_,
        )

    # ------------------------------------------------------------------ persistence

    def save(
        self,
        path: str | os.PathLike,
        *,
        metrics: dict | None = None,
        framing=None,
        dtype: str = "float32",
    ) -> Path:
        """Write the fitted model as a safetensors file (see :mod:`skfer.models._io`).

        Parameters
        ----------
        path : path-like
            Destination, conventionally ``*.safetensors``.
        metrics : dict, optional
            Free-form, JSON-serialisable figures to store with the model.
        framing : FaceCropper or dict, optional
            The face cropper that made the training faces (or its parameters), kept
            so that every prediction path frames new faces the same way (see
            :meth:`cropper`). Default: the model's own ``framing_`` if it has one.
            :meth:`skfer.Pipeline.save` passes the pipeline's cropper.
        dtype : {"float32", "float16"}, default="float32"
            Storage precision of the floating-point weights; ``"float16"`` halves the
            file (loading casts back to float32).

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> from skfer import FaceCropper
        >>> X = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
        >>> model = EmotionCNN(max_epochs=1, validation=None, verbose=0).fit(X, [0, 1] * 10)
        >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
        >>> _ = model.save(path, framing=FaceCropper(margin=0.7))
        >>> from skfer import load_model
        >>> loaded = load_model(path)
        >>> loaded.classes_.tolist(), loaded.cropper().margin
        ([0, 1], 0.7)
        """
        check_is_fitted(self, ("classes_", "module_"))
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}.")
        if framing is None:
            framing = getattr(self, "framing_", None)
        elif hasattr(framing, "get_params"):
            framing = framing.get_params()
        config = model_config(self, metrics=metrics, framing=framing)
        state = self.module_.state_dict()
        if dtype == "float16":
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        return write_weights(path, state, config)

    def cropper(self, **overrides):
        """The :class:`~skfer.FaceCropper` that frames faces as this model's were framed.

        From ``framing_`` (saved with the weights; see :meth:`save`); without one,
        ``FaceCropper()`` defaults with colour crops for a 3-channel network.
        :func:`~skfer.analyze_video`, :func:`~skfer.analyze_images`, ``skfer predict``
        and the Dask runner crop through it.

        Parameters
        ----------
        **overrides
            FaceCropper parameters that replace the saved ones; None values are
            ignored (they mean "as saved").

        Returns
        -------
        FaceCropper

        Examples
        --------
        >>> from skfer import load_model
        >>> load_model("fer2013").cropper(detector="hog").detector
        'hog'
        """
        check_is_fitted(self, ("classes_", "module_"))
        framing = getattr(self, "framing_", None)  # absent from models pickled before
        return framed_cropper(framing, in_chans=self.in_chans_, **overrides)

    def _build_module(self, state: dict):
        return build_module(
            self.architecture_,
            num_classes=len(self.classes_),
            in_chans=self.in_chans_,
            model_kwargs=self.model_kwargs_,
            state=state,
            device=self.device_,
            source=f"architecture {self.architecture_!r}",
        )

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
        # a model pickled before a parameter existed gets its default, which is the
        # behaviour it was fitted with, so get_params, clone and refitting still work
        for name, default in _init_defaults(type(self)).items():
            state.setdefault(name, default)
        super().__setstate__(state)
        if module_state is not None:
            self.device_ = device_after_unpickling(self.device_)
            self.module_ = self._build_module(module_state)
            self._device_param = self.device  # "as fitted", even where it moved


def _init_defaults(cls) -> dict:
    """The keyword parameters of ``cls.__init__`` and their defaults."""
    import inspect

    return {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
