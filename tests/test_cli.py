"""The ``skfer`` command line, called in-process through ``skfer.cli.main``."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from skfer.cli import main

cv2 = pytest.importorskip("cv2")

FRAME = "Happy/Bridesmaids_001335200_00000016.jpg"
PNG = b"\x89PNG\r\n\x1a\n"


def one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


# ------------------------------------------------------------------ usage


@pytest.mark.parametrize("command", [[], ["predict"], ["video"], ["demo"], ["evaluate"]])
def test_help(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: skfer {' '.join(command)}".rstrip())
    if not command:
        for name in ("predict", "video", "demo", "evaluate"):
            assert name in out


def test_usage_errors_are_one_line(capsys):
    assert main([]) == 2
    one_line_error(capsys.readouterr().err, "skfer: error:", "COMMAND")
    assert main(["video"]) == 2
    one_line_error(capsys.readouterr().err, "skfer video: error:", "FILM")
    assert main(["video", "x.mp4", "--every", "soon"]) == 2
    one_line_error(capsys.readouterr().err, "--every")
    assert main(["frobnicate"]) == 2
    one_line_error(capsys.readouterr().err, "frobnicate")


def test_missing_files_are_one_line_errors(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "missing.png")]) == 1
    one_line_error(capsys.readouterr().err, "skfer predict: error:", "missing.png")
    assert main(["video", str(tmp_path / "missing.mp4")]) == 1
    one_line_error(capsys.readouterr().err, "skfer video: error:", "missing.mp4")
    (tmp_path / "empty.mp4").touch()
    assert main(["video", str(tmp_path / "empty.mp4")]) == 1
    one_line_error(capsys.readouterr().err, "empty")
    assert main(["evaluate", str(tmp_path / "missing.csv"), "--model", "nope"]) == 1
    one_line_error(capsys.readouterr().err, "skfer evaluate: error:", "nope")


def test_unknown_model_is_a_one_line_error(tmp_path, capsys):
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.full((60, 60), 128, np.uint8))
    assert main(["predict", str(image), "--model", str(tmp_path / "none.safetensors")]) == 1
    one_line_error(capsys.readouterr().err, "none.safetensors")


# ------------------------------------------------------------------ commands


@pytest.mark.slow
def test_predict(sfew_frames_dir, tmp_path, capsys):
    frame = sfew_frames_dir / FRAME
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((100, 100), 128, np.uint8))
    out = tmp_path / "annotated.png"
    assert main(["predict", str(frame), "--detector", "hog", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    header, row = printed.splitlines()[:2]
    assert header.split() == ["image", "face", "box", "label", "p", "valence", "arousal"]
    assert row.split()[0] == frame.name
    assert out.read_bytes()[:8] == PNG
    assert cv2.imread(str(out)).shape == (576, 720, 3)

    folder = tmp_path / "many"
    args = ["predict", str(frame), str(grey), "--detector", "hog", "--out", str(folder)]
    assert main([*args, "--scheme", "clusters"]) == 0
    printed = capsys.readouterr().out
    assert "grey.png: no face found" in printed
    assert printed.splitlines()[1].split()[3] in {"positive", "neutral", "negative"}
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{frame.stem}_annotated.png",
        "grey_annotated.png",
    ]


@pytest.mark.slow
def test_video_writes_csv_and_pngs(sfew_frames_dir, tmp_path, capsys):
    frames = [cv2.imread(str(sfew_frames_dir / FRAME))] * 2 + [
        cv2.imread(str(sfew_frames_dir / "Sad/IAmSam_013827920__00000101.jpg"))
    ]
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (720, 576))
    for frame in frames:
        for _ in range(10):
            writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    assert main(["video", str(clip), "--every", "0.5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "clip.mp4: 6 frames analysed" in captured.out
    assert "2 tracks" in captured.out
    assert "%" in captured.err  # the progress bar
    names = {"timeline.csv", "tracks.csv", "windows.csv", "timeline.png", "tracks.png"}
    assert {p.name for p in out.iterdir()} == names
    timeline = pd.read_csv(out / "timeline.csv")
    assert timeline["time"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert timeline["track"].tolist() == [0, 0, 0, 0, 1, 1]
    assert {"label", "valence", "arousal", "happy", "sad"} <= set(timeline.columns)
    for png in ("timeline.png", "tracks.png"):
        assert (out / png).read_bytes()[:8] == PNG


@pytest.mark.slow
def test_demo(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "astronaut.png" in printed
    assert (tmp_path / "astronaut_annotated.png").read_bytes()[:8] == PNG
    assert (tmp_path / "camera_annotated.png").is_file()


@pytest.mark.slow
def _small_datasets(fer2013, sfew_dir, tmp_path, sizes, emotions, per_emotion):
    """A small FER2013-style CSV of real rows (``sizes``: Usage -> rows) and a small
    SFEW-style folder of ``per_emotion`` real faces for each of ``emotions``."""
    rows = np.concatenate([np.flatnonzero(fer2013.usage == u)[:n] for u, n in sizes.items()])
    small = pd.DataFrame(
        {
            "emotion": fer2013.target_code[rows],
            "pixels": [" ".join(map(str, fer2013.images[i].ravel())) for i in rows],
            "Usage": fer2013.usage[rows],
        }
    )
    train = tmp_path / "tiny.csv.gz"
    with gzip.open(train, "wt") as fh:
        small.to_csv(fh, index=False)
    folder = tmp_path / "sfew" / "Train"
    for emotion in emotions:
        (folder / emotion).mkdir(parents=True)
        for path in sorted((sfew_dir / emotion).glob("*.png"))[:per_emotion]:
            (folder / emotion / path.name).write_bytes(path.read_bytes())
    return train, folder


def test_evaluate_trains_and_reports(fer2013, sfew_dir, tmp_path, capsys):
    train, folder = _small_datasets(
        fer2013, sfew_dir, tmp_path, {"Training": 200, "PrivateTest": 40}, ("Happy", "Sad"), 5
    )
    out = tmp_path / "report"
    args = ["evaluate", str(train), str(folder), "--backbone", "skfer_cnn_fast", "--epochs", "1"]
    assert main([*args, "--no-crop", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tiny-PrivateTest" in printed and "sfew-Train" in printed
    report = pd.read_csv(out / "report.csv")
    assert set(report["dataset"]) == {"tiny-PrivateTest", "sfew-Train"}
    assert set(report["scheme"]) == {"ekman7", "top4", "clusters"}
    sfew = report[(report.dataset == "sfew-Train") & (report.scheme == "ekman7")]
    assert sfew.set_index("label").loc[["happy", "sad"], "support"].tolist() == [5, 5]
    assert any(p.suffix == ".png" for p in out.iterdir())


def test_evaluate_a_shipped_model_with_cropping_and_no_extra_flags(
    fer2013, sfew_dir, tmp_path, capsys
):
    """The README's form: `skfer evaluate FER2013.csv.gz sfew/Train --model fer2013` (here on
    a small CSV and folder), faces in the folder detected by FaceCropper()'s default."""
    train, folder = _small_datasets(
        fer2013, sfew_dir, tmp_path, {"PrivateTest": 30}, ("Happy", "Neutral"), 3
    )
    assert main(["evaluate", str(train), str(folder), "--model", "fer2013"]) == 0
    printed = capsys.readouterr().out
    assert "tiny-PrivateTest" in printed and "sfew-Train" in printed
