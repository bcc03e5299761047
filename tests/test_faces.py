"""skfer.faces: detection, alignment geometry, FaceCropper contracts, bad input."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

from skfer.faces import (
    DEFAULT_EYE_LEVEL,
    DEFAULT_MARGIN,
    Face,
    FaceCropper,
    align_face,
    alignment_matrix,
    detect_faces,
)
from skfer.faces._backends import _backend


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def flatten(X):
    """Module level so the pipeline pickles."""
    return X.reshape(len(X), -1) / 255.0


@pytest.fixture(scope="module")
def astronaut():
    from skimage.data import astronaut

    return astronaut()


@pytest.fixture(scope="module")
def sfew_frames(sfew_frames_dir):
    """14 SFEW frames (7 happy, 7 sad) as paths, with their labels."""
    from skfer.datasets import load_sfew

    data = load_sfew(sfew_frames_dir, return_paths=True)
    paths = np.asarray(data.images, dtype=object)
    keep = np.r_[
        np.flatnonzero(data.target == "happy")[:7], np.flatnonzero(data.target == "sad")[:7]
    ]
    return list(paths[keep]), data.target[keep]


def eye_angle_and_positions(crop, detector="hog+cnn"):
    """Re-detect the eyes on a crop: (angle in degrees, left eye, right eye)."""
    faces = detect_faces(crop, detector=detector)
    assert faces, "no face re-detected on the aligned crop"
    left, right = faces[0].landmarks[:2]
    dx, dy = right - left
    return np.degrees(np.arctan2(dy, dx)), left, right


# ----------------------------------------------------------------------------- Face


def test_face_is_a_small_frozen_value():
    points = np.arange(10.0).reshape(5, 2)
    face = Face((1, 2, 3, 4), 0.5, points)
    assert face.box == (1.0, 2.0, 3.0, 4.0) and isinstance(face.box[0], float)
    assert face == Face((1, 2, 3, 4), 0.5, points.copy())
    assert face != Face((1, 2, 3, 4), 0.5) and face != Face((1, 2, 3, 5), 0.5, points)
    with pytest.raises(AttributeError):
        face.score = 1.0
    with pytest.raises(ValueError):
        face.landmarks[0, 0] = 9  # read-only
    assert face.scaled(0.5).landmarks[1].tolist() == [1.0, 1.5]
    assert pickle.loads(pickle.dumps(face)) == face
    with pytest.raises(ValueError, match=r"Face.box must be \(x, y, w, h\)"):
        Face((1, 2, 3), 0.5)


# ------------------------------------------------------------------- detect_faces


def test_detect_faces_astronaut(astronaut):
    faces = detect_faces(astronaut, detector="hog")
    assert faces and all(a.area >= b.area for a, b in zip(faces, faces[1:]))
    x, y, w, h = faces[0].box
    assert 170 < x < 200 and 70 < y < 100 and 70 < w < 110  # Eileen Collins' face
    left_eye, right_eye, nose, mouth_left, mouth_right = faces[0].landmarks
    assert left_eye[0] < nose[0] < right_eye[0]
    assert mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


@pytest.mark.parametrize(
    "detector", ["haar", "hog", pytest.param("mtcnn", marks=pytest.mark.slow), "yunet"]
)
def test_every_backend_finds_the_astronaut(astronaut, detector):
    if detector == "mtcnn" and not _has("facenet_pytorch"):
        pytest.skip("facenet-pytorch not installed")
    if detector == "yunet" and not _has("yuface"):
        pytest.skip("yuface not installed")
    faces = detect_faces(astronaut, detector=detector)
    assert any(170 < f.center[0] < 260 and 100 < f.center[1] < 170 for f in faces)
    gray = detect_faces(astronaut.mean(axis=2).astype(np.uint8), detector=detector)
    assert gray, "grayscale input must work for every backend"


def test_detect_faces_options(astronaut):
    assert detect_faces(astronaut, detector="hog", landmarks=False)[0].landmarks is None
    assert detect_faces(astronaut, detector="hog", min_size=400) == []
    assert detect_faces(np.zeros((64, 80), np.uint8), detector="haar+hog") == []
    with pytest.raises(ValueError, match="Unknown face detector 'dlib'.*'haar'"):
        detect_faces(astronaut, detector="hog+dlib")
    with pytest.raises(ValueError, match="work_size"):
        detect_faces(astronaut, work_size=0)
    with pytest.raises(ValueError, match="min_size"):
        detect_faces(astronaut, min_size=-1)


def test_models_are_cached_per_process_not_per_call():
    assert _backend("hog") is _backend("hog")
    cropper = FaceCropper(detector="hog").fit()
    cropper.transform([np.zeros((60, 60), np.uint8)])
    assert len(pickle.dumps(cropper)) < 5_000  # no model travels with the estimator


def test_importing_faces_loads_no_heavy_module():
    code = (
        "import sys, skfer.faces; "
        "print(','.join(m for m in ('cv2', 'dlib', 'torch', 'yuface') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ------------------------------------------------------------------------ geometry


def test_alignment_matrix_puts_the_eyes_at_the_fixed_positions():
    rng = np.random.default_rng(0)
    for _ in range(20):
        left = rng.uniform(50, 150, 2)
        angle, dist = rng.uniform(-0.6, 0.6), rng.uniform(20, 200)
        right = left + dist * np.array([np.cos(angle), np.sin(angle)])
        points = np.vstack([left, right, rng.uniform(50, 150, (3, 2))])
        face = Face((0, 0, 1, 1), 1.0, points)
        M = alignment_matrix(face, size=64, margin=1.0, eye_level=0.25)
        eyes = points[:2] @ M[:, :2].T + M[:, 2]
        np.testing.assert_allclose(eyes, [[64 / 2 - 64 / 6, 16], [64 / 2 + 64 / 6, 16]], atol=1e-9)


def test_align_face_on_astronaut_levels_the_eyes(astronaut):
    """Rotate the photo 15 degrees; the aligned crop must still have level eyes in place."""
    import cv2

    h, w = astronaut.shape[:2]
    R = cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0)
    tilted = cv2.warpAffine(astronaut, R, (w, h), borderMode=cv2.BORDER_REFLECT)
    face = detect_faces(tilted, detector="hog+cnn")[0]
    l_eye, r_eye = face.landmarks[:2]
    assert abs(np.degrees(np.arctan2(*(r_eye - l_eye)[::-1]))) > 10  # really tilted
    size, margin, level = 160, 1.2, 0.4
    crop = align_face(tilted, face, size=size, margin=margin, eye_level=level, grayscale=False)
    assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
    angle, left, right = eye_angle_and_positions(crop)
    assert abs(angle) < 2
    d = size / (1 + 2 * margin)
    np.testing.assert_allclose(left, [size / 2 - d / 2, level * size], atol=0.05 * size)
    np.testing.assert_allclose(right, [size / 2 + d / 2, level * size], atol=0.05 * size)


def test_align_face_batches_and_checks(astronaut):
    face = detect_faces(astronaut, detector="hog")[0]
    one = align_face(astronaut, face)
    both = align_face(astronaut, [face, face])
    assert one.shape == (48, 48) and both.shape == (2, 48, 48)
    np.testing.assert_array_equal(both[0], one)
    boxed = align_face(astronaut, Face(face.box, face.score))  # no landmarks: box crop
    assert boxed.shape == (48, 48)
    with pytest.raises(ValueError, match="eye_level"):
        align_face(astronaut, face, eye_level=1.5)
    with pytest.raises(ValueError, match="size"):
        align_face(astronaut, face, size=4)
    with pytest.raises(TypeError, match=r"face\[1\]"):
        align_face(astronaut, [face, "nose"])
    for bad, error in ((0, ValueError), (17, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="supersample"):
            align_face(astronaut, face, supersample=bad)


def test_supersampled_crop_is_the_same_crop_sharper(astronaut):
    """supersample=k warps at k x the size and area-averages: each crop pixel is centred
    where supersample=1 samples it (a shift would move the face), with more detail."""
    import cv2

    from skfer._images import to_gray
    from skfer.faces._align import _warp

    smooth = cv2.GaussianBlur(to_gray(astronaut), (0, 0), 4)
    M = np.array([[1.0, 0.0, -200.0], [0.0, 1.0, -90.0]])  # a pure shift: no resampling
    one, four = _warp(smooth, M, 48, 1), _warp(smooth, M, 48, 4)
    assert np.abs(one.astype(int) - four.astype(int)).max() <= 1
    face = detect_faces(astronaut, detector="hog")[0]
    plain = align_face(astronaut, face)
    sharp = align_face(astronaut, face, supersample=4)
    assert sharp.shape == plain.shape and sharp.dtype == np.uint8
    same = np.corrcoef(sharp.ravel().astype(float), plain.ravel().astype(float))[0, 1]
    moved = np.corrcoef(np.roll(plain, 1, axis=1).ravel().astype(float), plain.ravel())[0, 1]
    assert same > 0.98 > moved  # the same face in the same place (a 1 px shift: 0.94)...

    def detail(crop):
        return np.abs(cv2.Laplacian(crop.astype(np.float32), cv2.CV_32F)).mean()

    assert detail(sharp) > 1.2 * detail(plain)  # ... with less of the warp's blur
    cropper = FaceCropper(detector="hog", supersample=4)
    np.testing.assert_array_equal(cropper.fit_transform([astronaut])[0], sharp)
    with pytest.raises(ValueError, match="supersample"):
        FaceCropper(supersample=0).fit()


@pytest.mark.slow
def test_alignment_on_sfew_frames(sfew_frames):
    """Crops of real film frames: eyes level within 2 degrees, at the fixed positions."""
    paths, _ = sfew_frames
    size, margin = 192, 1.2
    cropper = FaceCropper(size=size, margin=margin, grayscale=False)
    crops = cropper.fit_transform(paths[::2])
    assert not cropper.fallback_.any()
    d = size / (1 + 2 * margin)
    targets = np.array([[size / 2 - d / 2, DEFAULT_EYE_LEVEL * size]] * 2)
    targets[1, 0] += d
    # the landmarks the crop was made from, carried into the crop
    for face in cropper.faces_:
        M = alignment_matrix(face, size=size, margin=margin, eye_level=DEFAULT_EYE_LEVEL)
        eyes = face.landmarks[:2] @ M[:, :2].T + M[:, 2]
        np.testing.assert_allclose(eyes, targets, atol=1e-6)
    # landmarks re-detected on the crops: independent, so noisier on turned heads
    angles, errors = [], []
    for crop in crops:
        angle, left, right = eye_angle_and_positions(crop)
        angles.append(abs(angle))
        errors.append(np.abs(np.array([left, right]) - targets).max())
    assert np.median(angles) < 2
    assert np.median(errors) < 0.04 * size


# -------------------------------------------------------------------- FaceCropper


def test_cropper_one_row_per_row_and_fallback(astronaut):
    blank = np.full((30, 90), 128, np.uint8)
    X = [astronaut, blank, astronaut[::2, ::2], np.zeros((48, 48, 3), np.float32)]
    cropper = FaceCropper(detector="hog", grayscale=False, size=32)
    out = cropper.fit_transform(X)
    assert out.shape == (4, 32, 32, 3) and out.dtype == np.uint8
    assert cropper.fallback_.tolist() == [False, True, False, True]
    assert cropper.n_faces_[1] == 0 and cropper.n_faces_[0] >= 1
    assert cropper.faces_[1] is None and isinstance(cropper.faces_[0], Face)
    assert np.all(out[1] == 128)  # on_missing="full": the whole image resized


def test_cropper_on_missing_modes(astronaut, tmp_path):
    import cv2

    half = np.zeros((40, 120), np.uint8)
    half[:, 40:80] = 255  # the central square is white
    center = FaceCropper(detector="haar", on_missing="center", size=16).transform([half])
    assert np.all(center == 255)
    full = FaceCropper(detector="haar", on_missing="full", size=16).transform([half])
    assert full.mean() < 200
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), half)
    with pytest.raises(
        ValueError, match=r"X\[1\] \('.*blank.png'\): no face found by detector 'hog'"
    ):
        FaceCropper(detector="hog", on_missing="raise").transform([astronaut, str(path)])


def test_cropper_select():
    big = Face((0, 0, 50, 50), 0.2)
    confident = Face((160, 0, 30, 30), 0.9)
    central = Face((90, 90, 20, 20), 0.1)
    faces = [big, confident, central]  # detect_faces sorts by area
    shape = (200, 200)
    assert FaceCropper()._choose(faces, shape) is big
    assert FaceCropper(select="best")._choose(faces, shape) is confident
    assert FaceCropper(select="central")._choose(faces, shape) is central


def test_cropper_n_jobs_is_deterministic(astronaut):
    X = [astronaut, astronaut[:, ::-1], astronaut[50:450], np.zeros((40, 40), np.uint8)] * 2
    one = FaceCropper(detector="hog", work_size=400).transform(X)
    two = FaceCropper(detector="hog", work_size=400, n_jobs=2).transform(X)
    np.testing.assert_array_equal(one, two)


def test_cropper_align_false_is_an_axis_aligned_box_crop(astronaut):
    cropper = FaceCropper(detector="haar", align=False)
    crops = cropper.transform([astronaut])
    assert crops.shape == (1, 48, 48) and cropper.faces_[0].landmarks is None


def test_cropper_clone_pickle_params():
    cropper = FaceCropper(detector="haar+hog", size=64, margin=1.0, n_jobs=2, on_missing="center")
    params = cropper.get_params()
    assert params["detector"] == "haar+hog" and params["size"] == 64
    twin = clone(cropper)
    assert twin.get_params() == params
    assert pickle.loads(pickle.dumps(cropper)).get_params() == params
    assert FaceCropper().set_params(**params).get_params() == params
    with pytest.raises(TypeError):
        FaceCropper("hog")  # keyword-only
    # the defaults reproduce FER2013's framing: eyes ~18 px apart, eye line at ~18 px
    assert 17 < 48 / (1 + 2 * FaceCropper().margin) < 19 and FaceCropper().margin == DEFAULT_MARGIN


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"detector": "nope"}, "Unknown face detector 'nope'"),
        ({"on_missing": "skip"}, "on_missing"),
        ({"size": 4}, "size"),
        ({"select": "first"}, "select"),
        ({"margin": -1}, "margin"),
    ],
)
def test_cropper_validates_in_fit(params, match):
    cropper = FaceCropper(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        cropper.fit([np.zeros((8, 8), np.uint8)])


# ------------------------------------------------------------------------ bad input


def test_bad_input_errors(tmp_path):
    garbage = tmp_path / "not_an_image.png"
    garbage.write_bytes(b"this is not a PNG")
    cropper = FaceCropper(detector="haar")
    ok = np.zeros((50, 50), np.uint8)
    with pytest.raises(ValueError, match=r"X\[1\]: Cannot decode image file .*not_an_image.png"):
        cropper.transform([ok, str(garbage)])
    with pytest.raises(FileNotFoundError, match=r"X\[0\]: .*missing.png"):
        cropper.transform([str(tmp_path / "missing.png")])
    with pytest.raises(ValueError, match=r"X\[1\]: zero-size image"):
        cropper.transform([ok, np.zeros((0, 10), np.uint8)])
    nan = np.full((20, 20), 0.5)
    nan[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"X\[0\]: image contains NaN"):
        cropper.transform([nan])
    with pytest.raises(ValueError, match="image contains NaN"):
        detect_faces(nan)
    with pytest.raises(ValueError, match="single path"):
        cropper.transform(str(garbage))
    with pytest.raises(ValueError, match="empty collection"):
        cropper.transform([])
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        cropper.transform(np.zeros((5, 5)))


def test_documented_conversions(astronaut):
    """RGBA drops alpha, 16-bit is scaled to 8 bits: the face is still found."""
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 7, np.uint8)])
    deep = astronaut.astype(np.uint16) * 257
    cropper = FaceCropper(detector="hog", grayscale=False)
    out = cropper.transform([astronaut, rgba, deep])
    assert not cropper.fallback_.any()
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])


# ------------------------------------------------------------------------ real data


@pytest.mark.slow
def test_fer2013_faces_pass_through_sensibly(fer2013):
    X = fer2013.images[:24]
    cropper = FaceCropper()
    out = cropper.transform(X)
    assert out.shape == (24, 48, 48)
    np.testing.assert_array_equal(out[cropper.fallback_], X[cropper.fallback_])
    found = ~cropper.fallback_
    assert found.mean() > 0.5
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(out[found], X[found])]
    assert np.median(corr) > 0.6  # re-aligned, not destroyed


@pytest.mark.slow
def test_grid_search_over_detectors_on_sfew_frames(sfew_frames):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    paths, y = sfew_frames
    pipe = make_pipeline(
        FaceCropper(detector="hog"),
        FunctionTransformer(flatten),
        LogisticRegression(max_iter=200),
    )
    search = GridSearchCV(
        pipe,
        {"facecropper__detector": ["hog", "haar"]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
    )
    search.fit(paths, y)
    assert search.best_params_["facecropper__detector"] in ("hog", "haar")
    assert len(search.cv_results_["mean_test_score"]) == 2
    score = search.score(paths, y)
    assert 0.0 <= score <= 1.0
    assert search.predict(paths[:3]).shape == (3,)
    pickle.loads(pickle.dumps(search.best_estimator_))
