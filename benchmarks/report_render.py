"""Does a film's HTML report render in a real browser, and what does it cost to write?

Builds a clip of SFEW movie frames (``<data>/sfew_frames``, 720x576, each held 2 s at
8 fps, several films), analyses it with :func:`skfer.video.analyze_video` (shipped
``film`` model by default), writes the report with :func:`skfer.video.write_report`
(module ``skfer.video._report``) and renders it in headless Chromium
(``/usr/bin/chromium``): a screenshot and the rendered DOM, in which the report's key
elements are counted. The clip is written to a temporary folder and deleted.

Writes ``benchmarks/results/report_render.md`` and ``report_render.png`` (the
screenshot, 1280 px wide).

Usage::

    .venv/bin/python benchmarks/report_render.py              # ~1 minute on 2 cores
    .venv/bin/python benchmarks/report_render.py --frames 8   # a shorter clip
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import hardware, load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FPS, HOLD = 8, 16  # each frame held 2 s


def make_clip(path: Path, n_frames: int) -> list[str]:
    """A clip of ``n_frames`` SFEW frames spread over the classes; returns their names."""
    import cv2

    from skfer.datasets import get_data_home

    paths = sorted((get_data_home() / "sfew_frames").glob("*/*.jpg"))
    if not paths:
        sys.exit(f"No SFEW frames under {get_data_home() / 'sfew_frames'} (set SKFER_DATA).")
    chosen = paths[:: max(1, len(paths) // n_frames)][:n_frames]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (720, 576))
    for name in chosen:
        frame = cv2.resize(cv2.imread(str(name)), (720, 576))
        for _ in range(HOLD):
            writer.write(frame)
    writer.release()
    return [f"{p.parent.name}/{p.name}" for p in chosen]


def chromium(page: Path, profile: Path, *args: str) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout, time.perf_counter() - start


def elements(dom: str) -> dict:
    """What the rendered page holds (counted in Chromium's DOM)."""
    cards = re.findall(r'<figure class="card" id="(\w+)-', dom)
    return {
        "run record table": len(re.findall(r'<table class="kv" id="run-record">', dom)),
        "film summary table": len(re.findall(r'id="film-summary"', dom)),
        "scheme view table": len(re.findall(r'id="scheme-table"', dom)),
        "person lanes image": len(re.findall(r'<img class="plot" id="person-lanes"', dom)),
        "timeline image": len(re.findall(r'<img class="plot" id="timeline-plot"', dom)),
        "contact sheet cards": len(cards),
        "contact sheet faces": len(re.findall(r'<img class="face" src="data:image/png', dom)),
        "profile table rows (persons or tracks)": (
            _rows(dom, "persons-table") or _rows(dom, "tracks-table")
        ),
        "windows table rows": _rows(dom, "windows-table"),
        "http(s) references": len(re.findall(r"https?://", dom)),
    }


def _rows(dom: str, table_id: str) -> int:
    table = re.search(rf'<table class="data" id="{table_id}">.*?</table>', dom, re.S)
    return table.group(0).count("<tr>") - 1 if table else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24, help="SFEW frames in the clip")
    parser.add_argument("--model", default=None, help="model (default: analyze_video's)")
    parser.add_argument("--window-size", default="1280,2000", help="Chromium window")
    args = parser.parse_args()

    import cv2

    from skfer.video import VIDEO_MODEL, analyze_video
    from skfer.video._report import write_report

    command = "python benchmarks/report_render.py " + " ".join(sys.argv[1:])
    start_load = load()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        names = make_clip(tmp / "sfew.avi", args.frames)
        start = time.perf_counter()
        try:
            timeline = analyze_video(tmp / "sfew.avi", args.model, every=0.5)
        except ImportError:  # person grouping not in this checkout yet: tracks only
            timeline = analyze_video(tmp / "sfew.avi", args.model, every=0.5, persons=False)
        analyse_s = time.perf_counter() - start
        model = args.model or VIDEO_MODEL
        run = {"model": model, "command": command}
        start = time.perf_counter()
        page = write_report(timeline, tmp / "report.html", run=run)
        write_s = time.perf_counter() - start
        html = page.read_text(encoding="utf-8")
        images = sum(len(m) for m in re.findall(r'src="(data:image/png;base64,[^"]*)"', html))
        shot = RESULTS / "report_render.png"
        _, shot_s = chromium(
            page, tmp / "profile", f"--screenshot={shot}", f"--window-size={args.window_size}"
        )
        dom, dom_s = chromium(page, tmp / "profile", "--dump-dom")
        version = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    screenshot = cv2.imread(str(shot))
    found = elements(dom)
    by = "person" if "person" in timeline.columns else "track"
    lines = [
        "# Film report: written, then rendered in headless Chromium",
        "",
        f"Command: `{command.strip()}`",
        f"Machine: {hardware()}, load {start_load:.1f} at start (shared machine).",
        f"Browser: {version or CHROMIUM}, flags `{' '.join(FLAGS)} --user-data-dir=<tmp>`.",
        "",
        f"Clip: {len(names)} SFEW movie frames (720x576), each held 2 s at {FPS} fps "
        f"({len(names) * HOLD / FPS:.0f} s), MJPG AVI; analysed every 0.5 s with model "
        f"`{model}` in {analyse_s:.1f} s: {len(timeline)} faces in "
        f"{timeline['track'].nunique()} tracks"
        + (
            f", {timeline['person'].nunique()} persons."
            if by == "person"
            else " (no person grouping in this checkout: rows are tracks)."
        ),
        "",
        "| measure | value |",
        "|---|---|",
        f"| time to write the report (`write_report`, faces read back included) | "
        f"{write_s:.2f} s |",
        f"| HTML size | {len(html.encode()) / 1e3:.0f} kB |",
        f"| of which images (base64 PNG) | {images / 1e3:.0f} kB |",
        f"| Chromium screenshot (start to PNG) | {shot_s:.2f} s |",
        f"| Chromium --dump-dom | {dom_s:.2f} s |",
        f"| screenshot | {screenshot.shape[1]}x{screenshot.shape[0]} px, "
        f"{shot.stat().st_size / 1e3:.0f} kB (`report_render.png`) |",
        "",
        "Elements found in the rendered DOM:",
        "",
        "| element | count |",
        "|---|---|",
        *[f"| {name} | {count} |" for name, count in found.items()],
        "",
    ]
    (RESULTS / "report_render.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
