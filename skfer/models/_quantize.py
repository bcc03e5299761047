"""int8 static quantisation of an exported skfer ONNX graph (ONNX Runtime's quantiser).

The network's convolutions and classifier (``Conv``, ``Gemm``, ``MatMul``) get int8
weights (per output channel) and uint8 activations whose ranges are calibrated on real
faces (min/max with a moving average over batches of 64); the pooling and activation
layers between them run on the uint8 values too, so the activations are not converted
back to float between layers (``benchmarks/inference_speed.py``, ``fer2013`` with its
flip TTA, before the stem widening below: 5,370 against 3,387 faces/s with the
convolutions alone quantised, and 98.6 % against 97.9 % of labels as the float
graph's); the resizing, normalisation and TTA averaging stay float. QDQ format: ONNX
Runtime fuses the pairs into int8 kernels (VNNI where the CPU has it). The skfer
metadata is kept, with ``quantized="int8"`` and the number of calibration faces.

A convolution over fewer than :data:`MIN_INT8_CHANNELS` input channels (the stem of a
grayscale net) first gets zero channels: its input is padded with zeros and its
kernel with zero weights, so it computes exactly the same values. ONNX Runtime's int8
kernels handle a one-channel input (9-element dot products) badly: in the shipped
``fer2013`` graph the stem was 1 % of the multiply-adds and 28 % of the int8 time;
padded to 4 channels it is 17 %, and the graph runs 9 % faster with the same labels
(an ad-hoc ONNX Runtime profile and timing of the 3,589 PublicTest faces, load 0.7).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["quantize_int8", "widen_thin_convs"]

#: operators given int8 kernels; the rest of the graph (preprocessing, TTA) stays float
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul", "MaxPool", "Relu", "GlobalAveragePool", "Flatten")

#: input channels below which a convolution is zero-padded before quantisation
MIN_INT8_CHANNELS = 4


def widen_thin_convs(proto, channels: int = MIN_INT8_CHANNELS) -> list[str]:
    """Zero-pad every plain convolution with fewer than ``channels`` input channels.

    The input gets ``Pad`` zero channels and the kernel zero weights for them, so the
    output is unchanged (exactly, in float). Changes ``proto`` in place; returns the
    names of the convolutions widened.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    widened = []
    for node in list(graph.node):
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.op_type != "Conv" or group != 1 or node.input[1] not in inits:
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        extra = channels - weight.shape[1]
        if weight.ndim != 4 or extra <= 0:
            continue
        zeros = np.zeros((weight.shape[0], extra, *weight.shape[2:]), weight.dtype)
        padded = numpy_helper.from_array(np.concatenate([weight, zeros], axis=1), node.input[1])
        inits[node.input[1]].CopyFrom(padded)
        pads = f"{node.name}_skfer_channel_pads"
        graph.initializer.append(
            numpy_helper.from_array(np.array([0, 0, 0, 0, 0, extra, 0, 0], np.int64), pads)
        )
        wide = f"{node.input[0]}_skfer_{channels}ch"
        pad = helper.make_node("Pad", [node.input[0], pads], [wide], name=f"{node.name}_pad")
        node.input[0] = wide
        graph.node.insert(list(graph.node).index(node), pad)
        widened.append(node.name)
    if widened:  # shapes recorded for the old tensors no longer hold
        del graph.value_info[:]
    return widened


def quantize_int8(source: str | os.PathLike, dest: str | os.PathLike, calibration) -> Path:
    """Write the int8 version of the float skfer graph ``source`` to ``dest``.

    ``calibration``: face crops as the model takes them (anything
    :class:`~skfer.OnnxEmotionModel` predicts; a few hundred to a few thousand of the
    training faces).
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .._onnx import OnnxEmotionModel

    reader_model = OnnxEmotionModel(source, n_threads=1).fit()
    faces = reader_model._faces(calibration)
    if len(faces) < 16:
        raise ValueError(f"calibration needs at least 16 faces, got {len(faces)}.")
    config = dict(reader_model.config_)
    if config.get("quantized"):
        raise ValueError(f"{os.fspath(source)!r} is quantized already.")

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"faces": faces[i : i + 64]} for i in range(0, len(faces), 64)])

        def get_next(self):
            return next(self.batches, None)

    dest = Path(dest).expanduser()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        widened = Path(tmp) / "widened.onnx"
        proto = onnx.load(os.fspath(source))
        widen_thin_convs(proto)
        onnx.save(proto, os.fspath(widened))
        quant_pre_process(os.fspath(widened), os.fspath(prepared), skip_symbolic_shape=True)
        quantize_static(
            os.fspath(prepared),
            os.fspath(quantized),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(QUANTIZED_OPS),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"CalibMovingAverage": True},
        )
        proto = onnx.load(os.fspath(quantized))
    config.update(quantized="int8", calibration_faces=int(len(faces)))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "skfer", json.dumps(config)
    proto.producer_name = "skfer"
    onnx.checker.check_model(proto)
    tmp_dest = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        tmp_dest.write_bytes(proto.SerializeToString())
        os.replace(tmp_dest, dest)
    finally:
        tmp_dest.unlink(missing_ok=True)
    return dest
