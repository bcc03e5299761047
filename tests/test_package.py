import subprocess
import sys

import skfer


def test_import_is_fast_and_light():
    code = (
        "import time, sys; t = time.perf_counter(); import skfer; "
        "print(time.perf_counter() - t); "
        "print(','.join(m for m in ('torch', 'cv2', 'dlib', 'timm', 'skorch', 'pandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.split("\n")[:2]
    assert float(seconds) < 1.0
    assert heavy == "", f"import skfer loaded heavy modules: {heavy}"


def test_every_public_name_resolves():
    for name in skfer.__all__:
        obj = getattr(skfer, name)
        if callable(obj):  # the lazy table maps each name to skfer's object of that name
            assert obj.__name__ == name and obj.__module__.startswith("skfer."), name
        else:
            assert obj is not None, name


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skfer.nope  # noqa: B018
