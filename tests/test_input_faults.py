"""Hostile and careless inputs of issue 17 (docs/robustness.md, "Images, labels, the
dataset cache and CLI outputs"): real files with EXIF rotations, palette and CMYK
images, a huge header, tiny images, faceless images, mixed and missing labels, a
read-only or full cache folder, and two inputs with one name.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps
from sklearn.dummy import DummyClassifier

from skfer import EmotionLabelMapper, FaceCropper, check_image, load_fer2013, read_image
from skfer.faces import detect_faces
from skfer.video import analyze_images

cv2 = pytest.importorskip("cv2")


def _stripes(h=20, w=30) -> np.ndarray:
    """Red, green and blue vertical stripes: every channel and column tells."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 3] = (255, 0, 0)
    rgb[:, w // 3 : 2 * w // 3] = (0, 200, 0)
    rgb[:, 2 * w // 3 :] = (30, 60, 250)
    return rgb


# ---------------------------------------------------------------- EXIF orientation


@pytest.mark.parametrize("suffix", ["jpg", "png", "webp", "tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, suffix, orientation):
    """A phone photo stored sideways with an EXIF orientation is read upright."""
    yy, xx = np.mgrid[0:24, 0:36]  # smooth and asymmetric: every flip and turn shows
    upright = np.dstack([xx * 7, yy * 10, np.where((xx < 12) & (yy < 8), 250, 40)])
    upright = upright.astype(np.uint8)
    # the pixels as a camera stores them: the inverse of what the tag asks a viewer to do
    inverse = {2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
    stored = Image.fromarray(upright)
    if orientation != 1:
        stored = ImageOps.exif_transpose(_tagged(stored, inverse[orientation]))
    path = tmp_path / f"photo.{suffix}"
    if suffix == "tif":
        stored.save(path, tiffinfo={0x0112: orientation})
    else:
        exif = stored.getexif()
        exif[0x0112] = orientation
        options = {"jpg": {"quality": 100, "subsampling": 0}, "webp": {"lossless": True}}
        options = options.get(suffix, {})
        stored.save(path, exif=exif, **options)
    out = read_image(path)
    assert out.shape == upright.shape
    if suffix == "jpg":  # lossy: close to the upright image, far from a flipped one
        assert np.abs(out.astype(int) - upright).mean() < 3
    else:
        assert out.tolist() == upright.tolist()


def _tagged(image: Image.Image, orientation: int) -> Image.Image:
    buffer = io.BytesIO()
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(buffer, "PNG", exif=exif)
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_rotated_photo_is_read_upright(tmp_path):
    """The astronaut stored rotated (orientation 6, as phones write it) gives the same
    face, at the same place, as the upright photo."""
    from skimage.data import astronaut

    upright = astronaut()
    path = tmp_path / "phone.jpg"
    stored = Image.fromarray(np.rot90(upright, 1))  # the sensor's landscape pixels
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    stored.save(path, exif=exif, quality=95)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (512, 512, 3)
    out = read_image(path)
    assert np.abs(out.astype(int) - upright).mean() < 3
    (face,) = detect_faces(out, detector="hog")[:1]
    (expected,) = detect_faces(upright, detector="hog")[:1]
    assert np.allclose(face.box, expected.box, atol=6)


# ---------------------------------------------------------------- PIL modes


@pytest.mark.parametrize(
    "mode", ["P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "LA", "RGBA", "RGBX", "RGBa", "1", "L"]
)
def test_pil_images_of_every_mode(mode):
    """PIL images passed as images: palette, CMYK... converted to their true colours
    (``np.asarray`` of a palette image is its indices, of a CMYK one four inks)."""
    image = Image.fromarray(_stripes()).convert(mode)
    out = check_image(image)
    expected = np.asarray(image.convert("RGB" if out.ndim == 3 else "L"))
    assert out.dtype == np.uint8 and out.shape[:2] == (20, 30)
    assert np.abs(out.astype(int) - expected).max() <= 1
    if mode in ("P", "PA", "CMYK", "YCbCr", "HSV"):
        assert out.ndim == 3 and abs(int(out[0, 0, 0]) - 255) <= 1 and out[0, 0, 2] <= 1


def test_pil_16_and_32_bit_images():
    deep = np.full((4, 5), 50000, np.uint16)
    assert check_image(Image.fromarray(deep)).tolist() == (deep >> 8).astype(np.uint8).tolist()
    wide = Image.fromarray(np.full((4, 5), 50000, np.int32), mode="I")
    assert int(check_image(wide)[0, 0]) == 50000 >> 8
    assert int(check_image(Image.fromarray(np.full((4, 5), 200, np.int32), mode="I"))[0, 0]) == 200


def test_pil_image_with_exif_orientation():
    upright = _stripes()
    rotated = _tagged(Image.fromarray(np.rot90(upright, 1)), 6)
    assert check_image(rotated).tolist() == upright.tolist()


@pytest.mark.parametrize(
    ("name", "mode"),
    [("p.png", "P"), ("p.gif", "P"), ("p.bmp", "P"), ("cmyk.jpg", "CMYK"), ("cmyk.tif", "CMYK"),
     ("la.png", "LA"), ("bw.png", "1"), ("ycbcr.tif", "YCbCr"), ("pil_only.pcx", "RGB"),
     ("pil_only.tga", "RGB")],
)  # fmt: skip
def test_image_files_of_every_mode(tmp_path, name, mode):
    """Files PIL writes in these modes read as PIL shows them (and formats only PIL
    reads, PCX, are read by PIL)."""
    path = tmp_path / name
    Image.fromarray(_stripes()).convert(mode).save(path)
    expected = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert np.abs(read_image(path).astype(int) - expected).max() <= 1
    if mode not in ("LA", "1"):
        assert read_image(path)[0, 0, 0] >= 250  # the red stripe stays red


def test_palette_file_with_transparency(tmp_path):
    path = tmp_path / "logo.png"
    image = Image.fromarray(_stripes()).convert("P")
    image.info["transparency"] = 0
    image.save(path, transparency=0)
    assert Image.open(path).mode == "P"
    expected = np.asarray(Image.open(path).convert("RGBA"))[..., :3]
    assert read_image(path).tolist() == expected.tolist()


def test_truncated_palette_and_rotated_files(tmp_path):
    """Files decoded by PIL give the same one-line error as OpenCV's."""
    for name, image, options in [
        ("p.png", Image.fromarray(_stripes(200, 300)).convert("P"), {}),
        ("r.jpg", Image.fromarray(np.full((200, 300, 3), 90, np.uint8)), {"quality": 90}),
    ]:
        path = tmp_path / name
        exif = image.getexif()
        exif[0x0112] = 6
        image.save(path, exif=exif, **options)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match=rf"Cannot decode image file .*{name}"):
            read_image(path)


# ---------------------------------------------------------------- pixel limit


def _huge_png(path: Path, width=40000, height=40000) -> Path:
    """A 67-byte PNG whose header claims width x height pixels."""
    ok, buf = cv2.imencode(".png", np.zeros((1, 1), np.uint8))
    data = bytearray(buf.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_image_over_the_pixel_limit(tmp_path, monkeypatch):
    """A 40000x40000 header is refused before decoding, naming the path and the limit."""
    path = _huge_png(tmp_path / "bomb.png")
    with pytest.raises(ValueError, match=r"bomb\.png.*1600\.0 Mpx.*over the limit of 100 Mpx"):
        read_image(path)
    # also from a list of images and in FaceCropper (the row is named)
    with pytest.raises(ValueError, match=r"X\[1\].*bomb\.png.*over the limit"):
        FaceCropper(detector="haar").fit_transform([np.zeros((9, 9), np.uint8), str(path)])
    # a smaller real image over a lower limit: the argument and the environment variable
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((100, 200), np.uint8))
    with pytest.raises(ValueError, match=r"200x100 = 0\.0 Mpx is over the limit of 0\.01 Mpx"):
        read_image(small, max_pixels=10_000)
    assert read_image(small, max_pixels=20_000).shape == (100, 200, 3)
    monkeypatch.setenv("SKFER_MAX_PIXELS", "10000")
    with pytest.raises(ValueError, match="over the limit"):
        read_image(small)
    monkeypatch.setenv("SKFER_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="SKFER_MAX_PIXELS='lots'"):
        read_image(small)


def test_limit_raised_past_opencv_gives_a_clear_error(tmp_path, monkeypatch):
    """With skfer's limit off, OpenCV's own refusal is one ValueError naming the file."""
    monkeypatch.setenv("SKFER_MAX_PIXELS", "0")
    with pytest.raises(ValueError, match=r"Cannot decode image file .*bomb\.png.*OpenCV"):
        read_image(_huge_png(tmp_path / "bomb.png"))


# ---------------------------------------------------------------- tiny images


@pytest.mark.parametrize("detector", ["cnn", "hog+cnn", "haar", "hog", "yunet", "mtcnn"])
def test_tiny_and_thin_images_never_crash_a_detector(detector):
    if detector == "yunet":
        pytest.importorskip("yuface")
    if detector == "mtcnn":
        pytest.importorskip("facenet_pytorch")
    for shape in [(1, 1), (2, 2), (1, 50), (7, 300), (10, 4000), (4000, 9), (3, 3, 3)]:
        assert detect_faces(np.full(shape, 100, np.uint8), detector=detector) == [], shape


def test_tiny_images_in_face_cropper():
    """dlib's CNN (FaceCropper's default chain) on 1x1 and 2x2 images: faceless rows,
    and where a face is required, an error saying the image is too small."""
    cropper = FaceCropper(detector="hog+cnn")
    out = cropper.fit_transform([np.zeros((1, 1), np.uint8), np.zeros((2, 2, 3), np.uint8)])
    assert out.shape == (2, 48, 48) and cropper.fallback_.tolist() == [True, True]
    with pytest.raises(ValueError, match=r"X\[0\].*\(3x2 px\) is too small for face detection"):
        FaceCropper(detector="cnn", on_missing="raise").fit_transform([np.zeros((2, 3), np.uint8)])


# ---------------------------------------------------------------- faceless images


@pytest.fixture(scope="module")
def prior_model():
    return DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), ["happy"] * 3 + ["sad"])


def test_faceless_images_get_no_emotion(prior_model):
    """An all-black image and a 1x1 image get a row flagged face_found=False with no
    label and NaN probabilities, not a confident emotion."""
    from skimage.data import astronaut

    images = [np.zeros((64, 64, 3), np.uint8), astronaut(), np.zeros((1, 1), np.uint8)]
    table = analyze_images(images, prior_model, detector="hog")
    assert table["image"].tolist() == [0, 1, 1, 1, 2]
    assert table["face_found"].tolist() == [False, True, True, True, False]
    assert table["face"].tolist() == [-1, 0, 1, 2, -1]
    faceless = table[~table["face_found"]]
    assert faceless["label"].isna().all()
    assert faceless[["x", "p_happy", "p_sad", "valence", "arousal"]].isna().all().all()
    assert table.loc[table["face_found"], "label"].eq("happy").all()
    assert table["image"].dtype == table["face"].dtype == np.int64
    # only faceless images: the same columns
    alone = analyze_images([np.zeros((64, 64), np.uint8)], prior_model, detector="hog")
    assert list(alone.columns) == list(table.columns) and alone["face_found"].tolist() == [False]


@pytest.mark.parametrize("on_missing", ["full", "center"])
def test_whole_image_fallback_on_request(prior_model, on_missing):
    image = np.zeros((64, 100), np.uint8)
    table = analyze_images([image], prior_model, detector="hog", on_missing=on_missing)
    (row,) = table.itertuples()
    assert row.face_found is np.False_ or row.face_found is False
    assert row.label == "happy" and np.isnan(row.score)
    expected = (0, 0, 100, 64) if on_missing == "full" else (18, 0, 64, 64)
    assert (row.x, row.y, row.w, row.h) == expected


def test_faceless_image_raise_and_bad_option(prior_model):
    with pytest.raises(ValueError, match=r"images\[0\]: no face found"):
        analyze_images([np.zeros((64, 64), np.uint8)], prior_model, on_missing="raise")
    with pytest.raises(ValueError, match="on_missing must be one of"):
        analyze_images([np.zeros((64, 64), np.uint8)], prior_model, on_missing="guess")


def test_annotate_skips_faceless_rows(prior_model):
    from skfer.video import annotate_image

    image = np.zeros((64, 64, 3), np.uint8)
    table = analyze_images([image], prior_model, detector="hog")
    assert annotate_image(image, table).tolist() == image.tolist()  # nothing drawn
    table = analyze_images([image], prior_model, detector="hog", on_missing="full")
    assert annotate_image(image, table).any()  # the whole-image box and its label


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("y", "message"),
    [
        ([0, "happy", 6] * 6, r"y mixes label types: y\[0\] = 0 \(int\) and y\[1\] = 'happy'"),
        (["happy", np.nan, "sad"] * 6, r"y\[1\] is a missing label \(nan\)"),
        (["happy", None, "sad"] * 6, r"y\[1\] is a missing label \(None\)"),
        (np.array(["happy", np.nan, "sad"] * 6), r"y\[1\] is a missing label \('nan'\)"),
        (pd.Series(["happy", pd.NA, "sad"] * 6, dtype="string"), r"y\[1\] is a missing label"),
        (np.array([0.0, np.nan, 1.0] * 6), r"y\[1\] is a missing label"),
    ],
)
def test_mixed_and_missing_labels(y, message):
    """In EmotionCNN.fit and the samplers (and missing labels in EmotionLabelMapper):
    a clear ValueError, never classes '0', '6', 'happy' or 'nan'."""
    pytest.importorskip("torch")
    from conftest import tiny_cnn

    from skfer import Augmenter, ImageResampler

    X = np.zeros((len(y), 48, 48), np.uint8)
    with pytest.raises(ValueError, match=message):
        tiny_cnn(max_epochs=1).fit(X, y)
    for sampler in (ImageResampler(), Augmenter(n_copies=1)):
        with pytest.raises(ValueError, match=message):
            sampler.fit_resample(X, y)
    if "missing" in message:  # the emotion mapper reads codes and names alike
        with pytest.raises(ValueError, match=message):
            EmotionLabelMapper().fit_resample(X, y)


def test_emotion_mapper_reads_codes_and_names_but_refuses_missing():
    """EmotionLabelMapper maps emotions: a FER2013 code is an emotion as much as its name
    (documented, for datasets of both kinds together), so they may mix there; its
    output, canonical names, never holds '0' or 'nan'. Missing labels are refused."""
    mapper = EmotionLabelMapper("top4").fit(None, ["happy", "sad"])
    assert mapper.map_labels(["surprise", 3, "Fear"]).tolist() == ["surprise", "happy", None]
    for y in (["happy", np.nan], ["happy", None]):
        with pytest.raises(ValueError, match=r"y\[1\] is a missing label"):
            mapper.map_labels(y)
    # a classifier's own labels (scheme=None): strings and numbers may not mix
    from skfer import Scheme

    with pytest.raises(ValueError, match="mixes label types"):
        Scheme(None, ["a", "b"]).map_labels(["a", 0])


# ---------------------------------------------------------------- dataset cache


@pytest.fixture
def tiny_csv(tmp_path):
    row = " ".join(["128"] * 2304)
    path = tmp_path / "tiny.csv"
    lines = "".join(f"{i % 7},{row},{'Training' if i % 2 else 'PublicTest'}\n" for i in range(40))
    path.write_text("emotion,pixels,Usage\n" + lines)
    return path


def _cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_poisoned_cache_is_not_trusted(tiny_csv, tmp_path, monkeypatch):
    """A cache file whose labels were changed (keeping its name) is detected by its
    checksum, ignored with a warning, and rebuilt from the CSV."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SKFER_CACHE", str(cache))
    expected = load_fer2013(tiny_csv).target
    (name,) = _cache_files(cache)
    arrays = dict(np.load(cache / name))
    arrays["codes"] = np.full_like(arrays["codes"], 3)  # everyone happy
    with open(cache / name, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.warns(UserWarning, match="does not match its checksum"):
        assert load_fer2013(tiny_csv).target.tolist() == expected.tolist()
    assert load_fer2013(tiny_csv).target.tolist() == expected.tolist()  # rebuilt: no warning
    # a damaged file and an old cache layout without a checksum are rebuilt as well
    (cache / name).write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="cannot be read as a cache"):
        assert load_fer2013(tiny_csv).target.tolist() == expected.tolist()
    del arrays["checksum"]
    with open(cache / name, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.warns(UserWarning, match="Ignoring the FER2013 cache"):
        assert load_fer2013(tiny_csv).target.tolist() == expected.tolist()


def test_cache_write_failure_warns_and_leaves_no_temp_file(tiny_csv, tmp_path, monkeypatch):
    """Fault injected in the write (ENOSPC halfway through the temporary file): the load
    succeeds with a warning and the temporary file is removed. (Runs everywhere; the
    real read-only and full file systems are below.)"""
    import errno

    cache = tmp_path / "cache"
    monkeypatch.setenv("SKFER_CACHE", str(cache))
    real_savez = np.savez

    def savez_then_disk_full(fh, **arrays):
        real_savez(fh, **arrays)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_disk_full)
    with pytest.warns(UserWarning, match="Cannot write the FER2013 cache.*No space left"):
        X, y = load_fer2013(tiny_csv, return_X_y=True)
    assert X.shape == (40, 48, 48) and _cache_files(cache) == []


def test_unwritable_cache_folder_warns(tiny_csv, tmp_path, monkeypatch):
    """SKFER_CACHE under a regular file (mkdir fails, also for root): loaded uncached."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SKFER_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="Cannot create the dataset cache folder"):
        assert len(load_fer2013(tiny_csv).target) == 40


_MOUNTED = """
import os, sys, warnings
warnings.simplefilter("always")
from skfer import load_fer2013
data = load_fer2013(sys.argv[1])
print(len(data.target), sorted(os.listdir(os.environ["SKFER_CACHE"])))
"""


def _in_private_mount(folder: Path, options: str, csv: Path):
    """Run a FER2013 load with SKFER_CACHE on a fresh tmpfs mounted with ``options``
    in a private mount namespace (root with CAP_SYS_ADMIN, util-linux unshare)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare and mount")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a mount namespace here (not root / no CAP_SYS_ADMIN)")
    folder.mkdir()
    script = folder.parent / "load.py"
    script.write_text(_MOUNTED)
    shell = textwrap.dedent(
        f"""
        mount -t tmpfs -o {options} tmpfs {folder} || exit 77
        {sys.executable} {script} {csv}
        """
    )
    env = {**os.environ, "SKFER_CACHE": str(folder), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, env=env
    )
    if done.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return done


def test_read_only_cache_folder_real(tiny_csv, tmp_path):
    """A real read-only file system as the cache folder (a tmpfs mounted ``ro``; chmod
    does not stop root): the load succeeds, with a warning."""
    done = _in_private_mount(tmp_path / "ro", "ro,size=64k", tiny_csv)
    assert done.stdout.split()[0] == "40" and "[]" in done.stdout
    assert "Cannot write the FER2013 cache" in done.stderr
    assert "Read-only file system" in done.stderr


def test_full_disk_cache_folder_real(tiny_csv, tmp_path):
    """A real full disk (a 16 KB tmpfs; the cache needs ~ 100 KB): the load succeeds
    with a warning and leaves no temporary file."""
    done = _in_private_mount(tmp_path / "full", "size=16k", tiny_csv)
    assert done.stdout.split()[0] == "40" and done.stdout.strip().endswith("[]")
    assert "No space left on device" in done.stderr


# ---------------------------------------------------------------- CLI outputs


def test_targets_never_collide(tmp_path):
    from skfer._cli_outputs import annotated_targets as _annotated_targets
    from skfer._cli_outputs import display_names as _display_names

    paths = [Path("a/x.png"), Path("b/x.jpg"), Path("c/X.png"), Path("x-1.png"), Path("y.png")]
    names = [p.name for p in _annotated_targets(paths, tmp_path)]
    assert names == [
        "x_annotated.png",
        "x-1_annotated.png",
        "X-2_annotated.png",
        "x-1-1_annotated.png",
        "y_annotated.png",
    ]
    assert len({n.lower() for n in names}) == len(names)
    assert _display_names([Path("a/x.png"), Path("b/x.png"), Path("y.png")]) == [
        "a/x.png",
        "b/x.png",
        "y.png",
    ]


def test_predict_same_name_in_two_folders(tmp_path, capsys, monkeypatch, prior_model):
    """``skfer predict a/x.png b/x.jpg --out D`` writes two files; an output that would
    replace an input image is an error."""
    import skfer.video
    from skfer.cli import main

    @functools.wraps(analyze_images)  # the parser reads its defaults
    def with_prior_model(images, model=None, **kw):
        return analyze_images(images, prior_model, **{**kw, "detector": "hog"})

    monkeypatch.setattr(skfer.video, "analyze_images", with_prior_model)
    from skimage.data import astronaut

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cv2.imwrite(str(tmp_path / "a" / "x.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "b" / "x.jpg"), np.full((80, 80, 3), 30, np.uint8))
    out = tmp_path / "D"
    args = ["predict", str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.jpg")]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    names = ["run.json", "x-1_annotated.png", "x_annotated.png"]
    assert sorted(p.name for p in out.iterdir()) == names
    assert not np.array_equal(
        cv2.imread(str(out / "x_annotated.png")), cv2.imread(str(out / "x-1_annotated.png"))
    )
    assert "x.jpg: no face found" in printed
    # the faceless image got no emotion; with --on-missing full it is classified whole
    assert main([*args, "--on-missing", "full"]) == 0
    printed = capsys.readouterr().out
    assert "no face found; the whole image was classified" in printed
    assert re.search(r"^x\.jpg +- +0,0,80x80 happy", printed, re.M)
    # an output named as the input
    image = tmp_path / "a" / "x.png"
    before = image.read_bytes()
    assert main(["predict", str(image), "--out", str(image)]) == 1
    assert "would overwrite the input image" in capsys.readouterr().err
    assert image.read_bytes() == before
