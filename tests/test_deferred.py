"""The console script's deferred import of ``scipy.stats`` (``skfer._deferred``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import types

import pytest

from skfer._deferred import DeferredModule, defer_import


def last_line(code: str) -> str:
    """What a fresh Python process printed last (no GPU visible)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    run = [sys.executable, "-c", code]
    return subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout.strip()


def test_stand_in_loads_on_first_use_and_becomes_the_module():
    code = """
import sys
from skfer._deferred import defer_import
stand_in = defer_import("scipy.stats")
import sklearn.base                 # imports scipy.stats at start-up
import scipy.stats as st
before = "scipy.stats._stats_py" in sys.modules
from scipy.stats import norm        # the first use: the real module loads
real = sys.modules["scipy.stats"]
print(before, norm.cdf(0.0), type(real).__name__, st.norm is norm, stand_in.norm is norm,
      sys.modules["scipy"].stats is real, st.mode is real.mode)
"""
    assert last_line(code) == "False 0.5 module True True True True"


def test_module_imported_before_or_missing_is_left_alone():
    assert defer_import("json") is sys.modules["json"]
    assert defer_import("no_such_module_anywhere") is None
    assert defer_import("no_such_package.child") is None
    assert "no_such_module_anywhere" not in sys.modules


def test_stand_in_loads_once_under_threads(tmp_path, monkeypatch):
    """Threads that touch the stand-in together all get the one real module, run once."""
    runs = tmp_path / "runs.txt"
    (tmp_path / "deferred_probe.py").write_text(
        f"import time\nopen({str(runs)!r}, 'a').write('x')\ntime.sleep(0.05)\nVALUE = object()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "deferred_probe", raising=False)
    stand_in = defer_import("deferred_probe")
    assert isinstance(stand_in, DeferredModule) and not runs.exists()
    seen, barrier = [], threading.Barrier(4)

    def touch():
        barrier.wait()
        seen.append(stand_in.VALUE)

    threads = [threading.Thread(target=touch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loaded = sys.modules.pop("deferred_probe")
    assert isinstance(loaded, types.ModuleType) and not isinstance(loaded, DeferredModule)
    assert runs.read_text() == "x"
    assert len(seen) == 4 and all(v is loaded.VALUE for v in seen)


def test_library_import_defers_nothing():
    code = (
        "import sys; from skfer.cli import main; main(['--version']); import sklearn.base; "
        "print(type(sys.modules['scipy.stats']).__name__)"
    )
    assert last_line(code).splitlines()[-1] == "module"


def test_python_dash_m_skfer_runs_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "skfer", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("skfer ")


@pytest.mark.slow
def test_skfer_predict_never_loads_scipy_stats(sfew_frames_dir):
    """The console script's ``skfer predict``: scipy.stats stays a stand-in."""
    image = sfew_frames_dir / "Happy/Bridesmaids_001335200_00000016.jpg"
    code = (
        "import sys; from skfer._console import run; "
        f"sys.argv = ['skfer', 'predict', {str(image)!r}, '--quiet']; rc = run(); "
        "print(type(sys.modules['scipy.stats']).__name__, "
        "'scipy.stats._stats_py' in sys.modules, rc)"
    )
    assert last_line(code).splitlines()[-1] == "DeferredModule False 0"
