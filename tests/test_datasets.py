import collections
import gzip
import time

import numpy as np
import pytest

from skfer.datasets import load_fer2013, load_ferplus, load_image_folder, load_sfew

PUBLISHED = {  # angry, disgust, fear, happy, sad, surprise, neutral
    "Training": [3995, 436, 4097, 7215, 4830, 3171, 4965],
    "PublicTest": [467, 56, 496, 895, 653, 415, 607],
    "PrivateTest": [491, 55, 528, 879, 594, 416, 626],
}


def _write_csv(path, rows, gz=False):
    text = "emotion,pixels,Usage\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _pixels(seed):
    return " ".join(map(str, np.random.default_rng(seed).integers(0, 256, 2304)))


@pytest.mark.parametrize("gz", [False, True])
def test_tiny_csv_round_trip(tmp_path, gz, monkeypatch):
    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    rows = [
        (3, _pixels(0), "Training"),
        (6, _pixels(1), "PublicTest"),
        (0, _pixels(2), "PrivateTest"),
    ]
    path = _write_csv(tmp_path / ("t.csv.gz" if gz else "t.csv"), rows, gz=gz)
    data = load_fer2013(path)
    assert data.images.shape == (3, 48, 48) and data.images.dtype == np.uint8
    assert data.target.tolist() == ["happy", "neutral", "angry"]
    assert data.usage.tolist() == ["Training", "PublicTest", "PrivateTest"]
    expected = np.array(rows[1][1].split(), dtype=np.uint8).reshape(48, 48)
    np.testing.assert_array_equal(data.images[1], expected)
    again = load_fer2013(path, usage="PublicTest")  # from the cache
    np.testing.assert_array_equal(again.images[0], expected)
    assert again.index.tolist() == [1]
    X, y = load_fer2013(path, usage=["Training"], return_X_y=True)
    assert X.shape == (1, 48, 48) and y.tolist() == ["happy"]


@pytest.mark.parametrize(
    "row, message",
    [
        ((3, " ".join(["1"] * 2303), "Training"), "line 3: 2303 pixel values, expected 2304"),
        ((9, _pixels(0), "Training"), "line 3: emotion code '9'"),
        (("x", _pixels(0), "Training"), "line 3: emotion code 'x'"),
        ((3, _pixels(0).replace("1", "a", 1), "Training"), "line 3: non-numeric"),
        ((3, " ".join(["256"] * 2304), "Training"), "line 3: pixel values must lie in 0..255"),
        ((3, _pixels(0), "Validation"), "line 3: Usage 'Validation'"),
        ((3, "", "Training"), "line 3: 0 pixel values"),
    ],
)
def test_malformed_rows_name_the_line(tmp_path, row, message):
    path = _write_csv(tmp_path / "bad.csv", [(0, _pixels(1), "Training"), row])
    with pytest.raises(ValueError, match=message):
        load_fer2013(path, cache=False)


def test_missing_file_and_columns(tmp_path):
    with pytest.raises(FileNotFoundError, match="skfer ships no data"):
        load_fer2013(tmp_path / "nope.csv")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing column"):
        load_fer2013(tmp_path / "x.csv", cache=False)
    with pytest.raises(ValueError, match="Unknown usage"):
        load_fer2013(_write_csv(tmp_path / "t.csv", [(0, _pixels(1), "Training")]), usage="Test")


@pytest.mark.slow
def test_fer2013_published_counts(fer2013):
    assert fer2013.images.shape == (35887, 48, 48) and fer2013.images.dtype == np.uint8
    for usage, counts in PUBLISHED.items():
        got = collections.Counter(fer2013.target[fer2013.usage == usage])
        assert [got[e] for e in fer2013.target_names] == counts, usage


@pytest.mark.slow
def test_fer2013_cached_reload_is_fast(data_dir, fer2013):
    start = time.perf_counter()
    load_fer2013(data_dir / "fer2013" / "fer2013.csv.gz")
    assert time.perf_counter() - start < 2.0


@pytest.mark.slow
def test_ferplus_majority(data_dir, fer2013):
    data = load_ferplus(usage="PublicTest")
    assert 3000 < len(data.target) < 3589
    assert set(data.target) <= set(data.target_names) and "contempt" in data.target_names
    np.testing.assert_array_equal(data.images, fer2013.images[data.index])
    # majority labels agree with the original FER2013 label most of the time
    assert 0.6 < np.mean(data.target == data.fer2013_target) < 0.95
    proba = load_ferplus(mode="probability", usage="PublicTest")
    np.testing.assert_allclose(proba.target_proba.sum(axis=1), 1.0)
    assert len(proba.target) >= len(data.target)


def test_image_folder(tmp_path):
    import cv2

    for cls, n in [("Happy", 2), ("anger", 1)]:
        (tmp_path / cls).mkdir()
        for i in range(n):
            cv2.imwrite(str(tmp_path / cls / f"{i}.png"), np.full((10, 12, 3), 40 * i, np.uint8))
    data = load_image_folder(tmp_path)
    assert data.images.shape == (3, 10, 12, 3)
    assert data.target.tolist() == ["happy", "happy", "angry"]  # sorted folder names
    assert data.target_names == ["angry", "happy"]
    paths = load_image_folder(tmp_path, return_paths=True)
    assert paths.images == [str(f) for f in data.filenames]
    (tmp_path / "Happy" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="broken.png"):
        load_image_folder(tmp_path)
    with pytest.warns(UserWarning, match="Skipped 1"):
        skipped = load_image_folder(tmp_path, on_error="skip")
    assert len(skipped.target) == 3 and skipped.skipped[0].endswith("broken.png")
    (tmp_path / "bored").mkdir()
    with pytest.raises(ValueError, match="not an emotion class"):
        load_image_folder(tmp_path)


@pytest.mark.slow
def test_sfew_train(sfew_dir):
    data = load_sfew(sfew_dir)
    assert len(data.target) == 860
    assert data.target_names == sorted(
        ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    )
    assert data.images.ndim == 4 and data.images.shape[-1] == 3


# ------------------------------------------------------------------ load_dataset
def _write_image_folder(root, classes=("Happy", "Contempt")):
    import cv2

    for i, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        cv2.imwrite(str(root / cls / "a.png"), np.full((10, 12, 3), 40 * i, np.uint8))
    return root


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_load_dataset_fer2013_csv(tmp_path, monkeypatch, name):
    from skfer.datasets import load_dataset

    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    rows = [(3, _pixels(0), "Training"), (0, _pixels(1), "PrivateTest")]
    path = _write_csv(tmp_path / name, rows, gz=name.endswith(".gz"))
    data = load_dataset(path)
    assert data.kind == "fer2013"
    expected = load_fer2013(path)
    np.testing.assert_array_equal(data.images, expected.images)
    assert data.target.tolist() == ["happy", "angry"]
    assert data.usage.tolist() == ["Training", "PrivateTest"]
    X, y = load_dataset(str(path), usage="PrivateTest", return_X_y=True)  # options pass on
    assert X.shape == (1, 48, 48) and y.tolist() == ["angry"]


def test_load_dataset_ferplus_labels_beside_fer2013(tmp_path, monkeypatch):
    from skfer.datasets import load_dataset

    monkeypatch.setenv("SKFER_CACHE", str(tmp_path / "cache"))
    rows = [(3, _pixels(0), "Training"), (0, _pixels(1), "PublicTest")]
    _write_csv(tmp_path / "fer2013.csv", rows)
    votes = [[0, 9, 0, 0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 2, 0, 0, 8, 0, 0]]  # happy, contempt
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
    lines = [header + "unknown,NF"] + [
        f"{usage},fer{i:07d}.png," + ",".join(map(str, v))
        for i, ((_, _, usage), v) in enumerate(zip(rows, votes))
    ]
    (tmp_path / "fer2013new.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(tmp_path / "fer2013new.csv")
    assert data.kind == "ferplus"
    assert data.target.tolist() == ["happy", "contempt"]
    assert data.usage.tolist() == ["Training", "PublicTest"]
    assert load_dataset(tmp_path / "fer2013new.csv", usage="PublicTest").target.tolist() == [
        "contempt"
    ]


def test_load_dataset_image_folders(tmp_path):
    import skfer
    from skfer.datasets import load_dataset

    assert skfer.load_dataset is load_dataset
    root = _write_image_folder(tmp_path / "ckplus")
    data = load_dataset(root)
    assert data.kind == "image_folder"
    assert data.target.tolist() == ["contempt", "happy"] and data.images.shape == (2, 10, 12, 3)
    assert load_dataset(root, return_paths=True).images == [str(f) for f in data.filenames]
    X, y = load_dataset(root, return_X_y=True)
    assert X.shape == (2, 10, 12, 3) and y.tolist() == ["contempt", "happy"]
    # SFEW 2.0's layout goes through load_sfew (its description)
    sfew = load_dataset(_write_image_folder(tmp_path / "SFEW_2.0" / "Train"))
    assert sfew.kind == "sfew" and sfew.DESCR.startswith("SFEW 2.0 aligned faces")
    frames = load_dataset(_write_image_folder(tmp_path / "sfew_frames"))
    assert frames.kind == "sfew" and frames.DESCR.startswith("SFEW 2.0 full movie frames")


def test_load_dataset_errors_name_the_path_and_what_was_expected(tmp_path):
    from skfer.datasets import load_dataset

    with pytest.raises(FileNotFoundError, match=r"Dataset not found: '.*nothing\.csv'"):
        load_dataset(tmp_path / "nothing.csv")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(ValueError, match=r"'.*notes\.txt' is not a dataset .* expected a FER2013"):
        load_dataset(notes)
    _write_image_folder(tmp_path / "sfew" / "Train")
    (tmp_path / "sfew" / "Val").mkdir()
    with pytest.raises(ValueError, match=r"holds dataset splits \(Train, Val\).*sfew/Train'"):
        load_dataset(tmp_path / "sfew")
    with pytest.raises(ValueError, match="No images found"):
        load_dataset(tmp_path / "sfew" / "Val")
    with pytest.raises(TypeError, match="usage"):  # an option the folder loader lacks
        load_dataset(tmp_path / "sfew" / "Train", usage="PrivateTest")
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a FER2013 CSV"):  # the loader's own message
        load_dataset(bad)
