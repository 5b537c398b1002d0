"""Showing a regression report: Rich tables for the terminal and one static HTML page."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.table import Table

from evaluator.regression.report import MetricReport, RegressionReport

__all__ = ["print_report", "report_html"]

_EXPLANATION_CHARS = 220
_COLUMNS = ("metric", "type", "n", "accuracy", "kappa", "MAE", "rho", "self-agreement", "failed")
_COLUMNS_STATUS = (*_COLUMNS, "status")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _status(metric: MetricReport, problems: list[str]) -> str:
    return "FAIL" if any(p.startswith(f"{metric.id}:") for p in problems) else "ok"


def print_report(report: RegressionReport, console: Console) -> None:
    """The agreement table, then per metric its confusion matrix and the calls it got wrong."""
    console.print(_summary_table(report))
    for metric in report.metrics.values():
        if metric.confusion and metric.n:
            console.print(_confusion_table(metric))
        if metric.wrong:
            console.print(_wrong_table(metric))
    usage = report.usage
    cost = (
        "unknown (no price for this model)" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    )
    tokens = f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
    console.print(
        f"judge {report.judge.get('model')} ({report.mode}, repeat {report.repeat}): "
        f"{usage.requests} requests, {tokens}, cost {cost}",
        markup=False, highlight=False,
    )  # fmt: skip
    for change in report.changes:
        console.print(f"changed: {change}", markup=False, highlight=False)
    for problem in report.problems:
        console.print(f"[red]FAIL[/red] {html.escape(problem, quote=False)}", highlight=False)


def _summary_table(report: RegressionReport) -> Table:
    table = Table(
        title=f"agreement with people: {len(report.calls)} calls, {report.golden}",
        title_justify="left",
    )
    for column in _COLUMNS_STATUS:
        table.add_column(
            column, justify="left" if column in ("metric", "type", "status") else "right"
        )
    for m in report.metrics.values():
        table.add_row(m.id, m.type, str(m.n), _share(m.accuracy), _num(m.kappa), _num(m.mae),
                      _num(m.spearman), _share(m.self_agreement), str(m.failed),
                      _status(m, report.problems))  # fmt: skip
    return table


def _confusion_table(metric: MetricReport) -> Table:
    used = [i for i, c in enumerate(metric.classes)
            if any(metric.confusion[i]) or any(row[i] for row in metric.confusion)]  # fmt: skip
    table = Table(title=f"{metric.id}: people (rows) vs judge (columns)", title_justify="left")
    table.add_column("people \\ judge")
    for i in used:
        table.add_column(metric.classes[i], justify="right")
    for i in used:
        table.add_row(metric.classes[i], *(str(metric.confusion[i][j]) for j in used))
    return table


def _wrong_table(metric: MetricReport) -> Table:
    table = Table(
        title=f"{metric.id}: {len(metric.wrong)} calls the judge got wrong", title_justify="left"
    )
    for column in ("call", "people", "judge", "judge's explanation", "labeller's note"):
        table.add_column(column, overflow="fold")
    for w in metric.wrong:
        why = w.explanation[:_EXPLANATION_CHARS]
        table.add_row(w.call, _value(w.human), _value(w.judge), why, w.note or "")
    return table


def report_html(report: RegressionReport) -> str:
    """A self-contained page (no scripts, no external assets); every value is escaped."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Judge regression report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
        ".fail{color:#b00}.ok{color:#070}</style></head><body>",
        f"<h1>Judge regression: {e(report.golden)}</h1>",
        f"<p>agent {report.agent}; {len(report.calls)} calls labelled by "
        f"{e(', '.join(report.labelled_by))}; "
        f"mode {e(report.mode)}, repeat {report.repeat}; {e(report.created_at.isoformat())}</p>",
        _kv_table("judge", report.judge),
        _kv_table("metric versions", report.metric_versions),
        _kv_table("prompt versions", report.prompt_versions),
        _kv_table("usage", report.usage.model_dump()),
        "<h2>Agreement with people</h2><table><tr>"
        + "".join(f"<th>{c}</th>" for c in _COLUMNS_STATUS)
        + "</tr>",
    ]
    for m in report.metrics.values():
        status = _status(m, report.problems)
        parts.append(
            f"<tr><td>{e(m.id)}</td><td>{e(m.type)}</td><td>{m.n}</td><td>{_share(m.accuracy)}</td>"
            f"<td>{_num(m.kappa)}</td><td>{_num(m.mae)}</td><td>{_num(m.spearman)}</td>"
            f"<td>{_share(m.self_agreement)}</td><td>{m.failed}</td>"
            f"<td class='{status.lower()}'>{status}</td></tr>"
        )
    parts.append("</table>")
    parts.extend(f"<p class='fail'>FAIL {e(p)}</p>" for p in report.problems)
    parts.extend(f"<p>changed: {e(c)}</p>" for c in report.changes)
    for m in report.metrics.values():
        parts.append(_metric_html(m))
    parts.append("</body></html>")
    return "\n".join(parts)


def _kv_table(title: str, values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in values.items()
    )
    return f"<h3>{html.escape(title)}</h3><table>{rows}</table>"


def _metric_html(m: MetricReport) -> str:
    e = html.escape
    parts = [f"<h2>{e(m.id)}</h2>"]
    if m.confusion and m.n:
        head = "".join(f"<th>{e(c)}</th>" for c in m.classes)
        rows = "".join(
            f"<tr><th>{e(c)}</th>" + "".join(f"<td>{v}</td>" for v in m.confusion[i]) + "</tr>"
            for i, c in enumerate(m.classes)
        )
        parts.append(f"<table><tr><th>people \\ judge</th>{head}</tr>{rows}</table>")
    if m.wrong:
        parts.append(
            "<table><tr><th>call</th><th>people</th><th>judge</th>"
            "<th>judge's explanation</th><th>note</th></tr>"
        )
        parts.extend(
            f"<tr><td>{e(w.call)}</td><td>{e(_value(w.human))}</td><td>{e(_value(w.judge))}</td>"
            f"<td>{e(w.explanation)}</td><td>{e(w.note or '')}</td></tr>"
            for w in m.wrong
        )
        parts.append("</table>")
    return "".join(parts)
