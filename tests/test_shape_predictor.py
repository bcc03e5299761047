"""skfer.faces._shape_predictor: dlib's shape predictor in numpy, its parser and its cache.

Small random models are written here in dlib's format (:func:`write_dat`), so the parser
and the predictor are checked against dlib on trees of any depth in milliseconds; the
68-point model is checked against dlib on SFEW frames.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np
import pytest

from skfer.faces import _dlib_cache as dlib_cache
from skfer.faces import _dlib_stream as stream
from skfer.faces import _shape_predictor as sp
from skfer.faces._dlib_cache import cached_arrays
from skfer.faces._dlib_stream import parse_dat
from skfer.faces._shape_predictor import ShapePredictor

needs_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None, reason="dlib not installed"
)


# ------------------------------------------------------------- dlib's serialisation


def dlib_int(value: int) -> bytes:
    """``dlib::serialize`` of an integer: a control byte (sign, byte count), then the
    magnitude's bytes, little-endian, at least one."""
    magnitude = abs(int(value))
    raw = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(raw) | (0x80 if value < 0 else 0)]) + raw


def dlib_float(value: float) -> bytes:
    """``dlib::serialize`` of a float: ``float_details`` (24-bit mantissa, exponent, low
    zero bytes of the mantissa shifted off), as two integers."""
    fraction, exponent = math.frexp(float(np.float32(value)))
    mantissa, exponent = int(fraction * (1 << 24)), exponent - 24
    for _ in range(8):
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return dlib_int(mantissa) + dlib_int(exponent)


def dlib_column(values) -> bytes:
    """A ``matrix<float,0,1>``: ``-nr``, ``-nc``, then the values."""
    return dlib_int(-len(values)) + dlib_int(-1) + b"".join(dlib_float(v) for v in values)


def write_dat(path, model: dict[str, np.ndarray]) -> None:
    """Write ``model`` (the arrays of :func:`parse_dat`) as dlib serialises a
    ``shape_predictor``."""
    levels, n_trees, n_splits = model["thresh"].shape
    out = [dlib_int(1), dlib_column(model["initial_shape"].ravel()), dlib_int(levels)]
    for level in range(levels):
        out.append(dlib_int(n_trees))
        for tree in range(n_trees):
            out.append(dlib_int(n_splits))
            for split in range(n_splits):
                out += [
                    dlib_int(model["idx1"][level, tree, split]),
                    dlib_int(model["idx2"][level, tree, split]),
                    dlib_float(model["thresh"][level, tree, split]),
                ]
            out.append(dlib_int(n_splits + 1))
            out += [dlib_column(leaf) for leaf in model["leaves"][level, tree]]
    out.append(dlib_int(levels))
    out += [dlib_int(len(a)) + b"".join(map(dlib_int, a)) for a in model["anchor"]]
    out.append(dlib_int(levels))
    for deltas in model["deltas"]:
        out.append(dlib_int(len(deltas)) + b"".join(dlib_float(v) for v in deltas.ravel()))
    with open(path, "wb") as fh:
        fh.write(b"".join(out))


def random_model(seed=0, *, parts=6, levels=3, trees=12, depth=2, features=40):
    """A small random shape predictor: initial shape in the unit square, features
    around it, thresholds in pixel-difference units, leaves of a few hundredths."""
    rng = np.random.default_rng(seed)
    n_splits = 2**depth - 1

    def f32(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    leaves = f32(levels, trees, n_splits + 1, 2 * parts, scale=0.03)
    leaves.flat[::7] = 0  # a zero is encoded differently, and round values are shorter
    leaves.flat[1::11] = np.float32(0.25)
    thresh = f32(levels, trees, n_splits, scale=40)
    thresh.flat[::5] = np.round(thresh.flat[::5])
    return {
        "initial_shape": rng.uniform(0.1, 0.9, (parts, 2)).astype(np.float32),
        "anchor": rng.integers(0, parts, (levels, features)).astype(np.int32),
        "deltas": f32(levels, features, 2, scale=0.1),
        "idx1": rng.integers(0, features, (levels, trees, n_splits)).astype(np.int32),
        "idx2": rng.integers(0, features, (levels, trees, n_splits)).astype(np.int32),
        "thresh": thresh,
        "leaves": leaves,
    }


def dlib_points(predictor, gray, box) -> np.ndarray:
    import dlib

    shape = predictor(gray, dlib.rectangle(*(int(v) for v in box)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty skfer cache folder."""
    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ------------------------------------------------------------------------ parsing


def test_parser_reads_what_dlib_writes(tmp_path):
    model = random_model(depth=3)
    write_dat(tmp_path / "model.dat", model)
    parsed = parse_dat(tmp_path / "model.dat")
    assert parsed.keys() == model.keys()
    for name, array in model.items():
        assert parsed[name].dtype == array.dtype, name
        np.testing.assert_array_equal(parsed[name], array, err_msg=name)


def test_token_walk_survives_any_chunking(tmp_path, monkeypatch):
    """The lockstep walkers start mid-token; the stitched chain must not depend on where
    the chunk boundaries fall."""
    model = random_model(seed=1)
    write_dat(tmp_path / "model.dat", model)
    buf, n = stream._read_padded(tmp_path / "model.dat")
    reference = stream._token_values(buf, n, stream._token_marks(buf, n))
    for chunk in (32, 48, 1024):
        monkeypatch.setattr(stream, "_CHUNK", chunk)
        values = stream._token_values(buf, n, stream._token_marks(buf, n))
        np.testing.assert_array_equal(values, reference)


@pytest.mark.parametrize("cut", [1, 3, 1000])
def test_truncated_or_foreign_files_are_refused(tmp_path, cut):
    write_dat(tmp_path / "model.dat", random_model())
    data = (tmp_path / "model.dat").read_bytes()
    (tmp_path / "short.dat").write_bytes(data[:-cut])
    with pytest.raises(ValueError):
        parse_dat(tmp_path / "short.dat")
    (tmp_path / "text.dat").write_bytes(b"not a dlib model at all\n" * 50)
    with pytest.raises(ValueError):
        parse_dat(tmp_path / "text.dat")


# --------------------------------------------------------------------- predicting


@needs_dlib
@pytest.mark.parametrize("depth", [2, 5])  # depth 5: the walk instead of the leaf table
def test_random_models_match_dlib(tmp_path, depth):
    import dlib

    write_dat(tmp_path / "model.dat", random_model(seed=depth, depth=depth))
    theirs = dlib.shape_predictor(str(tmp_path / "model.dat"))
    ours = ShapePredictor(parse_dat(tmp_path / "model.dat"))
    assert (ours._leaf_of_bits is None) == (depth > 4)
    gray = np.random.default_rng(0).integers(0, 256, (90, 120), dtype=np.uint8)
    boxes = np.array([(10, 5, 90, 85), (-30, -20, 40, 50), (70, 40, 150, 120), (3, 4, 5, 6)])
    expected = np.stack([dlib_points(theirs, gray, box) for box in boxes])
    np.testing.assert_array_equal(ours.predict(gray, boxes), expected)
    np.testing.assert_array_equal(ours.predict(gray, boxes[1]), expected[1])


@needs_dlib
def test_coordinates_on_exact_halves_round_as_in_dlib(tmp_path):
    """Points exactly on ``k + 0.5``: dlib's box transform comes from an SVD, a hair off
    the exact one, which rounds some of them down; :data:`_PINV` reproduces it."""
    import dlib

    dyadic = np.concatenate([np.arange(1, 2**k, 2) / 2**k for k in range(1, 7)])
    model = random_model(parts=len(dyadic), levels=1, trees=1, depth=1, features=1)
    model["initial_shape"] = np.column_stack([dyadic, dyadic[::-1]]).astype(np.float32)
    model["leaves"][:] = 0  # the shape stays the initial one
    write_dat(tmp_path / "ties.dat", model)
    theirs = dlib.shape_predictor(str(tmp_path / "ties.dat"))
    ours = ShapePredictor(parse_dat(tmp_path / "ties.dat"))
    rng = np.random.default_rng(0)
    corner = rng.integers(-300, 600, (300, 2))
    boxes = np.column_stack([corner, corner + rng.integers(1, 400, (300, 2))])
    gray = np.zeros((50, 50), np.uint8)
    expected = np.stack([dlib_points(theirs, gray, box) for box in boxes])
    exact = model["initial_shape"] * (boxes[:, None, 2:] - boxes[:, None, :2]) + boxes[:, None, :2]
    on_half = exact % 1 == 0.5
    assert on_half.sum() > 1000 and (expected[on_half] != np.floor(exact + 0.5)[on_half]).any()
    np.testing.assert_array_equal(ours.predict(gray, boxes), expected)


def test_predict_checks_its_image():
    ours = ShapePredictor(random_model())
    with pytest.raises(ValueError, match="uint8"):
        ours.predict(np.zeros((20, 20, 3), np.uint8), (0, 0, 10, 10))
    with pytest.raises(ValueError, match="uint8"):
        ours.predict(np.zeros((20, 20)), (0, 0, 10, 10))
    assert ours.predict(np.zeros((20, 20), np.uint8), np.zeros((0, 4), int)).shape == (0, 6, 2)


# ------------------------------------------------------------------------- cache


def test_cache_is_written_once_and_read_without_the_parser(tmp_path, cache, monkeypatch):
    model = random_model()
    write_dat(tmp_path / "model.dat", model)
    first = cached_arrays(tmp_path / "model.dat")
    (path,) = (cache / "dlib").iterdir()
    assert path.name.startswith("model-v1-") and path.suffix == ".npz"
    assert not first["leaves"].flags.owndata and not first["leaves"].flags.writeable

    def no_parsing(*args):
        raise AssertionError("the .dat file was parsed again")

    monkeypatch.setattr(dlib_cache, "parse_dat", no_parsing)
    monkeypatch.setitem(sys.modules, "dlib", None)  # importing dlib would fail
    again = cached_arrays(tmp_path / "model.dat")
    for name, array in model.items():
        np.testing.assert_array_equal(again[name], array, err_msg=name)
    assert list((cache / "dlib").iterdir()) == [path]  # no temp file left


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "checksum", "other source"])
def test_corrupt_cache_is_rebuilt(tmp_path, cache, damage):
    model = random_model()
    write_dat(tmp_path / "model.dat", model)
    cached_arrays(tmp_path / "model.dat")
    (path,) = (cache / "dlib").iterdir()
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif damage == "empty":
        data = bytearray()
    elif damage == "checksum":  # changed thresholds under the original's key and checksum
        key = dlib_cache._source_key(tmp_path / "model.dat")
        meta = {"source": np.array(key), "digest": np.array(dlib_cache._digest(model, key))}
        np.savez(path, **{**model, "thresh": model["thresh"] + 1}, **meta)
        data = bytearray(path.read_bytes())
    else:  # a complete cache, but of another model file of the same name
        dlib_cache._write_cache(path, random_model(seed=5), "another-key")
        data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data))
    rebuilt = cached_arrays(tmp_path / "model.dat")
    for name, array in model.items():
        np.testing.assert_array_equal(rebuilt[name], array, err_msg=name)
    assert dlib_cache._read_cache(
        path, dlib_cache._source_key(tmp_path / "model.dat")
    )  # valid again


def test_changed_model_file_gets_its_own_cache(tmp_path, cache):
    write_dat(tmp_path / "model.dat", random_model(seed=0))
    cached_arrays(tmp_path / "model.dat")
    changed = random_model(seed=3)
    write_dat(tmp_path / "model.dat", changed)
    np.testing.assert_array_equal(
        cached_arrays(tmp_path / "model.dat")["leaves"], changed["leaves"]
    )
    assert len(list((cache / "dlib").iterdir())) == 2


def test_unusable_cache_folder_converts_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("SKFER_CACHE", str(blocker / "cache"))
    model = random_model()
    write_dat(tmp_path / "model.dat", model)
    np.testing.assert_array_equal(cached_arrays(tmp_path / "model.dat")["leaves"], model["leaves"])


# ------------------------------------------------------------ the 68-point model


@pytest.fixture(scope="module")
def predictors():
    """(ours, dlib's) 68-point predictors."""
    dlib = pytest.importorskip("dlib")
    from skfer.faces._backends import _model_file

    try:
        theirs = dlib.shape_predictor(_model_file("landmarks68"))
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(f"dlib's 68-point model unavailable: {exc}")
    return sp.shape_predictor(), theirs


@pytest.fixture(scope="module")
def sfew_faces(sfew_frames_dir):
    """Six SFEW frames (grayscale) with the largest HOG face of each, as ``(x, y, w, h)``."""
    from skfer._images import read_image, to_gray
    from skfer.faces import detect_faces

    out = []
    for path in sorted(sfew_frames_dir.glob("*/*.jpg"))[::12][:6]:
        image = read_image(path)
        faces = detect_faces(image, detector="hog", landmarks=False)
        if faces:
            out.append((to_gray(image), np.array(faces[0].box)))
    assert len(out) >= 4
    return out


def test_68_points_match_dlib_on_sfew_frames(predictors, sfew_faces):
    ours, theirs = predictors
    for gray, (x, y, w, h) in sfew_faces:
        h_img, w_img = gray.shape
        boxes = np.array(
            [
                (x, y, x + w, y + h),
                (-w // 3, -h // 4, w - w // 3, h - h // 4),  # over the top-left corner
                (w_img - w // 2, y, w_img + w // 2, y + h),  # half off the right edge
            ]
        ).round()
        expected = np.stack([dlib_points(theirs, gray, box) for box in boxes])
        np.testing.assert_array_equal(ours.predict(gray, boxes), expected)


def test_detect_faces_landmarks_are_dlibs_five_points(predictors, sfew_faces):
    """predict_landmarks (what detect_faces fills in) = dlib's 68 points, reduced to the
    eye centres, nose tip and mouth corners, for (x, y, w, h) boxes rounded to a rect."""
    from skfer.faces._backends import predict_landmarks

    _, theirs = predictors
    gray, box = sfew_faces[0]
    boxes = np.array([box, box + (0.5, 1.5, 2.5, -0.5), box * (1, 1, 0.7, 0.7)])
    expected = []
    for x, y, w, h in boxes:
        p = dlib_points(theirs, gray, np.round([x, y, x + w, y + h]))
        expected.append([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
    np.testing.assert_array_equal(predict_landmarks(gray, boxes), expected)
    assert predict_landmarks(gray, np.zeros((0, 4))).shape == (0, 5, 2)


def test_person_descriptors_are_dlibs(predictors, sfew_frames_dir):
    """face_descriptor feeds dlib's face network our 68 points, found on the RGB frame
    as dlib reads it (channel mean): the descriptor dlib's own predictor would give."""
    import dlib

    from skfer._images import read_image
    from skfer.faces import detect_faces
    from skfer.faces._backends import dlib_model
    from skfer.video._persons import face_descriptor

    _, theirs = predictors
    path = sorted(sfew_frames_dir.glob("*/*.jpg"))[3]
    rgb = np.ascontiguousarray(read_image(path)[..., :3])
    x, y, w, h = detect_faces(rgb, detector="hog", landmarks=False)[0].box
    rect = dlib.rectangle(*(int(round(v)) for v in (x, y, x + w, y + h)))
    expected = dlib_model("descriptor").compute_face_descriptor(rgb, theirs(rgb, rect))
    np.testing.assert_array_equal(face_descriptor(rgb, (x, y, w, h)), np.asarray(expected))


def test_a_value_beyond_32_bits_is_refused(tmp_path):
    """Tokens decode into int32 (a float32 model needs no more): a wider one is an error,
    not a wrapped-around number."""
    (tmp_path / "wide.dat").write_bytes(dlib_int(1) + dlib_int(2**40) + dlib_int(-1))
    with pytest.raises(ValueError, match="beyond 32 bits"):
        parse_dat(tmp_path / "wide.dat")
