"""Damaged films and decoder timestamps (issue 17), on real files written by the tests.

- Truncated and mid-file-corrupted AVI (MJPEG) and MP4 (MPEG-4 part 2) clips: the
  read stops or skips at the damage; skfer warns, naming the film and the range read,
  and says so in ``timeline.attrs``, the CLI's exit status and ``analyze_videos``.
- A variable-frame-rate MP4: OpenCV writes a constant-rate MP4, then the test
  rewrites its sample table (``stts`` box) so that the first 20 frames last 0.1 s
  and the next 20 frames 0.25 s each, as a phone or screen recorder writes them. No
  PyAV or ffmpeg binary is needed (neither is installed in the project's venv).
"""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pandas as pd
import pytest

from skfer.cli import main
from skfer.video import analyze_video, iter_frames

cv2 = pytest.importorskip("cv2")

FPS, N = 10, 100  # 10 s clips


class MeanModel:
    """A stand-in classifier: probabilities from the mean brightness of the crop."""

    classes_ = np.array(["angry", "happy", "neutral", "sad"])

    def predict_proba(self, X):
        m = np.asarray(X, dtype=float).reshape(len(X), -1).mean(axis=1) / 255
        p = np.column_stack([1 - m, m, np.full_like(m, 0.5), np.full_like(m, 0.25)])
        return p / p.sum(axis=1, keepdims=True)


def _frames(n=N, size=(96, 128)):
    rng = np.random.default_rng(0)
    for i in range(n):  # textured frames, each different, so every frame costs bytes
        frame = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        cv2.putText(frame, str(i), (5, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        yield frame


def write_clip(path, fourcc, frames=None, fps=FPS):
    frames = list(_frames() if frames is None else frames)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def truncate(path, fraction=0.6):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def corrupt_middle(path, size=4096):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = np.random.default_rng(1).bytes(size)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------ MP4 box surgery
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


def _parse(data):
    boxes, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        body = data[i + 8 : i + size]
        boxes.append([kind, _parse(body) if kind in _CONTAINERS else body])
        i += size
    return boxes


def _build(boxes):
    out = b""
    for kind, body in boxes:
        raw = _build(body) if isinstance(body, list) else body
        out += struct.pack(">I4s", len(raw) + 8, kind) + raw
    return out


def _find(boxes, kind):
    for box in boxes:
        if box[0] == kind:
            yield box
        if isinstance(box[1], list):
            yield from _find(box[1], kind)


def make_vfr(path, runs):
    """Rewrite an OpenCV MP4's sample durations: ``runs`` of (frames, seconds each)."""
    top = _parse(path.read_bytes())
    moov = next(_find(top, b"moov"))
    mdhd = next(_find(moov[1], b"mdhd"))
    timescale = struct.unpack(">I", mdhd[1][12:16])[0]
    entries = [(n, round(seconds * timescale)) for n, seconds in runs]
    assert sum(n for n, _ in entries) == len(next(_find(moov[1], b"stsz"))[1][12:]) // 4
    stts = next(_find(moov[1], b"stts"))
    stts[1] = struct.pack(">II", 0, len(entries)) + b"".join(
        struct.pack(">II", *e) for e in entries
    )
    body = bytearray(mdhd[1])
    body[16:20] = struct.pack(">I", sum(n * d for n, d in entries))  # media duration
    mdhd[1] = bytes(body)
    for trak in _find(moov[1], b"trak"):  # the edit list holds the old duration
        trak[1] = [box for box in trak[1] if box[0] != b"edts"]
    path.write_bytes(_build(top))
    return path


def make_faststart(path):
    """Move the index (``moov``) before the media data, as streaming MP4s have it:
    a truncated copy then still opens, and the decoder stops at the cut."""
    top = _parse(path.read_bytes())
    moov = next(box for box in top if box[0] == b"moov")
    shift = len(_build([moov]))
    for stco in _find(moov[1], b"stco"):
        count = struct.unpack(">I", stco[1][4:8])[0]
        offsets = struct.unpack(f">{count}I", stco[1][8:])
        stco[1] = stco[1][:8] + struct.pack(f">{count}I", *(o + shift for o in offsets))
    rest = [box for box in top if box[0] != b"moov"]
    path.write_bytes(_build([rest[0], moov, *rest[1:]]))
    return path


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def films(tmp_path_factory):
    folder = tmp_path_factory.mktemp("films")
    return {
        "good.avi": write_clip(folder / "good.avi", "MJPG"),
        "good.mp4": make_faststart(write_clip(folder / "good.mp4", "mp4v")),
        "truncated.avi": truncate(write_clip(folder / "truncated.avi", "MJPG")),
        "truncated.mp4": truncate(make_faststart(write_clip(folder / "truncated.mp4", "mp4v"))),
        "corrupted.avi": corrupt_middle(write_clip(folder / "corrupted.avi", "MJPG")),
        "corrupted.mp4": corrupt_middle(write_clip(folder / "corrupted.mp4", "mp4v")),
    }


def _analyze(path, **kwargs):
    return analyze_video(path, MeanModel(), every=1.0, detector="hog", **kwargs)


# --------------------------------------------------------------- damaged films
@pytest.mark.parametrize("name", ["good.avi", "good.mp4"])
def test_complete_film_is_reported_complete(films, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a good film
        timeline = _analyze(films[name])
    assert timeline.attrs["complete"] is True
    assert timeline.attrs["covered"] == [0.0, 10.0]
    assert timeline.attrs["damage"] is None
    assert timeline.attrs["n_sampled"] == 10


@pytest.mark.parametrize(
    "name", ["truncated.avi", "truncated.mp4", "corrupted.avi", "corrupted.mp4"]
)
def test_damaged_film_warns_and_reports_the_range_read(films, name):
    path = films[name]
    with pytest.warns(UserWarning, match="damaged or truncated") as record:
        timeline = _analyze(path)
    messages = [str(w.message) for w in record if "damaged" in str(w.message)]
    assert len(messages) == 1 and str(path) in messages[0]
    start, end = timeline.attrs["covered"]
    assert start == 0.0 and 0.0 < end < 10.0  # 10 s in the container
    assert f"{start:.2f}-{end:.2f} s" in messages[0]
    assert timeline.attrs["complete"] is False
    assert timeline.attrs["damage"] == messages[0]
    if name.startswith("truncated"):  # cut at 60 %: about 6 s read
        assert 4.0 <= end <= 6.5
        assert timeline.attrs["n_sampled"] == pytest.approx(end, abs=1)
    # iter_frames says the same
    with pytest.warns(UserWarning, match=str(path.name)):
        times = [t for _, t, _ in iter_frames(path, every=1.0)]
    assert times[-1] < end


def test_truncated_mp4_without_its_index_is_an_error(tmp_path):
    """OpenCV's own MP4s keep the index at the end: cut, they do not open at all."""
    clip = truncate(write_clip(tmp_path / "cut.mp4", "mp4v"))
    with pytest.raises(ValueError, match=r"Cannot open video .*cut\.mp4.*truncated"):
        _analyze(clip)


def test_stopping_early_is_not_damage(films):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames = iter_frames(films["truncated.avi"], every=1.0)
        next(frames)
        frames.close()  # the consumer stopped: no warning


# ------------------------------------------------------ variable frame rate
def test_variable_frame_rate_times_come_from_the_decoder(tmp_path):
    clip = make_vfr(write_clip(tmp_path / "vfr.mp4", "mp4v", _frames(40)), [(20, 0.1), (20, 0.25)])
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert fps == pytest.approx(40 / 7.0)  # the nominal (mean) rate: 5.71 fps
    real = [0.1 * i for i in range(20)] + [2.0 + 0.25 * i for i in range(20)]

    every_frame = list(iter_frames(clip, every_n_frames=1))
    np.testing.assert_allclose([t for _, t, _ in every_frame], real, atol=1e-6)
    assert every_frame[30][1] == pytest.approx(4.5)  # index / fps would say 5.25 s

    # sampling every second follows real time
    sampled = [(i, t) for i, t, _ in iter_frames(clip, every=1.0)]
    assert sampled == [(0, 0.0), (10, 1.0), (20, 2.0), (24, 3.0), (28, 4.0), (32, 5.0), (36, 6.0)]
    timeline = _analyze(clip)
    assert timeline.attrs["complete"] is True and timeline.attrs["covered"] == [0.0, 7.0]


def test_variable_frame_rate_timeline_of_faces(sfew_frames_dir, tmp_path):
    face = cv2.imread(str(sfew_frames_dir / "Happy/Bridesmaids_001335200_00000016.jpg"))
    clip = make_vfr(write_clip(tmp_path / "face.mp4", "mp4v", [face] * 40), [(20, 0.1), (20, 0.25)])
    timeline = _analyze(clip)
    assert timeline["frame"].tolist() == [0, 10, 20, 24, 28, 32, 36]
    assert timeline["time"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_constant_frame_rate_times_are_index_over_fps(tmp_path):
    clip = write_clip(tmp_path / "ntsc.avi", "MJPG", _frames(30), fps=30000 / 1001)
    times = [t for _, t, _ in iter_frames(clip, every_n_frames=1)]
    fps = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FPS)
    assert times == [i / fps for i in range(30)]  # exactly as before the decoder's times


# ------------------------------------------------------------------------ CLI
def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_cli_exits_non_zero_for_a_damaged_film(films, tmp_path, capsys):
    film = films["truncated.avi"]
    out = tmp_path / "out"
    args = ["video", str(film), "--every", "1", "--detector", "hog", "--quiet", "--out", str(out)]
    assert main(args) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("skfer video: error: ")
    assert str(film) in line and "0.00-" in line and "--allow-partial" in line
    assert (out / "timeline.csv").is_file()  # the part read is kept
    assert main([*args, "--allow-partial"]) == 0
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("skfer video: warning: ") and str(film) in line
    assert main(["video", str(films["good.avi"]), *args[2:]]) == 0
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------- analyze_videos
@pytest.mark.filterwarnings("ignore:Video .* is damaged:UserWarning")  # on the worker
def test_analyze_videos_marks_damaged_films_partial(films, tmp_path):
    pytest.importorskip("pyarrow")
    distributed = pytest.importorskip("distributed")
    from skfer.distributed import analyze_videos

    paths = [films["good.avi"], films["truncated.avi"], films["corrupted.mp4"]]
    out = tmp_path / "timelines"
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:  # fmt: skip
        kwargs = dict(client=client, model=MeanModel(), every=1.0, detector="hog",
                      progress=False)  # fmt: skip
        summary = analyze_videos(paths, out, **kwargs)
        assert summary.status.tolist() == ["done", "partial", "partial"]
        assert pd.isna(summary.error[0])
        for i in (1, 2):
            assert "damaged or truncated" in summary.error[i] and paths[i].name in summary.error[i]
            timeline = pd.read_parquet(summary.output[i])
            assert timeline.attrs["complete"] is False
            assert timeline.attrs["covered"][1] < 10.0
        # a partial timeline is not "done": the next run analyses the film again
        again = analyze_videos(paths, out, **kwargs)
    assert again.status.tolist() == ["skipped", "partial", "partial"]
