"""Rendering the review UI's pages: one Jinja2 environment over the package's ``templates/``,
autoescaping everything (caller text is only ever a variable, never a template), and the
small helpers the templates use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from evaluator.contract import CallEvaluation, MetricResult
from evaluator.store.browse import ListedCall
from evaluator.transcript import format_clock

__all__ = ["CLOCK", "linked_clocks", "page", "turn_at", "worst_metrics"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
CLOCK = re.compile(r"\[(?:(\d{1,2}):)?(\d{2}):(\d{2})\]")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def turn_at(turns: list[dict[str, Any]], seconds: float) -> int | None:
    """The index of the turn under way at ``seconds`` (the last one starting at or before)."""
    found = None
    for i, turn in enumerate(turns):
        start = turn.get("start_time")
        if isinstance(start, int | float) and start <= seconds + 0.5:
            found = i
    return found


def linked_clocks(text: str | None, turns: list[dict[str, Any]]) -> Markup:
    """``text`` escaped, each ``[MM:SS]`` in it a link to the turn at that moment."""
    escaped = str(escape(text or ""))

    def link(match: re.Match[str]) -> str:
        hours, minutes, secs = match.group(1), match.group(2), match.group(3)
        seconds = int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)
        index = turn_at(turns, seconds)
        if index is None:
            return match.group(0)
        return f'<a class="clock" href="#t-{index}" data-seek="{seconds}">{match.group(0)}</a>'

    return Markup(CLOCK.sub(link, escaped))


def _badness(metric: MetricResult) -> float:
    """How bad a result looks at a glance: failed and false first, then low scores."""
    if metric.outcome == "failed":
        return 3.0
    if metric.outcome != "scored":
        return -1.0
    if metric.type == "boolean":
        return 2.0 if metric.score is False else -1.0
    if metric.type == "score" and isinstance(metric.score, int | float):
        return 1.0 - float(metric.score) / 5.0
    return -1.0


def worst_metrics(call: CallEvaluation | ListedCall, limit: int = 3) -> list[MetricResult]:
    """The few results a reviewer should look at first (failures, falses, low scores)."""
    ranked = sorted(call.metrics, key=_badness, reverse=True)
    return [m for m in ranked if _badness(m) > 0.4][:limit]


def _clock(value: Any) -> str:
    return format_clock(float(value)) if isinstance(value, int | float) else "--:--"


def _value(metric: MetricResult) -> str:
    if metric.outcome == "failed":
        return "failed"
    if metric.outcome != "scored":
        return "n/a"
    answer = metric.answer
    if isinstance(answer, bool):
        return "true" if answer else "false"
    if isinstance(answer, float):
        return f"{answer:.4g}"
    return str(answer)


_env.filters["clock"] = _clock
_env.filters["value"] = _value
_env.filters["percent"] = lambda v: "—" if v is None else f"{100 * v:.0f}%"
_env.filters["num"] = lambda v, d=2: "—" if v is None else f"{v:.{d}f}"


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A rendered template as an HTML answer."""
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code)
