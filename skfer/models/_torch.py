"""The torch side of :class:`~skfer.EmotionCNN`: preprocessing, batches, the skorch net,
devices and mixed precision, building a network from weights, and batched prediction.

Everything here imports torch (and skorch) lazily, inside the functions.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .._images import to_gray
from ._backbones import create_backbone
from ._inference import tta_views

__all__ = [
    "CPU_PREDICT_BATCH",
    "Preprocess",
    "amp_dtype",
    "autocast",
    "build_module",
    "check_state_fits",
    "device_after_unpickling",
    "images_to_tensor",
    "make_net_class",
    "predict_logits",
    "predictor",
    "probe_memory_format",
    "resolve_device",
    "seeded",
]

# activations of larger CPU batches overflow the caches: 32-64 faces per batch were
# 10-25 % faster than 128 (and 2x faster than 256) on the compact CNNs
CPU_PREDICT_BATCH = 64


class Preprocess:
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


def images_to_tensor(images: np.ndarray, in_chans: int):
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


def make_net_class():
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
        consistency_ = 0.0

        def train_step_single(self, batch, **fit_params):
            """With ``consistency_``: two augmented views of the batch in one forward
            pass, the mean of their losses plus ``consistency_`` times the
            Jensen-Shannon divergence of their predicted distributions."""
            if not self.consistency_:
                return super().train_step_single(batch, **fit_params)
            from skorch.dataset import unpack_data
            from skorch.utils import to_device

            self._set_training(True)
            Xi, yi = unpack_data(batch)
            y_pred, other = self.infer(torch.cat([Xi, Xi]), **fit_params).chunk(2)
            yi = to_device(yi, self.device)
            loss = 0.5 * (
                self.get_loss(y_pred, yi, X=Xi, training=True)
                + self.get_loss(other, yi, X=Xi, training=True)
            )
            loss = loss + self.consistency_ * jensen_shannon(y_pred, other)
            loss.backward()
            return {"loss": loss, "y_pred": y_pred}

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
            with autocast(x.device, self.amp_dtype_):
                out = self.module_(x, **fit_params)
            return out.float()

    return _Net, _Dataset


def jensen_shannon(logits_a, logits_b):
    """Mean Jensen-Shannon divergence (nats) of the softmax distributions of two
    ``(n, k)`` logit tensors: ``(KL(p || m) + KL(q || m)) / 2``, ``m = (p + q) / 2``."""
    import torch

    log_p, log_q = logits_a.log_softmax(dim=1), logits_b.log_softmax(dim=1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - np.log(2.0)
    kl = torch.nn.functional.kl_div
    return 0.5 * (
        kl(log_m, log_p, reduction="batchmean", log_target=True)
        + kl(log_m, log_q, reduction="batchmean", log_target=True)
    )


def autocast(device, dtype):
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def resolve_device(device: str):
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


def amp_dtype(amp, device):
    import torch

    if amp is False or (amp == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16


@contextlib.contextmanager
def seeded(seed: int, device):
    """Seed torch inside a forked RNG state, so the caller's global RNG is untouched."""
    import torch

    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def probe_memory_format(model, preprocess, sample, arch: str):
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


def check_state_fits(own: dict, state: dict, *, source: str, num_classes: int, in_chans: int):
    """Raise a clear ``ValueError`` unless ``state``'s keys and shapes are ``own``'s
    (``{name: shape}`` of the network to fill)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k])}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k])
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
            f"The weights do not fit {source} with {num_classes} classes and "
            f"{in_chans} input channel(s): {'; '.join(parts)}."
        )


def build_module(
    architecture: str,
    *,
    num_classes: int,
    in_chans: int,
    model_kwargs: dict,
    state: dict,
    device,
    source: str,
):
    """Create ``architecture`` and load ``state`` strictly, with a clear error."""
    with seeded(0, resolve_device("cpu")):  # keep the caller's RNG untouched
        model = create_backbone(
            architecture, num_classes=num_classes, in_chans=in_chans, **model_kwargs
        )
    own = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    check_state_fits(own, state, source=source, num_classes=num_classes, in_chans=in_chans)
    model.load_state_dict(state)
    return model.to(device).eval()


def predictor(module, preprocess, cache=None):
    """``(key, network, memory_format)``: an inference-optimised copy of ``module``
    (see ``_inference``); ``cache``, the previous result, is reused while ``module`` and
    its weights are unchanged."""
    import torch

    from ._inference import optimize_for_inference

    tensors = [*module.parameters(), *module.buffers()]
    device = tensors[0].device
    key = (id(module), device, tuple(t._version for t in tensors))
    if cache is not None and cache[0] == key:
        return cache
    h, w = preprocess.input_size
    gen = torch.Generator().manual_seed(0)
    probe = torch.randint(0, 256, (2, preprocess.in_chans, h, w), generator=gen)
    sample = preprocess(probe.to(torch.uint8).to(device))
    return (key, *optimize_for_inference(module, sample))


def predict_logits(
    module,
    memory_format,
    preprocess,
    data,
    *,
    n_classes: int,
    tta,
    amp,
    batch_size: int,
    adapt=None,
    unfused=None,
):
    """Logits of uint8 ``data`` ``(n, C, H, W)``, batch by batch, averaged over the TTA
    views. With ``adapt="batchnorm"``: of a copy of ``unfused`` (the network before
    inference optimisation folded its batch norms away) adapted to all of ``data``."""
    import torch

    device = next(module.parameters()).device
    n, bs = len(data), int(batch_size)
    if device.type == "cpu":
        bs = min(bs, CPU_PREDICT_BATCH)

    def batches():
        for start in range(0, n, bs):
            batch = preprocess(data[start : start + bs].to(device, non_blocking=True))
            yield start, batch.contiguous(memory_format=memory_format)

    if adapt and "batchnorm" in adapt:
        from ._adapt import adapt_batchnorm

        with torch.no_grad():
            module = adapt_batchnorm(unfused, (b for _, b in batches()))
    out = torch.empty((n, n_classes), dtype=torch.float32)
    with torch.inference_mode(), autocast(device, amp_dtype(amp, device)):
        for start, batch in batches():
            views = tta_views(batch, tta)
            logits = module(torch.cat(views) if len(views) > 1 else batch)
            logits = logits.view(len(views), len(batch), -1).mean(0)
            out[start : start + bs] = logits.float()
    return out


def device_after_unpickling(device):
    """The device a model fitted on ``device`` runs on here, warning when it moves."""
    import warnings

    import torch

    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            "This EmotionCNN was fitted on CUDA, which is not available here: it runs on the CPU.",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        warnings.warn(
            f"This EmotionCNN was fitted on {device}, which is not visible here "
            "(e.g. a Dask worker pinned to one GPU): it runs on cuda:0.",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cuda")
    return device
