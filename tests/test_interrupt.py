"""Interrupt safety of EmotionCNN.fit, checkpoint/resume, atomic and pickle-free weights."""

import numpy as np
import pytest
from conftest import tiny_cnn
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from skfer import load_model


class _StopAt(Callback):
    """Raise ``exc`` at the end of epoch ``epoch`` (like Ctrl-C or a crash there)."""

    def __init__(self, epoch, exc=KeyboardInterrupt):
        self.epoch = epoch
        self.exc = exc

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise self.exc(f"stopped at epoch {self.epoch}")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (24, 48, 48), dtype=np.uint8)
    y = np.array(["happy", "sad", "neutral"] * 8)
    return X, y


def test_keyboard_interrupt_keeps_best_weights(data):
    """Ctrl-C ends training early; the model is fitted with the best epoch's weights."""
    X, y = data
    model = tiny_cnn(max_epochs=6, validation=0.25, early_stopping=5, callbacks=[_StopAt(2)])
    model.fit(X, y)
    check_is_fitted(model)
    assert model.n_iter_ == 2
    assert model.predict(X).shape == (len(X),)
    assert set(model.predict(X)) <= set(model.classes_)


def test_exception_leaves_estimator_unfitted(data):
    X, y = data
    model = tiny_cnn(max_epochs=4, callbacks=[_StopAt(1, RuntimeError)])
    with pytest.raises(RuntimeError, match="stopped at epoch 1"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert not hasattr(model, "module_") and not hasattr(model, "classes_")


def test_exception_on_refit_keeps_previous_model(data):
    X, y = data
    model = tiny_cnn().fit(X, y)
    before = model.predict_proba(X)
    model.set_params(callbacks=[_StopAt(1, RuntimeError)])
    with pytest.raises(RuntimeError):
        model.fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), before)


def test_checkpoint_resume_matches_uninterrupted_epoch_count(tmp_path, data):
    X, y = data
    full = tiny_cnn(max_epochs=4).fit(X, y)
    ckpt = tmp_path / "run"
    first = tiny_cnn(max_epochs=4, checkpoint_dir=ckpt, callbacks=[_StopAt(2)]).fit(X, y)
    assert first.n_iter_ == 2
    assert {"params.pt", "optimizer.pt", "history.json"} <= {p.name for p in ckpt.iterdir()}
    resumed = tiny_cnn(max_epochs=4, checkpoint_dir=ckpt).fit(X, y)
    assert resumed.n_iter_ == full.n_iter_ == 4
    assert [row["epoch"] for row in resumed.history_] == [1, 2, 3, 4]
    # a finished run resumed again trains nothing more
    assert tiny_cnn(max_epochs=4, checkpoint_dir=ckpt).fit(X, y).n_iter_ == 4


def test_unreadable_checkpoint_history(tmp_path, data):
    X, y = data
    (tmp_path / "history.json").write_text("[{")
    with pytest.raises(ValueError, match=r"checkpoint_dir .*history\.json"):
        tiny_cnn(checkpoint_dir=tmp_path).fit(X, y)


def test_interrupted_save_leaves_no_file(tmp_path, fitted_tiny, monkeypatch):
    """save() writes a temporary file and renames it: no half-written weights."""
    import safetensors.torch

    model = fitted_tiny
    target = tmp_path / "model.safetensors"

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"\x00" * 10)
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", broken_save)
    with pytest.raises(KeyboardInterrupt):
        model.save(target)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    model.save(target)
    assert load_model(target, device="cpu").classes_.tolist() == model.classes_.tolist()


_RAN = []


def _mark(message):
    _RAN.append(message)


class _Evil:
    def __reduce__(self):
        return (_mark, ("unpickled",))


def test_load_model_never_unpickles(tmp_path):
    """A pickle posing as weights is refused without running its code."""
    import pickle

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_model(path, device="cpu")
    assert _RAN == []
