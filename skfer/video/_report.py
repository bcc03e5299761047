"""A film's emotion report: one self-contained HTML page (inline CSS, images as data URIs).

The page holds the run record, the per-person emotion lanes and the mean timeline
(:func:`plot_persons`, :func:`plot_timeline`), a contact sheet of each person's faces
(:func:`face_thumbnails`), the film profile's tables (:func:`film_profile`) and the
film's shares in the three clusters. It loads nothing from the network.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
import os
import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ._classify import proba_columns
from ._profile import SHARE_PREFIX, _step, film_profile, timeline_labels

__all__ = ["write_report"]

#: Shown on every report: one sentence, from ``docs/results.md`` ("Targets at a glance"
#: and ``benchmarks/results/train_film.md``).
SAD_CAVEAT = (
    "The FER2013-trained models (fer2013, fer2013-large, fer2013-fast) over-read sad on "
    "film faces: on the film development set (SFEW) they predict sad 1.5 to 2.6 times as "
    "often as it is labelled, while the film model, fine-tuned on SFEW faces, comes within "
    "10 % of the labelled share in leave-films-out tests (docs/results.md)."
)

_FACE_SIZE = 72  # px of the contact sheet's faces (shown at that size: PNG stays small)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;background:#fafafa;color:#222}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 10px}
.note{background:#fff8e1;border-left:4px solid #ffbf00;padding:8px 12px;margin:10px 0}
.warn{background:#fdecea;border-left:4px solid #d62728;padding:8px 12px;margin:10px 0}
table{border-collapse:collapse;background:#fff;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{width:190px}.scroll{max-height:520px;overflow:auto;display:inline-block;
max-width:100%}
img.plot{max-width:100%;height:auto;background:#fff;border:1px solid #ddd}
.bar{display:flex;height:12px;width:260px;border:1px solid #ccc;background:#fff;
margin:3px 0}.bar span{display:block;height:100%}
.sheet{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px;margin:0;
width:360px}.card h3{font-size:15px;margin:0 0 4px}.card p{margin:2px 0;font-size:12.5px}
.faces{display:flex;flex-wrap:wrap;gap:4px;margin-top:6px}
.faces figure{margin:0;text-align:center;font-size:11px;color:#666}
.faces img{display:block;width:72px;height:72px;border-radius:2px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px}
"""


# ----------------------------------------------------------------- formatting


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, Real) and math.isnan(value))


def _seconds(value) -> str:
    if _missing(value):
        return "–"
    value = float(value)
    if value >= 60:
        h, rest = divmod(value, 3600)
        m, s = divmod(rest, 60)
        clock = f"{int(h)}:{int(m):02d}:{s:04.1f}" if h else f"{int(m)}:{s:04.1f}"
        return f"{value:.1f} s ({clock})"
    return f"{value:.1f} s"


def _clock(value: float) -> str:
    m, s = divmod(float(value), 60)
    return f"{int(m)}:{s:04.1f}"


def _number(value, digits: int = 3) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        value = float(value)
        return (
            str(int(value)) if value.is_integer() and abs(value) < 1e12 else f"{value:.{digits}g}"
        )
    return str(value)


def _text(value) -> str:
    """A run record value as text: numbers plainly, containers as JSON."""
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, (Real, np.generic)) and not isinstance(value, str):
        return _number(value, 6)
    return "–" if value is None else str(value)


def _png(fig) -> str:
    """The figure as a ``data:`` URI (PNG, base64)."""
    from ._plots import _DPI

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _png_array(rgb: np.ndarray) -> str:
    import cv2

    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB image
        raise ValueError("Could not encode a thumbnail as PNG.")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _kv_table(rows, table_id: str) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv" id="{table_id}">{body}</table>'


def _share_bar(shares: dict, colors: dict) -> str:
    """A stacked bar of shares (inline widths) and the three largest as text."""
    spans = "".join(
        f'<span style="width:{100 * v:.2f}%;background:{colors[k]}" title="{_e(k)} {v:.0%}"></span>'
        for k, v in shares.items()
        if v > 0
    )
    top = sorted((k for k, v in shares.items() if v > 0), key=lambda k: -shares[k])[:3]
    words = " · ".join(f"{_e(k)} {shares[k]:.0%}" for k in top)
    return f'<div class="bar">{spans}</div><span class="shares">{words}</span>'


def _data_table(frame, table_id: str, labels, *, index: str | None) -> str:
    """A profile table: times in s, shares in %, valence/arousal signed, escaped."""
    shares = {f"{SHARE_PREFIX}{label}": label for label in labels}
    columns = list(frame.columns)
    seconds = ("start", "end", "face_time", "screen_time")
    head = ([index] if index else []) + [
        f"{shares[c]} %" if c in shares else c.replace("_", " ") + (" (s)" if c in seconds else "")
        for c in columns
    ]
    out = [f'<table class="data" id="{table_id}"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for key, row in frame.iterrows():
        cells = [f"<td>{_e(_number(key))}</td>"] if index else []
        for c in columns:
            value = row[c]
            if c in shares:
                text = "–" if _missing(value) else f"{100 * float(value):.0f}"
            elif c in seconds:
                text = "–" if _missing(value) else f"{float(value):.1f}"
            elif c in ("valence", "arousal"):
                text = "–" if _missing(value) else f"{float(value):+.2f}"
            else:
                text = _number(value) if not isinstance(value, str) else value
            numeric = isinstance(value, Real) and not isinstance(value, bool)
            cells.append(f'<td class="n">{_e(text)}</td>' if numeric else f"<td>{_e(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return '<div class="scroll">' + "".join(out) + "</div>"


# ----------------------------------------------------------------- sections


def _run_rows(timeline, run) -> list:
    import skfer

    attrs = timeline.attrs
    rows = [("source", attrs.get("source", "–"))]
    if run and "model" in run:
        rows.append(("model", _text(run["model"])))
    shots = attrs.get("shots")
    n_shots = (
        len(shots)
        if shots is not None
        else (timeline["shot"].nunique() if "shot" in timeline else None)
    )
    rows += [
        ("duration", _seconds(attrs.get("duration"))),
        ("fps", _text(attrs.get("fps"))),
        ("sampling step", _seconds(_step(timeline)) if len(timeline) or "step" in attrs else "–"),
        ("frames analysed", _text(attrs.get("n_sampled"))),
        ("shots", _text(n_shots)),
        ("detector", _text(attrs.get("detector"))),
        ("scheme", _text(attrs.get("scheme"))),
        ("labels", ", ".join(map(str, timeline_labels(timeline)))),
        ("adaptation", _text(attrs.get("adapt"))),
        ("persons grouped", "yes" if "person" in timeline.columns else "no"),
    ]
    if "complete" in attrs:
        rows.append(("complete", "yes" if attrs["complete"] else "no"))
    if attrs.get("covered") is not None:
        covered = attrs["covered"]
        rows.append(("covered", f"{_seconds(covered[0])} to {_seconds(covered[1])}"))
    if attrs.get("damage"):
        rows.append(("damage", attrs["damage"]))
    if attrs.get("framing"):
        rows.append(("framing", _text(dict(attrs["framing"]))))
    rows += [(str(k), _text(v)) for k, v in (run or {}).items() if k != "model"]
    rows.append(("report", f"skfer {skfer.__version__}, {datetime.datetime.now():%Y-%m-%d %H:%M}"))
    return rows


def _summary_section(profile, colors) -> str:
    film, labels = profile.film, profile.labels
    rows = [("duration", _seconds(film["duration"])), ("face tracks", _text(film["n_tracks"]))]
    if "n_persons" in film:
        rows.append(("persons", _text(film["n_persons"])))
    rows += [
        ("sampled faces", _text(film["n_faces"])),
        ("face time", _seconds(film["face_time"])),
        ("screen time with a face", _seconds(film["screen_time"])),
        ("dominant emotion", _text(film["dominant"])),
        ("mean valence", "–" if _missing(film["valence"]) else f"{film['valence']:+.2f}"),
        ("mean arousal", "–" if _missing(film["arousal"]) else f"{film['arousal']:+.2f}"),
    ]
    shares = {label: float(film[f"{SHARE_PREFIX}{label}"]) for label in labels}
    bar = _share_bar(shares, colors) if film["n_faces"] else ""
    return _kv_table(rows, "film-summary") + (
        f"<p>Share of face time by most probable label:</p>{bar}" if bar else ""
    )


def _scheme_section(timeline, labels) -> str:
    from ..emotions import EMOTIONS

    clusters = ["positive", "neutral", "negative"]
    if not len(timeline):
        return "<p>No faces: no shares to compute.</p>"
    values = timeline[proba_columns(labels)].to_numpy(dtype=float)
    if set(labels) == set(EMOTIONS):
        from ..evaluation import proba_in_scheme

        proba, names = proba_in_scheme(values, labels, "clusters")
        how = (
            "From the seven emotions' probabilities: positive = happy, neutral = neutral, "
            "negative = angry + sad + fear + disgust; surprise is left out and the rest "
            "renormalised (the paper's three clusters)."
        )
    elif set(labels) == set(clusters):
        proba, names = values, np.asarray(labels)
        how = "The timeline's own labels are the three clusters."
    else:
        return (
            '<p class="note">Not computed: the labels ('
            + _e(", ".join(map(str, labels)))
            + ") are not the seven basic emotions, so they cannot be mapped to the "
            "positive / neutral / negative clusters.</p>"
        )
    names = [str(n) for n in names]
    valid = proba.sum(axis=1) > 0
    proba = proba[valid]
    hard = np.asarray(names)[proba.argmax(axis=1)] if len(proba) else np.array([])
    from ._plots import label_colors

    colors = label_colors(clusters)
    rows = []
    for c in clusters:
        k = names.index(c)
        share = float(np.mean(hard == c)) if len(hard) else 0.0
        mean = float(proba[:, k].mean()) if len(proba) else math.nan
        rows.append(
            f'<tr><th><span style="display:inline-block;width:10px;height:10px;'
            f'background:{colors[c]}"></span> {_e(c)}</th>'
            f'<td class="n">{share:.0%}</td><td class="n">{mean:.2f}</td></tr>'
        )
    return (
        f"<p>{_e(how)}</p>"
        '<table id="scheme-table"><thead><tr><th>cluster</th><th>share of faces</th>'
        "<th>mean probability</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _faces(timeline, video, by, keep, per_person: int):
    """``({id: [(time, data URI)]}, {id: portrait array}, note or None)``."""
    from ._thumbnails import read_crops, thumbnail_rows

    try:
        rows = thumbnail_rows(timeline, per_group=per_person, by=by)
    except ValueError as error:  # no frame or box columns
        return {}, {}, f"Faces not shown: {error}"
    rows = rows[rows["group"].isin(keep)]
    if rows.empty:
        return {}, {}, None
    source = video if video is not None else timeline.attrs.get("source")
    if not source:
        return {}, {}, "Faces not shown: the timeline does not record its video (pass video=)."
    try:
        crops = read_crops(source, rows, size=_FACE_SIZE)
    except (OSError, ValueError) as error:
        message = f"Faces not shown: {error}"
        warnings.warn(message, UserWarning, stacklevel=3)
        return {}, {}, message
    sheet, portraits, best = {}, {}, {}
    for (_, row), crop in zip(rows.iterrows(), crops):
        if crop is None:
            continue
        key = row["group"]
        sheet.setdefault(key, []).append((float(row["time"]), _png_array(crop)))
        area = float(row["w"]) * float(row["h"])
        if area > best.get(key, -1.0):
            best[key], portraits[key] = area, crop
    return sheet, portraits, None


def _card(by: str, key, summary, faces, colors, labels) -> str:
    from ._lanes import _id_text

    name = f"{by} {_id_text(key)}"
    parts = [f'<figure class="card" id="{_e(by)}-{_e(_id_text(key))}"><h3>{_e(name)}</h3>']
    if summary is not None:
        extra = f" · {int(summary['n_tracks'])} tracks" if "n_tracks" in summary else ""
        parts.append(
            f"<p>dominant: <b>{_e(summary['dominant'])}</b> · on screen "
            f"{_e(_seconds(summary['screen_time']))}{_e(extra)}</p>"
        )
        shares = {label: float(summary[f"{SHARE_PREFIX}{label}"]) for label in labels}
        parts.append(_share_bar(shares, colors))
    images = "".join(
        f'<figure><img class="face" src="{uri}" alt="{_e(name)} at {_e(_clock(t))}">'
        f"{_e(_clock(t))}</figure>"
        for t, uri in faces
    )
    parts.append(f'<div class="faces">{images}</div></figure>')
    return "".join(parts)


def _faces_sections(timeline, video, by, groups, colors, labels, max_persons, per_person):
    """The lanes figure, the mean timeline, the contact sheet and the persons table."""
    from ._lanes import _lanes, plot_persons
    from ._plots import plot_timeline

    keep = list(groups.index[:max_persons])
    wanted = list(dict.fromkeys([*keep, *_lanes(timeline, 30).ids]))  # cards and lanes
    sheet, portraits, note = _faces(timeline, video, by, wanted, per_person)
    lanes = plot_persons(timeline, thumbnails=portraits or None)
    out = [
        f'<section id="lanes"><h2>Emotions per {_e(by)} over time</h2>'
        "<p>Each lane: the probabilities of the labels, stacked, while the "
        f"{_e(by)} is on screen; thin vertical lines: shot cuts.</p>"
        f'<img class="plot" id="person-lanes" src="{_png(lanes)}" '
        f'alt="emotion lanes per {_e(by)}"></section>',
        '<section id="timeline"><h2>Mean emotion over time</h2>'
        f'<img class="plot" id="timeline-plot" src="{_png(plot_timeline(timeline))}" '
        'alt="mean emotion over time"></section>',
        f'<section id="contact-sheet"><h2>Contact sheet: faces per {_e(by)}</h2>',
    ]
    if note:
        out.append(f'<p class="warn">{_e(note)}</p>')
    cards = "".join(
        _card(by, key, groups.loc[key], sheet.get(key, []), colors, labels) for key in keep
    )
    out.append(f'<div class="sheet">{cards}</div>')
    if len(groups) > max_persons:
        out.append(
            f"<p>{_e(len(groups) - max_persons)} more {_e(by)}s with less screen time "
            "are in the table below.</p>"
        )
    out.append("</section>")
    table = _data_table(groups, f"{by}s-table", labels, index=by)
    out.append(f'<section id="groups"><h2>{_e(by.capitalize())}s</h2>{table}</section>')
    return out


# ----------------------------------------------------------------- the page


def write_report(
    timeline,
    path: str | os.PathLike,
    *,
    video: str | os.PathLike | None = None,
    profile=None,
    window: float = 10.0,
    run: Mapping | None = None,
    title: str | None = None,
    max_persons: int = 40,
    faces_per_person: int = 6,
) -> Path:
    """Write a film's emotion report: one self-contained HTML page.

    The page needs no network: its CSS is inline and its images are base64 ``data:``
    PNG URIs, so it can be mailed or archived as one file. It holds

    - the run record: the timeline's ``attrs`` (source, duration, fps, sampling step,
      frames analysed, shots, detector, scheme, framing...) and every field of ``run``;
    - a one-sentence caveat on the FER2013-trained models reading *sad* too often on
      film faces, and a warning when the film was read only in part;
    - the film summary and its shares in the three clusters (positive / neutral /
      negative; computed when the labels are the seven emotions);
    - the emotion lanes per person (:func:`plot_persons`, with each person's face)
      and the mean timeline (:func:`plot_timeline`), with the shot cuts;
    - a contact sheet: per person (per track without a ``person`` column), a few
      faces read back from the video (:func:`face_thumbnails`), the dominant emotion,
      screen time and shares;
    - the profile tables (:func:`film_profile`): persons (or tracks) and windows.

    Every text is HTML-escaped. A film without faces gets a page that says so.

    Parameters
    ----------
    timeline : pandas.DataFrame
        As :func:`analyze_video` returns it.
    path : path-like
        The HTML file to write, or an existing folder (``report.html`` in it).
    video : path-like, optional
        The film, to read the faces from. Default: ``timeline.attrs["source"]``.
        Without either, the page says that the faces are not shown; when the video
        cannot be read, the page is written without faces, saying why, and a
        ``UserWarning`` is issued.
    profile : Bunch, optional
        :func:`film_profile`'s result, if already computed (else computed here).
    window : float, default=10.0
        Scene window length in seconds, for the profile computed here.
    run : mapping, optional
        The run record of the caller, shown as is (e.g. ``model``, its checksum, the
        skfer version, the command line).
    title : str, optional
        Default: "Emotion report" and the video's file name.
    max_persons : int, default=40
        Persons (tracks) on the contact sheet, the most screen time first; the tables
        list them all. The lanes figure shows 30 lanes at most (the rest as "other").
    faces_per_person : int, default=6
        Faces per person on the contact sheet.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> timeline = pd.DataFrame({
    ...     "time": [0.0, 0.5], "frame": [0, 12], "shot": [0, 0], "track": [0, 0],
    ...     "x": 10.0, "y": 10.0, "w": 40.0, "h": 40.0, "score": 0.9,
    ...     "p_happy": [0.9, 0.2], "p_sad": [0.1, 0.8], "label": ["happy", "sad"],
    ...     "valence": [0.7, -0.6], "arousal": [0.4, -0.3]})
    >>> timeline.attrs.update(step=0.5, duration=1.0)
    >>> page = write_report(timeline, os.path.join(tempfile.mkdtemp(), "report.html"))
    >>> page.name, "Run record" in page.read_text(encoding="utf-8")
    ('report.html', True)
    """
    from ._plots import label_colors

    labels = timeline_labels(timeline)
    for name, value in (("max_persons", max_persons), ("faces_per_person", faces_per_person)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if run is not None and not isinstance(run, Mapping):
        raise ValueError(f"run must be a mapping (a dict of the run record), got {run!r}.")
    target = Path(os.fspath(path)).expanduser()
    if target.is_dir():
        target = target / "report.html"
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write the report: folder {str(target.parent)!r} does not exist."
        )
    span = window
    if profile is None:
        profile = film_profile(timeline, window=window)
    elif len(profile.windows):  # the given profile's own window length
        span = float((profile.windows["end"] - profile.windows["start"]).max())
    colors = label_colors(labels)
    source = timeline.attrs.get("source")
    title = title or (
        f"Emotion report: {os.path.basename(str(source))}" if source else "Emotion report"
    )
    by = "person" if "person" in timeline.columns else "track"
    groups = profile.persons if by == "person" else profile.tracks
    has_faces = bool(len(timeline))

    body = [f"<header><h1>{_e(title)}</h1>"]
    body.append(
        f'<p class="sub">{_e(profile.film["n_faces"])} sampled faces, '
        f"{_e(len(groups))} {_e(by)}s, {_e(_seconds(profile.film['duration']))}</p></header>"
    )
    body.append(f'<p class="note" id="caveat">{_e(SAD_CAVEAT)}</p>')
    if timeline.attrs.get("complete") is False:
        body.append(
            f'<p class="warn">Read only in part: {_e(timeline.attrs.get("damage") or "")}</p>'
        )
    body.append('<section id="run"><h2>Run record</h2>')
    body.append(_kv_table(_run_rows(timeline, run), "run-record") + "</section>")
    body.append('<section id="summary"><h2>Film summary</h2>')
    if not has_faces:
        body.append(
            f'<p class="warn" id="no-faces">No faces were found in this film '
            f"({_e(_text(timeline.attrs.get('n_sampled', 0)))} frames analysed).</p>"
        )
    body.append(_summary_section(profile, colors) + "</section>")
    body.append('<section id="scheme"><h2>Scheme view: positive, neutral, negative</h2>')
    body.append(_scheme_section(timeline, labels) + "</section>")

    if has_faces:
        body += _faces_sections(
            timeline, video, by, groups, colors, labels, max_persons, faces_per_person
        )
    else:
        body.append('<section id="contact-sheet"><h2>Contact sheet</h2><p>No faces.</p></section>')
    windows = profile.windows
    body.append(f'<section id="windows"><h2>Scene windows ({_e(_number(span))} s)</h2>')
    body.append(_data_table(windows, "windows-table", labels, index=None) + "</section>")
    legend = "".join(
        f'<span style="background:{colors[label]}"></span>{_e(label)}' for label in labels
    )
    body.append(f'<p class="legend">Colours: {legend}</p>')

    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        "<body><main>" + "\n".join(body) + "</main></body></html>\n"
    )
    target.write_text(page, encoding="utf-8")
    return target
