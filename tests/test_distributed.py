"""skfer on Dask: searches through joblib's Dask backend, films on a cluster (issue 10)."""

from __future__ import annotations

import os
import pickle
import threading
import time
from importlib.util import find_spec

import numpy as np
import pytest
from conftest import tiny_cnn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.preprocessing import FunctionTransformer

from skfer import EmotionLabelMapper, Pipeline, scheme_scorer
from skfer.distributed import check_picklable

HAS_DASK = find_spec("distributed") is not None and find_spec("pyarrow") is not None
needs_dask = pytest.mark.skipif(
    not HAS_DASK, reason='dask.distributed or pyarrow not installed: pip install "skfer[dask]"'
)
if os.environ.get("PYTEST_XDIST_WORKER"):  # under xdist: one worker runs the cluster tests
    pytestmark = pytest.mark.xdist_group("dask")


def flatten(X):
    """Faces (n, 48, 48) -> rows, 2x downsampled (module level, so pipelines pickle)."""
    X = np.asarray(X, dtype=np.float32)[:, ::2, ::2]
    return X.reshape(len(X), -1) / 255.0


def _linear_pipe():
    return Pipeline(
        [
            ("labels", EmotionLabelMapper()),
            FunctionTransformer(flatten),
            LogisticRegression(C=0.01, max_iter=300),
        ]
    )


@pytest.fixture(scope="module")
def faces(fer2013):
    """40 FER2013 training faces per emotion (280), a fixed draw."""
    rng = np.random.default_rng(0)
    train = np.flatnonzero(fer2013.usage == "Training")
    idx = np.concatenate(
        [rng.choice(train[fer2013.target[train] == e], 40, replace=False)
         for e in np.unique(fer2013.target)]
    )  # fmt: skip
    idx = rng.permutation(idx)
    return fer2013.images[idx], fer2013.target[idx]


# ------------------------------------------------------------ check_picklable
@pytest.mark.slow
def test_check_picklable_accepts_skfer_estimators():
    from skfer import FaceCropper
    from skfer.datasets import load_sample_images

    X = np.random.default_rng(0).integers(0, 256, (60, 48, 48), dtype=np.uint8)
    y = np.array(["happy", "sad", "angry", "surprise"] * 15)
    to_rows = FunctionTransformer(lambda X: X.reshape(len(X), -1))
    pipe = Pipeline([("labels", EmotionLabelMapper("clusters")), to_rows, LogisticRegression()])
    assert check_picklable(pipe) > 0
    assert check_picklable(pipe.fit(X, y)) > 0  # lambdas travel by value, as under Dask
    cnn = tiny_cnn().fit(X, y)
    proba = cnn.predict_proba(X)  # builds its prediction cache, which must not travel
    weights = sum(t.numel() * t.element_size() for t in cnn.module_.state_dict().values())
    assert check_picklable(cnn) > weights  # the weights travel (as CPU tensors)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(cnn)).predict_proba(X), proba, atol=1e-6)

    photo = load_sample_images().images[0]  # scikit-image's astronaut
    cropper = FaceCropper(detector="hog")  # dlib's detector and landmark model now loaded
    assert cropper.fit_transform([photo]).shape == (1, 48, 48)
    assert check_picklable(cropper) > 0  # detectors live in per-process pools, not on it


def test_check_picklable_names_what_does_not_travel(tmp_path):
    import torch

    pipe = _linear_pipe()
    with open(tmp_path / "log.txt", "w") as handle:
        pipe.steps[2][1].log = handle
        with pytest.raises(TypeError, match=r"estimator\.steps\[2\]\[1\]\.log holds an open file"):
            check_picklable(pipe)
    pipe.steps[2][1].log = None
    pipe.steps[0][1].cache = {"lock": threading.Lock()}
    with pytest.raises(
        TypeError, match=r"pipe\.steps\[0\]\[1\]\.cache\['lock'\] holds a thread lock"
    ):
        check_picklable(pipe, name="pipe")
    # a tensor off the CPU (CUDA on a GPU machine; "meta" stands in for it here)
    with pytest.raises(TypeError, match=r"model\.weights holds a tensor on meta"):
        check_picklable(_Holder(torch.empty(3, device="meta")), name="model")


class _Holder:
    def __init__(self, weights):
        self.weights = weights


# ------------------------------------------------------------------- cluster
@needs_dask
def test_local_cluster_bad_input():
    from skfer.distributed import local_cluster

    with pytest.raises(ValueError, match="gpus must be 'auto'"):
        local_cluster(gpus="many")
    with pytest.raises(ValueError, match="99 is not the index of a visible GPU"):
        local_cluster(gpus=[99])
    with pytest.raises(ValueError, match="threads_per_worker must be a positive int"):
        local_cluster(threads_per_worker=0)


@needs_dask
@pytest.mark.slow
def test_local_cluster_pins_one_gpu_per_worker(monkeypatch):
    """Each worker process sees exactly one GPU (the environment is faked here)."""
    from distributed import Client

    from skfer import distributed as skd
    from skfer.distributed import _cluster

    monkeypatch.setattr(_cluster, "_visible_gpus", lambda: ["3", "5"])
    with pytest.raises(ValueError, match="n_workers=3 but 2 GPU"):
        skd.local_cluster(n_workers=3)
    with skd.local_cluster() as cluster, Client(cluster, set_as_default=False) as client:
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        assert sorted(seen.values()) == ["3", "5"]
        workers = client.scheduler_info()["workers"].values()
        assert sorted(w["name"] for w in workers) == ["gpu-3", "gpu-5"]
        assert all(w["resources"] == {"GPU": 1} for w in workers)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 single-threaded worker processes; no process outlives it."""
    if not HAS_DASK:
        pytest.skip('dask.distributed or pyarrow not installed: pip install "skfer[dask]"')
    import psutil
    from distributed import Client, LocalCluster

    from skfer.distributed import local_cluster

    me = psutil.Process()

    def children():  # multiprocessing's resource tracker lives as long as this process
        return {p.pid for p in me.children(recursive=True) if "resource_tracker" not in _cmd(p)}

    before = children()
    with local_cluster(n_workers=2, threads_per_worker=1, gpus=None) as cluster:
        assert isinstance(cluster, LocalCluster) and cluster.processes
        with Client(cluster, set_as_default=False) as c:  # tests choose where it applies
            c.wait_for_workers(2, timeout=120)
            assert sorted(w["nthreads"] for w in c.scheduler_info()["workers"].values()) == [1, 1]
            yield c
    deadline = time.monotonic() + 20
    while (left := children() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"cluster processes left running: {left}"


def _cmd(process) -> str:
    try:
        return " ".join(process.cmdline())
    except Exception:  # noqa: BLE001 - gone meanwhile
        return ""


# -------------------------------------------------------------- grid search
_SCORE_KEYS = ("mean_test_", "std_test_", "rank_test_", "split0_test_", "split1_test_",
               "split2_test_")  # fmt: skip


@pytest.mark.slow
def test_grid_search_over_schemes_on_dask_matches_serial(client, faces):
    import joblib
    from distributed import get_task_stream

    X, y = faces
    search = GridSearchCV(
        _linear_pipe(),
        {"labels__scheme": ["top4", "clusters"]},
        scoring={"accuracy": scheme_scorer(), "f1": scheme_scorer("f1_macro")},
        refit="accuracy",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    serial = clone(search).fit(X, y)
    with client.as_current(), get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        dask = clone(search).set_params(n_jobs=-1).fit(X, y)

    assert len(stream.data) >= 6  # 2 candidates x 3 folds ran on the cluster
    keys = [k for k in serial.cv_results_ if k.startswith(_SCORE_KEYS)]
    assert len(keys) == 12
    for key in keys:
        np.testing.assert_array_equal(dask.cv_results_[key], serial.cv_results_[key], err_msg=key)
    assert dask.best_params_ == serial.best_params_
    scheme = dask.best_params_["labels__scheme"]
    expected = EmotionLabelMapper(scheme).fit(None, y).classes_
    np.testing.assert_array_equal(dask.best_estimator_.classes_, expected)


@pytest.mark.slow
def test_cross_validate_emotioncnn_on_dask_matches_serial(client, faces):
    """A torch model trains on the workers and comes back fitted, bit for bit."""
    import joblib
    import torch

    X, y = faces
    pipe = Pipeline([("labels", EmotionLabelMapper("clusters")), tiny_cnn(batch_size=64)])
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the workers (Dask sets OMP_NUM_THREADS=1)
    try:
        serial = cross_validate(pipe, X, y, cv=cv, return_estimator=True)
    finally:
        torch.set_num_threads(threads)
    with client.as_current(), joblib.parallel_backend("dask"):
        dask = cross_validate(pipe, X, y, cv=cv, return_estimator=True, n_jobs=-1)
    np.testing.assert_array_equal(dask["test_score"], serial["test_score"])
    for remote, local in zip(dask["estimator"], serial["estimator"]):
        np.testing.assert_allclose(remote.predict_proba(X), local.predict_proba(X), atol=1e-6)


# -------------------------------------------------------------------- films
def _write_clip(path, frames, *, fps=10, seconds_each=1.5):
    """An MJPG clip holding each frame (720x576 RGB) for ``seconds_each`` seconds."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    try:
        for frame in frames:
            for _ in range(round(fps * seconds_each)):
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
    finally:
        writer.release()
    return path


@pytest.fixture(scope="module")
def clips(sfew_frames_dir, tmp_path_factory):
    """Three 3-second clips of real film frames, two frames held 1.5 s each."""
    from skfer import read_image

    folder = tmp_path_factory.mktemp("clips")
    pairs = [("Happy", "Sad"), ("Angry", "Neutral"), ("Surprise", "Fear")]
    paths = []
    for i, pair in enumerate(pairs):
        # frames 2-4 of these classes each show a face HOG (analyze_video's default) finds
        frames = [read_image(sorted((sfew_frames_dir / c).glob("*.jpg"))[2 + i]) for c in pair]
        paths.append(_write_clip(folder / f"clip{i}_{pair[0].lower()}.avi", frames))
    return paths


@pytest.mark.slow
def test_analyze_videos_matches_serial_and_resumes(client, clips, faces, tmp_path):
    import distributed
    import pandas as pd

    from skfer.distributed import analyze_videos
    from skfer.video import analyze_video

    model = tiny_cnn(batch_size=64).fit(*faces)
    weights = model.save(tmp_path / "tiny.safetensors")
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video " * 100)
    out = tmp_path / "timelines"

    summary = analyze_videos([*clips, broken], out, client=client, model=model, every=0.5,
                             progress=False)  # fmt: skip
    assert summary.columns.tolist() == ["path", "output", "status", "rows", "seconds", "error"]
    assert summary.status.tolist() == ["done", "done", "done", "failed"]
    assert summary.path.tolist() == [str(p) for p in [*clips, broken]]
    assert "broken.avi" in summary.error[3] and summary.error[:3].isna().all()
    assert not (out / "broken.parquet").exists()
    serial = {c.stem: analyze_video(str(c), model=model, every=0.5) for c in clips}
    for clip, rows in zip(clips, summary.rows):
        timeline = pd.read_parquet(out / f"{clip.stem}.parquet")
        expected = serial[clip.stem]
        assert len(expected) >= 3 and rows == len(expected)  # 6 sampled frames, faces in most
        pd.testing.assert_frame_equal(timeline, expected, check_dtype=False)
        assert timeline.attrs == expected.attrs

    # a run killed while writing clip 1: its result is missing and a partial file remains
    lost = out / f"{clips[1].stem}.parquet"
    lost.unlink()
    partial = out / f".{lost.name}.0123abcd.tmp"
    partial.write_bytes(b"PAR1 half a file")
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    assert len(kept) == 2

    # re-run, on a LocalCluster of its own (client=None), with the model as a file
    with pytest.raises(ValueError, match="No clients found"):
        distributed.default_client()  # none to fall back on
    again = analyze_videos(clips, out, model=str(weights), every=0.5, progress=False)
    assert again.status.tolist() == ["skipped", "done", "skipped"]
    assert again.rows.tolist() == summary.rows[:3].tolist()
    assert again.seconds[0] == again.seconds[2] == 0.0
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished films untouched
    assert not partial.exists() and not list(out.glob(".*"))
    pd.testing.assert_frame_equal(pd.read_parquet(lost), serial[clips[1].stem], check_dtype=False)


@needs_dask
def test_analyze_videos_bad_input(tmp_path):
    from skfer.distributed import analyze_videos

    film = tmp_path / "a.avi"
    film.write_bytes(b"x")
    (tmp_path / "other").mkdir()
    twin = tmp_path / "other" / "a.mp4"
    twin.write_bytes(b"x")
    out = tmp_path / "out"
    with pytest.raises(TypeError, match="single path"):
        analyze_videos(str(film), out)
    with pytest.raises(FileNotFoundError, match=r"paths\[1\] '.*missing\.mp4'"):
        analyze_videos([film, tmp_path / "missing.mp4"], out)
    with pytest.raises(ValueError, match="share the output name 'a.parquet'"):
        analyze_videos([film, twin], out)
    with pytest.raises(ValueError, match=r"paths\[0\] .* is a folder"):
        analyze_videos([tmp_path / "other"], out)
    with pytest.raises(TypeError, match="unexpected keyword argument 'evry'"):
        analyze_videos([film], out, evry=1.0)
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        analyze_videos([film], out, client=42)
    with pytest.raises(TypeError, match=r"model\.weights holds a thread lock"):
        analyze_videos([film], out, model=_Holder(threading.Lock()))
    assert not out.exists() or not any(out.iterdir())
