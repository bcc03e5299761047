"""The progress rule (skfer._progress): live bars on a terminal, plain lines elsewhere,
nothing when quiet; and plain-text epoch tables off a terminal."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import skfer._progress as progress
from skfer._progress import (
    counted,
    counting_predictions,
    progress_bar,
    progress_enabled,
    progress_mode,
)


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def fake_stderr(monkeypatch, tty: bool = False) -> _Stream:
    """A fake stderr and no SKFER_PROGRESS; set in the test's body (pytest's capture
    puts its own stream back between a fixture's setup and the test)."""
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delenv("SKFER_PROGRESS", raising=False)
    return stream


@pytest.mark.parametrize(
    ("tty", "env", "given", "expected"),
    [
        (True, None, None, "bar"),
        (False, None, None, "lines"),  # a log file: plain lines, after a delay
        (True, "0", None, "off"),
        (False, "0", None, "off"),
        (False, "1", None, "lines-now"),
        (False, None, True, "lines-now"),
        (True, None, True, "bar"),
        (True, "1", False, "off"),  # --quiet wins over the environment
    ],
)
def test_progress_rule(monkeypatch, tty, env, given, expected):
    fake_stderr(monkeypatch, tty)
    if env is not None:
        monkeypatch.setenv("SKFER_PROGRESS", env)
    assert progress_mode(given) == expected
    assert progress_enabled(given) is (expected != "off")


def test_progress_must_be_a_bool_or_none():
    with pytest.raises(ValueError, match="progress must be True, False or None"):
        progress_mode("yes")


def test_lines_off_a_terminal_have_no_carriage_returns(monkeypatch):
    stderr = fake_stderr(monkeypatch)
    with progress_bar(10, desc="short", unit="face") as bar:  # under the delay: silent
        bar.update(10)
    assert stderr.getvalue() == ""
    with progress_bar(10, desc="quiet", unit="face", enabled=False) as bar:
        bar.update(10)
    assert stderr.getvalue() == ""
    monkeypatch.setattr(progress, "LINE_DELAY", 0.0)
    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    with progress_bar(3, desc="long", unit="frame") as bar:
        for _ in range(3):
            bar.update(1)
    lines = stderr.getvalue().splitlines()
    assert lines[0].startswith("long:   0%") and lines[-1].startswith("long: 100%")
    assert "3/3" in lines[-1] and len(lines) >= 4
    assert "\r" not in stderr.getvalue() and "\x1b[" not in stderr.getvalue()
    assert stderr.getvalue().isascii()


def test_live_bar_on_a_terminal(monkeypatch):
    stream = fake_stderr(monkeypatch, tty=True)
    with progress_bar(4, desc="film.mp4", unit="frame") as bar:
        bar.update(4)
    assert "\r" in stream.getvalue() and "4/4" in stream.getvalue()
    assert stream.getvalue().isascii() and "\x1b[" not in stream.getvalue()


def test_counted_predictions_and_items(monkeypatch):
    stderr = fake_stderr(monkeypatch)
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), [0, 1, 1, 1])
    with progress_bar(10, desc="predicting", unit="face", enabled=True) as bar:
        counting = counting_predictions(model, bar, chunk=3)
        proba = counting.predict_proba(np.zeros((10, 1)))
        assert proba.shape == (10, 2) and bar.n == 10
        assert counting.classes_.tolist() == [0, 1]
        counting.predict(np.zeros((10, 1)))  # a second pass: the total grows
        assert bar.n == bar.total == 20
    text = stderr.getvalue()
    assert "predicting" in text and "20/20" in text
    bar = progress_bar(3, desc="images", unit="image", enabled=True)
    seen = []
    for item in counted("abc", bar):
        seen.append((item, bar.n))  # counted once the next is asked for
    assert seen == [("a", 0), ("b", 1), ("c", 2)] and bar.n == 3


def test_analyze_video_progress_follows_the_rule(monkeypatch, tmp_path):
    """``analyze_video(progress=None)``: silent for a short film off a terminal;
    ``progress=True``: its lines at once; both plain text."""
    stderr = fake_stderr(monkeypatch)
    cv2 = pytest.importorskip("cv2")
    from sklearn.dummy import DummyClassifier

    from skfer.video import analyze_video

    clip = tmp_path / "grey.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 8, (64, 64))
    for _ in range(8):
        writer.write(np.full((64, 64, 3), 128, np.uint8))
    writer.release()
    model = DummyClassifier().fit(np.zeros((2, 1)), ["happy", "sad"])
    options = dict(model=model, every=0.5, detector="hog", persons=False)
    analyze_video(clip, **options)
    assert stderr.getvalue() == ""
    analyze_video(clip, **options, progress=True)
    assert "grey.avi: 100%" in stderr.getvalue() and "\r" not in stderr.getvalue()
    with pytest.raises(ValueError, match="progress must be"):
        analyze_video(clip, **options, progress="on")


def test_epoch_table_is_plain_text_off_a_terminal(capsys):
    from skfer.models._training import print_epoch_line

    print_epoch_line("  1  \x1b[36m0.5\x1b[0m")
    assert capsys.readouterr().out == "  1  0.5\n"

