"""The torch-free inference path: export to ONNX, run with ONNX Runtime, no torch imported."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_cnn

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from skfer import EmotionCNN, FaceCropper, OnnxEmotionModel, export_onnx, load_model  # noqa: E402
from skfer._onnx import find_onnx, onnx_cache_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh ONNX cache, and backend "auto" deciding as on a machine without a GPU."""
    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("skfer._load._gpu", lambda: False)
    return tmp_path / "cache"


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("tta", [False, "flip", "flip+shift"])
def test_onnx_probabilities_equal_torch(tiny_faces, tmp_path, tta, standardize):
    X, y = tiny_faces
    model = tiny_cnn(tta=tta, standardize=standardize).fit(X, y)
    onnx_model = load_model(export_onnx(model, tmp_path / "m.onnx"), backend="onnx")
    assert isinstance(onnx_model, OnnxEmotionModel) and onnx_model.tta == tta
    np.testing.assert_allclose(onnx_model.predict_proba(X), model.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(
        onnx_model.decision_function(X), model.decision_function(X), atol=1e-4
    )
    assert (onnx_model.predict(X) == model.predict(X)).all()
    assert onnx_model.classes_.tolist() == model.classes_.tolist()


def test_onnx_other_sizes_and_colour(tiny_faces, tmp_path):
    """Faces of another size are resized inside the graph; a colour network takes gray
    faces (repeated) and colour faces."""
    X, y = tiny_faces
    rng = np.random.default_rng(1)
    model = tiny_cnn(standardize=True).fit(X, y)
    onnx_model = OnnxEmotionModel(export_onnx(model, tmp_path / "g.onnx"), n_threads=1).fit()
    for size, atol in ((40, 1e-4), (64, 1e-3)):  # shrinking: ORT's antialias, close
        Z = rng.integers(0, 256, (6, size, size), dtype=np.uint8)
        np.testing.assert_allclose(onnx_model.predict_proba(Z), model.predict_proba(Z), atol=atol)
    colour = tiny_cnn(in_chans=3).fit(X, y)
    onnx_colour = load_model(export_onnx(colour, tmp_path / "c.onnx"), backend="onnx")
    rgb = rng.integers(0, 256, (6, 48, 48, 3), dtype=np.uint8)
    for faces in (X[:6], rgb):
        np.testing.assert_allclose(
            onnx_colour.predict_proba(faces), colour.predict_proba(faces), atol=1e-4
        )
    assert onnx_colour.in_chans_ == 3 and onnx_colour.cropper().grayscale is False


def test_onnx_metadata_carries_the_config(tiny_faces, tmp_path):
    X, _ = tiny_faces
    y = np.arange(len(X)) % 2  # int labels, two classes
    model = tiny_cnn(tta="flip").fit(X, y)
    path = export_onnx(model, tmp_path / "m.onnx", framing=FaceCropper(margin=0.7), tta=False)
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    config = json.loads(meta["skfer"])
    assert config["tta"] is False and config["framing"]["margin"] == 0.7
    assert config["onnx_format"] == 1 and config["classes_kind"] == "int"
    onnx_model = load_model(path, backend="auto")
    assert onnx_model.classes_.dtype.kind == "i" and onnx_model.cropper().margin == 0.7
    assert onnx_model.decision_function(X).shape == (len(X),)
    assert onnx_model.input_size_ == (48, 48) and onnx_model.framing_["margin"] == 0.7
    model.set_params(tta=False)
    np.testing.assert_allclose(onnx_model.predict_proba(X), model.predict_proba(X), atol=1e-4)
    again = pickle.loads(pickle.dumps(onnx_model))
    np.testing.assert_array_equal(again.predict_proba(X), onnx_model.predict_proba(X))
    pipe = load_model(path, backend="onnx", with_cropper=True)
    assert [name for name, _ in pipe.steps] == ["facecropper", "onnxemotionmodel"]


def test_shipped_model_onnx_built_at_first_use(cache):
    """A shipped name with backend="onnx": built into the cache once, found next time,
    same probabilities as torch; "auto" then serves it too."""
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    onnx_model = load_model("fer2013-fast", backend="onnx")
    built = find_onnx("fer2013-fast")
    assert built is not None and built.parent == cache / "onnx"
    torch_model = load_model("fer2013-fast", backend="torch")
    assert isinstance(torch_model, EmotionCNN)
    np.testing.assert_allclose(
        onnx_model.predict_proba(faces), torch_model.predict_proba(faces), atol=1e-4
    )
    assert isinstance(load_model("fer2013-fast", backend="auto"), OnnxEmotionModel)
    with pytest.raises(ValueError, match="device='cuda:9'"):  # auto -> torch for CUDA
        load_model("fer2013-fast", backend="auto", device="cuda:9")


def test_shipped_model_on_real_faces(fer2013, cache):
    faces = fer2013.images[fer2013.usage == "PublicTest"][:500]
    p_onnx = load_model("fer2013", backend="onnx").predict_proba(faces)
    p_torch = load_model("fer2013").predict_proba(faces)
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-4)
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).mean() >= 0.995


def test_threads_run_batches_in_order(fer2013):
    """Batches spread over threads come back in input order, with the logits of one
    thread, for any number of faces (fewer than the threads, uneven splits)."""
    faces = fer2013.images[fer2013.usage == "PublicTest"][:203]
    path = load_model("fer2013", backend="onnx-int8").path
    one = OnnxEmotionModel(path, n_threads=1).fit()
    assert one.n_workers_ == 1
    expected = one.decision_function(faces)
    for threads, batch_size in ((2, None), (3, 7), (4, 64)):
        model = OnnxEmotionModel(path, n_threads=threads, batch_size=batch_size).fit()
        assert model.n_workers_ == threads
        for n in (1, 2, 5, 203):
            np.testing.assert_allclose(model.decision_function(faces[:n]), expected[:n], atol=1e-5)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.decision_function(faces), expected, atol=1e-5)
    assert OnnxEmotionModel(path).fit().n_workers_ >= 1


def test_stale_onnx_is_not_used(tiny_faces, tmp_path, cache):
    """An ONNX file beside weights it was not exported from is ignored (auto: torch)."""
    X, y = tiny_faces
    weights = tiny_cnn().fit(X, y).save(tmp_path / "m.safetensors")
    export_onnx(weights, tmp_path / "m.onnx")
    assert find_onnx(weights) == tmp_path / "m.onnx"
    assert isinstance(load_model(weights, backend="auto"), OnnxEmotionModel)
    tiny_cnn(random_state=1).fit(X, y).save(weights)  # retrained: the file is stale
    assert find_onnx(weights) is None
    rebuilt = load_model(weights, backend="auto")  # exported again, into the cache
    assert isinstance(rebuilt, OnnxEmotionModel)
    assert Path(rebuilt.path) == onnx_cache_path(weights)
    np.testing.assert_allclose(
        rebuilt.predict_proba(X), load_model(weights).predict_proba(X), atol=1e-5
    )


def test_auto_backend_serves_with_torch_where_onnx_cannot(tiny_faces, tmp_path, monkeypatch, cache):
    """auto: ONNX on a CPU; torch on a GPU, when adapting, without the exporter, or when
    the export fails (with a warning naming the model)."""
    import importlib.util

    import skfer._load as loading
    from skfer._load import serving_backend

    X, y = tiny_faces
    weights = tiny_cnn().fit(X, y).save(tmp_path / "m.safetensors")
    assert serving_backend("auto", "batchnorm") == "torch"
    assert serving_backend("onnx", "batchnorm") == "onnx"  # asked for: refused later
    assert serving_backend("auto", None) == "auto"
    with pytest.raises(ValueError, match="backend must be one of"):
        serving_backend("tensorrt")
    monkeypatch.setattr(loading, "_gpu", lambda: True)
    assert isinstance(load_model(weights, backend="auto"), EmotionCNN)
    assert isinstance(load_model(weights, backend="auto", device="cpu"), OnnxEmotionModel)
    monkeypatch.setattr(loading, "_gpu", lambda: False)
    weights = tiny_cnn(random_state=2).fit(X, y).save(tmp_path / "n.safetensors")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "onnx" else real_find_spec(n, *a)
    )
    assert isinstance(load_model(weights, backend="auto"), EmotionCNN)
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr("skfer.models._export.export_onnx", broken_export)
    with pytest.warns(UserWarning, match=r"n\.safetensors.*exporter crashed.*torch serves"):
        assert isinstance(load_model(weights, backend="auto"), EmotionCNN)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        load_model(weights, backend="onnx")


def test_onnx_errors(tiny_faces, tmp_path, monkeypatch, cache):
    X, y = tiny_faces
    path = export_onnx(tiny_cnn().fit(X, y), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="backend must be one of"):
        load_model(path, backend="tflite")
    with pytest.raises(ValueError, match="is an ONNX file"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="No ONNX file"):
        load_model(tmp_path / "missing.onnx", backend="onnx")
    with pytest.raises(FileNotFoundError, match="no shipped model"):
        load_model("no-such-model", backend="onnx")
    with pytest.raises(ValueError, match="runs on the CPU"):
        load_model(path, backend="onnx", device="cuda")
    with pytest.raises(ValueError, match="n_threads"):
        OnnxEmotionModel(path, n_threads=0).fit()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ImportError, match=r"skfer\[onnx\]"):
        load_model(path, backend="onnx")
    with pytest.raises(ImportError, match=r"skfer\[onnx\]"):
        load_model("fer2013-fast", backend="onnx")
    assert isinstance(load_model("fer2013-fast", backend="auto"), EmotionCNN)


def test_onnx_backend_never_imports_torch(tiny_faces, tmp_path):
    """Predicting, and analysing photos, with the ONNX backend leaves torch unloaded."""
    X, y = tiny_faces
    path = export_onnx(tiny_cnn().fit(X, y), tmp_path / "m.onnx")
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import skfer
        from skfer.datasets import load_sample_images
        model = skfer.load_model({str(path)!r}, backend="onnx", n_threads=1)
        faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
        assert model.predict_proba(faces).shape == (5, 3)
        model.predict(faces), model.cropper()
        table = skfer.analyze_images(load_sample_images().images[:2], model=model)
        assert len(table) >= 1, table
        loaded = sorted(m for m in sys.modules if m.startswith("skfer.models"))
        print("torch" in sys.modules, loaded)
        """
    )
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False []", out.stdout


def test_int8_graph_of_a_fitted_model(tiny_faces, tmp_path, cache):
    """export_onnx(quantize="int8"): int8 kernels, the config kept, found beside the weights
    by backend="onnx-int8" only for these weights; no calibration, no int8."""
    import onnx

    X, y = tiny_faces
    model = tiny_cnn(tta="flip").fit(X, y)
    weights = model.save(tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="needs calibration faces"):
        export_onnx(weights, tmp_path / "m.int8.onnx", quantize="int8")
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        export_onnx(weights, tmp_path / "m.int8.onnx", quantize="int4", calibration=X)
    with pytest.raises(FileNotFoundError, match=r"No int8 graph.*quantize='int8'"):
        load_model(weights, backend="onnx-int8")
    path = export_onnx(weights, tmp_path / "m.int8.onnx", quantize="int8", calibration=X)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Resize"} <= ops
    int8 = load_model(weights, backend="onnx-int8")
    assert Path(int8.path) == path and int8.quantized == "int8" and int8.tta == "flip"
    assert int8.config_["calibration_faces"] == len(X)
    assert load_model(weights, backend="onnx").quantized is None  # float stays the default
    proba = int8.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(1), 1)
    # int8 keeps the model: close to the float probabilities, mostly the same labels
    reference = model.predict_proba(X)
    assert np.abs(proba - reference).max() < 0.15
    assert (proba.argmax(1) == reference.argmax(1)).mean() >= 0.9
    with pytest.raises(ValueError, match="quantized already"):
        from skfer.models._quantize import quantize_int8

        quantize_int8(path, tmp_path / "again.onnx", X)
    tiny_cnn(random_state=3).fit(X, y).save(weights)  # retrained: the int8 graph is stale
    with pytest.raises(FileNotFoundError, match="No int8 graph"):
        load_model(weights, backend="onnx-int8")


def test_shipped_int8_graphs_agree_with_float(fer2013, cache):
    """The shipped int8 graphs: the accuracy on PublicTest within half a point of the
    float graph, >= 97 % of the labels the same (figures: results/inference_speed.md)."""
    faces = fer2013.images[fer2013.usage == "PublicTest"]
    target = np.asarray(fer2013.target[fer2013.usage == "PublicTest"]).astype(str)
    for name in ("fer2013", "fer2013-fast", "film"):
        int8 = load_model(name, backend="onnx-int8").predict(faces)
        float32 = load_model(name, backend="onnx").predict(faces)
        assert (int8 == float32).mean() >= 0.97, name
        assert abs((int8 == target).mean() - (float32 == target).mean()) <= 0.005, name


def test_shipped_tta_off_int8_graph(fer2013, cache):
    """load_model("fer2013", backend="onnx-int8", tta=False): the shipped int8 graph
    without TTA (the 2x-the-peer setting of results/inference_speed.md), the same labels
    as torch without TTA on >= 97 % of PublicTest, its accuracy within half a point."""
    faces = fer2013.images[fer2013.usage == "PublicTest"]
    target = np.asarray(fer2013.target[fer2013.usage == "PublicTest"]).astype(str)
    int8 = load_model("fer2013", backend="onnx-int8", tta=False)
    assert Path(int8.path).name == "fer2013.tta-off.int8.onnx" and int8.tta is False
    torch_off = load_model("fer2013", tta=False)
    assert torch_off.tta is False
    labels, reference = int8.predict(faces), torch_off.predict(faces)
    assert (labels == reference).mean() >= 0.97
    assert abs((labels == target).mean() - (reference == target).mean()) <= 0.005
    assert load_model("fer2013", backend="onnx-int8", tta="flip").path == (
        load_model("fer2013", backend="onnx-int8").path  # the model's own TTA: the main file
    )


def test_load_model_tta_per_backend(tiny_faces, tmp_path, cache):
    """load_model(..., tta=...) gives the same TTA on every backend: torch sets it, ONNX
    exports a graph with it into the cache at first use, int8 needs a file with it;
    a fitted model, an ONNX file of another TTA and an unknown mode are refused."""
    from skfer._load import _TTA_MODES
    from skfer.models._inference import TTA_MODES

    assert _TTA_MODES == TTA_MODES  # the torch-free copy follows the models' list
    X, y = tiny_faces
    model = tiny_cnn(tta="flip").fit(X, y)
    weights = model.save(tmp_path / "m.safetensors")
    reference = model.set_params(tta=False).predict_proba(X)
    assert load_model(weights, tta=False).tta is False
    off = load_model(weights, backend="onnx", tta=False)
    assert off.tta is False and Path(off.path).name.endswith("-tta-off.onnx")
    np.testing.assert_allclose(off.predict_proba(X), reference, atol=1e-4)
    assert load_model(weights, backend="onnx", tta=True).tta == "flip"  # True is flip
    assert load_model(weights, backend="onnx").tta == "flip"  # its own, still
    with pytest.raises(FileNotFoundError, match=r"tta=False.*tta-off\.int8\.onnx"):
        load_model(weights, backend="onnx-int8", tta=False)
    int8_off = tmp_path / "m.tta-off.int8.onnx"
    export_onnx(weights, int8_off, quantize="int8", tta=False, calibration=X)
    assert load_model(weights, backend="onnx-int8", tta=False).tta is False
    with pytest.raises(ValueError, match="tta must be"):
        load_model(weights, tta="mirror")
    with pytest.raises(ValueError, match="set_params"):
        load_model(model, tta=False)
    with pytest.raises(ValueError, match="inside the graph"):
        load_model(off.path, backend="onnx", tta="flip")


def test_strided_stem_exports_and_quantizes(tiny_faces, tmp_path):
    """A strided-stem net (CompactFaceNet(stem_stride=2)) runs in ONNX as in torch, and
    its int8 graph has no max pool before the second stage."""
    import onnx

    X, y = tiny_faces
    model = tiny_cnn(module__stem_stride=2, tta="flip").fit(X, y)
    onnx_model = load_model(export_onnx(model, tmp_path / "s.onnx"), backend="onnx")
    np.testing.assert_allclose(onnx_model.predict_proba(X), model.predict_proba(X), atol=1e-4)
    path = export_onnx(model, tmp_path / "s.int8.onnx", quantize="int8", calibration=X)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert ops.count("MaxPool") == 2  # before stages 3 and 4 only
    assert (load_model(path, backend="onnx").predict(X) == model.predict(X)).mean() >= 0.9


def test_int8_thin_conv_is_widened_exactly(tiny_faces, tmp_path):
    """A one-channel convolution that is not a pooled 3x3 stem (here the 4x4 stride-2
    stem) gets zero input channels before quantisation (int8 kernels handle a 1-channel
    convolution badly); in float the widened graph is the same."""
    import onnx

    from skfer.models._quantize import MIN_INT8_CHANNELS, space_to_depth_stems, widen_thin_convs

    X, y = tiny_faces
    model = tiny_cnn(module__stem_stride=2, tta="flip").fit(X, y)
    path = export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(path)
    assert space_to_depth_stems(proto) == []  # strided, no max pool: not that pattern
    assert widen_thin_convs(proto) == ["/net/stem/stem.0/Conv"]
    assert widen_thin_convs(proto) == []  # idempotent: nothing thin is left
    onnx.save(proto, tmp_path / "wide.onnx")
    before = load_model(path, backend="onnx").predict_proba(X)
    after = load_model(tmp_path / "wide.onnx", backend="onnx").predict_proba(X)
    np.testing.assert_array_equal(after, before)
    int8 = onnx.load(export_onnx(model, tmp_path / "q.onnx", quantize="int8", calibration=X))
    weights = {t.name: t for t in int8.graph.initializer}
    stem = next(n for n in int8.graph.node if n.op_type == "Conv")
    pad = next(n for n in int8.graph.node if n.op_type == "Pad")
    assert pad.name == "/net/stem/stem.0/Conv_pad"
    quantized_weight = next(n for n in int8.graph.node if n.output[0] == stem.input[1]).input[0]
    assert weights[quantized_weight].dims[1] == MIN_INT8_CHANNELS


@pytest.mark.parametrize("in_chans", [1, 3])
def test_int8_pooled_stem_runs_on_pixel_blocks_exactly(tiny_faces, tmp_path, in_chans):
    """A thin 3x3 stem followed by a 2x2 max pool is rewritten on 2x2 pixel blocks
    (SpaceToDepth, 4x the filters, a max over the four groups): in float the graph
    gives the same probabilities, the int8 graph keeps it (no zero-padded channels)
    and predicts as the model does."""
    import onnx

    from skfer.models._quantize import space_to_depth_stems, widen_thin_convs

    X, y = tiny_faces
    if in_chans == 3:  # colour faces: the stem's three channels become twelve
        X = np.repeat(X[..., None], 3, axis=-1)
        X[..., 0] = X[..., 0] // 2
    model = tiny_cnn(in_chans=in_chans, tta="flip").fit(X, y)
    path = export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(path)
    stem = next(n for n in proto.graph.node if n.op_type == "Conv")
    filters = next(t for t in proto.graph.initializer if t.name == stem.input[1]).dims[0]
    assert space_to_depth_stems(proto) == ["/net/stem/stem.0/Conv"]
    assert space_to_depth_stems(proto) == []  # idempotent: the stem is 4 * in_chans wide
    assert widen_thin_convs(proto) == []
    weights = {t.name: t for t in proto.graph.initializer}
    assert list(weights[stem.input[1]].dims) == [4 * filters, 4 * in_chans, 3, 3]
    onnx.checker.check_model(proto)
    onnx.save(proto, tmp_path / "blocks.onnx")
    before = load_model(path, backend="onnx").predict_proba(X)
    after = load_model(tmp_path / "blocks.onnx", backend="onnx").predict_proba(X)
    np.testing.assert_allclose(after, before, atol=1e-5)
    int8 = export_onnx(model, tmp_path / "q.onnx", quantize="int8", calibration=X)
    ops = [n.op_type for n in onnx.load(int8).graph.node]
    assert "SpaceToDepth" in ops and "Pad" not in ops
    assert (load_model(int8, backend="onnx").predict(X) == model.predict(X)).mean() >= 0.9
