"""Persons across shots: does ``analyze_video``'s ``person`` column group an actor's tracks?

A clip is built from real SFEW movie frames of known identity: 15 shots of 2 s each,
each one frame held, cycling through five films so that three actors come back in
several non-adjacent shots (two different frames of each: the pairs below were checked
by eye to show the same actor). Every shot cut ends the tracks, so each shot gives new
tracks; the ``person`` column should give one person per actor.

Reported per threshold of :class:`skfer.video.PersonGrouper` (the descriptors are
computed once, then clustered at each threshold): tracks, true identities, persons
found, purity (share of faces whose person's majority identity is theirs: 1 means no
person mixes actors) and completeness (share of each identity's faces in its main
person: 1 means no actor is split), and the cost of a descriptor.

Usage::

    python benchmarks/person_grouping.py

writes ``benchmarks/results/person_grouping.{md,csv}``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import hardware, load  # noqa: E402

from skfer import FaceCropper, read_image  # noqa: E402
from skfer.datasets import get_data_home  # noqa: E402
from skfer.video import FaceTracker, PersonGrouper, ShotCuts, analyze_video  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: frame -> identity of its largest face (pairs of one actor checked by eye)
FRAMES = {
    "Disgust/ThereIsSomethingAboutMary_002123400_00000001.jpg": "Mary: Ben Stiller",
    "Disgust/ThereIsSomethingAboutMary_002123400_00000016.jpg": "Mary: Ben Stiller",
    "Angry/HarryPotter_PhilosopherStone_001549894_00000025.jpg": "Potter: the housekeeper",
    "Fear/HarryPotter_PhilosopherStone_001549894_00000042.jpg": "Potter: the housekeeper",
    "Angry/AlexEmma_011823160_00000020.jpg": "AlexEmma: Kate Hudson",
    "Angry/AlexEmma_011824880_00000041.jpg": "AlexEmma: Kate Hudson",
    "Happy/Bridesmaids_001335200_00000016.jpg": "Bridesmaids",
    "Sad/IAmSam_013827920__00000101.jpg": "IAmSam",
}
ORDER = [0, 2, 4, 6, 1, 3, 5, 7, 0, 3, 4, 2, 1, 5, 6]  # 15 shots, actors return
FPS, HOLD = 8, 16
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def build_clip(folder: Path) -> tuple[Path, list[str]]:
    import cv2

    names = list(FRAMES)
    frames_dir = get_data_home() / "sfew_frames"
    path = folder / "persons.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (720, 576))
    for k in ORDER:
        bgr = cv2.imread(str(frames_dir / names[k]))
        for _ in range(HOLD):
            writer.write(bgr)
    writer.release()
    return path, [names[k] for k in ORDER]


def scores(identity: np.ndarray, person: np.ndarray) -> tuple[float, float]:
    table = pd.crosstab(person, identity)
    purity = table.max(axis=1).sum() / table.to_numpy().sum()
    completeness = table.max(axis=0).sum() / table.to_numpy().sum()
    return float(purity), float(completeness)


def main() -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        clip, shots = build_clip(Path(tmp))
        # the real path: analyze_video's person column at the default threshold
        timeline = analyze_video(clip, every=0.5, progress=False)
        # the same pieces by hand, keeping the descriptors to re-cluster
        cropper = FaceCropper().fit()
        tracker, cuts, grouper = FaceTracker(), ShotCuts(), PersonGrouper()
        rows, spent, described = [], 0.0, 0
        frames_dir = get_data_home() / "sfew_frames"
        for shot, name in enumerate(shots):
            frame = read_image(frames_dir / name)
            for _ in range(int(HOLD / FPS / 0.5)):  # a sample every 0.5 s: 4 per shot
                _, faces = cropper.crop_faces(frame)
                if cuts.is_cut(frame):
                    tracker.end_tracks()
                tracks = tracker.update([f.box for f in faces])
                before = sum(len(d) for d in getattr(grouper, "descriptors_", {}).values())
                t = time.perf_counter()
                grouper.add(frame, faces, tracks)
                after = sum(len(d) for d in grouper.descriptors_.values())
                if after > before:
                    spent += time.perf_counter() - t
                    described += after - before
                largest = int(np.argmax([f.area for f in faces])) if faces else -1
                for k, track in enumerate(tracks):
                    who = FRAMES[name] if k == largest else f"{FRAMES[name]}: other"
                    rows.append({"shot": shot, "track": int(track), "identity": who})
    faces = pd.DataFrame(rows)
    out = []
    for threshold in THRESHOLDS:
        again = PersonGrouper(threshold=threshold)
        again._add_descriptors(grouper.descriptors_, together=sorted(grouper._together))
        person = faces["track"].map(again.persons()).to_numpy()
        purity, completeness = scores(faces["identity"].to_numpy(), person)
        out.append(
            {
                "threshold": threshold,
                "default": threshold == PersonGrouper().threshold,
                "tracks": faces["track"].nunique(),
                "identities": faces["identity"].nunique(),
                "persons": len(set(person)),
                "purity": round(purity, 3),
                "completeness": round(completeness, 3),
            }
        )
    table = pd.DataFrame(out)
    table.to_csv(RESULTS / "person_grouping.csv", index=False)
    ms = 1000 * spent / max(described, 1)
    lines = [
        "# Persons across shots: grouping face tracks by dlib face descriptors",
        "",
        "Command: `python benchmarks/person_grouping.py`",
        f"Machine: {hardware()}, load {load():.1f}; {time.perf_counter() - t0:.0f} s.",
        "",
        f"Clip: {len(shots)} shots of 2 s, each one real SFEW frame (720x576) held, cycling "
        f"through {len(set(FRAMES.values()))} films; three actors appear in two different "
        "frames each (pairs checked by eye), in 3-4 non-adjacent shots. Identity of a face: "
        "the actor of its frame's largest face (other faces: their own identity per film). "
        "Each shot cut ends the tracks, so every shot gives new tracks.",
        "",
        table.to_markdown(index=False),
        "",
        f"Descriptor cost: {ms:.0f} ms per face ({described} faces described, at most "
        f"{PersonGrouper().faces_per_track} per track), 2 cores shared.",
        "",
        f"`analyze_video` on the clip (default threshold): {timeline['track'].nunique()} "
        f"tracks, {timeline['person'].nunique()} persons.",
        "",
    ]
    (RESULTS / "person_grouping.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
