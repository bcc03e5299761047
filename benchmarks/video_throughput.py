"""How fast does skfer analyse a film, and does its memory stay flat as the film grows?

1. **Throughput**: frames of film per second, end to end (decode, detect, align,
   classify, track, group persons), of :func:`skfer.video.analyze_video` on 720x576
   videos made of the 84 SFEW movie frames (``<data>/sfew_frames``): with its defaults
   (a face sampled every 0.5 s, detector ``"auto"``, the ``VIDEO_MODEL`` on the
   ``"auto"`` backend, persons) on a film whose shots last 1 s, and with every frame
   analysed on a film that changes shot at every frame, per detector. "frames with a
   face" is over the frames analysed. Reported per wall-clock second and per CPU second
   of the process (the machine is shared; CPU time is what an idle core would take).
2. **Memory**: peak resident memory (``VmHWM``, native memory included) of a fresh
   process analysing a synthetic 1-minute and a 10-minute 1280x720 clip (SFEW frames on a
   720p canvas, each held 2 s) with analyze_video's defaults, next to the same process's
   peak once the model and detectors are loaded (``--memory-detectors yunet@240 ...``
   adds settings).

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

# (label, detector, keyword arguments of analyze_video, max frames, frames each SFEW frame
# is held): the first row is analyze_video's defaults (every 0.5 s, detector "auto",
# persons, the VIDEO_MODEL on the "auto" backend) on a film whose shots last 1 s; the others
# analyse every frame of a film that changes shot every frame (the hardest case).
SETTINGS = [
    ("defaults (every 0.5 s, auto detector, persons), 1-s shots", None, {}, None, 25),
    ("defaults, persons=False, 1-s shots", None, {"persons": False}, None, 25),
    ("every frame, auto detector (hog+yunet)", None, {"persons": False}, None, 1),
    ("every frame, yunet", "yunet", {"persons": False}, None, 1),
    ("every frame, yunet, work_size=360", "yunet", {"persons": False, "work_size": 360}, None, 1),
    ("every frame, hog", "hog", {"persons": False}, None, 1),
    ("every frame, haar", "haar", {"persons": False}, None, 1),
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

    from skfer.video import analyze_video

    # loaded by analyze_video as a user's name is (backend "auto"); None: VIDEO_MODEL
    model = None if model_name == "default" else model_name
    frames = [cv2.imread(str(p)) for p in sfew_frames()]
    assert all(f.shape == (576, 720, 3) for f in frames)
    rows = []
    for label, detector, kwargs, limit, hold in SETTINGS:
        if detector and not available(detector):
            print(f"skip {label}: not installed", flush=True)
            continue
        n = min(len(frames), limit or len(frames))
        if quick:
            n = min(n, 12)
        clip = write_clip(tmp / f"sfew_{n}x{hold}.mp4", frames[:n], fps=25, hold=hold)
        sampling = {} if hold > 1 else {"every": None, "every_n_frames": 1}
        options = {"detector": detector, **kwargs, "progress": False}
        # warm up: load the detector, landmark predictor and model once
        analyze_video(clip, model, every=None, every_n_frames=n * hold, **options)
        wall, cpu = time.perf_counter(), time.process_time()
        timeline = analyze_video(clip, model, **sampling, **options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        n_frames = n * hold
        rows.append(
            {
                "part": "throughput",
                "setting": label,
                "detector": timeline.attrs.get("detector", detector),
                "frames": n_frames,
                "sampled": timeline.attrs["n_sampled"],
                "faces": len(timeline),
                "frames_with_face": int(timeline["frame"].nunique()),
                "torch_imported": "torch" in sys.modules,
                "wall_s": wall,
                "cpu_s": cpu,
                "fps_wall": n_frames / wall,
                "fps_cpu": n_frames / cpu,
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
model_name = None if model_name == "default" else model_name
detector, _, size = spec.partition("@")
detector = None if detector == "default" else detector
work_size = int(size) if size else None
stages = {"python": status()["VmRSS"]}
import numpy as np

from skfer.video import analyze_video

stages["import skfer.video"] = status()["VmRSS"]
from skimage.data import astronaut
from skimage.io import imsave
import tempfile, os

# a warm-up film of one face: the model (backend "auto"), detectors, landmark and
# descriptor models load as they do in a real run
warm = os.path.join(tempfile.mkdtemp(), "warm.png")
imsave(warm, astronaut())
from skfer.video import analyze_images

analyze_images([warm], model_name, detector=detector, work_size=work_size)
stages["model and detector loaded"] = status()["VmRSS"]
before = status()
threading.Thread(target=watch, daemon=True).start()
wall, cpu = time.perf_counter(), time.process_time()
timeline = analyze_video(clip, model_name, every=0.5, detector=detector, work_size=work_size,
                         progress=False)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
after = status()
print(json.dumps({"before_mb": before["VmHWM"], "peak_mb": after["VmHWM"],
                  "anon_before_mb": before["RssAnon"],
                  "anon_peak_mb": max(peak_anon[0], after["RssAnon"]),
                  "file_mb": after["RssFile"], "wall_s": wall, "cpu_s": cpu,
                  "sampled": timeline.attrs["n_sampled"], "faces": len(timeline),
                  "tracks": int(timeline["track"].nunique()), "stages": stages,
                  "torch_imported": "torch" in sys.modules}))
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
                "torch_imported": result["torch_imported"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


# ---------------------------------------------------------------------- report


def _model_text(model_name: str) -> str:
    if model_name != "default":
        return f"`{model_name}` (backend auto)"
    from skfer.video import VIDEO_MODEL

    return f"analyze_video's default, `{VIDEO_MODEL}` (backend auto)"


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
        f"machine does. Model: {_model_text(model_name)}; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}.",
        "",
        "## Throughput on 720x576 film",
        "",
        "The 84 SFEW movie frames (one face each, some with more) written to mp4v videos at "
        "25 fps: each held 25 frames (1-s shots, 2,100 frames) for analyze_video's defaults "
        "(a face sampled every 0.5 s), or once each for `every_n_frames=1`; after a warm-up "
        "run. frames/s counts the film's frames; (wall) is wall-clock time on this shared "
        "machine, (CPU) divides by the process's CPU time (all its threads). "
        "`frames with a face` is over the `sampled` frames.",
        "",
        "| setting | detector | frames | sampled | faces | frames with a face | frames/s (wall) "
        "| frames/s (CPU) | torch imported | load average |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for _, r in tp.iterrows():
        lines.append(
            f"| {r.setting} | {r.detector} | {r.frames} | {r.sampled} | {r.faces} | "
            f"{r.frames_with_face:.0f} ({100 * r.frames_with_face / r.sampled:.1f} %) | "
            f"{r.fps_wall:.1f} | {r.fps_cpu:.1f} | {r.torch_imported} | {r.load:.1f} |"
        )
    if len(mem):
        lines += [
            "",
            "## Memory: 1-minute vs 10-minute 1280x720 clip, sampled every 0.5 s",
            "",
            "Synthetic clips at 10 fps (SFEW frames on a 720p canvas, each held 2 s), each "
            "analysed in a fresh process with `analyze_video(clip, every=0.5)` and its other "
            "defaults (`default`) or the given detector and working size. Peak RSS is the "
            "process's `VmHWM` (resident memory high-water mark, native memory and mapped "
            "libraries included): *loaded* once the model and the detectors are loaded and "
            "warm, *peak* after the whole analysis. "
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
                f"- `{spec}`: peak memory 10-minute / 1-minute clip **{ratio:.3f}x** (target "
                f"<= 1.05x); the analysis adds {added.iloc[0]:.0f} MB (1 min) and "
                f"{added.iloc[1]:.0f} MB (10 min) to the loaded process."
            )
        stages = json.loads(mem.stages.iloc[0])
        lines += [
            "",
            "Where the resident memory comes from (VmRSS after each step, MB): "
            + "; ".join(f"{name} {mb:.0f}" for name, mb in stages.items())
            + f". torch imported: {bool(mem.torch_imported.iloc[0])} (the ONNX backend "
            "serves; importing this environment's torch alone costs ~500 MB). Target: peak "
            "RSS <= 600 MB, 10-minute / 1-minute within 5 %.",
        ]
    (RESULTS / "video_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="default", help="shipped model name or file (default: VIDEO_MODEL)"
    )
    parser.add_argument(
        "--memory-detectors",
        nargs="+",
        default=["default"],
        help="detector[@work_size] specs for the memory part (default: analyze_video's "
        "default detector and working size)",
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
