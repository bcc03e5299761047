"""How fast does skfer analyse a film, and does its memory stay flat as the film grows?

1. **Throughput**: frames/s end to end (decode + detect + align + classify, every frame
   analysed) of :func:`skfer.video.analyze_video` on a 720x576 video made of the 84 SFEW
   movie frames (``<data>/sfew_frames``), one frame each, for each detector setting.
   Reported both per wall-clock second and per CPU second of the process (the machine is
   shared; CPU time is what an otherwise idle core would take).
2. **Memory**: peak resident memory (``VmHWM``, native memory included) of a fresh
   process analysing a synthetic 1-minute and a 10-minute 1280x720 clip (SFEW frames on a
   720p canvas, each held 2 s), sampled every 0.5 s, next to the same process's peak
   before the analysis (imports, model and detector loaded). Default detector: ``hog`` at
   ``work_size=360`` (``--memory-detectors hog@360 yunet@240`` adds others).

The clips are written to a temporary folder and deleted. Writes
``benchmarks/results/video_throughput.{md,csv}``.

Usage::

    .venv/bin/python benchmarks/video_throughput.py            # ~5-10 minutes on 2 cores
    .venv/bin/python benchmarks/video_throughput.py --quick    # fewer frames, shorter clips
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import hardware, load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

# (label, detector, keyword arguments of analyze_video, max frames)
SETTINGS = [
    ("haar", "haar", {}, None),
    ("haar, no landmarks", "haar", {"landmarks": False}, None),
    ("hog (analyze_video default)", "hog", {}, None),
    ("hog, work_size=360, no landmarks", "hog", {"work_size": 360, "landmarks": False}, None),
    ("yunet", "yunet", {}, None),
    ("yunet, work_size=240", "yunet", {"work_size": 240}, None),
    ("mtcnn", "mtcnn", {}, 40),
    ("cnn (dlib MMOD)", "cnn", {}, 6),
    ("hog+cnn (detect_faces default)", "hog+cnn", {}, 12),
]


def sfew_frames():
    from skfer.datasets import get_data_home

    folder = get_data_home() / "sfew_frames"
    paths = sorted(folder.glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"No SFEW frames under {folder} (set SKFER_DATA).")
    return paths


def write_clip(path: Path, frames_bgr, *, fps: float, hold: int, n_frames: int | None = None):
    """Cycle through ``frames_bgr`` holding each ``hold`` frames, ``n_frames`` in all."""
    import cv2

    h, w = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {path} with the mp4v codec.")
    total = n_frames if n_frames is not None else hold * len(frames_bgr)
    for i in range(total):
        writer.write(frames_bgr[(i // hold) % len(frames_bgr)])
    writer.release()
    return path


def on_canvas(bgr, size=(1280, 720)):
    """An SFEW frame scaled to the canvas height, centred on a black 720p canvas."""
    import cv2

    w, h = size
    scale = h / bgr.shape[0]
    resized = cv2.resize(bgr, (round(bgr.shape[1] * scale), h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((h, w, 3), np.uint8)
    x = (w - resized.shape[1]) // 2
    canvas[:, x : x + resized.shape[1]] = resized
    return canvas


def available(detector: str) -> bool:
    from skfer.faces import detect_faces

    try:
        detect_faces(np.zeros((64, 64), np.uint8), detector=detector)
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------- part 1


def throughput(model_name: str, tmp: Path, quick: bool) -> list[dict]:
    import cv2

    from skfer.models import load_model
    from skfer.video import analyze_video

    model = load_model(model_name, device="cpu")
    frames = [cv2.imread(str(p)) for p in sfew_frames()]
    assert all(f.shape == (576, 720, 3) for f in frames)
    rows = []
    for label, detector, kwargs, limit in SETTINGS:
        if not available(detector):
            print(f"skip {label}: not installed", flush=True)
            continue
        n = min(len(frames), limit or len(frames))
        if quick:
            n = min(n, 12)
        clip = write_clip(tmp / f"sfew_{n}.mp4", frames[:n], fps=25, hold=1)
        # warm up: load the detector, landmark predictor and model once
        analyze_video(clip, model, every_n_frames=n, detector=detector, **kwargs)
        wall, cpu = time.perf_counter(), time.process_time()
        timeline = analyze_video(clip, model, every_n_frames=1, detector=detector, **kwargs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append(
            {
                "part": "throughput",
                "setting": label,
                "detector": detector,
                "frames": n,
                "faces": len(timeline),
                "frames_with_face": int(timeline["frame"].nunique()),
                "wall_s": wall,
                "cpu_s": cpu,
                "fps_wall": n / wall,
                "fps_cpu": n / cpu,
                "load": load(),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


# ---------------------------------------------------------------------- part 2

_CHILD = r"""
import json, sys, threading, time


def status():
    # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over fork + exec)
    with open("/proc/self/status") as fh:
        keep = [line.split() for line in fh if line.startswith(("VmHWM", "VmRSS", "Rss"))]
    return {fields[0].rstrip(":"): int(fields[1]) / 1024 for fields in keep}


peak_anon = [0.0]


def watch():
    while True:
        peak_anon[0] = max(peak_anon[0], status()["RssAnon"])
        time.sleep(0.05)


clip, model_name, spec = sys.argv[1:4]
detector, _, size = spec.partition("@")
work_size = int(size) if size else None
stages = {"python": status()["VmRSS"]}
import numpy as np
import torch

stages["import torch"] = status()["VmRSS"]
from skfer.models import load_model

stages["import skfer.models (timm, torchvision, skorch)"] = status()["VmRSS"]
from skfer.faces import detect_faces
from skfer.video import analyze_video

model = load_model(model_name, device="cpu")
model.predict_proba(np.zeros((64, 48, 48), np.uint8))
stages["model loaded, one batch"] = status()["VmRSS"]
from skimage.data import astronaut

detect_faces(astronaut(), detector=detector)  # a face: landmark models load too
stages[f"detector {detector} loaded"] = status()["VmRSS"]
before = status()
threading.Thread(target=watch, daemon=True).start()
wall, cpu = time.perf_counter(), time.process_time()
timeline = analyze_video(clip, model, every=0.5, detector=detector, work_size=work_size)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
after = status()
print(json.dumps({"before_mb": before["VmHWM"], "peak_mb": after["VmHWM"],
                  "anon_before_mb": before["RssAnon"],
                  "anon_peak_mb": max(peak_anon[0], after["RssAnon"]),
                  "file_mb": after["RssFile"], "wall_s": wall, "cpu_s": cpu,
                  "sampled": timeline.attrs["n_sampled"], "faces": len(timeline),
                  "tracks": int(timeline["track"].nunique()), "stages": stages}))
"""


def memory(model_name: str, specs: list[str], tmp: Path, quick: bool) -> list[dict]:
    """Peak memory per detector spec (``name`` or ``name@work_size``) and clip length."""
    import cv2

    frames = [on_canvas(cv2.imread(str(p))) for p in sfew_frames()]
    fps = 10
    clips = {}
    for minutes in (1, 10):
        seconds = minutes * (6 if quick else 60)
        clips[seconds] = write_clip(
            tmp / f"synthetic_{minutes}.mp4", frames, fps=fps, hold=2 * fps, n_frames=seconds * fps
        )
    del frames
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rows = []
    for spec in specs:
        for seconds, clip in clips.items():
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(clip), model_name, spec],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if out.returncode:
                raise SystemExit(f"memory run failed:\n{out.stderr}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            row = {
                "part": "memory",
                "setting": f"{seconds / 60:g}-minute 1280x720 clip",
                "detector": spec,
                "frames": seconds * fps,
                "faces": result["faces"],
                "frames_with_face": None,
                "wall_s": result["wall_s"],
                "cpu_s": result["cpu_s"],
                "fps_wall": seconds * fps / result["wall_s"],
                "fps_cpu": seconds * fps / result["cpu_s"],
                "load": load(),
                "sampled": result["sampled"],
                "tracks": result["tracks"],
                "clip_mb": clip.stat().st_size / 2**20,
                "rss_before_mb": result["before_mb"],
                "rss_peak_mb": result["peak_mb"],
                "anon_before_mb": result["anon_before_mb"],
                "anon_peak_mb": result["anon_peak_mb"],
                "file_mb": result["file_mb"],
                "video_s_per_s": seconds / result["wall_s"],
                "stages": json.dumps(result["stages"]),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


# ---------------------------------------------------------------------- report


def write_report(rows, *, model_name, started_load, quick, elapsed):
    import pandas as pd

    frame = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(RESULTS / "video_throughput.csv", index=False, float_format="%.4g")
    tp = frame[frame.part == "throughput"]
    mem = frame[frame.part == "memory"]
    lines = [
        "# Video analysis: throughput and memory",
        "",
        f"Generated by `benchmarks/video_throughput.py{' --quick' if quick else ''}` "
        f"on {hardware()} (the last part run took {elapsed / 60:.1f} min, load average "
        f"{started_load:.1f} at its start; `--skip-memory` / `--skip-throughput` run the "
        "parts separately and keep the other's figures). The machine is shared with other "
        "jobs (see the load averages), so wall-clock figures understate what an idle "
        f"machine does. Model: `{model_name}`; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}.",
        "",
        "## Throughput: every frame of a 720x576 video analysed",
        "",
        "The 84 SFEW movie frames (one face each, some with more) written once each to an "
        "mp4v video at 25 fps; `analyze_video(..., every_n_frames=1)` after a warm-up run. "
        "frames/s (wall) counts wall-clock time on this loaded machine; frames/s (CPU) divides "
        "by the process's CPU time (all its threads), i.e. what one idle core gives. The "
        "`fer` package does 15 frames/s (Haar) and 9.8 (MTCNN) on these frames here.",
        "",
        "| setting | frames | faces | frames with a face | frames/s (wall) | frames/s (CPU) "
        "| load average |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in tp.iterrows():
        lines.append(
            f"| {r.setting} | {r.frames} | {r.faces} | {r.frames_with_face:.0f} | "
            f"{r.fps_wall:.1f} | {r.fps_cpu:.1f} | {r.load:.1f} |"
        )
    if len(tp):
        best = tp.loc[tp.fps_cpu.idxmax()]
        lines += [
            "",
            f"Fastest setting: **{best.setting}**, {best.fps_cpu:.0f} frames/s per CPU "
            f"second ({best.fps_wall:.0f} wall-clock on this loaded machine).",
        ]
    if len(mem):
        lines += [
            "",
            "## Memory: 1-minute vs 10-minute 1280x720 clip, sampled every 0.5 s",
            "",
            "Synthetic clips at 10 fps (SFEW frames on a 720p canvas, each held 2 s), each "
            "analysed in a fresh process with `analyze_video(clip, every=0.5, detector=..., "
            "work_size=...)`. Peak RSS is the process's `VmHWM` (resident memory high-water "
            "mark, native memory and mapped libraries included): *loaded* once skfer, torch, "
            "the model and the detector are loaded and warm, *peak* after the whole analysis. "
            "Private memory is `RssAnon` (no file-backed library pages), its peak sampled every "
            "50 ms during the analysis.",
            "",
            "| detector@work_size | clip | frames | sampled | faces | tracks | peak RSS loaded "
            "(MB) | peak RSS (MB) | private loaded (MB) | private peak (MB) | x real time "
            "(wall) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for _, r in mem.iterrows():
            lines.append(
                f"| {r.detector} | {r.setting} | {r.frames} | {r.sampled:.0f} | {r.faces} | "
                f"{r.tracks:.0f} | {r.rss_before_mb:.0f} | {r.rss_peak_mb:.0f} | "
                f"{r.anon_before_mb:.0f} | {r.anon_peak_mb:.0f} | {r.video_s_per_s:.1f} |"
            )
        lines.append("")
        for spec, group in mem.groupby("detector", sort=False):
            if len(group) != 2:
                continue
            ratio = group.rss_peak_mb.iloc[1] / group.rss_peak_mb.iloc[0]
            added = group.rss_peak_mb - group.rss_before_mb
            lines.append(
                f"- `{spec}`: peak memory 10-minute / 1-minute clip **{ratio:.2f}x** (target "
                f"<= 1.5x); the analysis adds {added.iloc[0]:.0f} MB (1 min) and "
                f"{added.iloc[1]:.0f} MB (10 min) to the loaded process."
            )
        if mem.detector.str.startswith("yunet").any():
            lines.append(
                "- yunet's extra growth with length is a leak in the `yuface` wheel: "
                "`yuface.detect` called 2,000 times on one 240x240 image keeps about 35 kB "
                "per call (RssAnon 46 -> 112 MB), so a 2-hour film sampled every 0.5 s would "
                "leak about 0.5 GB. dlib's HOG stays flat."
            )
        stages = json.loads(mem.stages.iloc[0])
        lines += [
            "",
            "Where the resident memory comes from (VmRSS after each step, MB): "
            + "; ".join(f"{name} {mb:.0f}" for name, mb in stages.items())
            + ". The target of 600 MB is below what importing this environment's torch "
            "(a CUDA build) and timm/torchvision costs before any video is read; the `fer` "
            "package peaks at 0.8-1.3 GB here.",
        ]
    (RESULTS / "video_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fer2013", help="shipped model name or file")
    parser.add_argument(
        "--memory-detectors",
        nargs="+",
        default=["hog@360"],
        help="detector[@work_size] specs for the memory part (default: hog@360, the default "
        "detector at a working size that keeps the run short)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: fewer frames, 6/60 s clips"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    started, started_load = time.perf_counter(), load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="skfer-video-bench-") as tmp:
        if not args.skip_throughput:
            rows += throughput(args.model, Path(tmp), args.quick)
        if not args.skip_memory:
            rows += memory(args.model, args.memory_detectors, Path(tmp), args.quick)
    previous = RESULTS / "video_throughput.csv"
    if (args.skip_throughput or args.skip_memory) and previous.is_file():
        # keep the other part's figures from the last run (the parts can run separately)
        import pandas as pd

        old = pd.read_csv(previous)
        keep = "throughput" if args.skip_throughput else "memory"
        rows = old[old.part == keep].to_dict("records") + rows
    write_report(
        rows,
        model_name=args.model,
        started_load=started_load,
        quick=args.quick,
        elapsed=time.perf_counter() - started,
    )


if __name__ == "__main__":
    main()
