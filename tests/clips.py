"""Helpers of the film tests: write a clip of held frames, decode it back, and a
stand-in classifier (imported by test_video.py and test_report.py)."""

from __future__ import annotations

import cv2
import numpy as np

from skfer import EMOTIONS

FPS, HOLD = 8, 16  # each frame held 16 frames = 2 s


def write_clip(path, frames_bgr, *, fps=FPS, hold=HOLD, fourcc="MJPG"):
    h, w = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for frame in frames_bgr:
        for _ in range(hold):
            writer.write(frame)
    writer.release()
    return path


def decoded_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


class MeanModel:
    """A stand-in classifier: probabilities from the mean brightness of the crop."""

    classes_ = np.array(EMOTIONS)

    def predict_proba(self, X):
        m = np.asarray(X, dtype=float).reshape(len(X), -1).mean(axis=1) / 255
        logits = -50 * (m[:, None] - np.linspace(0, 1, len(self.classes_))) ** 2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)


#: Four SFEW movie frames, one face each (a happy, an angry, a sad, a surprised one).
CLIP_FRAMES = (
    "Happy/Bridesmaids_001335200_00000016.jpg",
    "Angry/HarryPotterAndOrderOPhoenix_015256413_00000011.jpg",
    "Sad/IAmSam_013827920__00000101.jpg",
    "Surprise/NanyDiaries_010039560_00000001.jpg",
)


def sfew_clip_file(frames_dir, folder):
    """An 8 s clip of :data:`CLIP_FRAMES`, each held 2 s, written into ``folder``."""
    frames = [cv2.imread(str(frames_dir / name)) for name in CLIP_FRAMES]
    assert all(f is not None and f.shape == (576, 720, 3) for f in frames)
    return write_clip(folder / "sfew.avi", frames)
