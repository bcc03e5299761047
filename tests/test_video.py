"""Film analysis: frame streaming, tracking, the timeline, profiles and plots.

The real-data tests build short clips from SFEW movie frames (720x576) with
cv2.VideoWriter, holding each frame for two seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skfer.emotions import EMOTIONS, VALENCE_AROUSAL
from skfer.video import (
    FaceTracker,
    ShotCuts,
    analyze_images,
    analyze_video,
    box_iou,
    film_profile,
    iter_frames,
    plot_timeline,
    plot_tracks,
)

cv2 = pytest.importorskip("cv2")

# four SFEW frames with one clear face each (dlib HOG score > 1.2), at different places
from clips import (  # noqa: E402
    CLIP_FRAMES,
    HOLD,
    MeanModel,
    decoded_frames,
    sfew_clip_file,
    write_clip,
)

# each frame held 16 frames = 2 s; the clip lasts 8 s


@pytest.fixture(scope="module")
def grey_clip(tmp_path_factory):
    """2.5 s of plain grey frames at 10 fps: no faces."""
    path = tmp_path_factory.mktemp("video") / "grey.avi"
    return write_clip(path, [np.full((120, 160, 3), 128, np.uint8)], fps=10, hold=25)


@pytest.fixture(scope="module")
def sfew_clip(sfew_frames_dir, tmp_path_factory):
    return sfew_clip_file(sfew_frames_dir, tmp_path_factory.mktemp("video"))


@pytest.fixture(scope="module")
def model():
    from skfer.models import load_model

    return load_model("fer2013", device="cpu")  # the shipped model


# ----------------------------------------------------------------- tracking


def test_box_iou():
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 10, 10], [10, 10, 5, 5]])
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0]])
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_tracker_keeps_ids_and_matches_optimally():
    tracker = FaceTracker()
    assert tracker.update([[0, 0, 100, 100], [300, 0, 100, 100]]).tolist() == [0, 1]
    # same faces, listed in the other order and moved a little
    assert tracker.update([[305, 5, 100, 100], [4, 2, 100, 100]]).tolist() == [1, 0]
    assert tracker.update(np.zeros((0, 4))).tolist() == []
    assert tracker.update([[6, 0, 100, 100]]).tolist() == [0]  # after a one-frame gap
    assert tracker.n_tracks_ == 2


def test_tracker_centroid_fallback_and_gap():
    tracker = FaceTracker(iou_threshold=0.5, max_distance=0.5, max_gap=1)
    tracker.update([[0, 0, 100, 100]])
    # IoU 0.33 < 0.5, but the centre moved 0.4 widths: same face
    assert tracker.update([[40, 0, 100, 100]]).tolist() == [0]
    # moved 1.5 widths: a new face
    assert tracker.update([[190, 0, 100, 100]]).tolist() == [1]
    # a box 9x larger at the same place is not the same face
    assert tracker.update([[90, -100, 300, 300]]).tolist() == [2]
    tracker.update([])
    tracker.update([])  # track 1 now missed 2 > max_gap frames
    assert tracker.update([[190, 0, 100, 100]]).tolist() == [tracker.n_tracks_ - 1]


def test_tracker_end_tracks_and_validation():
    tracker = FaceTracker()
    tracker.update([[0, 0, 10, 10]])
    tracker.end_tracks()
    assert tracker.update([[0, 0, 10, 10]]).tolist() == [1]
    with pytest.raises(ValueError, match="max_gap"):
        FaceTracker(max_gap=-1).update([[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="iou_threshold"):
        FaceTracker(iou_threshold=0).update([[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="NaN"):
        FaceTracker().update([[0, np.nan, 1, 1]])


def test_shot_cuts(sfew_frames_dir):
    from skfer import read_image

    a = read_image(sfew_frames_dir / CLIP_FRAMES[0])
    b = read_image(sfew_frames_dir / CLIP_FRAMES[1])
    cuts = ShotCuts()
    assert [cuts.is_cut(f) for f in (a, a, b, b)] == [False, False, True, False]
    never = ShotCuts(None)
    assert not any(never.is_cut(f) for f in (a, b))
    with pytest.raises(ValueError, match="cut_threshold"):
        ShotCuts(2.0)


# ----------------------------------------------------------------- frames


def test_iter_frames_sampling(grey_clip):
    every = [(i, t) for i, t, _ in iter_frames(grey_clip, every=0.5)]
    assert every == [(0, 0.0), (5, 0.5), (10, 1.0), (15, 1.5), (20, 2.0)]
    nth = [i for i, _, frame in iter_frames(grey_clip, every_n_frames=10)]
    assert nth == [0, 10, 20]
    _, _, frame = next(iter(iter_frames(grey_clip, every=1.0)))
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    with pytest.raises(ValueError, match="every must be a positive"):
        next(iter_frames(grey_clip, every=0))
    with pytest.raises(ValueError, match="every_n_frames"):
        next(iter_frames(grey_clip, every_n_frames=0))


def test_unreadable_videos_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Video file not found: .*missing.mp4"):
        analyze_video(tmp_path / "missing.mp4", MeanModel())
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(ValueError, match="empty.mp4.*empty"):
        analyze_video(empty, MeanModel())
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(ValueError, match="junk.mp4"):
        analyze_video(junk, MeanModel())


# ---------------------------------------------------------------- timeline


def test_video_without_faces_gives_an_empty_timeline(grey_clip, tmp_path):
    timeline = analyze_video(grey_clip, MeanModel(), every=0.5)
    assert timeline.empty
    assert list(timeline.columns) == [
        "time", "frame", "shot", "track", "person", "x", "y", "w", "h", "score", "detector",
        *[f"p_{e}" for e in EMOTIONS], "label", "valence", "arousal",
    ]  # fmt: skip
    assert timeline.attrs["n_sampled"] == 5
    assert timeline.attrs["duration"] == pytest.approx(2.5)
    profile = film_profile(timeline, window=1.0)
    assert profile.tracks.empty
    assert len(profile.windows) == 3 and (profile.windows["n_faces"] == 0).all()
    assert profile.windows["dominant"].isna().all()
    assert profile.film["n_faces"] == 0 and profile.film["dominant"] is None
    plot_timeline(timeline, tmp_path / "t.png")
    plot_tracks(timeline, tmp_path / "k.png")
    assert (tmp_path / "t.png").stat().st_size > 0 and (tmp_path / "k.png").stat().st_size > 0


def test_bad_arguments(grey_clip):
    with pytest.raises(ValueError, match="predict_proba"):
        analyze_video(grey_clip, object())
    with pytest.raises(ValueError, match="Unknown face detector 'nope'"):
        analyze_video(grey_clip, MeanModel(), detector="nope")
    with pytest.raises(ValueError, match="batch_size"):
        analyze_video(grey_clip, MeanModel(), batch_size=0)

    class Clusters(MeanModel):
        classes_ = np.array(["negative", "neutral", "positive", "a", "b", "c", "d"])

    with pytest.raises(ValueError, match="scheme=None"):
        analyze_video(grey_clip, Clusters(), scheme="top4")
    timeline = analyze_video(grey_clip, Clusters(), scheme=None)
    proba = [c for c in timeline.columns if c.startswith("p_")]
    assert proba == [f"p_{c}" for c in Clusters.classes_]


@pytest.mark.slow
def test_timeline_of_a_film(sfew_clip, model):
    timeline = analyze_video(sfew_clip, model, every=0.5, batch_size=5)
    assert timeline.attrs["adapt"] is None  # each face classified on its own
    # 8 s sampled every 0.5 s; every frame shows one face
    assert timeline.attrs["n_sampled"] == 16
    assert timeline["time"].tolist() == [0.5 * k for k in range(16)]
    assert timeline["frame"].tolist() == [4 * k for k in range(16)]
    # one track per held frame, kept across its 4 samples
    assert timeline["track"].tolist() == [k // 4 for k in range(16)]
    assert timeline["shot"].tolist() == [k // 4 for k in range(16)]  # one shot per frame
    assert timeline.attrs["shots"] == [0.0, 2.0, 4.0, 6.0]
    labels = [f"p_{c}" for c in model.classes_]
    np.testing.assert_allclose(timeline[labels].sum(axis=1), 1.0)
    # valence/arousal: probability-weighted means of the NRC-VAD coordinates
    va = np.array([VALENCE_AROUSAL[c] for c in model.classes_])
    np.testing.assert_allclose(timeline[["valence", "arousal"]], timeline[labels] @ va)

    # the same as detecting, aligning and classifying each decoded frame alone
    from skfer.faces import align_face, detect_faces

    frames = decoded_frames(sfew_clip)
    assert len(frames) == len(CLIP_FRAMES) * HOLD
    for _, row in timeline.iterrows():
        frame = frames[int(row["frame"])]
        faces = detect_faces(frame, detector=timeline.attrs["detector"])
        assert len(faces) == 1
        np.testing.assert_allclose(faces[0].box, row[["x", "y", "w", "h"]].astype(float))
        proba = model.predict_proba(align_face(frame, faces))[0]
        np.testing.assert_allclose(row[labels].astype(float), proba, atol=1e-6)
        assert row["label"] == model.classes_[proba.argmax()]
    # held frames (decoded identically after the first) give one emotion per track
    later = timeline[timeline["frame"] > 0]
    assert (later.groupby("track")["label"].nunique() == 1).all()

    profile = film_profile(timeline, window=2.0)
    assert profile.tracks.index.tolist() == [0, 1, 2, 3]
    assert profile.tracks["n_faces"].tolist() == [4, 4, 4, 4]
    assert profile.tracks["screen_time"].tolist() == [2.0] * 4
    assert profile.tracks["face_time"].tolist() == [2.0] * 4
    assert profile.shots.index.tolist() == [0, 1, 2, 3]
    assert profile.windows["start"].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert profile.film["n_tracks"] == 4 and profile.film["duration"] == 8.0
    shares = [f"share_{c}" for c in model.classes_]
    np.testing.assert_allclose(profile.tracks[shares].sum(axis=1), 1.0)
    for track, dominant in profile.tracks["dominant"].items():
        assert dominant == timeline[timeline.track == track]["label"].mode()[0]


@pytest.mark.slow
def test_schemes_and_every_n_frames(sfew_clip, model):
    ekman = analyze_video(sfew_clip, model, every_n_frames=16, landmarks=False)
    assert ekman["frame"].tolist() == [0, 16, 32, 48]
    clusters = analyze_video(
        sfew_clip, model, every_n_frames=16, landmarks=False, scheme="clusters"
    )
    clustered = ["p_positive", "p_neutral", "p_negative"]
    assert [c for c in clusters.columns if c.startswith("p_")] == clustered
    kept = ekman[[f"p_{e}" for e in ("happy", "neutral", "angry", "sad", "fear", "disgust")]]
    negative = kept[["p_angry", "p_sad", "p_fear", "p_disgust"]].sum(axis=1)
    expected = (
        np.column_stack([kept["p_happy"], kept["p_neutral"], negative])
        / kept.sum(axis=1).to_numpy()[:, None]
    )
    np.testing.assert_allclose(clusters[clustered], expected, atol=1e-6)
    # valence/arousal come from the seven emotions, whatever the scheme
    np.testing.assert_allclose(clusters["valence"], ekman["valence"])
    top4 = analyze_video(sfew_clip, model, every_n_frames=16, landmarks=False, scheme="top4")
    assert set(top4["label"]) <= {"happy", "surprise", "neutral", "angry"}


def test_analyze_images(sfew_frames_dir):
    from skfer import read_image

    images = [read_image(sfew_frames_dir / CLIP_FRAMES[0]), np.full((64, 64), 90, np.uint8)]
    table = analyze_images(images, MeanModel(), detector="hog")
    # the faceless image has its row, flagged, with no emotion (issue 17)
    assert table["image"].tolist() == [0, 1] and table["face"].tolist() == [0, -1]
    assert table["face_found"].tolist() == [True, False]
    assert table["label"].iloc[0] in EMOTIONS and pd.isna(table["label"].iloc[1])
    with pytest.raises(ValueError, match="wrap a single image"):
        analyze_images(images[0], MeanModel())


# ----------------------------------------------------------------- profile and plots


def test_film_profile_from_csv(tmp_path):
    timeline = pd.DataFrame(
        {
            "time": [0.0, 0.5, 1.0, 1.5, 12.0],
            "frame": [0, 12, 25, 37, 300],
            "track": [0, 0, 0, 1, 2],
            "x": 0.0, "y": 0.0, "w": 10.0, "h": 10.0, "score": 1.0,
            "p_happy": [0.9, 0.8, 0.2, 0.1, 0.6],
            "p_sad": [0.1, 0.2, 0.8, 0.9, 0.4],
            "label": ["happy", "happy", "sad", "sad", "happy"],
            "valence": [0.8, 0.7, -0.6, -0.8, 0.2],
            "arousal": [0.4, 0.4, -0.3, -0.4, 0.1],
        }
    )  # fmt: skip
    timeline.to_csv(tmp_path / "t.csv", index=False)
    back = pd.read_csv(tmp_path / "t.csv")
    profile = film_profile(back, window=10.0)
    assert profile.labels == ["happy", "sad"]
    tracks = profile.tracks
    assert tracks.index.tolist() == [0, 1, 2]  # longest screen time first
    assert tracks.loc[0, "share_happy"] == pytest.approx(2 / 3)
    assert tracks.loc[0, "dominant"] == "happy"
    assert tracks.loc[0, "start"] == 0.0 and tracks.loc[0, "end"] == 1.5
    assert profile.windows["n_faces"].tolist() == [4, 1]
    assert profile.windows["dominant"].tolist() == ["happy", "happy"]  # tie -> mean proba
    assert profile.film["share_happy"] == pytest.approx(0.6)
    # windows: face-seconds vs seconds with a face on screen (one face per sample here)
    assert profile.windows["face_time"].tolist() == profile.windows["screen_time"].tolist()
    assert profile.persons is None and profile.shots is None  # no such columns
    assert profile.film["n_tracks"] == 3
    with pytest.raises(ValueError, match="window"):
        film_profile(back, window=0)
    with pytest.raises(ValueError, match="lacks the column"):
        film_profile(back.drop(columns="label"))
    plot_tracks(back, tmp_path / "tracks.png", max_rows=2)
    assert (tmp_path / "tracks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_adapt_classifies_the_film_as_one_domain(sfew_clip, model):
    plain = analyze_video(sfew_clip, model, every=0.25, batch_size=5)
    adapted = analyze_video(sfew_clip, model, every=0.25, batch_size=5, adapt="batchnorm")
    assert plain.attrs["adapt"] is None
    assert adapted.attrs["adapt"] == "batchnorm" and model.adapt is None  # model untouched
    assert len(adapted) == len(plain) == 32
    labels = [f"p_{c}" for c in model.classes_]
    np.testing.assert_allclose(adapted[labels].sum(axis=1), 1.0)
    # all 32 faces adapted to together, whatever batch_size is
    from skfer.faces import align_face, detect_faces

    frames, detector = decoded_frames(sfew_clip), adapted.attrs["detector"]
    crops = np.concatenate(
        [align_face(frames[f], detect_faces(frames[f], detector=detector)) for f in adapted.frame]
    )
    expected = model.set_params(adapt="batchnorm").predict_proba(crops)
    model.set_params(adapt=None)
    np.testing.assert_allclose(adapted[labels].to_numpy(float), expected, atol=1e-5)
    assert not np.allclose(adapted[labels].to_numpy(float), plain[labels].to_numpy(float))
    with pytest.raises(ValueError, match="adapt parameter"):
        analyze_video(sfew_clip, MeanModel(), every=2.0, adapt="batchnorm")
    with pytest.raises(ValueError, match="adapt must be"):
        analyze_video(sfew_clip, model, every=2.0, adapt="nope")


def test_annotated_video_draws_each_sample_until_the_next(sfew_clip, tmp_path):
    from skfer.video import write_annotated_video

    timeline = analyze_video(sfew_clip, MeanModel(), every=1.0, persons=False)
    assert len(timeline) == 8  # one face per sampled frame, a sample every 4 frames
    out = write_annotated_video(timeline, tmp_path / "annotated.avi")
    original, annotated = decoded_frames(sfew_clip), decoded_frames(out)
    assert len(annotated) == len(original) and annotated[0].shape == original[0].shape

    def edge_change(k, row):  # mean change along the top edge of the face's box
        x, y, w = int(row["x"]), int(row["y"]), int(row["w"])
        a = annotated[k][y, x : x + w].astype(int)
        return float(np.abs(a - original[k][y, x : x + w].astype(int)).mean())

    for _, row in timeline.iterrows():
        for k in range(int(row["frame"]), int(row["frame"]) + 4):  # held until the next
            assert edge_change(k, row) > 25
    far = timeline.iloc[0].copy()
    far[["x", "y"]] = [5.0, 5.0]  # a region without boxes: the film's own pixels
    assert edge_change(0, far) < 10
    with pytest.raises(ValueError, match=r"\.avi, \.mov or \.mp4"):
        write_annotated_video(timeline, tmp_path / "a.gif")
    with pytest.raises(ValueError, match="pass video="):
        write_annotated_video(pd.DataFrame(columns=timeline.columns), tmp_path / "a.mp4")
