"""Fine-tuning from a fitted skfer model, frozen layers, per-domain adaptation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_cnn

from skfer import Augmenter, load_model
from skfer.models._adapt import adapt_batchnorm


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8)
    y = np.array(["Happiness", "sad", "neutral", "contempt"] * 12)
    return X, y


def test_warm_start_keeps_the_rows_of_shared_labels(faces):
    X, y = faces
    source = load_model("fer2013")
    model = tiny_cnn(pretrained="fer2013", lr=1e-12).fit(X, y)  # learning nothing: the start
    assert model.model_kwargs_ == source.model_kwargs_
    assert model.input_size_ == source.input_size_ and model.in_chans_ == 1
    rows = {c: i for i, c in enumerate(source.classes_)}
    head, src_head = model.module_.head.weight, source.module_.head.weight.float()
    for j, label in enumerate(model.classes_):
        key = {"Happiness": "happy"}.get(label, label)
        if key in rows:
            assert torch.allclose(head[j], src_head[rows[key]], atol=1e-6), label
        else:
            assert label == "contempt"
            assert not any(torch.allclose(head[j], r, atol=1e-3) for r in src_head)
    stem = model.module_.stem[0].weight
    assert torch.allclose(stem, source.module_.stem[0].weight.float(), atol=1e-6)


def test_freeze_keeps_the_first_convolutions_and_their_statistics(faces):
    X, y = faces
    source = load_model("fer2013").module_.state_dict()
    model = tiny_cnn(pretrained="fer2013", freeze=2, lr=0.05, max_epochs=2).fit(X, y)
    state = model.module_.state_dict()
    convs = [k for k, v in state.items() if k.endswith("weight") and v.ndim == 4]
    for key in ("stem.0.weight", "stem.1.weight", "stem.1.running_mean", convs[1]):
        assert torch.equal(state[key].float(), source[key].float()), key
    assert not torch.equal(state[convs[2]].float(), source[convs[2]].float())
    assert all(p.requires_grad for p in model.module_.parameters())  # unfrozen after fit


def test_freeze_backbone_trains_only_the_classifier(faces):
    X, y = faces
    source = load_model("fer2013").module_.state_dict()
    model = tiny_cnn(pretrained="fer2013", freeze="backbone", lr=0.05).fit(X, y)
    state = model.module_.state_dict()
    changed = [
        k
        for k in state
        if not k.startswith("head.")
        and k in source
        and not torch.equal(state[k].float(), source[k].float())
    ]
    assert changed == []


def test_warm_start_errors_name_the_problem(faces):
    X, y = faces
    with pytest.raises(ValueError, match="skfer_cnn_fast"):
        tiny_cnn(pretrained="fer2013-fast").fit(X, y)
    with pytest.raises(ValueError, match="input channel"):
        tiny_cnn(pretrained="fer2013", in_chans=3).fit(X, y)
    with pytest.raises(FileNotFoundError, match="shipped"):
        tiny_cnn(pretrained="no-such-model").fit(X, y)
    with pytest.raises(ValueError, match="only"):
        tiny_cnn(pretrained="fer2013", freeze=99).fit(X, y)


def test_adapt_batchnorm_uses_the_target_statistics_and_leaves_the_model():
    # seeded: an unseeded 1x1 conv draws a near-zero weight now and then (one run in a few
    # hundred), whose channel's variance then sits under batch norm's eps
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2)).eval()
        target = torch.randn(64, 1, 4, 4) * 3 + 5
    before = {k: v.clone() for k, v in net.state_dict().items()}
    adapted = adapt_batchnorm(net, [target[:32], target[32:]])
    with torch.no_grad():
        out = adapted(target)
    assert out.mean().abs() < 0.1 and (out.std() - 1).abs() < 0.1
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert adapt_batchnorm(net, [target[:4]]) is net  # too few faces: unadapted


def test_adapt_parameter_changes_predictions_per_call_only(faces):
    X, _ = faces
    model = load_model("fer2013").set_params(tta=False)
    plain = model.predict_proba(X)
    dark = (X // 3).astype(np.uint8)
    model.set_params(adapt="batchnorm")
    adapted = model.predict_proba(dark)
    assert not np.allclose(adapted, model.set_params(adapt=None).predict_proba(dark))
    np.testing.assert_allclose(model.predict_proba(X), plain)  # the model itself unchanged
    few = model.set_params(adapt="batchnorm").predict_proba(X[:5])  # < 16 faces: unadapted
    np.testing.assert_allclose(few, plain[:5], atol=1e-5)
    with pytest.raises(ValueError, match="adapt"):
        model.set_params(adapt="bogus").predict(X)


def test_photometric_augmentation_changes_tone_and_keeps_shape():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((16, 1, 48, 48), generator=gen) * 255
    for params in (
        dict(contrast=0.5),
        dict(gamma=0.6),
        dict(blur=1.5),
        dict(noise=0.05),
        dict(scale=0.2),
    ):
        aug = Augmenter(flip=False, shift=0.0, p=1.0, **params)
        out = aug.augment_batch(x.clone(), gen)
        assert out.shape == x.shape
        assert (out - x).abs().mean() > 0.5, params
    aug = Augmenter(flip=False, shift=0.0, p=0.0, contrast=0.5, gamma=0.6, blur=1.5, noise=0.1)
    torch.testing.assert_close(aug.augment_batch(x.clone(), gen), x)  # p=0: identity


def test_standardize_makes_predictions_blind_to_lighting_and_contrast(faces, tmp_path):
    X, y = faces
    model = tiny_cnn(standardize=True, lr=0.01).fit(X, y)
    darker = np.clip(X.astype(np.float32) * 0.5 + 20, 0, 255).round().astype(np.uint8)
    blind = np.abs(model.predict_proba(darker) - model.predict_proba(X)).max()
    assert blind < 0.02
    path = model.save(tmp_path / "s.safetensors")
    loaded = load_model(path)
    assert loaded.standardize is True
    assert tiny_cnn(pretrained=path).fit(X, y).preprocess_.standardize  # "auto": as the start
    assert not tiny_cnn(pretrained=path, standardize=False).fit(X, y).preprocess_.standardize
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    plain = tiny_cnn(lr=0.01).fit(X, y)
    assert np.abs(plain.predict_proba(darker) - plain.predict_proba(X)).max() > 2 * blind


def test_fine_tuning_workflow_on_real_film_faces(sfew_dir, tmp_path):
    """The documented workflow end to end: crop film faces, fine-tune a shipped model
    on them with the user's own labels, save, reload, predict the same."""
    from skfer import FaceCropper
    from skfer.datasets import load_sfew

    sfew = load_sfew(sfew_dir, return_paths=True)
    rows = np.random.default_rng(0).choice(len(sfew.images), 70, replace=False)
    faces = FaceCropper(detector="hog").fit_transform([sfew.images[i] for i in rows])
    labels = np.array([str(t).lower() for t in sfew.target[rows]])  # the user's own labels
    start = load_model("fer2013")
    before = start.predict_proba(faces)
    tuned = tiny_cnn(pretrained="fer2013", freeze=3, lr=0.01, max_epochs=3, batch_size=32)
    tuned.fit(faces, labels)
    assert set(tuned.classes_) == set(labels)
    assert tuned.n_iter_ == 3 and tuned.history_[-1, "train_loss"] < tuned.history_[0, "train_loss"]
    after = tuned.predict_proba(faces)
    assert not np.allclose(after, before[:, np.searchsorted(start.classes_, tuned.classes_)])
    loaded = load_model(tuned.save(tmp_path / "film.safetensors"))
    assert loaded.predict(faces).tolist() == tuned.predict(faces).tolist()


def test_shipped_film_model_says_what_it_was_trained_on(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    film = load_model("film")
    assert "SFEW 2.0 Train" in film.metrics_["trained_on"]
    assert set(film.classes_) == {"angry", "disgust", "fear", "happy", "neutral", "sad",
                                  "surprise"}
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(film.predict_proba(faces).sum(1), 1.0, rtol=1e-5)
