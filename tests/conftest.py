"""Shared fixtures: the real data folder (``SKFER_DATA``, else ``../shared/data``), and
the one tiny model (:func:`tiny_cnn`, ``tiny_faces``, ``fitted_tiny``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from skfer.datasets import get_data_home


@pytest.fixture(scope="session")
def data_dir():
    """The real-data folder; tests needing it skip when it is absent."""
    path = get_data_home()
    if not (path / "fer2013" / "fer2013.csv.gz").is_file():
        pytest.skip(
            f"real data not found at {path} (set SKFER_DATA to a folder holding "
            "fer2013/, sfew/ and sfew_frames/)"
        )
    return path


@pytest.fixture(scope="session")
def fer2013(data_dir):
    from skfer.datasets import load_fer2013

    return load_fer2013(data_dir / "fer2013" / "fer2013.csv.gz")


@pytest.fixture(scope="session")
def sfew_dir(data_dir):
    path = data_dir / "sfew" / "Train"
    if not path.is_dir():
        pytest.skip(f"SFEW not found at {path}")
    return path


@pytest.fixture(scope="session")
def sfew_frames_dir(data_dir):
    path = data_dir / "sfew_frames"
    if not path.is_dir():
        pytest.skip(f"SFEW frames not found at {path}")
    return path


# ---------------------------------------------------------------- the tiny model
TINY_CNN = dict(
    backbone="skfer_cnn",
    module__widths=(4, 8, 8, 8),
    max_epochs=1,
    batch_size=16,
    validation=None,
    random_state=0,
)


def tiny_cnn(**params):
    """An unfitted :class:`~skfer.EmotionCNN` that fits 48 faces in a few hundredths of a second.

    ``skfer_cnn`` at widths 4-8-8-8, one epoch, no validation split, seed 0; ``params``
    override these (``validation=0.1``, ``backbone="skfer_cnn_fast"``, ``device="cpu"``...).
    The small widths are dropped with ``module__widths=None`` and when ``pretrained`` is
    given without them: a warm start takes its network from the start. Tests import it:
    ``from conftest import tiny_cnn`` (module-level parametrisations need it before any
    fixture exists).
    """
    from skfer import EmotionCNN

    if params.get("pretrained") and "module__widths" not in params:
        params["module__widths"] = None
    params = {**TINY_CNN, **params}
    if params["module__widths"] is None:
        del params["module__widths"]
    return EmotionCNN(**params)


@pytest.fixture(scope="session")
def tiny_faces():
    """48 random 48x48 gray faces, happy/sad/neutral, the happy ones with a learnable
    "smile". Shared by the session: do not modify in place."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (48, 48, 48), dtype=np.uint8)
    y = np.array(["happy", "sad", "neutral"] * 16, dtype=object)
    X[y == "happy", 30:40, 10:38] = 255
    return X, y


@pytest.fixture(scope="session")
def fitted_tiny(tiny_faces):
    """:func:`tiny_cnn` fitted for 2 epochs (10 % validation split) on ``tiny_faces``,
    once per session (per xdist worker). Tests only read it: to change it, pickle a copy
    (``pickle.loads(pickle.dumps(fitted_tiny))``) or refit a :func:`tiny_cnn`."""
    pytest.importorskip("torch")
    return tiny_cnn(max_epochs=2, validation=0.1).fit(*tiny_faces)


def pytest_configure(config):
    """Two xdist workers share 2 cores: one intra-op thread each (read when torch loads)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
