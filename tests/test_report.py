"""Plots that compose, face thumbnails read back from the film, and the HTML report.

The report is checked in a real headless browser (Debian's Chromium): a screenshot
and the rendered DOM of a report of a real clip built from SFEW movie frames.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.offsetbox import AnnotationBbox

from skfer.emotions import EMOTIONS
from skfer.video import analyze_video, film_profile
from skfer.video._lanes import plot_persons, plot_tracks
from skfer.video._plots import plot_timeline, shot_starts
from skfer.video._report import write_report
from skfer.video._thumbnails import _crop, face_thumbnails, read_crops, thumbnail_rows

cv2 = pytest.importorskip("cv2")

CHROMIUM = "/usr/bin/chromium"
# as tests/test_video.py: four SFEW frames with one clear face each, each held 2 s
from clips import MeanModel, decoded_frames, sfew_clip_file, write_clip  # noqa: E402


def _analyze(path, model, **kwargs):
    # persons are set by hand below (with_persons): the test stays fast
    return analyze_video(path, model, every=0.5, persons=False, **kwargs)


@pytest.fixture(scope="module")
def sfew_clip(sfew_frames_dir, tmp_path_factory):
    return sfew_clip_file(sfew_frames_dir, tmp_path_factory.mktemp("video"))


@pytest.fixture(scope="module")
def sfew_timeline(sfew_clip):
    from skfer.models import load_model

    timeline = _analyze(sfew_clip, load_model("fer2013", device="cpu"))
    assert timeline["track"].tolist() == [k // 4 for k in range(16)]  # one face per frame
    return timeline


def with_persons(timeline):
    """Tracks 0 and 2 (Bridesmaids, I Am Sam) as person 0, tracks 1 and 3 as person 1."""
    out = timeline.copy()
    out.attrs = dict(timeline.attrs)
    out.insert(out.columns.get_loc("track") + 1, "person", out["track"] % 2)
    return out


def synthetic(n_tracks=60, duration=60.0, step=0.5, n_shots=100, persons=None, seed=0):
    """A timeline of ``n_tracks`` tracks spread over a whole ``duration`` s film."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, duration, step)
    shots = np.r_[0.0, np.sort(rng.choice(times[1:], n_shots - 1, replace=False))]
    # each track: a run of consecutive samples, the tracks tiling the film in turn
    bounds = np.linspace(0, len(times), n_tracks + 1).astype(int)
    rows = []
    for track, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        for t in times[a:b]:
            p = rng.dirichlet(np.ones(len(EMOTIONS)))
            row = dict(time=t, frame=int(t * 25), shot=int(np.searchsorted(shots, t, "right") - 1))
            row.update(track=track, x=10.0, y=10.0, w=50.0, h=50.0, score=0.9)
            row.update({f"p_{e}": v for e, v in zip(EMOTIONS, p)})
            row.update(label=EMOTIONS[int(p.argmax())], valence=0.0, arousal=0.0)
            rows.append(row)
    timeline = pd.DataFrame(rows)
    if persons:
        timeline.insert(4, "person", timeline["track"] % persons)
    timeline.attrs.update(step=step, duration=duration, shots=shots.tolist())
    return timeline


def bars_x(ax):
    """(start, end) of every bar of a broken_barh lane plot."""
    spans = []
    for collection in ax.collections:
        if isinstance(collection, PolyCollection):
            for path in collection.get_paths():
                spans.append((path.vertices[:, 0].min(), path.vertices[:, 0].max()))
    return np.array(spans)


# ----------------------------------------------------------------- plots


def test_plots_compose_into_a_callers_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    timeline = synthetic(n_tracks=6, duration=20.0, n_shots=5, persons=3)
    fig = Figure(figsize=(12, 8))
    top, middle, bottom = fig.subplots(3, 1)
    assert plot_timeline(timeline, ax=top, title="mine") is fig
    assert plot_tracks(timeline, ax=middle) is fig
    assert plot_persons(timeline, ax=bottom) is fig
    assert len(fig.axes) == 3  # nothing added: plot_timeline's valence panel is omitted
    assert top.get_title() == "mine" and top.collections  # the stacked probabilities
    assert {t.get_text() for t in middle.get_yticklabels()} == {f"person {p}" for p in range(3)}
    assert len(bottom.images) == 3  # one probability strip per person
    # sub-figures: the root figure is returned
    root = Figure()
    sub = root.subfigures(1, 2)[1]
    assert plot_tracks(timeline, ax=sub.subplots()) is root
    assert list(tmp_path.iterdir()) == []  # nothing written without a path
    with pytest.raises(TypeError, match="matplotlib Axes"):
        plot_tracks(timeline, ax="not an axes")


def test_plots_write_only_given_a_path(tmp_path):
    timeline = synthetic(n_tracks=4, duration=10.0, n_shots=3)
    for plot in (plot_timeline, plot_tracks, plot_persons):
        fig = plot(timeline)
        assert isinstance(fig, Figure)
        assert plot(timeline, tmp_path / f"{plot.__name__}.png").axes  # positional path
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plot_persons.png", "plot_timeline.png", "plot_tracks.png"
    ]  # fmt: skip
    for path in tmp_path.iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_tracks(timeline, tmp_path / "no" / "tracks.png")


@pytest.mark.parametrize("persons", [None, 45])
def test_plot_tracks_covers_the_whole_film(persons):
    timeline = synthetic(n_tracks=60, duration=60.0, persons=persons)
    by = "person" if persons else "track"
    n = timeline[by].nunique()
    assert n > 30
    ax = plot_tracks(timeline, max_rows=30).axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert len(names) == 30 and names[-1] == f"other ({n - 29})"
    assert ax.get_title() == f"{n} {by}s, 29 shown, {n - 29} in 'other': label at each sample"
    spans = bars_x(ax)
    assert spans[:, 0].min() == pytest.approx(0.0) and spans[:, 1].max() == pytest.approx(60.0)
    # every sampled time is inside a bar: no part of the film is dropped
    times = timeline["time"].unique()
    inside = (times[:, None] >= spans[:, 0] - 1e-9) & (times[:, None] < spans[:, 1] - 1e-9)
    assert inside.any(axis=1).all()
    assert ax.get_xlim() == (0.0, 60.0)
    # shot lines: one per cut, at the recorded starts
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    xs = sorted(segment[0, 0] for segment in lines.get_segments())
    np.testing.assert_allclose(xs, timeline.attrs["shots"][1:])
    # all rows fit: no "other" lane
    assert len(plot_tracks(timeline, max_rows=n).axes[0].get_yticklabels()) == n
    with pytest.raises(ValueError, match="max_rows"):
        plot_tracks(timeline, max_rows=0)
    with pytest.warns(FutureWarning, match="max_rows"):
        plot_tracks(timeline, max_tracks=5)


def test_plot_timeline_shots_smoothing_and_gaps():
    timeline = synthetic(n_tracks=10, duration=60.0, n_shots=100)
    timeline = timeline[(timeline["time"] < 20) | (timeline["time"] >= 30)]  # 10 s faceless
    raw = plot_timeline(timeline, smooth=None)
    smooth = plot_timeline(timeline)  # "auto": 2 s for 60 s sampled every 0.5 s
    assert len(raw.axes) == 2
    assert "2 s rolling mean" in smooth.axes[0].get_ylabel()
    assert "rolling" not in raw.axes[0].get_ylabel()

    def bottom_layer(fig):  # upper edge of the first stacked label, per time
        vertices = fig.axes[0].collections[0].get_paths()[0].vertices
        return vertices[vertices[:, 1] > 0]

    r, s = bottom_layer(raw), bottom_layer(smooth)
    assert s[:, 1].std() < 0.7 * r[:, 1].std()  # smoothed: less jumpy
    for layer in (r, s):  # the faceless stretch stays blank
        assert not ((layer[:, 0] > 20.2) & (layer[:, 0] < 29.8)).any()
    (lines,) = [c for c in raw.axes[0].collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 99
    assert {tuple(seg[:, 1]) for seg in lines.get_segments()} == {(0.0, 1.0)}  # full height
    # a feature film's 1500 cuts: short ticks along the top, not a wall of lines
    film = synthetic(n_tracks=20, duration=3600.0, n_shots=1500)
    (lines,) = [c for c in plot_timeline(film).axes[0].collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 1499
    assert min(seg[0, 1] for seg in lines.get_segments()) > 0.95
    # a timeline read back from CSV: shot starts from the shot column
    back = timeline.copy()
    back.attrs = {}
    expected = back.groupby("shot")["time"].min().iloc[1:].to_numpy()
    np.testing.assert_allclose(shot_starts(back), expected)
    assert len(plot_timeline(back, shots=False).axes[0].collections) == 7  # labels only
    with pytest.raises(ValueError, match="smooth"):
        plot_timeline(timeline, smooth=-1)


def test_plot_persons_lanes_and_thumbnails():
    timeline = synthetic(n_tracks=12, duration=30.0, n_shots=10, persons=4)
    faces = {p: [np.full((20, 16, 3), 40 * p, np.uint8)] for p in range(4)}
    ax = plot_persons(timeline, thumbnails=faces).axes[0]
    names = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert sorted(names) == [f"person {p}" for p in range(4)]
    assert sum(isinstance(a, AnnotationBbox) for a in ax.artists) == 4
    images = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 4
    for image in images:  # each strip spans the film; opaque only where the person is
        assert image.get_extent()[:2] == [0.0, 30.0]
        alpha = image.get_array()[..., 3]
        assert 0 < alpha.mean() < 1
    # without a person column: one lane per track; "other" past max_rows
    ax = plot_persons(timeline.drop(columns="person"), max_rows=5).axes[0]
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert labels[-1] == "other (8)" and labels[0].startswith("track ")
    assert "12 tracks, 4 shown, 8 in 'other'" in ax.get_title()
    # rows without a person id are drawn too, in a lane of their own
    loose = timeline.assign(person=timeline["person"].where(timeline["track"] < 9))
    ax = plot_persons(loose, max_rows=3).axes[0]
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert labels[-1] == "other (2) + no person" and len(labels) == 3
    with pytest.raises(ValueError, match="RGB uint8"):
        plot_persons(timeline, thumbnails={0: np.zeros((4, 4))})
    empty = plot_persons(timeline.iloc[:0]).axes[0]
    assert [t.get_text() for t in empty.texts] == ["no faces found"]


# ----------------------------------------------------------------- thumbnails


def test_thumbnail_rows_spread_and_prefer_large_faces():
    timeline = synthetic(n_tracks=2, duration=10.0, n_shots=2)
    timeline.loc[timeline["time"] == 1.0, "w"] = 90.0  # the largest face of track 0
    rows = thumbnail_rows(timeline, per_group=3, by="track")
    assert rows.groupby("group").size().tolist() == [3, 3]
    first = rows[rows["group"] == 0]["time"].tolist()
    assert 1.0 in first and first == sorted(first) and first[-1] > 3.0  # spread
    with pytest.raises(ValueError, match="no 'person' column"):
        thumbnail_rows(timeline, by="person")


@pytest.mark.slow
def test_face_thumbnails_read_the_faces_back(sfew_clip, sfew_timeline, tmp_path):
    frames = decoded_frames(sfew_clip)
    faces = face_thumbnails(sfew_timeline, per_group=2, size=64)
    assert list(faces) == [0, 1, 2, 3] and all(len(v) == 2 for v in faces.values())
    rows = thumbnail_rows(sfew_timeline, per_group=2)
    for crop, (_, row) in zip([c for v in faces.values() for c in v], rows.iterrows()):
        assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
        expected = _crop(frames[int(row["frame"])], row[["x", "y", "w", "h"]], 64, 0.25)
        np.testing.assert_array_equal(crop, expected)
    # frames far apart are reached by seeking, and still are the right ones
    far = sfew_timeline[sfew_timeline["frame"].isin([0, 60])]
    for crop, (_, row) in zip(read_crops(sfew_clip, far), far.iterrows()):
        expected = _crop(frames[int(row["frame"])], row[["x", "y", "w", "h"]], 96, 0.25)
        np.testing.assert_array_equal(crop, expected)
    persons = face_thumbnails(with_persons(sfew_timeline), per_group=3)
    assert {k: len(v) for k, v in persons.items()} == {0: 3, 1: 3}
    with pytest.raises(FileNotFoundError, match="Video file not found: .*gone.avi"):
        face_thumbnails(sfew_timeline, tmp_path / "gone.avi")
    moved = sfew_timeline.copy()
    moved.attrs = {**sfew_timeline.attrs, "source": str(tmp_path / "moved.avi")}
    with pytest.raises(FileNotFoundError, match="moved.avi.*pass video="):
        face_thumbnails(moved)
    moved.attrs = {}
    with pytest.raises(ValueError, match="does not record its video"):
        face_thumbnails(moved)
    assert len(face_thumbnails(moved, sfew_clip, per_group=1)) == 4
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 50)
    with pytest.raises(ValueError, match="junk.avi"):
        face_thumbnails(sfew_timeline, junk)
    assert face_thumbnails(sfew_timeline.iloc[:0], tmp_path / "gone.avi") == {}


# ----------------------------------------------------------------- the report


def chromium(tmp_path, page, *args):
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args,
        page.resolve().as_uri(),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def test_report_is_self_contained_and_escaped(tmp_path):
    timeline = synthetic(n_tracks=5, duration=20.0, n_shots=4, persons=2)
    timeline.attrs.update(source=str(tmp_path / "moved <film>.mp4"))  # the video is gone
    run = {"model": "fer2013", "command": "<script>alert(1)</script>", "threads": 2}
    with pytest.warns(UserWarning, match="Faces not shown"):
        page = write_report(timeline, tmp_path, run=run)
    assert page == tmp_path / "report.html"
    text = page.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "moved &lt;film&gt;.mp4" in text
    assert not re.search(r"https?://", text)
    assert re.findall(r'src="([^"]{0,22})', text) == ["data:image/png;base64,"] * 2  # plots
    assert text.count('class="card"') == 2 and "Faces not shown" in text
    assert "over-read sad" in text and 'id="scheme-table"' in text
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(timeline, tmp_path / "no" / "report.html")


def test_report_scheme_view_needs_the_seven_emotions(tmp_path):
    timeline = synthetic(n_tracks=3, duration=6.0, n_shots=2)
    proba = timeline[[f"p_{e}" for e in EMOTIONS]].to_numpy()
    negative = proba[:, [0, 1, 2, 4]].sum(axis=1)
    kept = proba[:, [3, 6]].sum(axis=1) + negative
    text = write_report(timeline, tmp_path / "r.html").read_text(encoding="utf-8")
    table = re.search(r'<table id="scheme-table">.*?</table>', text).group(0)
    mean = re.findall(r'<td class="n">(\d+)%</td><td class="n">([\d.]+)</td>', table)
    assert [float(m) for _, m in mean] == pytest.approx(
        [(proba[:, 3] / kept).mean(), (proba[:, 6] / kept).mean(), (negative / kept).mean()],
        abs=0.006,
    )  # positive, neutral, negative (surprise left out, renormalised)
    two = timeline.drop(columns=[f"p_{e}" for e in EMOTIONS[2:]])
    two.attrs = {}
    text = write_report(two, tmp_path / "two.html").read_text(encoding="utf-8")
    assert "Not computed: the labels (angry, disgust)" in text


def test_report_without_faces(grey_clip_timeline, tmp_path):
    page = write_report(grey_clip_timeline, tmp_path / "empty.html", run={"model": "mean"})
    text = page.read_text(encoding="utf-8")
    assert "No faces were found in this film (5 frames analysed)" in text
    assert "<img" not in text and 'id="windows-table"' in text and 'id="run-record"' in text


@pytest.fixture(scope="module")
def grey_clip_timeline(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "grey.avi"
    write_clip(path, [np.full((120, 160, 3), 128, np.uint8)], fps=10, hold=25)
    timeline = _analyze(path, MeanModel())
    assert timeline.empty
    return timeline


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"no headless browser at {CHROMIUM} (Debian chromium)"
)
@pytest.mark.parametrize("persons", [True, False], ids=["persons", "tracks"])
def test_report_renders_in_headless_chromium(sfew_timeline, persons, tmp_path):
    timeline = with_persons(sfew_timeline) if persons else sfew_timeline
    by = "person" if persons else "track"
    run = {"model": "fer2013", "checksum": "sha256:0123abcd", "command": "skfer video sfew.avi"}
    profile = film_profile(timeline, window=2.0)
    page = write_report(timeline, tmp_path / "report.html", run=run, profile=profile)
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?:""", text)
    assert not re.search(r"https?://", text)  # nothing to fetch, and no link out either
    shot = tmp_path / "report.png"
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (2000, 1280)
    colours = image.reshape(-1, 3).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1])
    assert len(np.unique(colours)) > 100  # not one colour: text, plots, faces
    dom = chromium(tmp_path, page, "--dump-dom").stdout
    assert "<title>Emotion report: sfew.avi</title>" in dom
    record = re.search(r'<table class="kv" id="run-record">.*?</table>', dom).group(0)
    for field in ("source", "sfew.avi", "fer2013", "sha256:0123abcd", "hog+yunet", "ekman7"):
        assert field in record
    assert re.search(r"<th>shots</th><td>4</td>", record)
    assert re.search(r'<img class="plot" id="person-lanes" src="data:image/png;base64,', dom)
    cards = re.findall(rf'<figure class="card" id="{by}-(\d+)">(.*?)</div></figure>', dom)
    n = 2 if persons else 4
    assert sorted(int(k) for k, _ in cards) == list(range(n))
    for _, card in cards:  # six faces per person (four samples per track), their emotion
        faces = re.findall(r'<img class="face" src="data:image/png;base64,', card)
        assert len(faces) == (6 if persons else 4)
        assert "dominant: <b>" in card and "on screen" in card
    table = re.search(rf'<table class="data" id="{by}s-table">.*?</table>', dom).group(0)
    assert table.count("<tr>") == 1 + n
    windows = re.search(r'<table class="data" id="windows-table">.*?</table>', dom).group(0)
    assert windows.count("<tr>") == 1 + 4  # 8 s in 2 s windows
