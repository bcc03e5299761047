"""Figures the docs draw themselves when no benchmark has written them.

The film page shows an emotion timeline. When ``benchmarks/results/`` holds none, the
build makes one with the library itself: a short clip of four SFEW movie frames (the
real data, when ``SKFER_DATA`` has it; else the sample photographs) held two seconds
each, analysed by :func:`skfer.video.analyze_video` with the shipped model and drawn by
:func:`skfer.video.plot_timeline`. It runs once per checkout (the PNG is kept in the
build folder) and takes a few seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

#: The frames the film-analysis tests use: one clear face each, at different places.
SFEW_FRAMES = (
    "Happy/Bridesmaids_001335200_00000016.jpg",
    "Angry/HarryPotterAndOrderOPhoenix_015256413_00000011.jpg",
    "Sad/IAmSam_013827920__00000101.jpg",
    "Surprise/NanyDiaries_010039560_00000001.jpg",
)


def _clip_frames() -> tuple[list, str]:
    from skfer import read_image
    from skfer.datasets import get_data_home, load_sample_images

    folder = get_data_home() / "sfew_frames"
    paths = [folder / name for name in SFEW_FRAMES]
    if all(p.is_file() for p in paths):
        return [read_image(p) for p in paths], "four SFEW movie frames, 2 s each"
    photos = load_sample_images().images
    return [photos[0], photos[1], photos[0]], "the sample photographs, 2 s each"


def make_timeline(target: Path, *, fps: int = 8, hold_seconds: int = 2) -> str:
    """Write an emotion timeline PNG to ``target``; return what the clip showed."""
    import cv2

    from skfer.video import analyze_video, plot_timeline

    frames, what = _clip_frames()
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.avi"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
        for frame in frames:
            bgr = cv2.cvtColor(cv2.resize(frame, (w, h)), cv2.COLOR_RGB2BGR)
            for _ in range(fps * hold_seconds):
                writer.write(bgr)
        writer.release()
        timeline = analyze_video(clip, every=0.5)
        plot_timeline(timeline, target, title=f"Emotion timeline: {what}")
    return what
