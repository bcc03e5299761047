"""``skfer video``: a film's emotion timeline, its profile tables, plots, HTML report
(and optionally the annotated film) written to one folder, with ``run.json``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._cli_options import CommandError, describe_model, given, model_option, scheme_value
from ._run_record import model_record

__all__ = ["cmd_video"]


def cmd_video(args) -> int:
    """Run ``skfer video`` on the parsed ``args``; returns the exit status."""
    import warnings

    from .video import (
        VIDEO_MODEL,
        analyze_video,
        film_profile,
        plot_persons,
        plot_timeline,
        plot_tracks,
        write_annotated_video,
        write_report,
    )
    from .video._classify import proba_columns

    film = Path(args.film)
    out = Path(args.out) if args.out else Path(f"{film.stem}_emotions")
    # damage is reported once, below, instead of as FFmpeg's lines and a Python warning
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Video .* is damaged or truncated", UserWarning)
        timeline = analyze_video(
            film,
            # a name is loaded by analyze_video once the film is known to be readable
            **(
                model_option(
                    args.model, default=VIDEO_MODEL, backend=args.backend, adapt=args.adapt
                )
                if args.backend
                else given(model=args.model)
            ),
            **given(
                every=args.every,
                every_n_frames=args.every_n_frames,
                detector=args.detector,
                scheme=scheme_value(args.scheme),
                batch_size=args.batch_size,
                landmarks=args.landmarks,
                adapt=args.adapt,
                min_score=args.min_score,
            ),
            **given(progress=False if args.quiet else None),  # None: skfer._progress's rule
        )
    out.mkdir(parents=True, exist_ok=True)
    args.record_dir = out
    record = args.record
    record["model"] = model_record(args.model, VIDEO_MODEL)
    record["sampling"] = given(every=args.every, every_n_frames=args.every_n_frames)
    film_keys = ("source", "fps", "step", "duration", "n_sampled", "shots", "scheme", "labels")
    film_keys += ("detector", "framing", "backend", "adapt", "persons")
    film_keys += ("complete", "covered", "damage")
    record["film"] = {k: timeline.attrs.get(k) for k in film_keys}
    record["min_score"] = args.min_score
    profile = film_profile(timeline, **given(window=args.window))
    files = [out / "timeline.csv", out / "tracks.csv", out / "windows.csv"]
    digits = {"time": 3, "x": 1, "y": 1, "w": 1, "h": 1, "score": 3}
    digits.update(dict.fromkeys(["start", "end", "face_time", "screen_time"], 3))
    shares = [f"share_{label}" for label in profile.labels]
    digits.update(dict.fromkeys([*proba_columns(profile.labels), *shares], 4))
    digits.update(dict.fromkeys(["valence", "arousal"], 4))
    timeline.round(digits).to_csv(files[0], index=False)
    profile.tracks.round(digits).to_csv(files[1])
    profile.windows.round(digits).to_csv(files[2], index=False)
    if profile.persons is not None:
        files.append(out / "persons.csv")
        profile.persons.round(digits).to_csv(files[-1])
    for name, plot in (
        ("timeline.png", plot_timeline),
        ("tracks.png", plot_tracks),
        ("persons.png", plot_persons),
    ):
        plot(timeline, out / name)
        files.append(out / name)
    run = {"model": describe_model(record["model"]["given"]), "command": " ".join(record["argv"])}
    run["checksum"] = record["model"].get("checksum")
    run.update({k: record[k] for k in ("started", "skfer", "python", "platform", "min_score")})
    files.append(write_report(timeline, out / "report.html", video=film, profile=profile, run=run))
    if args.save_video:
        files.append(write_annotated_video(timeline, out / "annotated.mp4", video=film))
    summary = profile.film
    attrs = timeline.attrs
    print(
        f"{film.name}: {attrs['n_sampled']} frames analysed (every {attrs['step']:.3g} s), "
        f"{summary['n_faces']} faces in {summary['n_tracks']} tracks"
    )
    print(f"model: {describe_model(VIDEO_MODEL if args.model is None else args.model)}")
    if summary["n_faces"]:
        shares = ", ".join(f"{label} {summary[f'share_{label}']:.0%}" for label in profile.labels)
        print(f"share of face time: {shares}")
        print(
            f"dominant: {summary['dominant']}; mean valence {summary['valence']:+.2f}, "
            f"arousal {summary['arousal']:+.2f}"
        )
    record["outputs"] = [str(p) for p in [*files, out / "run.json"]]
    for path in files:
        print(f"wrote {path}")
    print(f"wrote {out / 'run.json'}")
    if not attrs.get("complete", True):
        if not args.allow_partial:
            raise CommandError(
                f"{attrs['damage']} Outputs written to {out} for that part; pass "
                "--allow-partial to accept a partial analysis."
            )
        print(f"skfer video: warning: {attrs['damage']}", file=sys.stderr)
    return 0
