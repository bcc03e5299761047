"""run.json (skfer._run_record): its fields, atomic writes, partial films."""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from skfer._run_record import model_record, new_record, record_beside, write_record


# ------------------------------------------------------------------- run.json
def test_record_is_written_atomically_with_its_fields(tmp_path):
    record = new_record(["predict", "a.png"], "predict")
    record.update(model={"checksum": "sha256:x"}, score=np.float32(0.5), nan=math.nan)
    record["shots"] = np.array([0.0, 2.0])
    path = write_record(record, tmp_path / "out")
    assert path == tmp_path / "out" / "run.json"
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]  # no temporary file left
    run = json.loads(path.read_text())  # strict JSON: NaN is null
    assert run["argv"] == ["skfer", "predict", "a.png"] and run["command"] == "predict"
    assert run["status"] == "ok" and "error" not in run and "_t0" not in run
    assert run["started"].endswith("+00:00") and run["finished"] >= run["started"]
    assert run["wall_s"] >= 0 and run["python"] == ".".join(map(str, sys.version_info[:3]))
    assert run["versions"]["numpy"] == np.__version__
    assert run["score"] == 0.5 and run["nan"] is None and run["shots"] == [0.0, 2.0]
    assert {"skfer", "platform"} <= set(run)


def test_record_of_a_failure_and_beside_a_file(tmp_path):
    target = record_beside(tmp_path / "t" / "faces.csv")
    assert target == tmp_path / "t" / "faces.run.json"
    write_record(new_record(["video", "f.mp4"], "video"), target, error="it broke")
    run = json.loads(target.read_text())
    assert run["status"] == "error" and run["error"] == "it broke"
    write_record(new_record([], "video"), target)  # replaced, not appended
    assert json.loads(target.read_text())["status"] == "ok"


def test_model_record_checksum_is_the_weights_files(data_dir):
    from skfer._shipped import resolve_weights
    from skfer.models._io import read_weights

    record = model_record(None, "fer2013")
    _, config = read_weights("fer2013")
    assert record["given"] == "fer2013" and record["shipped"] is True
    assert record["file"] == str(resolve_weights("fer2013"))
    assert record["checksum"] == config["checksum"] and record["classes"] == config["classes"]
    by_file = model_record(record["file"], "fer2013")
    assert by_file["shipped"] is False and by_file["checksum"] == config["checksum"]


def test_partial_film_gets_its_run_json(tmp_path, capsys):
    from test_video_damage import truncate, write_clip

    film = truncate(write_clip(tmp_path / "cut.avi", "MJPG"))
    out = tmp_path / "out"
    from skfer.cli import main

    args = ["video", str(film), "--every", "1", "--detector", "hog", "--out", str(out)]
    assert main(args) == 1
    capsys.readouterr()
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "error" and "--allow-partial" in run["error"]
    assert run["film"]["complete"] is False and run["film"]["damage"]
    assert run["film"]["covered"] and run["film"]["detector"] == "hog"
    assert run["sampling"] == {"every": 1.0} and run["model"]["given"] == "film"
    assert any(name.endswith("timeline.csv") for name in run["outputs"])
