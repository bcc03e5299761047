"""A film's emotion report: one self-contained HTML page (inline CSS, images as data URIs).

The page holds the run record, the per-person emotion lanes and the mean timeline
(:func:`plot_persons`, :func:`plot_timeline`), a contact sheet of each person's faces
(:func:`face_thumbnails`), the film profile's tables (:func:`film_profile`) and the
film's shares in the three clusters. It loads nothing from the network.

This module puts the page together (:func:`write_report`); its sections are built in
``_report_sections``, from the CSS, tables and formatting of ``_report_html``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path

from ._profile import film_profile, timeline_labels
from ._report_html import _CSS, _data_table, _e, _kv_table, _number, _seconds, _text
from ._report_sections import _faces_sections, _run_rows, _scheme_section, _summary_section

__all__ = ["write_report"]

#: Shown on every report: one sentence, from ``docs/results.md`` ("Targets at a glance"
#: and ``benchmarks/results/train_film.md``).
SAD_CAVEAT = (
    "The FER2013-trained models (fer2013, fer2013-large, fer2013-fast) over-read sad on "
    "film faces: on the film development set (SFEW) they predict sad 1.5 to 2.6 times as "
    "often as it is labelled, while the film model, fine-tuned on SFEW faces, comes within "
    "10 % of the labelled share in leave-films-out tests (docs/results.md)."
)


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
