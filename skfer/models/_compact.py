"""Compact CNNs designed for 48x48 faces, registered with timm's model registry.

They are created like any timm model (``timm.create_model("skfer_cnn", num_classes=7,
in_chans=1)``) and are what :class:`~skfer.EmotionCNN` uses by default, because
the paper's ImageNet backbones are far too slow to train on a CPU.

Design: keep full resolution in the first stage (small faces lose their expression
when downsampled early), then halve resolution three times; batch norm after every
convolution; global average pooling and dropout before the classifier.

- ``skfer_cnn``: VGG-style, 24-48-96-192 channels, one convolution in the first
  and last stages and two in the middle ones (about 0.3 M parameters, 42 M
  multiply-adds per face); the accurate model.
- ``skfer_cnn_fast``: one convolution per stage, 16-32-64-128 channels (0.1 M
  parameters, 8 M multiply-adds); the fast model.

``stem_stride=2`` makes the stem a 4x4 convolution with stride 2 in place of a 3x3
convolution followed by the max pool that starts the second stage: the same feature
map sizes from then on, and a learned downsampling that still sees every input pixel.
It is for int8 CPU inference: a convolution with one input channel
gives the int8 matrix kernels 9-element dot products, so in ONNX Runtime the stem of
``skfer_cnn`` was 1 % of the multiply-adds and 28 % of the int8 time, its 48x48 max
pool another 6 % (a profile of the shipped int8 graph); the strided net's int8 graph
ran about 1.3x faster, and it trains only slightly faster (an epoch of the film stage
took 24-32 s on 2 cores against 34-38 s; the stem widening of
:mod:`skfer.models._quantize` later recovered part of the int8 gap). It costs accuracy:
with the shipped recipe, 66.5 % on PublicTest against 68.0 %, and less on the film
development set (``benchmarks/results/film_robust.md``), so no shipped model uses it.
"""

from __future__ import annotations

import torch
from timm.models import register_model
from torch import nn

__all__ = ["CompactFaceNet"]

_CFG = {
    "input_size": (1, 48, 48),
    "pool_size": None,
    "crop_pct": 1.0,
    "interpolation": "bilinear",
    # FER2013 pixel statistics (Training split), shared by both variants
    "mean": (0.5077,),
    "std": (0.2550,),
    "first_conv": "stem.0",
    "classifier": "head",
    "num_classes": 7,
}


class CompactFaceNet(nn.Module):
    """A small stage-wise CNN for low-resolution faces.

    Parameters
    ----------
    num_classes : int, default=7
    in_chans : int, default=1
    widths : tuple of int, default=(24, 48, 96, 192)
        Channels of the four stages; stages 2-4 start by halving the resolution.
    depths : tuple of int, default=(1, 2, 2, 1)
        Convolutions per stage (the stem counts as the first stage's first).
    drop_rate : float, default=0.3
        Dropout before the classifier.
    stem_stride : {1, 2}, default=1
        1: a 3x3 stem at full resolution, then a 2x2 max pool before the second stage.
        2: a 4x4 stem with stride 2 and no max pool before the second stage (the
        same resolution from the second stage on; faster, less accurate).

    Examples
    --------
    >>> import torch
    >>> net = CompactFaceNet(num_classes=7, in_chans=1)
    >>> net(torch.zeros(2, 1, 48, 48)).shape
    torch.Size([2, 7])
    >>> strided = CompactFaceNet(num_classes=7, in_chans=1, stem_stride=2)
    >>> strided.forward_features(torch.zeros(2, 1, 48, 48)).shape
    torch.Size([2, 192, 6, 6])
    """

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        *,
        widths: tuple[int, ...] = (24, 48, 96, 192),
        depths: tuple[int, ...] = (1, 2, 2, 1),
        drop_rate: float = 0.3,
        stem_stride: int = 1,
        **kwargs,
    ):
        super().__init__()
        for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):  # timm's factory
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"Unexpected arguments for CompactFaceNet: {sorted(kwargs)}")
        if len(depths) != len(widths) or min(depths) < 1:
            raise ValueError(f"depths {depths} must give >= 1 convolution for each of {widths}.")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}.")
        self.num_classes = num_classes
        self.num_features = widths[-1]
        self.drop_rate = drop_rate
        self.stem_stride = stem_stride
        kernel = 3 if stem_stride == 1 else 4  # 4x4 / 2: each pixel in 4 windows
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], kernel, stride=stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        cin = widths[0]
        for i, cout in enumerate(widths):
            if i > 0:  # a strided stem has halved already (Identity keeps the layer names)
                layers.append(nn.Identity() if i == 1 and stem_stride == 2 else nn.MaxPool2d(2))
            for j in range(depths[i]):
                if i == 0 and j == 0:
                    continue  # the stem is the stage's first convolution
                layers += [
                    nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(drop_rate)
        self.head = nn.Linear(cin, num_classes) if num_classes > 0 else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.pool(x), 1))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _create(variant: str, pretrained: bool, **kwargs) -> CompactFaceNet:
    if pretrained:
        raise ValueError(
            f"{variant} has no hub weights: use skfer.load_model('fer2013') "
            "for skfer's shipped model, or pass a local file as pretrained='path'."
        )
    model = CompactFaceNet(**kwargs)
    model.pretrained_cfg = dict(_CFG, architecture=variant)
    model.default_cfg = model.pretrained_cfg
    return model


@register_model
def skfer_cnn(pretrained: bool = False, **kwargs) -> CompactFaceNet:
    """VGG-style compact CNN for 48x48 faces (about 0.3 M parameters)."""
    return _create("skfer_cnn", pretrained, **kwargs)


@register_model
def skfer_cnn_fast(pretrained: bool = False, **kwargs) -> CompactFaceNet:
    """The smallest compact CNN for 48x48 faces (0.1 M parameters), built for CPU throughput."""
    kwargs.setdefault("widths", (16, 32, 64, 128))
    kwargs.setdefault("depths", (1, 1, 1, 1))
    return _create("skfer_cnn_fast", pretrained, **kwargs)
