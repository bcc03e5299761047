"""Interrupt safety of EmotionCNN.fit, checkpoint/resume, atomic and pickle-free weights."""

import numpy as np
import pytest
from conftest import tiny_cnn
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from skfer import load_model
from skfer.models._checkpoint import MANIFEST, read_checkpoint


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


# ---------------------------------------------------------------- checkpoints


def _faces():
    """48 gray faces, happy ones with a learnable "smile" (as ``tiny_faces``); the
    SIGKILL test's child process builds the same data from here."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8)
    y = np.array(["happy", "sad", "neutral"] * 16, dtype=object)
    X[y == "happy", 30:40, 10:38] = 255
    return X, y


#: a run with a validation split, early stopping (restoring the best epoch) and a
#: plateau scheduler whose state must survive a resumption
RUN = dict(max_epochs=5, validation=0.25, early_stopping=5, lr_patience=1)


def _same_run(resumed, full, X):
    assert [row["epoch"] for row in resumed.history_] == list(range(1, full.n_iter_ + 1))
    for key in ("train_loss", "valid_loss", "valid_acc"):
        np.testing.assert_allclose(
            [row[key] for row in resumed.history_ if key in row],
            [row[key] for row in full.history_ if key in row],
            rtol=1e-6,
            err_msg=key,
        )
    np.testing.assert_allclose(resumed.predict_proba(X), full.predict_proba(X), atol=1e-6)


def _assert_clean(folder):
    """Only the manifest and the sets it names; no temporary file anywhere."""
    found = read_checkpoint(folder)  # verifies every listed file's size and sha256
    names = {p.name for p in folder.iterdir()}
    assert names == {MANIFEST, *found.sets}, names
    assert not [p for p in folder.rglob("*") if ".tmp" in p.name]
    return found


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    """Interrupted after epoch 2 and resumed, a run ends exactly as an uninterrupted one:
    weights, optimizer, history, random generators and scheduler state are restored."""
    X, y = _faces()
    full = tiny_cnn(**RUN).fit(X, y)
    ckpt = tmp_path / "run"
    first = tiny_cnn(checkpoint_dir=ckpt, callbacks=[_StopAt(2)], **RUN).fit(X, y)
    assert first.n_iter_ == 2
    found = _assert_clean(ckpt)
    assert found.epoch == 2
    assert {p.name for p in found.params.parent.iterdir()} == {
        "params.pt",
        "optimizer.pt",
        "history.json",
        "state.pt",
    }
    resumed = tiny_cnn(checkpoint_dir=ckpt, **RUN).fit(X, y)
    assert resumed.n_iter_ == full.n_iter_ == 5
    _same_run(resumed, full, X)
    assert _assert_clean(ckpt).epoch == 5
    # a finished run resumed again trains nothing more and gives the same model
    again = tiny_cnn(checkpoint_dir=ckpt, **RUN).fit(X, y)
    assert again.n_iter_ == 5
    np.testing.assert_array_equal(again.predict_proba(X), resumed.predict_proba(X))


class _ZeroHead(Callback):
    """From epoch ``after`` + 1 on, zero the classifier after every training batch: those
    epochs predict one class for every face and cannot be the best."""

    def __init__(self, after):
        self.after = after

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training and len(net.history) > self.after:
            import torch

            with torch.no_grad():
                net.module_.head.weight.zero_()
                net.module_.head.bias.zero_()


def test_resume_restores_best_epoch_of_whole_run(tmp_path):
    """The best epoch lies before the interruption: the resumed run restores it (from the
    checkpoint's best set), as the uninterrupted run does, not the best epoch after it."""
    import torch

    X, y = _faces()
    run = dict(RUN, max_epochs=6)
    full = tiny_cnn(callbacks=[_ZeroHead(3)], **run).fit(X, y)
    ckpt = tmp_path / "run"
    tiny_cnn(checkpoint_dir=ckpt, callbacks=[_ZeroHead(3), _StopAt(3)], **run).fit(X, y)
    resumed = tiny_cnn(checkpoint_dir=ckpt, callbacks=[_ZeroHead(3)], **run).fit(X, y)
    found = _assert_clean(ckpt)
    assert found.epoch == 6 and found.best_epoch is not None
    assert found.best_epoch <= 3, "precondition: the best epoch is before the interruption"
    _same_run(resumed, full, X)
    best = torch.load(found.best_params, weights_only=True)
    for key, value in resumed.module_.state_dict().items():
        torch.testing.assert_close(value, best[key], msg=key)
    assert resumed.module_.head.weight.abs().sum() > 0  # not the zeroed last epoch


def test_early_stopped_run_resumed_trains_nothing_more(tmp_path):
    X, y = _faces()
    run = dict(RUN, max_epochs=8, early_stopping=1, callbacks=[_ZeroHead(1)])
    stopped = tiny_cnn(checkpoint_dir=tmp_path, **run).fit(X, y)
    assert stopped.n_iter_ < 8
    again = tiny_cnn(checkpoint_dir=tmp_path, **run).fit(X, y)
    assert again.n_iter_ == stopped.n_iter_
    np.testing.assert_array_equal(again.predict_proba(X), stopped.predict_proba(X))


# a child process that trains RUN and stops forever just before renaming epoch 3's
# params.pt into place (the file is written and fsynced under its temporary name),
# after touching a marker file: the test SIGKILLs it there
_CHILD = r"""
import os, sys, time
tests, ckpt, marker, threads = sys.argv[1:5]
sys.path.insert(0, tests)
import torch
torch.set_num_threads(int(threads))
from conftest import tiny_cnn
from test_interrupt import RUN, _faces

replace = os.replace
def stalled_replace(src, dst, *args, **kwargs):
    if os.fspath(dst).endswith(os.path.join("epoch-0003", "params.pt")):
        open(marker, "w").close()
        time.sleep(600)
    return replace(src, dst, *args, **kwargs)
os.replace = stalled_replace
tiny_cnn(checkpoint_dir=ckpt, **RUN).fit(*_faces())
"""


def test_sigkill_while_writing_checkpoint(tmp_path):
    """SIGKILL of a training process in the middle of a checkpoint write: the previous
    set survives intact, and the resumed run ends exactly as an uninterrupted one."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import torch

    X, y = _faces()
    ckpt, marker = tmp_path / "run", tmp_path / "writing"
    log = open(tmp_path / "child.log", "w+")
    args = [str(Path(__file__).parent), str(ckpt), str(marker), str(torch.get_num_threads())]
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *args], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            if child.poll() is not None:
                log.seek(0)
                pytest.fail("the training child ended early:\n" + log.read()[-3000:])
            assert time.monotonic() < deadline, "the training child never reached epoch 3"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        log.close()
    assert child.returncode == -signal.SIGKILL
    found = read_checkpoint(ckpt)  # sizes and sha256 of every listed file
    assert found.epoch == 2
    partial = [p.name for p in (ckpt / "epoch-0003").iterdir()]
    assert any(name.startswith(".params.pt.tmp") for name in partial), partial
    full = tiny_cnn(**RUN).fit(X, y)
    resumed = tiny_cnn(checkpoint_dir=ckpt, **RUN).fit(X, y)
    _same_run(resumed, full, X)
    assert _assert_clean(ckpt).epoch == 5


def test_ctrl_c_while_writing_checkpoint(tmp_path, monkeypatch):
    """Ctrl-C in the middle of writing epoch 3's set: fit ends as on any Ctrl-C, and the
    set is written again as training ends (nothing was trained in between)."""
    from skfer.models import _checkpoint

    X, y = _faces()
    real = _checkpoint.write_verified
    calls = []

    def interrupted(folder, name, data, **kwargs):
        if folder.name == "epoch-0003" and name == "optimizer.pt" and not calls:
            calls.append(name)
            raise KeyboardInterrupt
        return real(folder, name, data, **kwargs)

    monkeypatch.setattr(_checkpoint, "write_verified", interrupted)
    tiny_cnn(checkpoint_dir=tmp_path, **RUN).fit(X, y)
    assert calls and _assert_clean(tmp_path).epoch == 3
    monkeypatch.undo()
    resumed = tiny_cnn(checkpoint_dir=tmp_path, **RUN).fit(X, y)
    _same_run(resumed, tiny_cnn(**RUN).fit(X, y), X)


def _trained_folder(folder, epochs=2):
    X, y = _faces()
    tiny_cnn(max_epochs=epochs, checkpoint_dir=folder).fit(X, y)
    return read_checkpoint(folder)


def test_incomplete_checkpoint_is_refused(tmp_path):
    """A set with a listed file missing: ValueError naming the folder and the file, not a
    silent fresh start from random weights."""
    X, y = _faces()
    found = _trained_folder(tmp_path)
    found.params.unlink()
    with pytest.raises(ValueError, match=r"checkpoint_dir .*incomplete.*epoch-0002/params\.pt"):
        tiny_cnn(max_epochs=4, checkpoint_dir=tmp_path).fit(X, y)


def test_damaged_checkpoint_is_refused(tmp_path):
    X, y = _faces()
    found = _trained_folder(tmp_path)
    data = bytearray(found.params.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit, same size
    found.params.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"epoch-0002/params\.pt is damaged.*sha256"):
        tiny_cnn(max_epochs=4, checkpoint_dir=tmp_path).fit(X, y)


def test_incomplete_legacy_checkpoint_is_refused(tmp_path):
    """An older skfer's folder (skorch Checkpoint files) with history.json but no
    params.pt."""
    import json

    X, y = _faces()
    (tmp_path / "history.json").write_text(json.dumps([{"epoch": 1, "train_loss": 1.0}]))
    with pytest.raises(ValueError, match=r"checkpoint_dir .*params\.pt is missing"):
        tiny_cnn(max_epochs=2, checkpoint_dir=tmp_path).fit(X, y)


def test_unreadable_checkpoint_history(tmp_path):
    X, y = _faces()
    for name in ("params.pt", "optimizer.pt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "history.json").write_text("[{")
    with pytest.raises(ValueError, match=r"checkpoint_dir .*cannot read history\.json"):
        tiny_cnn(checkpoint_dir=tmp_path).fit(X, y)


def test_legacy_checkpoint_still_resumes(tmp_path):
    """A folder written by skorch's Checkpoint (older skfer) resumes, with a warning."""
    import shutil

    X, y = _faces()
    found = _trained_folder(tmp_path / "new")
    legacy = tmp_path / "old"
    legacy.mkdir()
    for name in ("params.pt", "optimizer.pt", "history.json"):
        shutil.copy(found.params.parent / name, legacy / name)
    with pytest.warns(UserWarning, match="older skfer"):
        resumed = tiny_cnn(max_epochs=4, checkpoint_dir=legacy).fit(X, y)
    assert [row["epoch"] for row in resumed.history_] == [1, 2, 3, 4]
    found = _assert_clean(legacy)  # now in the new layout, the old files gone
    assert found.epoch == 4


def _mount_tmpfs(path, options):
    """Mount a tmpfs on ``path`` (root with mount rights only); True when it worked."""
    import os
    import shutil
    import subprocess

    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    cmd = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def _umount(path):
    import subprocess

    subprocess.run(["umount", str(path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (a real full disk) where the machine allows it, else None."""
    path = tmp_path / "disk"
    path.mkdir()
    if not _mount_tmpfs(path, "size=256k"):
        yield None
        return
    try:
        yield path
    finally:
        _umount(path)


class _FillDisk(Callback):
    """At the start of epoch ``epoch`` (after the checkpoint of the one before is written),
    fill the disk holding ``path``: with ``fake``, make every later fsync fail ENOSPC."""

    def __init__(self, path, epoch, fake=None):
        self.path, self.epoch, self.fake = path, epoch, fake

    def on_epoch_begin(self, net, **kwargs):
        import errno

        if len(net.history) != self.epoch:
            return
        if self.fake is not None:
            self.fake["full"] = True
            return
        with open(self.path, "wb", buffering=0) as fh:
            for block in (1 << 16, 1 << 10, 1):
                try:
                    while True:
                        fh.write(b"\0" * block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC


def test_checkpoint_on_full_disk(tmp_path, small_disk, monkeypatch):
    """A full disk mid-run: OSError naming the folder and the file; the previous set is
    intact (no partial set, no temporary file); once space is freed the run resumes.

    A real 256 KiB tmpfs where the tests run as root with mount rights; elsewhere the
    fault is injected (os.fsync raising ENOSPC)."""
    import errno
    import os

    X, y = _faces()
    fake = None
    if small_disk is None:
        fake = {"full": False}
        real_fsync = os.fsync

        def fsync(fd):
            if fake["full"]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        disk = tmp_path
    else:
        disk = small_disk
    ckpt, filler = disk / "run", disk / "filler"
    model = tiny_cnn(max_epochs=4, checkpoint_dir=ckpt, callbacks=[_FillDisk(filler, 3, fake)])
    with pytest.raises(OSError, match=r"checkpoint_dir .*run.*cannot write .*epoch-0003") as info:
        model.fit(X, y)
    assert info.value.errno == errno.ENOSPC
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert _assert_clean(ckpt).epoch == 2
    if fake is not None:
        fake["full"] = False
    filler.unlink(missing_ok=True)
    resumed = tiny_cnn(max_epochs=4, checkpoint_dir=ckpt).fit(X, y)
    assert resumed.n_iter_ == 4 and _assert_clean(ckpt).epoch == 4


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder that cannot be written: chmod 555 when not root; as root a read-only
    tmpfs where mount is allowed, else a path under a regular file (ENOTDIR)."""
    import os

    path = tmp_path / "ro"
    path.mkdir()
    if os.name == "posix" and os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
    elif _mount_tmpfs(path, "ro,size=64k"):
        try:
            yield path
        finally:
            _umount(path)
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        yield blocker / "run"


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs_ += 1


def test_checkpoint_in_read_only_folder(read_only_folder):
    """Refused before the first epoch is trained, with the folder in the message."""
    X, y = _faces()
    counter = _CountEpochs()
    model = tiny_cnn(max_epochs=3, checkpoint_dir=read_only_folder, callbacks=[counter])
    with pytest.raises(OSError, match=r"checkpoint_dir .*cannot write") as info:
        model.fit(X, y)
    assert str(read_only_folder) in str(info.value)
    assert counter.epochs_ == 0
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


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
