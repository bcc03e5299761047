"""Export a fitted :class:`~skfer.EmotionCNN` to ONNX, preprocessing and TTA inside the graph.

The graph takes the uint8 faces ``(n, C, h, w)`` as the model sees them (``C`` is
``in_chans_``; gray faces for a colour network are repeated by the runtime), resizes
them to ``input_size_`` when ``(h, w)`` differs (bilinear, antialiased when shrinking,
as :class:`~skfer.models._torch.Preprocess`), normalises them (``standardize`` or
mean/std), stacks the TTA views of :func:`~skfer.models._inference.tta_views` into one
batch, runs the inference-optimised network (conv-BN folded) once and averages the
views' logits: output ``logits`` ``(n, n_classes)`` float32. The skfer config (classes,
framing, tta, preprocessing, the checksum of the weights it came from) is the
``metadata_props`` entry ``"skfer"`` (JSON). :class:`skfer.OnnxEmotionModel` runs it.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

__all__ = ["ONNX_FORMAT", "ONNX_OPSET", "export_onnx"]

#: the ``format`` entry of the ONNX metadata; bumped when the graph's contract changes
ONNX_FORMAT = 1
#: opset of the exported graphs (18: ``Resize`` with ``antialias``)
ONNX_OPSET = 18


def export_onnx(
    model, path: str | os.PathLike, *, tta=None, framing=None, quantize=None, calibration=None
) -> Path:
    """Write a fitted :class:`~skfer.EmotionCNN` as an ONNX graph for ONNX Runtime.

    The graph holds everything a prediction needs: resizing to ``input_size_``, the
    model's normalisation (``standardize`` or mean/std), its test-time augmentation
    (``tta``: the views run as one batch, their logits averaged) and the network, batch
    norm folded into the convolutions. Its input ``faces`` is the uint8 batch
    ``(n, in_chans_, h, w)``; its output ``logits`` is ``(n, n_classes)``. Classes,
    framing, TTA and the rest of the skfer config go into the ONNX metadata
    (``metadata_props["skfer"]``, JSON). Load it with ``skfer.load_model(path)`` or
    :class:`skfer.OnnxEmotionModel`: no torch is imported to predict.

    Needs the ``onnx`` package (``pip install skfer[onnx]``); runs offline.

    Parameters
    ----------
    model : EmotionCNN, str or path-like
        A fitted model, a weights file or a shipped model name (see
        :func:`skfer.shipped_models`).
    path : path-like
        Destination, conventionally ``*.onnx``; written atomically.
    tta : bool, "flip" or "flip+shift", optional
        The test-time augmentation inside the graph (default: the model's ``tta``).
    framing : FaceCropper or dict, optional
        The cropper that made the faces (default: the model's ``framing_``).
    quantize : {None, "int8"}, default=None
        ``"int8"``: static int8 quantisation of the convolutions and the classifier
        (ONNX Runtime's QDQ format, weights per channel, activation ranges calibrated
        on ``calibration``); preprocessing and TTA stay float. 2.7-3.2x faster on a
        CPU; on FER2013 PublicTest the shipped ``fer2013`` keeps its accuracy while
        1-2 % of faces change label (``benchmarks/results/inference_speed.md``).
        Load it with ``load_model(..., backend="onnx-int8")``.
    calibration : array-like of images, optional
        With ``quantize="int8"``: faces as the model takes them, typically a few
        hundred to a few thousand of its training faces.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skfer import EmotionCNN, export_onnx, load_model
    >>> X = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    >>> model = EmotionCNN(max_epochs=1, validation=None, tta="flip", verbose=0)
    >>> model = model.fit(X, ["a", "b"] * 10)
    >>> path = export_onnx(model, os.path.join(tempfile.mkdtemp(), "m.onnx"))
    >>> onnx_model = load_model(path, backend="onnx")
    >>> onnx_model.classes_.tolist(), onnx_model.tta
    (['a', 'b'], 'flip')
    >>> bool(np.abs(onnx_model.predict_proba(X) - model.predict_proba(X)).max() < 1e-4)
    True
    """
    import torch

    from .._onnx import file_sha256, weights_path
    from ._io import model_config

    source_sha256 = None
    if isinstance(model, (str, os.PathLike)):
        from ._loading import load_model

        source = weights_path(model)
        source_sha256 = file_sha256(source)
        model = load_model(source, device="cpu")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, ("classes_", "module_"))
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "Exporting to ONNX needs the onnx package: pip install 'skfer[onnx]'."
        ) from exc
    if framing is None:
        framing = getattr(model, "framing_", None)
    elif hasattr(framing, "get_params"):
        framing = framing.get_params()
    if tta is None:
        tta = model.tta
    from ._inference import TTA_MODES

    if not (isinstance(tta, bool) or tta in TTA_MODES):
        raise ValueError(f"tta must be False, True or one of {TTA_MODES}, got {tta!r}.")
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}.")
    if quantize and calibration is None:
        raise ValueError(
            "quantize='int8' needs calibration faces (a few hundred of the model's training "
            "faces): export_onnx(model, path, quantize='int8', calibration=faces)."
        )
    config = model_config(model, framing=framing)
    config["tta"] = tta
    # the weights file it came from: find_onnx uses the file only for these exact weights
    config.update(onnx_format=ONNX_FORMAT, output="logits", input="faces")
    config["source_sha256"] = source_sha256

    graph = _graph_module()(model, tta).eval()
    h, w = model.input_size_
    sample = torch.randint(0, 256, (2, model.in_chans_, h, w), dtype=torch.uint8).float()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings: the graph's sizes are fixed
        torch.onnx.export(
            graph,
            (sample,),
            buffer,
            dynamo=False,
            input_names=["pixels"],
            output_names=["logits"],
            dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    _prepend_resize(proto, model.in_chans_, (h, w))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "skfer", json.dumps(config)
    proto.producer_name = "skfer"
    proto.doc_string = (
        "skfer emotion classifier: uint8 faces (n, C, h, w) -> averaged TTA logits (n, K); "
        "config in metadata_props['skfer']"
    )
    onnx.checker.check_model(proto)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(proto.SerializeToString())
        if quantize:
            from ._quantize import quantize_int8

            return quantize_int8(tmp, path, calibration)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _graph_module():
    import copy

    import torch
    from torch import nn

    from ._inference import optimize_for_inference, tta_views
    from ._torch import Preprocess

    class Graph(nn.Module):
        """float pixels ``(n, C, H, W)`` at ``input_size`` -> averaged TTA logits."""

        def __init__(self, model, tta):
            super().__init__()
            pre = model.preprocess_
            self.preprocess = Preprocess(
                pre.in_chans, pre.input_size, pre.mean, pre.std, pre.standardize
            )
            h, w = pre.input_size
            probe = torch.randint(0, 256, (2, pre.in_chans, h, w), generator=torch.Generator())
            module = model.module_
            if next(module.parameters()).device.type != "cpu":
                module = copy.deepcopy(module).to("cpu")
            module.eval()
            self.net, _ = optimize_for_inference(module, self.preprocess(probe.to(torch.uint8)))
            self.net = self.net.to(memory_format=torch.contiguous_format)
            self.tta = tta

        def forward(self, pixels):
            x = self.preprocess(pixels)
            views = tta_views(x, self.tta)
            logits = self.net(torch.cat(views) if len(views) > 1 else x)
            return logits.reshape(len(views), -1, logits.shape[-1]).mean(0)

    return Graph


def _prepend_resize(proto, in_chans: int, size: tuple[int, int]) -> None:
    """Make the graph's input uint8 ``faces`` ``(n, C, h, w)``: cast to float and resize
    to ``size`` (ONNX ``Resize``: linear, half-pixel, antialiased when shrinking, as
    ``F.interpolate(..., antialias=shrink)``) before the exported ``pixels`` input."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    old = next(i for i in graph.input if i.name == "pixels")
    graph.input.remove(old)
    faces = helper.make_tensor_value_info("faces", TensorProto.UINT8, ["n", in_chans, "h", "w"])
    graph.input.insert(0, faces)
    target = numpy_helper.from_array(np.asarray(size, dtype=np.int64), name="skfer_target_hw")
    graph.initializer.append(target)
    nodes = [
        helper.make_node("Cast", ["faces"], ["skfer_faces_f"], to=TensorProto.FLOAT),
        helper.make_node("Shape", ["faces"], ["skfer_shape"], start=0, end=2),
        helper.make_node("Concat", ["skfer_shape", "skfer_target_hw"], ["skfer_sizes"], axis=0),
        helper.make_node(
            "Resize",
            ["skfer_faces_f", "", "", "skfer_sizes"],
            ["pixels"],
            mode="linear",
            coordinate_transformation_mode="half_pixel",
            antialias=1,
        ),
    ]
    for node in reversed(nodes):
        graph.node.insert(0, node)
