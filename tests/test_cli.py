"""The ``skfer`` command line, called in-process through ``skfer.cli.main``."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

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


def test_scheme_option_takes_names_and_mappings(capsys):
    from skfer.cli import build_parser
    from skfer.emotions import EMOTIONS

    def scheme(text, command=("predict", "a.png")):
        return build_parser().parse_args([*command, "--scheme", text]).scheme

    assert (scheme("top4").name, scheme("top4").value) == ("top4", "top4")
    dropped = scheme("ekman7,Contempt=")  # CK+'s extra class left out; still ekman7 to read
    assert dropped.name == "ekman7"
    assert dropped.value == {**{e: e for e in EMOTIONS}, "contempt": None}
    changed = scheme("clusters,surprise=positive")
    assert changed.name == "clusters,surprise=positive"
    assert changed.value["surprise"] == "positive" and changed.value["happy"] == "positive"
    pairs = scheme("happiness=pos, sad=neg, neutral=")
    assert pairs.value == {"happy": "pos", "sad": "neg", "neutral": None}
    json_scheme = scheme('{"happy": "pos", "anger": "neg", "contempt": null}')
    assert json_scheme.name == "custom"
    assert json_scheme.value == {"happy": "pos", "angry": "neg", "contempt": None}
    args = build_parser().parse_args(["evaluate", "a.csv", "--schemes", "top4,contempt=", "top4"])
    assert [s.name for s in args.schemes] == ["top4", "top4"]  # reported as top4, top4-2
    for bad, needle in [
        ("ekman8", "neither a scheme name"),
        ("ekman7,bored=", "Unknown emotion label 'bored'"),
        ("contempt=", "leaves no class"),
        ("{nope", "invalid JSON"),
        ('["happy"]', "not a JSON object"),
    ]:
        assert main(["predict", "a.png", "--scheme", bad]) == 2
        one_line_error(capsys.readouterr().err, "argument --scheme", needle)


def test_options_left_out_are_the_librarys_defaults(monkeypatch, tmp_path):
    """The CLI passes on only what was given: no copies of library defaults."""
    import functools

    import skfer.video

    calls = []

    def recorder(function):
        @functools.wraps(function)  # the help still reads the library's signature
        def record(*args, **kwargs):
            calls.append(kwargs)
            raise RuntimeError("recorded")

        return record

    for name in ("analyze_images", "analyze_video"):
        monkeypatch.setattr(skfer.video, name, recorder(getattr(skfer.video, name)))
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.full((20, 20), 128, np.uint8))
    assert main(["predict", str(image)]) == 1
    assert main(["video", "film.mp4"]) == 1  # progress left to the library's rule
    assert main(["video", "film.mp4", "--no-landmarks", "--every", "2", "--quiet"]) == 1
    assert main(["predict", str(image), "--detector", "hog", "--scheme", "ekman7,contempt="]) == 1
    assert calls[0] == {}
    assert calls[1] == {}
    assert calls[2] == {"every": 2.0, "landmarks": False, "progress": False}
    assert calls[3]["detector"] == "hog" and calls[3]["scheme"]["contempt"] is None


def test_detector_column_and_min_score_in_the_library():
    """What --min-score and the detector column rest on: each Face names its detector
    (in a chain, the one that found it); min_score drops faces before classification,
    globally or per detector, and is checked."""
    import math

    from skimage.data import astronaut
    from sklearn.dummy import DummyClassifier

    from skfer.faces import detect_faces
    from skfer.video import analyze_images

    photo = astronaut()
    assert {f.detector for f in detect_faces(photo, detector="hog")} == {"hog"}
    model = DummyClassifier().fit(np.zeros((2, 1)), ["happy", "sad"])
    table = analyze_images([photo], model, detector="hog")
    assert set(table["detector"]) == {"hog"} and len(table) > 1  # hog at -0.5 finds extras
    assert table.columns.get_loc("detector") == table.columns.get_loc("score") + 1
    best = float(table["score"].max())
    sure = analyze_images([photo], model, detector="hog", min_score=best)
    assert len(sure) == (table["score"] >= best).sum() < len(table)  # dropped, then counted
    assert sure["score"].tolist() == [best]
    above = analyze_images([photo], model, detector="hog", min_score=best + 0.01)
    assert above["face_found"].tolist() == [False]  # all dropped: a faceless image
    per = analyze_images([photo], model, detector="hog", min_score={"yunet": 9.0})
    assert len(per) == len(table)  # a threshold for another detector keeps hog's faces
    pytest.importorskip("yuface")
    chained = analyze_images([photo], model, detector="yunet+hog")
    assert chained["detector"].tolist() == ["yunet"] and 0 < chained["score"][0] <= 1
    for bad in ("high", True, math.nan, {"hog": "x"}, {"yuent": 0.7}):
        with pytest.raises(ValueError, match="min_score"):
            analyze_images([photo], model, detector="hog", min_score=bad)


# ------------------------------------------------------------------ commands


@pytest.mark.slow
def test_predict(sfew_frames_dir, tmp_path, capsys):
    frame = sfew_frames_dir / FRAME
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((100, 100), 128, np.uint8))
    out = tmp_path / "annotated.png"
    assert main(["predict", str(frame), "--detector", "hog", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    # which model ran, on stderr: the shipped default, by name and file
    assert captured.err.strip().startswith("model: fer2013 (shipped: ")
    assert captured.err.strip().endswith("fer2013.safetensors)")
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
        "run.json",
    ]


@pytest.mark.slow
def test_predict_folders_globs_and_tables(sfew_frames_dir, tmp_path, capsys):
    import json

    from skfer._run_record import model_record
    from skfer.models._io import read_weights

    folder = tmp_path / "frames"
    folder.mkdir()
    for name in (FRAME, "Sad/IAmSam_013827920__00000101.jpg"):
        (folder / Path(name).name).write_bytes((sfew_frames_dir / name).read_bytes())
    (folder / "notes.txt").write_text("not an image")
    csv, js = tmp_path / "t" / "faces.csv", tmp_path / "t" / "faces.json"
    assert main(["predict", str(folder), "--csv", str(csv), "--json", str(js)]) == 0
    table = pd.read_csv(csv)
    assert sorted(Path(p).name for p in table["path"].unique()) == sorted(
        p.name for p in folder.glob("*.jpg")
    )
    assert {"face", "face_found", "score", "detector", "p_happy", "label"} <= set(table.columns)
    assert set(table["detector"]) <= {"hog", "yunet"}
    records = json.loads(js.read_text())
    assert len(records) == len(table) and records[0]["path"] == table["path"][0]
    run = json.loads((csv.parent / "faces.run.json").read_text())  # <stem>.run.json
    assert run["command"] == "predict" and run["status"] == "ok" and run["inputs"] == 2
    assert run["model"]["given"] == "fer2013" and run["model"]["shipped"] is True
    assert run["model"]["checksum"] == model_record("fer2013", None)["checksum"]
    assert run["model"]["checksum"] == read_weights("fer2013")[1]["checksum"]
    assert run["model"]["checksum"].startswith("sha256:")
    assert run["detector"] in ("hog+yunet", "hog+cnn") and "margin" in run["framing"]
    assert {"argv", "started", "finished", "wall_s", "skfer", "python", "platform"} <= set(run)
    assert run["versions"]["numpy"] and run["model"]["classes"]
    assert "\x1b[" not in capsys.readouterr().out  # plain text when not on a terminal
    assert sorted(run["outputs"]) == sorted([str(csv), str(js)])
    # a glob the shell did not expand, and --min-score dropping the faces scored under it
    found = table[table["face_found"]]
    best = float(found["score"].max())
    cut = ["predict", str(folder / "*.jpg"), "--csv", str(csv), "--min-score", repr(best)]
    assert main(cut) == 0
    kept = pd.read_csv(csv)
    assert kept["face_found"].sum() == (found["score"] >= best).sum() >= 1
    assert kept["face_found"].sum() < len(found) or found["score"].nunique() == 1
    assert main(["predict", str(folder / "*.jpg"), "--csv", str(csv), "--min-score", "9"]) == 0
    dropped = pd.read_csv(csv)
    assert len(dropped) == 2 and not dropped["face_found"].any()
    assert json.loads((csv.parent / "faces.run.json").read_text())["min_score"] == 9
    capsys.readouterr()
    # per detector: a threshold for another detector keeps every face
    per = ["predict", str(folder), "--csv", str(csv), "--min-score", "mtcnn=9", "--quiet"]
    assert main(per) == 0
    assert pd.read_csv(csv)["face_found"].sum() == table["face_found"].sum()
    assert "model:" not in capsys.readouterr().err  # --quiet
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty)]) == 1
    assert "no image files" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "none-*.png")]) == 1
    assert "no image files match" in capsys.readouterr().err
    assert main(["predict", "x.png", "--min-score", "yunet=high"]) == 2
    one_line_error(capsys.readouterr().err, "'yunet=high' is not a score")
    assert main(["predict", "x.png", "--min-score", "yuent=0.7"]) == 2  # not a detector
    one_line_error(capsys.readouterr().err, "'yuent'", "not a detector")


@pytest.mark.slow
def test_predict_progress_over_many_images(sfew_frames_dir, tmp_path, capsys, monkeypatch):
    """A bar over the images: forced on a captured stderr it is plain lines; --quiet and
    SKFER_PROGRESS=0 silence it; by default a short run off a terminal prints none."""
    names = sorted((sfew_frames_dir / "Happy").glob("*.jpg"))[:3]
    args = ["predict", *map(str, names), "--detector", "hog"]
    monkeypatch.setenv("SKFER_PROGRESS", "1")
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "predicting" in err and "3/3" in err
    assert "\r" not in err and "\x1b[" not in err and err.isascii()
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SKFER_PROGRESS", "0")
    assert main(args) == 0
    assert "predicting" not in capsys.readouterr().err
    monkeypatch.delenv("SKFER_PROGRESS")
    assert main(args) == 0
    assert "predicting" not in capsys.readouterr().err  # under 10 s, off a terminal


@pytest.mark.slow
def test_video_writes_csv_and_pngs(sfew_frames_dir, tmp_path, capsys, monkeypatch):
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
    monkeypatch.setenv("SKFER_PROGRESS", "1")  # the bar, forced on a captured stderr
    assert main(["video", str(clip), "--every", "0.5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "\x1b[" not in captured.out + captured.err
    assert "clip.mp4: 6 frames analysed" in captured.out
    assert "2 tracks" in captured.out
    assert "model: film (shipped: " in captured.out
    assert "%" in captured.err and "\r" not in captured.err  # the progress, as lines
    names = {"timeline.csv", "tracks.csv", "windows.csv", "persons.csv", "report.html"}
    names |= {"timeline.png", "tracks.png", "persons.png", "run.json"}
    assert {p.name for p in out.iterdir()} == names
    import json

    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "video" and run["status"] == "ok"
    assert run["film"]["n_sampled"] == 6 and run["film"]["detector"] in ("hog+yunet", "hog+cnn")
    assert run["film"]["shots"] == [0.0, 2.0] and run["model"]["given"] == "film"
    assert run["sampling"] == {"every": 0.5} and "report.html" in " ".join(run["outputs"])
    assert run["model"]["checksum"] in (out / "report.html").read_text()
    timeline = pd.read_csv(out / "timeline.csv")
    assert timeline["time"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert timeline["track"].tolist() == [0, 0, 0, 0, 1, 1]
    assert {"label", "valence", "arousal", "p_happy", "p_sad", "shot"} <= set(timeline.columns)
    tracks = pd.read_csv(out / "tracks.csv")
    assert {"share_happy", "face_time", "screen_time"} <= set(tracks.columns)
    for png in ("timeline.png", "tracks.png"):
        assert (out / png).read_bytes()[:8] == PNG


@pytest.mark.slow
def test_demo(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "astronaut.png" in printed
    assert (tmp_path / "astronaut_annotated.png").read_bytes()[:8] == PNG
    assert (tmp_path / "camera_annotated.png").is_file()
    import json

    run = json.loads((tmp_path / "run.json").read_text())
    assert run["command"] == "demo" and run["status"] == "ok" and run["inputs"] >= 2
    assert run["model"]["given"] == "fer2013" and run["model"]["checksum"].startswith("sha256:")
    assert run["detector"] in ("hog+yunet", "hog+cnn")
    assert str(tmp_path / "astronaut_annotated.png") in run["outputs"]


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


def test_evaluate_trains_and_reports(fer2013, sfew_dir, tmp_path, capsys, monkeypatch):
    train, folder = _small_datasets(
        fer2013, sfew_dir, tmp_path, {"Training": 200, "PrivateTest": 40}, ("Happy", "Sad"), 5
    )
    out = tmp_path / "report"
    monkeypatch.setenv("SKFER_PROGRESS", "1")  # the bars, forced on a captured stderr
    args = ["evaluate", str(train), str(folder), "--backbone", "skfer_cnn_fast", "--epochs", "1"]
    assert main([*args, "--no-crop", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "tiny-PrivateTest" in printed and "sfew-Train" in printed
    # progress on stderr by default: a line per stage, plain text (no colour codes)
    assert "training on 200 faces" in captured.err and "predicting" in captured.err
    assert "50/50" in captured.err  # the bar over the 40 + 10 faces predicted
    assert "\x1b[" not in captured.out + captured.err
    import json

    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "evaluate" and run["datasets"]["sfew-Train"] == 10
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
    assert main(["evaluate", str(train), str(folder), "--model", "fer2013", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "tiny-PrivateTest" in captured.out and "sfew-Train" in captured.out
    assert "cropping" not in captured.err and "predicting" not in captured.err  # --quiet


def test_evaluate_on_a_folder_with_an_extra_class_through_a_scheme_mapping(
    fer2013, sfew_dir, tmp_path, capsys
):
    """CK+-style: a contempt folder the 7-class model does not know; --schemes leaves it out."""
    train, folder = _small_datasets(
        fer2013, sfew_dir, tmp_path, {"PrivateTest": 20}, ("Happy", "Sad"), 3
    )
    (folder / "Contempt").mkdir()
    for path in sorted((folder / "Happy").iterdir())[:2]:
        (folder / "Contempt" / path.name).write_bytes(path.read_bytes())
    args = ["evaluate", str(train), str(folder), "--model", "fer2013", "--no-crop"]
    assert main(args) == 1  # ekman7 has no contempt: the error says how to leave it out
    *stages, error = capsys.readouterr().err.strip().splitlines()  # stage lines, then one
    assert all(line.startswith("[") for line in stages)
    one_line_error(error, "skfer evaluate: error:", "contempt")
    out = tmp_path / "report"
    assert main([*args, "--schemes", "ekman7,contempt=", "top4,contempt=", "--out", str(out)]) == 0
    assert "sfew-Train" in capsys.readouterr().out
    report = pd.read_csv(out / "report.csv")
    assert set(report["scheme"]) == {"ekman7", "top4"}
    sfew = report[(report.dataset == "sfew-Train") & (report.scheme == "ekman7")]
    assert "contempt" not in set(sfew["label"])
    assert sfew.set_index("label").loc[["happy", "sad"], "support"].tolist() == [3, 3]
    assert sfew["support"].sum() == 6  # the two contempt faces are out of the scheme


@pytest.mark.slow
def test_predict_and_video_with_the_onnx_backend(sfew_frames_dir, tmp_path, monkeypatch):
    """--backend onnx: the same faces and labels as torch; once the ONNX file is cached
    (built at first use), a predicting process never imports torch."""
    import json
    import subprocess
    import sys

    image = sfew_frames_dir / FRAME
    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    torch_csv, onnx_csv = tmp_path / "torch.csv", tmp_path / "onnx.csv"
    args = ["predict", str(image), "--csv", str(torch_csv), "--quiet", "--backend", "torch"]
    assert main(args) == 0
    assert main(["predict", str(image), "--csv", str(onnx_csv), "--backend", "onnx"]) == 0
    ours, theirs = pd.read_csv(torch_csv), pd.read_csv(onnx_csv)
    assert ours["label"].tolist() == theirs["label"].tolist()
    proba = [c for c in ours.columns if c.startswith("p_")]
    np.testing.assert_allclose(ours[proba], theirs[proba], atol=1e-4)
    assert "onnxruntime" in json.loads((tmp_path / "onnx.run.json").read_text())["versions"]

    def last_line_on_a_cpu(code: str) -> str:
        """What a fresh Python process printed last, with no GPU visible (auto is torch
        on a GPU)."""
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        run = [sys.executable, "-c", code]
        out = subprocess.run(run, capture_output=True, text=True, check=True, env=env)
        return out.stdout.strip().splitlines()[-1]

    for backend in (["--backend", "onnx"], []):  # the default (auto) is ONNX on a CPU
        code = (
            "import sys; from skfer.cli import main; "
            f"rc = main(['predict', {str(image)!r}, '--quiet', *{backend!r}]); "
            "print('torch' in sys.modules, 'imblearn' in sys.modules, rc)"
        )
        assert last_line_on_a_cpu(code) == "False False 0", backend
    # a film through the ONNX backend: the same labels as the torch backend
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 8, (720, 576))
    for _ in range(8):
        writer.write(cv2.imread(str(image)))
    writer.release()
    for backend in ("torch", "onnx"):
        args = ["video", str(clip), "--every", "0.5", "--out", str(tmp_path / backend)]
        assert main([*args, "--backend", backend, "--quiet"]) == 0
    a, b = (pd.read_csv(tmp_path / k / "timeline.csv") for k in ("torch", "onnx"))
    assert a["label"].tolist() == b["label"].tolist() and len(a) == 2
    # the library's default for a film (VIDEO_MODEL on backend "auto"): no torch either
    code = (
        "import sys; from skfer import analyze_video; "
        f"t = analyze_video({str(clip)!r}, every=0.5, progress=False); "
        "print('torch' in sys.modules, len(t))"
    )
    assert last_line_on_a_cpu(code) == "False 2"
