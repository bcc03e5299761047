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

The weights use 7 of their 8 bits (``reduce_range``). An x86 CPU without VNNI (AVX2
only, such as AMD's Zen 3) multiplies uint8 activations by int8 weights with
``vpmaddubsw``, which adds two products into a saturating int16: two products of
255 x 127 overflow it, and the shipped ``fer2013`` graph with full-range weights gave
the float graph's label to only 79 % of 2,000 PublicTest faces on such a CPU (98-99 %
on CPUs with VNNI). With weights in [-64, 63] a pair of products stays below 2^15.

A convolution over fewer than :data:`MIN_INT8_CHANNELS` input channels (the stem of a
grayscale net) first gets zero channels: its input is padded with zeros and its
kernel with zero weights, so it computes exactly the same values. ONNX Runtime's int8
kernels handle a one-channel input (9-element dot products) badly: in the shipped
``fer2013`` graph the stem was 1 % of the multiply-adds and 28 % of the int8 time;
padded to 4 channels it is 17 %, and the graph runs 9 % faster with the same labels
(an ad-hoc ONNX Runtime profile and timing of the 3,589 PublicTest faces, load 0.7).

A thin stem that is a 3x3 convolution followed by a 2x2 max pool (``skfer_cnn``'s, at
full resolution) is rewritten instead, exactly, on a space-to-depth input
(:func:`space_to_depth_stems`): the 48x48 one-channel face becomes 24x24 with four
channels (its 2x2 pixel blocks), one convolution gives the stem's outputs at all four
positions of each block as four groups of channels, and the max pool becomes a max over
the groups. The int8 kernels then multiply a 24x24 image by 96 filters rather than a
48x48 one by 24 filters over zero-padded channels: the same values, with no zeros in
the input. ``fer2013`` without TTA, one thread, 3,589 PublicTest faces (ad hoc, load
0.3-0.9): the stem fell from 19 % to 9.5 % of the int8 time and the graph runs at 8,157
against 7,338 faces/s, with logits within 5e-7 of the widened graph's.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["quantize_int8", "space_to_depth_stems", "widen_thin_convs"]

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


def _attr(node, name: str, default):
    from onnx import helper

    found = next((a for a in node.attribute if a.name == name), None)
    return default if found is None else helper.get_attribute_value(found)


def _only_consumer(graph, tensor: str):
    users = [n for n in graph.node if tensor in n.input]
    outputs = {o.name for o in graph.output}
    return users[0] if len(users) == 1 and tensor not in outputs else None


def _stem_pattern(graph, node, inits, shapes, channels: int):
    """``(relu or None, pool, height, width)`` when ``node`` is a thin 3x3 stem
    followed (through an optional Relu) by a 2x2 max pool on an even-sized input."""
    if node.op_type != "Conv" or node.input[1] not in inits:
        return None
    if len(node.input) > 2 and node.input[2] and node.input[2] not in inits:
        return None
    dims = list(inits[node.input[1]].dims)
    plain = (
        _attr(node, "group", 1) == 1
        and list(_attr(node, "kernel_shape", dims[2:])) == [3, 3]
        and list(_attr(node, "strides", [1, 1])) == [1, 1]
        and list(_attr(node, "dilations", [1, 1])) == [1, 1]
        and list(_attr(node, "pads", [0, 0, 0, 0])) == [1, 1, 1, 1]
        and _attr(node, "auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    )
    shape = shapes.get(node.input[0])
    if not plain or len(dims) != 4 or dims[1] >= channels or shape is None or len(shape) != 4:
        return None
    height, width = shape[2], shape[3]
    if not all(isinstance(v, int) and v > 0 and v % 2 == 0 for v in (height, width)):
        return None
    relu = _only_consumer(graph, node.output[0])
    pool = relu
    if relu is not None and relu.op_type == "Relu":
        pool = _only_consumer(graph, relu.output[0])
    else:
        relu = None
    if (
        pool is None
        or pool.op_type != "MaxPool"
        or len([o for o in pool.output if o]) != 1
        or list(_attr(pool, "kernel_shape", [])) != [2, 2]
        or list(_attr(pool, "strides", [1, 1])) != [2, 2]
        or list(_attr(pool, "pads", [0, 0, 0, 0])) != [0, 0, 0, 0]
        or list(_attr(pool, "dilations", [1, 1])) != [1, 1]
        or _attr(pool, "ceil_mode", 0) != 0
        or _attr(pool, "storage_order", 0) != 0
        or _attr(pool, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
    ):
        return None
    return relu, pool, height, width


def space_to_depth_stems(proto, channels: int = MIN_INT8_CHANNELS) -> list[str]:
    """Rewrite each thin ``3x3 conv (+ Relu) + 2x2 max pool`` stem on 2x2 pixel blocks.

    For a convolution over ``c < channels`` input channels, with ``o`` filters, 3x3,
    stride 1, padding 1, on an ``h x w`` input (both even), whose output (through an
    optional Relu) only feeds a 2x2 max pool with stride 2: ``SpaceToDepth(2)`` turns the
    input into ``4c`` channels at ``h/2 x w/2``; one 3x3 convolution with ``4o`` filters
    computes the stem's output at each of the four positions of every 2x2 block (filter
    ``p*o + k`` is filter ``k`` at block position ``p``; the kernel taps that fall
    outside the original 3x3 are zero); the Relu stays; the max pool becomes a max over
    the four groups (layout ops and a ``1x4`` max pool, which ONNX Runtime runs on the
    channels-last int8 tensors without copies). The output is the same tensor (exactly,
    up to float summation order). Changes ``proto`` in place; returns the names of the
    convolutions rewritten.
    """
    import numpy as np
    from onnx import helper, numpy_helper, shape_inference

    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    try:  # ONNX Runtime's symbolic inference follows the Resize to the model's input size
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        inferred = SymbolicShapeInference.infer_shapes(proto, auto_merge=True).graph
    except Exception:  # noqa: BLE001 - any failure: onnx's own (a stem it cannot size stays)
        inferred = shape_inference.infer_shapes(proto).graph
    shapes = {}
    for info in [*inferred.value_info, *inferred.input, *inferred.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    rewritten = []
    for node in list(graph.node):
        found = _stem_pattern(graph, node, inits, shapes, channels)
        if found is None:
            continue
        relu, pool, height, width = found
        weight = numpy_helper.to_array(inits[node.input[1]])
        filters, chans = weight.shape[:2]
        blocked = np.zeros((4 * filters, 4 * chans, 3, 3), weight.dtype)
        for py in range(2):
            for px in range(2):
                group = slice((py * 2 + px) * filters, (py * 2 + px + 1) * filters)
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ry, rx = py + dy, px + dx  # pixel offset from the block's corner
                        # SpaceToDepth: channel (row-in-block * 2 + col-in-block) * c + ch
                        first = ((ry % 2) * 2 + rx % 2) * chans
                        blocked[group, first : first + chans, ry // 2 + 1, rx // 2 + 1] += weight[
                            :, :, dy + 1, dx + 1
                        ]
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(blocked, node.input[1]))
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]])
            inits[node.input[2]].CopyFrom(numpy_helper.from_array(np.tile(bias, 4), node.input[2]))
        tag = f"{node.name or node.output[0]}_skfer_s2d"
        blocks = f"{tag}_input"
        graph.node.insert(
            list(graph.node).index(node),
            helper.make_node("SpaceToDepth", [node.input[0]], [blocks], blocksize=2, name=tag),
        )
        node.input[0] = blocks
        half = (height // 2) * (width // 2)
        grouped_shape, out_shape = f"{tag}_grouped_shape", f"{tag}_out_shape"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([0, half, 4, filters], np.int64), grouped_shape),
                numpy_helper.from_array(
                    np.array([0, height // 2, width // 2, filters], np.int64), out_shape
                ),
            ]
        )
        last = (relu or node).output[0]
        result = pool.output[0]
        # channels-last view (n, h/2 * w/2, 4, o) -> max over the 4 -> (n, o, h/2, w/2)
        names = [f"{tag}_{k}" for k in range(6)]

        def step(op, src, dst, name, *extra, **attrs):
            return helper.make_node(op, [src, *extra], [dst], name=name, **attrs)

        before = [
            step("Transpose", last, names[0], names[0], perm=[0, 2, 3, 1]),
            step("Reshape", names[0], names[1], names[1], grouped_shape),
            step("Transpose", names[1], names[2], names[2], perm=[0, 3, 1, 2]),
        ]
        after = [
            step("Transpose", names[3], names[4], names[4], perm=[0, 2, 3, 1]),
            step("Reshape", names[4], names[5], names[5], out_shape),
            step("Transpose", names[5], result, f"{tag}_out", perm=[0, 3, 1, 2]),
        ]
        pool.input[0], pool.output[0] = names[2], names[3]
        del pool.attribute[:]
        pool.attribute.extend(
            helper.make_attribute(key, [1, 4]) for key in ("kernel_shape", "strides")
        )
        for extra in before:
            graph.node.insert(list(graph.node).index(pool), extra)
        for offset, extra in enumerate(after):
            graph.node.insert(list(graph.node).index(pool) + 1 + offset, extra)
        rewritten.append(node.name)
    if rewritten:  # shapes recorded for the old tensors no longer hold
        del graph.value_info[:]
    return rewritten


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
        space_to_depth_stems(proto)
        widen_thin_convs(proto)  # thin convolutions of other shapes
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
            reduce_range=True,  # 7-bit weights: no int16 saturation on AVX2 (no VNNI)
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
