"""The report's HTML building blocks: its inline CSS, escaping, how numbers, times and
run-record values are written, images as ``data:`` URIs, and the tables and share bars
(used by :mod:`skfer.video._report_sections` and :func:`skfer.video.write_report`)."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from ._profile import SHARE_PREFIX

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
