"""The re-evaluation report rendered for people: a Rich table, ``report.json``, ``changes.csv``
and one static HTML page (inline CSS and SVG, nothing fetched).

Per metric: the flip table (booleans, enums, outcomes), a bar chart of the distribution
before and after (scores, numbers), and the calls that changed with their new explanation
beside the human-reviewed status. All text from calls and models is escaped.
"""

from __future__ import annotations

import csv
import json
from html import escape
from pathlib import Path

from rich.table import Table

from evaluator.reevaluate.report import MetricChange, Report

__all__ = ["CSV_COLUMNS", "render_html", "rich_table", "write_csv", "write_html", "write_json"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;
vertical-align:top;text-align:left}th{background:#f4f4f4}.changed{background:#fff3cd}
.metric{border-top:2px solid #888;margin-top:1.5rem}.muted{color:#777}svg text{font-size:11px}
"""


def _bars(m: MetricChange) -> str:
    """Grouped bars: each value's share of calls before (grey) and after (blue)."""
    keys = sorted(set(m.before.histogram) | set(m.after.histogram), key=_numeric_key)
    if not keys:
        return ""
    peak = max([*m.before.histogram.values(), *m.after.histogram.values(), 1])
    width, height, slot = 40 * len(keys) + 20, 140, 40
    parts = [f'<svg width="{width}" height="{height + 30}" role="img" '
             f'aria-label="distribution of {escape(m.id)} before and after">']  # fmt: skip
    for i, key in enumerate(keys):
        for j, (stats, colour) in enumerate(((m.before, "#aaa"), (m.after, "#3572b0"))):
            count = stats.histogram.get(key, 0)
            bar = round(height * count / peak)
            x = 10 + i * slot + j * 16
            tip = f"<title>{escape(key)}: {count}</title>"
            parts.append(
                f'<rect x="{x}" y="{height - bar}" width="14" height="{bar}" fill="{colour}">'
                f"{tip}</rect>"
            )
        parts.append(f'<text x="{10 + i * slot}" y="{height + 15}">{escape(key)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _numeric_key(key: str) -> tuple[float, str]:
    try:
        return float(key), key
    except ValueError:
        return float("inf"), key


def _flip_table(m: MetricChange) -> str:
    rows = "".join(
        f'<tr class="{"changed" if b != a else ""}"><td>{escape(b)}</td><td>{escape(a)}</td>'
        f"<td>{n}</td></tr>"
        for (b, a), n in sorted(m.transitions.items())
    )
    return f"<table><tr><th>before</th><th>after</th><th>calls</th></tr>{rows}</table>"


def _flips(m: MetricChange) -> str:
    if not m.flips:
        return '<p class="muted">no call changed</p>'
    rows = "".join(
        f"<tr><td>{escape(f.call_id)} <span class='muted'>#{f.call_pk}</span></td>"
        f"<td>{escape(f.before)}</td><td>{escape(f.after)}</td>"
        f"<td>{escape(f.reviewed_status or '-')}</td><td>{escape(f.explanation)}</td></tr>"
        for f in m.flips
    )
    more = m.changed - len(m.flips)
    note = f'<p class="muted">and {more} more (see the CSV)</p>' if more > 0 else ""
    head = "<tr><th>call</th><th>before</th><th>after</th><th>human review</th>"
    return f"<table>{head}<th>new explanation</th></tr>{rows}</table>{note}"


def _metric(m: MetricChange) -> str:
    shift = ""
    if m.mean_shift is not None:
        shift = (f"<p>mean {m.before.mean:.3f} &rarr; {m.after.mean:.3f} "
                 f"({m.mean_shift:+.3f})</p>")  # fmt: skip
    return (
        f'<section class="metric"><h2>{escape(m.name)} <span class="muted">'
        f"{escape(m.id)} ({escape(m.type)})</span></h2>"
        f"<p>{m.changed} of {m.compared} calls changed</p>{shift}"
        f"{_bars(m)}{_flip_table(m)}<h3>calls that changed</h3>{_flips(m)}</section>"
    )


def render_html(report: Report) -> str:
    summary = (f"<p>{report.calls} calls re-evaluated; {report.status_changed} changed their "
               f"machine status; {report.reviewed} have a human review (shown, never "
               "overwritten).</p>")  # fmt: skip
    body = "".join(_metric(m) for m in report.metrics.values())
    title = f"Re-evaluation {escape(report.run_id)}"
    head = f"<head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style></head>"
    return f"<!doctype html><html>{head}<body><h1>{title}</h1>{summary}{body}</body></html>"


def write_html(report: Report, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")


def rich_table(report: Report) -> Table:
    """The per-metric summary: compared, changed, the biggest flips or the mean shift."""
    table = Table(title=f"re-evaluation {report.run_id}: {report.calls} calls, "
                  f"{report.status_changed} changed status", title_justify="left")  # fmt: skip
    for column in ("metric", "type", "compared", "changed", "how"):
        table.add_column(column, overflow="fold")
    for m in report.metrics.values():
        table.add_row(m.id, m.type, str(m.compared), str(m.changed), _how(m))
    return table


def _how(m: MetricChange) -> str:
    if m.mean_shift is not None:
        return f"mean {m.before.mean:.2f} -> {m.after.mean:.2f} ({m.mean_shift:+.2f})"
    moves = [(n, b, a) for (b, a), n in m.transitions.items() if b != a]
    return ", ".join(f"{b}->{a}: {n}" for n, b, a in sorted(moves, reverse=True)[:4]) or "-"


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")


CSV_COLUMNS = ("call_pk", "call_id", "metric_id", "before", "after", "explanation",
               "reviewed_status", "status_before", "status_after")  # fmt: skip


def write_csv(report: Report, path: Path) -> None:
    """One row per call and metric whose value changed."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for flip in report.flips():
            writer.writerow([getattr(flip, c) for c in CSV_COLUMNS])
