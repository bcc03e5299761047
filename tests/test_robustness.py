"""The bad-input catalogue (docs/robustness.md): one test per row.

Each kind of bad input gets either a documented conversion or an exception whose
message names the problem and the offending item (path, ``X[i]``, file line).
"""

import re

import numpy as np
import pytest
from conftest import tiny_cnn

from skfer import (
    EmotionLabelMapper,
    FaceCropper,
    check_image,
    check_images,
    load_fer2013,
    load_model,
    read_image,
)


def _png(path, image):
    import cv2

    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (16, 48, 48), dtype=np.uint8)
    y = np.array(["happy", "sad"] * 8)
    return X, y


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, fitted_tiny):
    return fitted_tiny.save(tmp_path_factory.mktemp("model") / "model.safetensors")


# ---------------------------------------------------------------- image files


def test_truncated_image_file(tmp_path):
    path = _png(tmp_path / "face.png", np.full((64, 64, 3), 128, np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"Cannot decode image file .*face\.png"):
        read_image(path)


def test_non_image_file_with_image_extension(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a JPEG")
    with pytest.raises(ValueError, match=r"Cannot decode image file .*notes\.jpg"):
        read_image(path)
    # in a collection the same error names the path
    with pytest.raises(ValueError, match=r"notes\.jpg"):
        check_images([np.zeros((4, 4), np.uint8), str(path)])


def test_zero_size_image(tmp_path):
    with pytest.raises(ValueError, match=r"X\[1\]: zero-size image of shape \(0, 5\)"):
        check_images([np.zeros((4, 4), np.uint8), np.zeros((0, 5), np.uint8)])
    empty_file = tmp_path / "empty.png"
    empty_file.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.png.*0 bytes"):
        read_image(empty_file)


# ---------------------------------------------------------------- channels and depth


@pytest.mark.parametrize(
    ("image", "expected_shape", "expected_first"),
    [
        (np.full((3, 4), 7, np.uint8), (3, 4), 7),  # grayscale: kept
        (np.full((3, 4, 1), 7, np.uint8), (3, 4), 7),  # single channel: squeezed
        (np.full((3, 4, 3), 7, np.uint8), (3, 4, 3), 7),  # RGB: kept
        (np.full((3, 4, 4), 7, np.uint8), (3, 4, 3), 7),  # RGBA: alpha dropped
        (np.full((3, 4, 2), 7, np.uint8), (3, 4), 7),  # gray + alpha: gray kept
        (np.full((3, 4), 0x1234, np.uint16), (3, 4), 0x12),  # 16-bit: v >> 8
        (np.ones((3, 4), bool), (3, 4), 255),  # bool: True -> 255
    ],
    ids=["gray", "gray1", "rgb", "rgba", "gray_alpha", "uint16", "bool"],
)
def test_channels_and_bit_depth(image, expected_shape, expected_first):
    out = check_image(image)
    assert out.dtype == np.uint8
    assert out.shape == expected_shape
    assert out.flat[0] == expected_first


def test_16bit_and_rgba_files(tmp_path):
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 2] = 200  # red in OpenCV's BGRA order
    rgba[..., 3] = 10
    out = read_image(_png(tmp_path / "rgba.png", rgba))
    assert out.shape == (5, 6, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [200, 0, 0]  # RGB, alpha dropped
    deep = np.full((5, 6), 65535, np.uint16)
    out = read_image(_png(tmp_path / "deep.png", deep), grayscale=True)
    assert out.dtype == np.uint8 and out.max() == 255


def test_unsupported_channel_count():
    with pytest.raises(ValueError, match=r"X\[0\]: expected an image of shape .*\(3, 4, 5\)"):
        check_images([np.zeros((3, 4, 5), np.uint8)])


# ---------------------------------------------------------------- float and non-finite pixels


@pytest.mark.parametrize(
    ("value", "expected"), [(0.5, 128), (1.0, 255), (2.0, 2), (200.4, 200), (255.0, 255)]
)
def test_float_unit_range_vs_byte_range(value, expected):
    """Floats in [0, 1] are scaled by 255; larger values are read as [0, 255]."""
    out = check_image(np.full((2, 2), value, np.float32))
    assert out.dtype == np.uint8
    assert out[0, 0] == expected


def test_float_out_of_range():
    with pytest.raises(
        ValueError, match=r"X\[0\]: float pixels must lie in \[0, 1\] or \[0, 255\]"
    ):
        check_images([np.full((2, 2), -0.5)])
    with pytest.raises(ValueError, match=r"X\[0\]: integer pixels must lie in \[0, 255\]"):
        check_images([np.full((2, 2), 300, np.int32)])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_pixels(bad):
    images = np.zeros((3, 4, 4), np.float32)
    images[2, 1, 1] = bad
    with pytest.raises(ValueError, match=r"X\[2\]: image contains NaN or infinite"):
        check_images(images)


# ---------------------------------------------------------------- X and y


def test_empty_X(faces):
    with pytest.raises(ValueError, match="empty collection"):
        check_images([])
    with pytest.raises(ValueError, match="empty collection|0 samples|at least one"):
        tiny_cnn().fit([], [])
    with pytest.raises(ValueError, match="empty collection"):
        FaceCropper(detector="haar").transform([])


def test_X_y_length_mismatch(faces):
    X, y = faces
    with pytest.raises(ValueError, match=r"X has 16 images but y has 15 labels"):
        tiny_cnn().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"X has 16 samples but y has 15 labels"):
        EmotionLabelMapper().fit_resample(X, y[:-1])


def test_single_class_y(faces):
    X, _ = faces
    with pytest.raises(ValueError, match=r"y has a single class \('happy'\)"):
        tiny_cnn().fit(X, np.array(["happy"] * len(X)))


def test_labels_outside_vocabulary(faces):
    X, y = faces
    y = y.copy().astype(object)
    y[5] = "bogus"
    with pytest.raises(ValueError, match=r"y\[5\]: Unknown emotion label 'bogus'"):
        EmotionLabelMapper().fit_resample(X, y)


def test_mixed_size_images(faces):
    X, y = faces
    mixed = [np.zeros((48, 48), np.uint8)] * 8 + [np.zeros((60, 50), np.uint8)] * 8
    with pytest.raises(ValueError, match=r"different shapes .*\(48, 48\).*\(60, 50\)"):
        tiny_cnn().fit(mixed, y)
    crops = FaceCropper(detector="haar", size=32).fit_transform(mixed[7:9])
    assert crops.shape[:3] == (2, 32, 32) and crops.dtype == np.uint8


# ---------------------------------------------------------------- datasets and video


def test_malformed_fer2013_row(tmp_path):
    good = " ".join(["0"] * 2304)
    path = tmp_path / "fer2013.csv"
    path.write_text(
        f"emotion,pixels,Usage\n0,{good},Training\n3,1 2 3,Training\n", encoding="ascii"
    )
    with pytest.raises(ValueError, match=r"fer2013\.csv' line 3: 3 pixel values, expected 2304"):
        load_fer2013(path, cache=False)
    path.write_text(f"emotion,pixels,Usage\n9,{good},Training\n", encoding="ascii")
    with pytest.raises(ValueError, match=r"line 2: emotion code '9'"):
        load_fer2013(path, cache=False)


def test_video_cannot_be_opened(tmp_path):
    from skfer.video._frames import open_video

    path = tmp_path / "film.mp4"
    path.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(ValueError, match=r"Cannot open video .*film\.mp4"):
        open_video(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.mp4"):
        open_video(tmp_path / "missing.mp4")


def test_frame_without_faces():
    blank = np.zeros((2, 80, 80), np.uint8)
    cropper = FaceCropper(detector="haar", size=32)
    crops = cropper.fit_transform(blank)  # on_missing="full": documented fallback
    assert crops.shape[:3] == (2, 32, 32)
    assert cropper.fallback_.tolist() == [True, True]
    with pytest.raises(ValueError, match=r"X\[0\]"):
        FaceCropper(detector="haar", on_missing="raise").fit_transform(blank)


# ---------------------------------------------------------------- model files


def test_model_from_different_architecture(tmp_path, saved_model):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(saved_model), framework="pt") as fh:
        metadata = fh.metadata()
        state = {k: fh.get_tensor(k) for k in fh.keys()}
    config = json.loads(metadata["skfer"])
    config["architecture"] = "skfer_cnn_fast"  # tensors are skfer_cnn's
    del config["checksum"]  # a file without one (the checksum is optional)
    metadata["skfer"] = json.dumps(config)
    other = tmp_path / "other.safetensors"
    save_file(state, str(other), metadata=metadata)
    with pytest.raises(ValueError, match=r"skfer_cnn_fast.*(missing|unexpected|shape mismatch)"):
        load_model(other, device="cpu")


def test_truncated_weights_file(tmp_path, saved_model):
    data = saved_model.read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.safetensors' is not a readable safetensors"):
        load_model(path, device="cpu")


def test_pickle_file_is_refused(tmp_path, faces):
    """Loading never unpickles: a torch pickle is rejected, its code never runs."""
    import torch

    path = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=re.escape(repr(str(path))) + " is not a readable"):
        load_model(path, device="cpu")


# ---------------------------------------------------------------- untrusted weights files


def _weights_file(path, saved_model, *, state=None, **changes):
    """A weights file: ``saved_model``'s tensors (or ``state``) and config with
    ``changes``, written by ``write_weights`` (so with a valid checksum)."""
    from skfer.models import _io

    tensors, config = _io.read_weights(saved_model)
    return _io.write_weights(path, tensors if state is None else state, {**config, **changes})


@pytest.fixture
def no_real_build(monkeypatch):
    """Fail the test if a network is built for real (off the meta device) or torch.load
    is called."""
    import torch

    from skfer.models import _torch

    def refuse(*args, **kwargs):
        raise AssertionError("a network was built for real / torch.load was called")

    monkeypatch.setattr(_torch, "create_backbone", refuse)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"checkpoint_path": "/etc/passwd"},
        {"pretrained_cfg_overlay": {"file": "/etc/passwd"}},
        {"pretrained": True},
        {"drop_rate": 0.3, "cache_dir": "/tmp"},
    ],
)
def test_weights_kwargs_that_name_files_are_refused(tmp_path, saved_model, no_real_build, kwargs):
    """model_kwargs are whitelisted per architecture: nothing reaches timm's file or hub
    options; refused before anything is built or loaded."""
    path = _weights_file(tmp_path / "evil.safetensors", saved_model, model_kwargs=kwargs)
    bad = sorted(k for k in kwargs if k != "drop_rate")
    with pytest.raises(ValueError, match=re.escape(f"model_kwargs {bad} are not accepted")):
        load_model(path, device="cpu")


def test_weights_architecture_whitelist(tmp_path, saved_model, no_real_build):
    """An architecture outside skfer's list is refused by name; allowed explicitly, the
    tensors must still fit it, checked on the meta device (a 1-tensor file cannot make
    skfer build a billion-parameter network)."""
    import torch

    from skfer.models import _io

    tiny = {"w": torch.zeros(1)}
    path = _weights_file(
        tmp_path / "vit.safetensors",
        saved_model,
        state=tiny,
        architecture="vit_giant_patch14_224",
        model_kwargs={},
    )
    assert path.stat().st_size < 1024
    with pytest.raises(ValueError, match=r"'vit_giant_patch14_224'.*allow_architectures"):
        load_model(path, device="cpu")
    with pytest.raises(ValueError, match=r"do not fit architecture 'vit_giant_patch14_224'"):
        load_model(path, device="cpu", allow_architectures=["vit_giant_patch14_224"])
    assert "skfer_cnn" in _io.ARCHITECTURES and "legacy_xception" in _io.ARCHITECTURES


def test_compact_architectures_list_is_complete():
    import timm

    from skfer.models import _compact, _io  # noqa: F401

    assert sorted(_io.COMPACT_ARCHITECTURES) == sorted(timm.list_models("skfer_*"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"model_kwargs": {"widths": [10**6] * 4}},
            r"widths entries must be integers in \[1, 1024\]",
        ),
        ({"model_kwargs": {"widths": [8] * 20, "depths": [1] * 20}}, r"widths has 20 stages"),
        (
            {"model_kwargs": {"depths": [100, 1, 1, 1]}},
            r"depths entries must be integers in \[1, 8\]",
        ),
        ({"model_kwargs": {"drop_rate": float("nan")}}, r"drop_rate must be in \[0, 1\)"),
        ({"model_kwargs": {"stem_stride": 4}}, r"stem_stride must be 1 or 2, got 4"),
        ({"input_size": [100000, 100000]}, r"input_size entries must be integers in \[1, 1024\]"),
        ({"num_classes": 10**9}, r"num_classes must be an integer in \[2, 1000\]"),
        ({"in_chans": 64}, r"in_chans must be 1 or 3"),
        ({"std": [0.0]}, r"std must be 1 finite number\(s\) > 0"),
        ({"classes": ["happy", "happy", "sad"]}, r"classes must be 3 distinct str labels"),
        ({"framing": {"size": 10**6}}, r"framing size must be an integer in \[8, 1024\]"),
        ({"framing": {"n_jobs": 10**6}}, r"framing n_jobs"),
    ],
)
def test_weights_config_out_of_bounds(tmp_path, saved_model, no_real_build, changes, message):
    """Sizes and types of the config are bounded before anything is built."""
    path = _weights_file(tmp_path / "big.safetensors", saved_model, **changes)
    with pytest.raises(ValueError, match=message):
        load_model(path, device="cpu")


def test_tiny_file_cannot_allocate_a_huge_compact_net(tmp_path, saved_model, no_real_build):
    """widths and depths at their bounds (about 600 M parameters) in a < 1 KB file: the
    tensors do not fit, refused on the meta device with no memory allocated."""
    import torch

    path = _weights_file(
        tmp_path / "huge.safetensors",
        saved_model,
        state={"w": torch.zeros(1)},
        model_kwargs={"widths": [1024] * 8, "depths": [8] * 8},
    )
    assert path.stat().st_size < 1024
    with pytest.raises(ValueError, match=r"do not fit architecture 'skfer_cnn'"):
        load_model(path, device="cpu")


def test_nan_weights_are_refused(tmp_path, saved_model):
    import torch

    from skfer.models import _io

    state, _ = _io.read_weights(saved_model)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[key] = state[key].clone()
    state[key].view(-1)[1] = float("nan")
    path = _weights_file(tmp_path / "nan.safetensors", saved_model, state=state)
    with pytest.raises(ValueError, match=re.escape(f"tensor {key!r} holds 1 NaN or infinite")):
        load_model(path, device="cpu")
    state[key].view(-1)[1] = float("inf")
    path = _weights_file(tmp_path / "inf.safetensors", saved_model, state=state)
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_model(path, device="cpu")
    assert torch.isfinite(_io.read_weights(saved_model)[0][key]).all()


def test_flipped_byte_fails_the_checksum(tmp_path, saved_model):
    data = bytearray(saved_model.read_bytes())
    data[-5] ^= 0x10  # in the last tensor's bytes: still a valid safetensors file
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="flipped.safetensors': checksum mismatch"):
        load_model(path, device="cpu")


def test_stamp_checksum_adds_one_in_place(tmp_path, saved_model, faces):
    """A file without a checksum (older skfer) loads; stamp_checksum adds one, in place,
    and the model predicts exactly as before."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from skfer.models import _io

    with safe_open(str(saved_model), framework="pt") as fh:
        metadata, state = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    config = json.loads(metadata["skfer"])
    del config["checksum"]
    path = tmp_path / "old.safetensors"
    save_file(state, str(path), metadata={"skfer": json.dumps(config)})
    X, _ = faces
    before = load_model(path, device="cpu").predict_proba(X)
    _io.stamp_checksum(path)
    stamped = _io.read_weights(path)[1]
    assert stamped["checksum"].startswith("sha256:")
    assert {k: v for k, v in stamped.items() if k != "checksum"} == config
    np.testing.assert_array_equal(load_model(path, device="cpu").predict_proba(X), before)
    assert [p.name for p in tmp_path.iterdir()] == ["old.safetensors"]


def test_shipped_weights_carry_a_checksum():
    from skfer.models import _io

    for name in _io.shipped_models():
        config = _io.read_weights(name)[1]  # verified when present
        assert str(config.get("checksum", "")).startswith("sha256:"), name


def test_shipped_name_beats_a_local_file(tmp_path, monkeypatch):
    """A file named like a shipped model in the working directory does not replace it;
    a path that looks like one loads the file."""
    from skfer import load_model
    from skfer.models import _io

    monkeypatch.chdir(tmp_path)
    (tmp_path / "fer2013").write_bytes(b"not a model")
    shipped = load_model("fer2013")
    assert shipped.metrics_ == _io.read_weights(_io.WEIGHTS_DIR / "fer2013.safetensors")[1][
        "metrics"
    ]
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_model("./fer2013")
