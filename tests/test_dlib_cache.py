"""skfer.faces._dlib_cache: dlib's HOG face detector saved once, read back in milliseconds."""

from __future__ import annotations

import numpy as np
import pytest

dlib = pytest.importorskip("dlib")

from skfer.faces import _dlib_cache  # noqa: E402
from skfer.faces._dlib_cache import frontal_face_detector  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty skfer cache folder."""
    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "dlib"


def detections(detector, image):
    rects, scores, kinds = detector.run(image, 1, -0.5)
    return [(r.left(), r.top(), r.right(), r.bottom()) for r in rects], list(scores), list(kinds)


def no_decoding():
    raise AssertionError("the detector was decoded again instead of read from the cache")


def test_cached_detector_finds_what_dlibs_does(cache, sfew_frames_dir):
    from skimage.data import astronaut

    from skfer._images import read_image

    first = frontal_face_detector()  # decoded, then saved
    (saved, digest) = sorted(cache.iterdir())
    assert saved.suffix == ".svm" and digest.name == saved.name + ".b2"
    again = frontal_face_detector()  # read back
    reference = dlib.get_frontal_face_detector()
    images = [astronaut()] + [read_image(p) for p in sorted(sfew_frames_dir.glob("*/*.jpg"))[:3]]
    for image in images:
        expected = detections(reference, image)
        assert expected[0], "no face in a test image"
        assert detections(first, image) == expected
        assert detections(again, image) == expected  # same boxes, scores (exactly), filters


def test_second_load_reads_the_file(cache, monkeypatch):
    frontal_face_detector()
    monkeypatch.setattr(dlib, "get_frontal_face_detector", no_decoding)
    frontal_face_detector()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "digest", "missing digest"])
def test_damaged_file_is_rebuilt(cache, damage):
    from skimage.data import astronaut

    frontal_face_detector()
    (saved, digest) = sorted(cache.iterdir())
    data = saved.read_bytes()
    if damage == "garbage":
        saved.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif damage == "truncate":
        saved.write_bytes(data[: len(data) // 2])
    elif damage == "digest":  # a valid detector file, but not the one the digest is of
        saved.write_bytes(data.replace(b"1", b"2", 1))
    else:
        digest.unlink()
    rebuilt = frontal_face_detector()
    assert saved.read_bytes() == data  # written again, whole
    expected = detections(dlib.get_frontal_face_detector(), astronaut())
    assert detections(rebuilt, astronaut()) == expected


def test_unwritable_cache_folder_still_gives_the_detector(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("SKFER_CACHE", str(blocker / "cache"))
    detector = frontal_face_detector()
    assert isinstance(detector, dlib.fhog_object_detector)
    assert not (blocker / "cache").exists()


def test_hog_backend_uses_the_cache(cache, monkeypatch):
    from skfer.faces._backends import _backend

    monkeypatch.setattr(_dlib_cache, "frontal_face_detector", lambda: "from the cache")
    assert _backend("hog").load() == "from the cache"
