"""Shared fixtures: the real data folder (``SKFER_DATA``, else ``../shared/data``)."""

from __future__ import annotations

import os

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


def pytest_configure(config):
    """Two xdist workers share 2 cores: one intra-op thread each (read when torch loads)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")
