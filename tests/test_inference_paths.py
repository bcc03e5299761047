"""One inference object: every prediction path crops and classifies a frame alike.

The Python pipeline (``load_model(..., with_cropper=True)``), ``analyze_images``,
``analyze_video``, ``skfer predict`` and the Dask worker all crop through the model's
:class:`~skfer.FaceCropper` (its saved framing) and classify with the same network.
"""

from __future__ import annotations

import functools
import pickle

import cv2
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

import skfer
from skfer import FaceCropper, analyze_images, analyze_video, load_model, make_pipeline
from skfer.cli import main as cli_main
from skfer.distributed._worker import _analyze_film

FRAME = "Angry/AlexEmma_000225840_00000024.jpg"  # an SFEW movie frame with one face


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A pipeline with a non-default framing, saved as one model file."""
    from conftest import tiny_cnn

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (24, 96, 96), dtype=np.uint8)
    pipe = make_pipeline(
        FaceCropper(detector="hog", margin=0.7, eye_level=0.42, size=40),
        tiny_cnn(),
    ).fit(X, ["happy", "sad", "neutral"] * 8)
    path = pipe.save(tmp_path_factory.mktemp("model") / "framed.safetensors")
    return pipe, path


@pytest.fixture(scope="module")
def frame_video(sfew_frames_dir, tmp_path_factory):
    """A lossless one-second clip of the frame, and the frame as decoded from it."""
    bgr = cv2.imread(str(sfew_frames_dir / FRAME))
    assert bgr is not None
    path = tmp_path_factory.mktemp("clip") / "frame.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 4, bgr.shape[1::-1])
    assert writer.isOpened()
    for _ in range(4):
        writer.write(bgr)
    writer.release()
    capture = cv2.VideoCapture(str(path))
    ok, decoded = capture.read()
    capture.release()
    assert ok
    return path, cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def test_saved_pipeline_keeps_its_framing(saved):
    pipe, path = saved
    model = load_model(path)
    assert model.framing_["margin"] == 0.7 and model.framing_["size"] == 40
    cropper = model.cropper()
    assert (cropper.detector, cropper.margin, cropper.eye_level) == ("hog", 0.7, 0.42)
    again = load_model(path, with_cropper=True)
    X = np.random.default_rng(1).integers(0, 256, (5, 96, 96), dtype=np.uint8)
    np.testing.assert_allclose(again.predict_proba(X), pipe.predict_proba(X), atol=1e-6)
    # overrides replace the saved values; None keeps them
    assert model.cropper(margin=None, detector="yunet").detector == "yunet"
    with pytest.raises(ValueError, match="no parameter"):
        model.cropper(colour=True)


def test_a_model_without_framing_uses_the_library_default(fitted_tiny):
    cropper = fitted_tiny.cropper()
    assert cropper.get_params() == FaceCropper().get_params()
    assert cropper.detector == skfer.faces.DEFAULT_DETECTOR == "auto"


@pytest.mark.slow
def test_every_path_gives_the_same_crops_and_probabilities(saved, frame_video, monkeypatch):
    pipe, path = saved
    video, frame = frame_video
    model = load_model(path)
    crops, faces = model.cropper().crop_faces(frame)
    assert len(faces) == 1 and crops.shape == (1, 40, 40)
    expected = model.predict_proba(crops)[0]
    labels = [f"p_{c}" for c in model.classes_]

    # Python: the saved pipeline on the whole frame
    np.testing.assert_allclose(
        load_model(path, with_cropper=True).predict_proba([frame])[0], expected, atol=1e-6
    )
    # analyze_images, with the model object and with the file
    for given in (model, path):
        table = analyze_images([frame], given, scheme=None)
        np.testing.assert_allclose(table[labels].to_numpy(float)[0], expected, atol=1e-6)
        np.testing.assert_allclose(table[["x", "y", "w", "h"]].to_numpy(float)[0], faces[0].box)
    # analyze_video: every sampled frame is the same decoded frame
    timeline = analyze_video(video, path, every_n_frames=1, scheme=None)
    assert len(timeline) == 4 and timeline.attrs["framing"]["margin"] == 0.7
    np.testing.assert_allclose(timeline[labels].to_numpy(float), [expected] * 4, atol=1e-6)
    # the Dask worker's code path (analyze_video through the per-process model cache)
    result = _analyze_film(str(video), str(path), {"every_n_frames": 1, "scheme": None})
    assert result["error"] is None
    np.testing.assert_allclose(result["timeline"][labels].to_numpy(float), [expected] * 4)
    # skfer predict: the CLI classifies through analyze_images with the loaded model
    seen = []

    @functools.wraps(analyze_images)
    def spy(*args, **kwargs):
        seen.append(analyze_images(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(skfer.video, "analyze_images", spy)
    image = video.parent / "frame.png"
    cv2.imwrite(str(image), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    assert cli_main(["predict", str(image), "--model", str(path), "--scheme", "ekman7"]) == 0
    shown = seen[0]
    emotions = [f"p_{c}" for c in skfer.EMOTIONS if f"p_{c}" in labels]
    np.testing.assert_allclose(
        shown[emotions].to_numpy(float)[0], expected[[labels.index(c) for c in emotions]],
        atol=1e-6,
    )  # fmt: skip


def test_invalid_set_params_fail_at_the_next_predict(fitted_tiny, tiny_faces):
    X = tiny_faces[0][:4]
    model = pickle.loads(pickle.dumps(fitted_tiny))
    assert skfer.load_model(model) is model  # a fitted object passes through
    with pytest.raises(InvalidParameterError, match="'tta' parameter of EmotionCNN") as fit_error:
        skfer.EmotionCNN(tta="bogus").fit(X, [0, 1, 0, 1])
    with pytest.raises(InvalidParameterError) as predict_error:
        model.set_params(tta="bogus").predict(X)
    assert str(predict_error.value) == str(fit_error.value)
    assert model.set_params(tta="flip").predict(X).shape == (4,)


def test_set_params_device_moves_a_fitted_model(fitted_tiny, tiny_faces):
    import torch

    X = tiny_faces[0][:4]
    model = pickle.loads(pickle.dumps(fitted_tiny))
    before = model.predict_proba(X)
    model.set_params(device="cpu")
    np.testing.assert_allclose(model.predict_proba(X), before, atol=1e-6)
    assert model.device_ == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            model.set_params(device="cuda").predict(X)
