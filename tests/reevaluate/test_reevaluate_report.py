"""The change report on a hand-built before/after set: flips, mean shift, listed calls."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from evaluator.contract import MetricResult
from evaluator.reevaluate.render import render_html, write_csv, write_json
from evaluator.reevaluate.report import build_report, label_of
from evaluator.store.reruns import ReportRow


def _bool(value: bool | None, why: str = "because") -> MetricResult:
    if value is None:
        return MetricResult(
            id="goal", name="Goal", type="boolean", outcome="failed", explanation=why
        )
    return MetricResult(id="goal", name="Goal", type="boolean", score=value, explanation=why)


def _score(value: int) -> MetricResult:
    return MetricResult(
        id="csat", name="CSAT", type="score", score=value, explanation=f"csat {value}"
    )


def _enum(value: str) -> MetricResult:
    return MetricResult(
        id="sentiment",
        name="Sentiment",
        type="enum",
        enum=value,
        value=value,
        explanation="tone <b>",
    )


def _row(
    pk: int, before: list[MetricResult], after: list[MetricResult], reviewed: str | None = None
) -> ReportRow:
    return ReportRow(pk, f"c{pk}", before, after, "success", "success", reviewed)


ROWS = [
    _row(
        1,
        [_bool(True), _score(3), _enum("positive")],
        [_bool(False, "no booking made"), _score(4), _enum("positive")],
        "success",
    ),
    _row(
        2, [_bool(True), _score(2), _enum("neutral")], [_bool(True), _score(2), _enum("negative")]
    ),
    _row(
        3,
        [_bool(False), _score(5), _enum("neutral")],
        [_bool(True, "booked"), _score(5), _enum("neutral")],
    ),
    _row(4, [_bool(True), _score(4)], [_bool(None), _score(1), _enum("positive")]),
]


def test_report_counts_flips_and_shifts() -> None:
    report = build_report("r1", ROWS)
    assert report.calls == 4 and report.reviewed == 1
    goal, csat, sentiment = (
        report.metrics["goal"],
        report.metrics["csat"],
        report.metrics["sentiment"],
    )
    assert (goal.compared, goal.changed) == (4, 3)
    assert goal.transitions == {
        ("true", "false"): 1,
        ("true", "true"): 1,
        ("false", "true"): 1,
        ("true", "failed"): 1,
    }
    assert [(f.call_id, f.before, f.after, f.explanation) for f in goal.flips] == [
        ("c1", "true", "false", "no booking made"),
        ("c3", "false", "true", "booked"),
        ("c4", "true", "failed", "because"),
    ]
    assert goal.flips[0].reviewed_status == "success"
    assert (csat.changed, csat.before.mean, csat.after.mean) == (2, 3.5, 3.0)
    assert csat.mean_shift == -0.5
    assert csat.before.histogram == {"3": 1, "2": 1, "5": 1, "4": 1}
    assert csat.after.histogram == {"4": 1, "2": 1, "5": 1, "1": 1}
    assert sentiment.changed == 2  # neutral -> negative, and (none) -> positive for a new result
    assert sentiment.transitions[("(none)", "positive")] == 1
    assert label_of(None) == "(none)"


def test_report_files(tmp_path: Path) -> None:
    report = build_report("r1", ROWS)
    write_json(report, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["metrics"][0]["id"] == "goal" and data["metrics"][1]["mean_shift"] == -0.5
    write_csv(report, tmp_path / "c.csv")
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert len(rows) == 3 + 2 + 2 and rows[0]["explanation"] == "no booking made"
    page = render_html(report)
    assert "<svg" in page and "http" not in page.replace("http-equiv", "")
    assert "tone &lt;b&gt;" in page and "tone <b>" not in page  # model text is escaped
    assert "3 of 4 calls changed" in page
