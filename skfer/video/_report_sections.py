"""The report's sections, each from a timeline and its profile: the run record, the
film summary, the scheme view (positive / neutral / negative) and, for a film with faces,
the emotion lanes, the mean timeline, the contact sheet and the persons (tracks) table."""

from __future__ import annotations

import datetime
import math
import warnings

import numpy as np

from ._classify import proba_columns
from ._profile import SHARE_PREFIX, _step, timeline_labels
from ._report_html import (
    _clock,
    _data_table,
    _e,
    _kv_table,
    _missing,
    _png,
    _png_array,
    _seconds,
    _share_bar,
    _text,
)

_FACE_SIZE = 72  # px of the contact sheet's faces (shown at that size: PNG stays small)


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
