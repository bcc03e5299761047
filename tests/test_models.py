"""EmotionCNN, backbone names, pretrained weights and the safetensors format."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from conftest import tiny_cnn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skfer import _shipped
from skfer.emotions import EMOTIONS
from skfer.models import EmotionCNN, _io, _pretrained, list_backbones, load_model, resolve_backbone
from skfer.models._training import make_callbacks

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

def _atol(model) -> float:
    """Agreement expected between two routes through one model: float32 on the CPU,
    bf16 autocast on CUDA."""
    return 1e-5 if model.device_.type == "cpu" else 2e-2


def _stop_at_first_epoch():
    """A skorch callback recording the net as training starts, then stopping it."""
    from skorch.callbacks import Callback

    class StopAtFirstEpoch(Callback):
        seen: dict = {}

        def on_epoch_begin(self, net, **kwargs):
            self.seen = {
                "weight": net.criterion_.weight.detach().cpu().numpy().copy(),
                "momentum": net.optimizer_.param_groups[0].get("momentum"),
                "state": {k: v.detach().cpu().clone() for k, v in net.module_.state_dict().items()},
            }
            raise KeyboardInterrupt  # skorch's way to end training

    return StopAtFirstEpoch()


# ---------------------------------------------------------------------------- backbones


@pytest.mark.parametrize(
    "name, arch",
    [
        ("Xception", "legacy_xception"),
        ("xception", "legacy_xception"),
        ("MobileNetV2", "mobilenetv2_100"),
        ("mobilenet-v2", "mobilenetv2_100"),
        ("VGG16", "vgg16"),
        ("VGG-19", "vgg19"),
        ("ResNetV2", "resnetv2_50"),
        ("ResNet50V2", "resnetv2_50"),
        ("Inception V3", "inception_v3"),
        ("inception_v3", "inception_v3"),
        ("DenseNet", "densenet121"),
        ("resnet18", "resnet18"),
        ("ResNet-18", "resnet18"),
        ("skfer_cnn", "skfer_cnn"),
        ("SKFER-CNN-fast", "skfer_cnn_fast"),
    ],
)
def test_resolve_backbone(name, arch):
    assert resolve_backbone(name) == arch


def test_resolve_backbone_unknown_suggests():
    with pytest.raises(ValueError, match=r"Unknown backbone 'xceptoin'.*Did you mean"):
        resolve_backbone("xceptoin")


def test_list_backbones():
    table = list_backbones()
    paper = table[table.source == "paper"]
    assert paper.backbone.tolist() == [
        "MobileNetV2",
        "Xception",
        "VGG16",
        "VGG19",
        "ResNetV2",
        "InceptionV3",
        "DenseNet",
    ]
    assert {"skfer_cnn", "skfer_cnn_fast"} <= set(table.architecture)
    row = table.set_index("backbone").loc["InceptionV3"]
    assert row.input_size == (299, 299) and row.min_size == 75 and row.in_chans == 3
    row = table.set_index("backbone").loc["skfer_cnn"]
    assert row.input_size == (48, 48) and row.in_chans == 1


# ---------------------------------------------------------------------------- fit / predict


def test_fit_predict_string_labels(fitted_tiny, tiny_faces):
    X, y = tiny_faces
    assert fitted_tiny.classes_.tolist() == ["happy", "neutral", "sad"]
    pred = fitted_tiny.predict(X)
    assert set(pred) <= set(fitted_tiny.classes_)
    proba = fitted_tiny.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(pred, fitted_tiny.classes_[proba.argmax(1)])
    dec = fitted_tiny.decision_function(X)
    np.testing.assert_array_equal(dec.argmax(1), proba.argmax(1))
    assert fitted_tiny.score(X, y) == pytest.approx(np.mean(pred == y))
    assert fitted_tiny.architecture_ == "skfer_cnn" and fitted_tiny.in_chans_ == 1
    assert fitted_tiny.input_size_ == (48, 48) and fitted_tiny.n_iter_ == 2
    assert "valid_acc" in fitted_tiny.history_[-1]
    assert not fitted_tiny.module_.training


def test_int_labels_are_returned_not_indices(tiny_faces):
    X, _ = tiny_faces
    y = np.array([3, 7, 10] * 16)
    model = tiny_cnn().fit(X, y)
    assert model.classes_.tolist() == [3, 7, 10]
    assert set(model.predict(X).tolist()) <= {3, 7, 10}
    assert model.predict(X).dtype.kind == "i"


def test_binary_decision_function_follows_sklearn(tiny_faces):
    X, y = tiny_faces
    keep = y != "neutral"
    model = tiny_cnn().fit(X[keep], y[keep])
    scores = model.decision_function(X)
    assert scores.shape == (len(X),)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(scores > 0).astype(int)])


def test_emotion_codes_and_names_mix_is_rejected(tiny_faces):
    X, _ = tiny_faces
    y = np.array(["happy", 3, "sad"] * 16, dtype=object)
    with pytest.raises(ValueError, match="mixes label types"):
        tiny_cnn().fit(X, y)


def test_random_state_makes_cpu_training_repeatable(tiny_faces):
    X, y = tiny_faces
    before = torch.get_rng_state()
    a = tiny_cnn(max_epochs=2).fit(X, y).predict_proba(X)
    assert torch.equal(before, torch.get_rng_state())  # caller's RNG untouched
    b = tiny_cnn(max_epochs=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = tiny_cnn(max_epochs=2, random_state=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_colour_input_and_resizing(tiny_faces):
    X, y = tiny_faces
    rgb = np.repeat(X[..., None], 3, axis=3)
    model = tiny_cnn().fit(rgb, y)
    assert model.in_chans_ == 3 and model.mean_ == (0.5077,) * 3
    # gray faces into a colour model are replicated to 3 channels: same answer
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(rgb), atol=1e-6)
    big = np.repeat(np.repeat(rgb, 2, axis=1), 2, axis=2)  # 96x96 faces, resized to 48
    assert model.predict_proba(big).shape == (len(X), 3)
    gray_model = tiny_cnn(in_chans=1).fit(rgb, y)
    np.testing.assert_allclose(gray_model.predict_proba(rgb), gray_model.predict_proba(X))


def test_tta_averages_the_mirror(fitted_tiny, tiny_faces):
    X, _ = tiny_faces
    plain = fitted_tiny.decision_function(X)
    mirrored = fitted_tiny.decision_function(X[:, :, ::-1])
    with_tta = clone(fitted_tiny).set_params(tta=True)
    with_tta.__dict__.update({k: v for k, v in vars(fitted_tiny).items() if k.endswith("_")})
    np.testing.assert_allclose(
        with_tta.decision_function(X), (plain + mirrored) / 2, atol=_atol(fitted_tiny)
    )


def test_tta_flip_shift_averages_six_views(fitted_tiny, tiny_faces):
    X, _ = tiny_faces
    padded = np.pad(X, ((0, 0), (2, 2), (2, 2)), mode="edge")
    views = [X, X[:, :, ::-1]] + [
        padded[:, 2 + dy : 50 + dy, 2 + dx : 50 + dx]
        for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2))
    ]
    expected = np.mean(
        [fitted_tiny.decision_function(np.ascontiguousarray(v)) for v in views], axis=0
    )
    model = clone(fitted_tiny).set_params(tta="flip+shift")
    model.__dict__.update({k: v for k, v in vars(fitted_tiny).items() if k.endswith("_")})
    np.testing.assert_allclose(model.decision_function(X), expected, atol=_atol(fitted_tiny))
    with pytest.raises(InvalidParameterError, match="tta"):
        tiny_cnn(tta="shift").fit(*tiny_faces)


def test_tta_mode_survives_save_and_load(fitted_tiny, tiny_faces, tmp_path):
    model = pickle.loads(pickle.dumps(fitted_tiny)).set_params(tta="flip+shift")
    again = load_model(model.save(tmp_path / "m.safetensors"))
    assert again.tta == "flip+shift"
    np.testing.assert_allclose(
        again.decision_function(tiny_faces[0]),
        model.decision_function(tiny_faces[0]),
        atol=1e-6,
    )


def test_fast_predictor_matches_the_trained_network(fitted_tiny, tiny_faces):
    """Prediction runs a batch-norm-folded, channels-last copy; same answers, and
    rebuilt when the weights change."""
    X, _ = tiny_faces
    fast, memory_format = fitted_tiny._predictor()
    assert fast is not fitted_tiny.module_ and memory_format == torch.channels_last
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    batch = fitted_tiny.preprocess_(torch.from_numpy(X)[:, None].to(fitted_tiny.device_))
    with torch.no_grad():
        reference = torch.softmax(fitted_tiny.module_.eval()(batch).double(), 1).cpu().numpy()
    np.testing.assert_allclose(fitted_tiny.predict_proba(X), reference, atol=_atol(fitted_tiny))
    assert fitted_tiny._predictor()[0] is fast  # cached
    model = pickle.loads(pickle.dumps(fitted_tiny))
    before = model.predict_proba(X)
    with torch.no_grad():
        model.module_.head.bias.add_(torch.tensor([10.0, 0.0, 0.0], device=model.device_))
    assert (model.predict_proba(X)[:, 0] > before[:, 0]).all()


def test_input_size_options(tiny_faces):
    X, y = tiny_faces
    assert tiny_cnn(input_size=32).fit(X, y).input_size_ == (32, 32)
    assert tiny_cnn(input_size="native").fit(X, y).input_size_ == (48, 48)
    model = tiny_cnn(input_size=(40, 36)).fit(X[:, :40, :36], y)
    assert model.input_size_ == (40, 36) and model.predict(X).shape == (len(X),)


def test_verbose_logs_epochs_and_silent_otherwise(tiny_faces, capsys):
    X, y = tiny_faces
    tiny_cnn(max_epochs=2, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""
    tiny_cnn(max_epochs=2, validation=0.1).fit(X, y)  # verbose=1 by default
    out = capsys.readouterr().out
    device = "cuda" if torch.cuda.is_available() else "cpu"  # device="auto"
    assert f"training skfer_cnn on {device}" in out and "valid_acc" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 2
    assert "\x1b[" not in out  # captured output is not a terminal: no colour codes


def test_given_validation_set(tiny_faces):
    """A given (X, y) is the validation set: training keeps all 48 faces, and valid_acc
    is the fitted model's accuracy on the given 12."""
    X, y = tiny_faces
    model = tiny_cnn(validation=(X[:12], y[:12]), device="cpu").fit(X, y)
    batches = model.history_[-1, "batches"]
    assert sum(b.get("train_batch_size", 0) for b in batches) == len(X)
    assert sum(b.get("valid_batch_size", 0) for b in batches) == 12
    assert model.history_[-1, "valid_acc"] == pytest.approx(model.score(X[:12], y[:12]))
    with pytest.raises(ValueError, match=r"validation labels \['fear'\]"):
        tiny_cnn(validation=(X[:3], ["fear", "sad", "sad"])).fit(X, y)


def test_callbacks_and_nested_params_reach_skorch(tiny_faces):
    X, y = tiny_faces
    stop = _stop_at_first_epoch()
    model = tiny_cnn(
        optimizer__momentum=0.5,
        module__drop_rate=0.25,
        callbacks=[("stop", stop)],
    ).fit(X, y)
    assert stop.seen["momentum"] == 0.5
    assert model.module_.drop_rate == 0.25
    assert model.model_kwargs_ == {"widths": (4, 8, 8, 8), "drop_rate": 0.25}


def test_paper_schedule_as_skorch_callbacks():
    """lr divided by 10 after 3 epochs without validation gain; early stopping restores
    the best weights; without validation the schedule follows the training loss."""
    from skorch.callbacks import EarlyStopping, LRScheduler

    callbacks = dict(make_callbacks(EmotionCNN(), validation=True))
    scheduler, stopper = callbacks["lr_scheduler"], callbacks["early_stopping"]
    assert isinstance(scheduler, LRScheduler) and isinstance(stopper, EarlyStopping)
    assert scheduler.policy == "ReduceLROnPlateau" and scheduler.monitor == "valid_acc"
    assert (scheduler.mode, scheduler.patience, scheduler.factor) == ("max", 3, 0.1)
    assert stopper.monitor == "valid_acc" and stopper.lower_is_better is False
    assert stopper.patience == 6 and stopper.load_best is True
    callbacks = dict(make_callbacks(EmotionCNN(lr_patience=2), validation=False))
    assert set(callbacks) == {"lr_scheduler"}
    assert callbacks["lr_scheduler"].monitor == "train_loss"
    assert callbacks["lr_scheduler"].mode == "min"


def test_early_stopping_patience_is_routable(tiny_faces):
    X, y = tiny_faces
    model = tiny_cnn(max_epochs=30, validation=0.1, callbacks__early_stopping__patience=1)
    model.fit(X, y)
    assert model.n_iter_ < 30  # stopped once valid_acc missed a single epoch


def test_class_weight_dict(tiny_faces):
    X, y = tiny_faces
    stop = _stop_at_first_epoch()
    model = tiny_cnn(class_weight={"sad": 2.0}, callbacks=[stop]).fit(X, y)
    np.testing.assert_array_equal(model.class_weight_, [1.0, 1.0, 2.0])
    np.testing.assert_array_equal(stop.seen["weight"], [1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"class_weight has labels \['fear'\]"):
        tiny_cnn(class_weight={"fear": 2.0}).fit(X, y)


@pytest.mark.slow
def test_balanced_class_weights_on_fer2013_training(fer2013):
    """The paper's weights: n / (k * count) over the FER2013 Training split."""
    train = fer2013.usage == "Training"
    X, y = fer2013.images[train], fer2013.target[train]
    stop = _stop_at_first_epoch()
    model = tiny_cnn(class_weight="balanced", callbacks=[stop]).fit(X, y)
    expected = {
        "angry": 1.026,
        "disgust": 9.407,
        "fear": 1.001,
        "happy": 0.568,
        "sad": 0.849,
        "surprise": 1.293,
        "neutral": 0.826,
    }
    assert sorted(model.classes_) == sorted(EMOTIONS)
    got = dict(zip(model.classes_.tolist(), model.class_weight_.tolist()))
    for emotion, weight in expected.items():  # the paper truncates to 3 decimals
        assert abs(got[emotion] - weight) < 1e-3, (emotion, got[emotion])
    np.testing.assert_allclose(stop.seen["weight"], model.class_weight_, rtol=1e-6)


# ---------------------------------------------------------------------------- sklearn API


def test_clone_and_params_round_trip():
    model = EmotionCNN("xception", lr=0.01, optimizer__weight_decay=1e-4, module__drop_rate=0.2)
    params = model.get_params()
    assert params["optimizer__weight_decay"] == 1e-4 and params["module__drop_rate"] == 0.2
    assert "augment" in params and params["backbone"] == "xception"
    cloned = clone(model)
    assert cloned.get_params() == params
    cloned.set_params(optimizer__weight_decay=0.0, module__drop_rate=0.5, lr=0.5)
    assert cloned.optimizer__weight_decay == 0.0 and cloned.lr == 0.5
    assert model.optimizer__weight_decay == 1e-4  # the original is untouched
    assert "optimizer__weight_decay=0.0" in repr(cloned)
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(nonsense=1)


def test_augmenter_params_are_nested():
    from skfer.augment import Augmenter

    model = EmotionCNN(augment=Augmenter(shift=0.2))
    assert model.get_params()["augment__shift"] == 0.2
    model.set_params(augment__shift=0.05)
    assert model.augment.shift == 0.05
    assert clone(model).augment is not model.augment


@pytest.mark.slow
def test_grid_search_over_backbones_and_lr(tiny_faces):
    X, y = tiny_faces
    search = GridSearchCV(
        EmotionCNN(max_epochs=1, batch_size=16, validation=None, random_state=0),
        {"backbone": ["skfer_cnn_fast", "resnet18"], "lr": [0.01, 0.1]},
        cv=2,
        error_score="raise",
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.architecture_ in {"skfer_cnn_fast", "resnet18"}
    assert set(search.predict(X)) <= set(y)


def test_grid_search_over_nested_params(tiny_faces):
    X, y = tiny_faces
    search = GridSearchCV(
        tiny_cnn(),
        {"module__drop_rate": [0.0, 0.5], "optimizer__momentum": [0.0, 0.9]},
        cv=2,
        error_score="raise",
    )
    search.fit(X, y)
    assert search.best_estimator_.module_.drop_rate in (0.0, 0.5)


# sklearn's API checks (check_param_validation included) run on EmotionCNN in
# tests/test_common.py::test_api_check, with the table of those that cannot apply.


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.zeros((10, 48, 48), np.uint8), ["a", "b"] * 4, "X has 10 images but y has 8"),
        (np.zeros((10, 48, 48), np.uint8), ["a"] * 10, "single class"),
        (np.zeros((10, 2304), np.uint8), ["a", "b"] * 5, r"shape \(n, H, W\)"),
        (np.full((10, 48, 48), np.nan), ["a", "b"] * 5, r"NaN"),
        (np.zeros((10, 48, 48), np.uint8), np.linspace(0, 1, 10), "continuous"),
    ],
)
def test_bad_input_is_named(X, y, match):
    with pytest.raises(ValueError, match=match):
        tiny_cnn().fit(X, y)


def test_bad_params(tiny_faces):
    X, y = tiny_faces
    with pytest.raises(InvalidParameterError, match="lr"):
        tiny_cnn(lr=-1).fit(X, y)
    with pytest.raises(ValueError, match="unexpected parameter 'nonsense__x'"):
        tiny_cnn(nonsense__x=1).fit(X, y)
    with pytest.raises(ValueError, match="does not accept the module options"):
        tiny_cnn(backbone="resnet18", module__widths=(2, 2)).fit(X, y)
    with pytest.raises(ValueError, match="at least 75x75"):
        tiny_cnn(backbone="InceptionV3", input_size=48).fit(X, y)
    with pytest.raises(ValueError, match="CUDA is not available"):
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        tiny_cnn(device="cuda").fit(X, y)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        EmotionCNN().predict(np.zeros((1, 48, 48), np.uint8))


def test_predict_bad_input_is_named(fitted_tiny):
    with pytest.raises(ValueError, match=r"X\[1\]"):
        fitted_tiny.predict([np.zeros((48, 48)), np.full((48, 48), np.inf)])


# ---------------------------------------------------------------------------- persistence


def test_pickle_round_trip(fitted_tiny, tiny_faces):
    X, _ = tiny_faces
    again = pickle.loads(pickle.dumps(fitted_tiny))
    np.testing.assert_array_equal(again.predict_proba(X), fitted_tiny.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), fitted_tiny.predict(X))
    assert again.history_[-1, "epoch"] == fitted_tiny.history_[-1, "epoch"]
    assert pickle.loads(pickle.dumps(EmotionCNN(lr=0.3))).lr == 0.3


def test_model_fitted_on_gpu_unpickles_on_cpu(fitted_tiny, tiny_faces):
    if torch.cuda.is_available():
        pytest.skip("needs a CPU-only machine")
    X, _ = tiny_faces
    state = fitted_tiny.__getstate__()
    state["device_"] = torch.device("cuda", 0)  # as pickled on a GPU machine
    blob = pickle.dumps(state)
    again = EmotionCNN.__new__(EmotionCNN)
    with pytest.warns(UserWarning, match="fitted on CUDA"):
        again.__setstate__(pickle.loads(blob))
    assert again.device_.type == "cpu"
    np.testing.assert_array_equal(again.predict_proba(X), fitted_tiny.predict_proba(X))


def test_safetensors_round_trip(fitted_tiny, tiny_faces, tmp_path):
    from safetensors import safe_open

    X, _ = tiny_faces
    path = fitted_tiny.save(tmp_path / "model.safetensors", metrics={"acc": 0.5})
    with safe_open(str(path), framework="pt") as fh:
        config = json.loads(fh.metadata()["skfer"])
        keys = set(fh.keys())
    assert keys == set(fitted_tiny.module_.state_dict())
    assert config["format_version"] == 1
    assert config["architecture"] == "skfer_cnn" and config["backbone"] == "skfer_cnn"
    assert config["classes"] == ["happy", "neutral", "sad"] and config["classes_kind"] == "str"
    assert config["num_classes"] == 3 and config["in_chans"] == 1
    assert config["input_size"] == [48, 48]
    assert config["mean"] == [0.5077] and config["std"] == [0.255]
    assert config["model_kwargs"] == {"widths": [4, 8, 8, 8]}
    assert config["metrics"] == {"acc": 0.5} and config["tta"] is False
    assert "skfer_version" in config
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_tiny.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), fitted_tiny.predict(X))
    assert loaded.classes_.tolist() == fitted_tiny.classes_.tolist()
    assert loaded.metrics_ == {"acc": 0.5}
    # the loaded model is an ordinary estimator: it clones, pickles and refits
    assert clone(loaded).get_params()["module__widths"] == [4, 8, 8, 8]
    again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.predict(X), fitted_tiny.predict(X))
    assert load_model(path).classes_.tolist() == ["happy", "neutral", "sad"]


def test_safetensors_int_labels_and_tta(tiny_faces, tmp_path):
    X, _ = tiny_faces
    model = tiny_cnn(tta=True).fit(X, np.array([0, 4, 6] * 16))
    loaded = load_model(model.save(tmp_path / "m.safetensors"))
    assert loaded.classes_.tolist() == [0, 4, 6] and loaded.classes_.dtype.kind == "i"
    assert loaded.tta is True
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_save_rejects_float_labels(tiny_faces, tmp_path):
    X, _ = tiny_faces
    model = tiny_cnn().fit(X, np.array([0.0, 1.0, 2.0] * 16))
    with pytest.raises(ValueError, match="str or int labels"):
        model.save(tmp_path / "m.safetensors")


def test_load_errors(fitted_tiny, tmp_path):
    from safetensors.torch import save_file

    path = fitted_tiny.save(tmp_path / "model.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(truncated)
    with pytest.raises(FileNotFoundError, match="no shipped model"):
        load_model(tmp_path / "absent.safetensors")
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="no skfer metadata"):
        load_model(plain)
    # a header claiming another architecture
    state, config = _io.read_weights(path)
    _io.write_weights(
        tmp_path / "wrong.safetensors",
        state,
        {**config, "architecture": "resnet18", "model_kwargs": {}},
    )
    with pytest.raises(ValueError, match="do not fit architecture 'resnet18'"):
        load_model(tmp_path / "wrong.safetensors")
    _io.write_weights(tmp_path / "new.safetensors", state, {**config, "format_version": 2})
    with pytest.raises(ValueError, match="format 2"):
        load_model(tmp_path / "new.safetensors")


def test_shipped_names_resolve(fitted_tiny, tiny_faces, tmp_path, monkeypatch):
    X, _ = tiny_faces
    fitted_tiny.save(tmp_path / "tiny.safetensors")
    monkeypatch.setattr(_shipped, "WEIGHTS_DIR", tmp_path)
    assert _io.shipped_models() == ["tiny"]
    np.testing.assert_array_equal(load_model("tiny").predict(X), fitted_tiny.predict(X))
    with pytest.raises(FileNotFoundError, match="shipped: tiny"):
        load_model("fer2099")


# ---------------------------------------------------------------------------- pretrained


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Point the Hugging Face and torch-hub caches at empty folders."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch_hub"))
    return tmp_path


def test_pretrained_true_offline_fails_fast_with_instructions(
    tiny_faces, empty_caches, monkeypatch
):
    X, y = tiny_faces
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("probed the network although HF_HUB_OFFLINE is set")

    monkeypatch.setattr(_pretrained, "_reachable", no_network)
    with pytest.raises(RuntimeError, match=r"No pretrained weights for 'resnet18'.*pretrained="):
        tiny_cnn(backbone="resnet18", pretrained=True).fit(X, y)


def test_pretrained_true_unreachable_hub_fails(tiny_faces, empty_caches, monkeypatch):
    X, y = tiny_faces
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    probed = []
    monkeypatch.setattr(_pretrained, "_reachable", lambda host: probed.append(host) or False)
    with pytest.raises(RuntimeError, match="unreachable"):
        tiny_cnn(backbone="resnet18", pretrained=True).fit(X, y)
    assert "huggingface.co" in probed


def test_pretrained_true_reads_the_hf_cache(tiny_faces, empty_caches, monkeypatch):
    """Weights in the Hugging Face cache layout are used, head re-initialised."""
    from safetensors.torch import save_file

    X, y = tiny_faces
    source = timm.create_model("resnet18", pretrained=False)
    snapshot = empty_caches / "hf" / "models--timm--resnet18.a1_in1k" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    save_file(source.state_dict(), str(snapshot / "model.safetensors"))
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc")
    monkeypatch.setattr(_pretrained, "_reachable", lambda host: pytest.fail("network probed"))
    stop = _stop_at_first_epoch()
    model = tiny_cnn(backbone="resnet18", pretrained=True, callbacks=[stop])
    model.fit(X, y)
    state = stop.seen["state"]
    torch.testing.assert_close(state["layer1.0.conv1.weight"], source.layer1[0].conv1.weight)
    # gray input: timm sums the RGB filters of the first convolution
    torch.testing.assert_close(state["conv1.weight"], source.conv1.weight.sum(1, keepdim=True))
    assert state["fc.weight"].shape == (3, 512)


def test_pretrained_true_reads_the_torch_hub_cache(tiny_faces, empty_caches, monkeypatch):
    """Weights timm would download from a URL are found in torch hub's checkpoints."""
    X, y = tiny_faces
    source = timm.create_model("mobilenetv2_100", pretrained=False)
    url = timm.get_pretrained_cfg("mobilenetv2_100").url
    target = empty_caches / "torch_hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.save(source.state_dict(), target)
    monkeypatch.setattr(_pretrained, "_reachable", lambda host: pytest.fail("network probed"))
    stop = _stop_at_first_epoch()
    rgb = np.repeat(X[..., None], 3, axis=3)
    model = tiny_cnn(backbone="MobileNetV2", pretrained=True, callbacks=[stop])
    model.fit(rgb, y)
    torch.testing.assert_close(stop.seen["state"]["conv_stem.weight"], source.conv_stem.weight)
    assert stop.seen["state"]["classifier.weight"].shape == (3, 1280)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_pretrained_path(tiny_faces, tmp_path, suffix):
    from safetensors.torch import save_file

    X, y = tiny_faces
    source = timm.create_model("resnet18", pretrained=False, num_classes=1000)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pth":
        torch.save({"state_dict": source.state_dict()}, path)
    else:
        save_file(source.state_dict(), str(path))
    stop = _stop_at_first_epoch()
    rgb = np.repeat(X[..., None], 3, axis=3)
    tiny_cnn(backbone="resnet18", pretrained=path, callbacks=[stop]).fit(rgb, y)
    state = stop.seen["state"]
    torch.testing.assert_close(state["conv1.weight"], source.conv1.weight)
    torch.testing.assert_close(state["layer4.1.bn2.running_var"], source.layer4[1].bn2.running_var)
    assert state["fc.weight"].shape == (3, 512)


def test_pretrained_path_errors(tiny_faces, fitted_tiny, tmp_path):
    X, y = tiny_faces
    with pytest.raises(FileNotFoundError, match="not found"):
        tiny_cnn(pretrained=tmp_path / "nope.safetensors").fit(X, y)
    path = fitted_tiny.save(tmp_path / "compact.safetensors")
    with pytest.raises(ValueError, match="network but backbone='resnet18'"):
        tiny_cnn(backbone="resnet18", module__widths=None, pretrained=path).fit(X, y)
    # an skfer model is a valid starting point for the same architecture
    tiny_cnn(pretrained=str(path)).fit(X, np.array(["a", "b", "c", "d"] * 12))


# ---------------------------------------------------------------------------- bigger backbones


@pytest.mark.slow
def test_inception_v3_upsamples_small_faces(tiny_faces):
    X, y = tiny_faces
    model = EmotionCNN("InceptionV3", max_epochs=1, batch_size=24, validation=None).fit(
        X[:24], y[:24]
    )
    assert model.input_size_ == (75, 75) and model.architecture_ == "inception_v3"
    assert model.predict(X[:3]).shape == (3,)


@pytest.mark.slow
def test_pipeline_face_cropper_xception(sfew_dir):
    """Real SFEW faces through FaceCropper into Xception (tiny budget)."""
    from skfer._images import read_image
    from skfer.faces import FaceCropper
    from skfer.pipeline import make_pipeline

    paths, y = [], []
    for folder in ("Happy", "Sad", "Surprise"):
        files = sorted((sfew_dir / folder).glob("*.png"))[:6]
        paths += files
        y += [folder.lower()] * len(files)
    X = [read_image(p) for p in paths]
    pipe = make_pipeline(
        FaceCropper(detector="haar"),  # the fast detector keeps the test lean
        EmotionCNN("xception", max_epochs=1, batch_size=9, validation=None, random_state=0),
    )
    pipe.fit(X, y)
    model = pipe[-1]
    assert model.architecture_ == "legacy_xception" and model.input_size_ == (48, 48)
    pred = pipe.predict(X)
    assert pred.shape == (len(y),) and set(pred) <= set(y)


def test_strided_stem_network_and_file(tiny_faces, tmp_path):
    """stem_stride=2: a 4x4 stride-2 stem in place of the 3x3 stem and the first max
    pool, so every later layer has the same name, shape and feature-map size; the file
    records it and rebuilds the same network."""
    import torch

    from skfer.models._compact import CompactFaceNet

    plain, strided = CompactFaceNet(), CompactFaceNet(stem_stride=2)
    a, b = plain.state_dict(), strided.state_dict()
    assert a.keys() == b.keys()
    assert [k for k in a if a[k].shape != b[k].shape] == ["stem.0.weight"]
    assert tuple(b["stem.0.weight"].shape) == (24, 1, 4, 4)
    x = torch.zeros(2, 1, 48, 48)
    assert strided.stem(x).shape == (2, 24, 24, 24)
    assert strided.forward_features(x).shape == plain.forward_features(x).shape
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in strided.features[:1])
    with pytest.raises(ValueError, match="stem_stride must be 1 or 2"):
        CompactFaceNet(stem_stride=3)

    X, y = tiny_faces
    model = tiny_cnn(module__stem_stride=2).fit(X, y)
    assert model.model_kwargs_ == {"widths": (4, 8, 8, 8), "stem_stride": 2}
    path = model.save(tmp_path / "strided.safetensors")
    loaded = load_model(path)
    assert loaded.module_.stem_stride == 2
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
