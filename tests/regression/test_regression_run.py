"""The regression run with a scripted judge: report, thresholds, baseline, comparison, HTML,
and golden-set files that are wrong in the ways people get them wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from evaluator.config import Settings
from evaluator.errors import DefinitionError
from evaluator.judge.scripted import ScriptedJudge
from evaluator.regression.render import report_html
from evaluator.regression.report import compare_reports
from evaluator.regression.run import regress

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CALLS = ["book_checkup_success", "book_no_slots_caller_gives_up", "cancel_without_verification",
         "silent_line_agent_ends"]  # fmt: skip


def _golden(tmp_path: Path, thresholds: dict[str, dict[str, float]] | None = None) -> Path:
    root = tmp_path / "golden"
    (root / "calls").mkdir(parents=True)
    labels = yaml.safe_load((GOLDEN / "labels.yaml").read_text())["calls"]
    for name in CALLS:
        shutil.copy(GOLDEN / "calls" / f"{name}.json", root / "calls")
    metrics = thresholds or {"call_goal_achieved": {}, "sentiment": {}, "verbosity": {}, "topic": {},
                             "agent_call_termination": {}, "tool_call_errors": {}}  # fmt: skip
    kept = {n: {m: v for m, v in labels[n].items() if m in metrics} for n in CALLS}
    (root / "labels.yaml").write_text(yaml.safe_dump({"calls": kept}))
    (root / "manifest.yaml").write_text(
        yaml.safe_dump({"agent": 1, "labelled_by": ["test"], "metrics": metrics})
    )
    return root


def _settings() -> Settings:
    return Settings(agents_dirs=[GOLDEN.parents[1] / "agents"])


def test_report_counts_agreement_per_metric(tmp_path: Path) -> None:
    # labels: goal true, false, false, false; the judge always says true -> 1 of 4
    judge = ScriptedJudge(answers={"call_goal_achieved": True, "sentiment": "positive", "verbosity": 5,
                                   "topic": "book appointment", "agent_call_termination": True})  # fmt: skip
    report = regress(_golden(tmp_path), settings=_settings(), judge=judge)
    goal = report.metrics["call_goal_achieved"]
    assert (goal.n, goal.accuracy) == (4, 0.25)
    assert goal.kappa == pytest.approx(0.0)  # the judge used one class only
    assert {w.call for w in goal.wrong} == set(CALLS) - {"book_checkup_success"}
    assert goal.classes[:3] == ["true", "false", "not_applicable"]
    # the trigger decides applicability: only the silent line ended by the agent
    termination = report.metrics["agent_call_termination"]
    assert termination.accuracy == 1.0
    assert report.metrics["tool_call_errors"].accuracy == 1.0  # computed, not judged
    assert report.metrics["verbosity"].mae == 0.0
    assert report.metric_versions["sentiment"].startswith("1+")
    assert {"judge_system.j2", "judge_call.j2"} <= set(report.prompt_versions)
    assert report.passed


def test_threshold_and_baseline_drops_fail(tmp_path: Path) -> None:
    golden = _golden(
        tmp_path, {"call_goal_achieved": {"min_accuracy": 0.5}, "verbosity": {"max_mae": 0.5}}
    )
    good = ScriptedJudge(answers={"call_goal_achieved": False, "verbosity": 5})
    baseline = regress(golden, settings=_settings(), judge=good)
    assert baseline.passed, baseline.problems
    bad = ScriptedJudge(answers={"call_goal_achieved": True, "verbosity": 1})
    report = regress(golden, settings=_settings(), judge=bad, baseline=baseline)
    assert not report.passed
    text = "\n".join(report.problems)
    assert "call_goal_achieved: accuracy 0.250 is below the threshold 0.5" in text
    assert "verbosity: mean absolute error 4.000 is above the threshold 0.5" in text
    assert "call_goal_achieved: accuracy dropped from 0.750 (baseline) to 0.250" in text
    assert "call_goal_achieved accuracy: 0.750 -> 0.250" in report.changes


def test_comparison_names_a_changed_judge_and_metric_version(tmp_path: Path) -> None:
    golden = _golden(tmp_path)
    first = regress(golden, settings=_settings(), judge=ScriptedJudge(model_name="a/model"))
    second = first.model_copy(update={"judge": {"model": "b/model"},
                                      "metric_versions": {**first.metric_versions, "sentiment": "2+abc"}})  # fmt: skip
    changes = compare_reports(first, second)
    assert "judge model: 'a/model' -> 'b/model'" in changes
    assert any(
        c.startswith("metric sentiment version:") and c.endswith("-> 2+abc") for c in changes
    )


def test_repeat_measures_self_agreement(tmp_path: Path) -> None:
    answers = iter([True, False] * 8)
    judge = ScriptedJudge()
    judge.answers = {}

    def flip(request: object) -> str:
        import json

        value = next(answers)
        return json.dumps({"call_goal_achieved": {"reasoning": "r", "value": value},
                           "topic": {"reasoning": "r", "value": "other"},
                           "dropoff_point": {"reasoning": "r", "last_stage": "greeting", "ended": "naturally"},
                           "evaluation": "e"})  # fmt: skip

    judge.respond = flip
    golden = _golden(tmp_path, {"call_goal_achieved": {}, "topic": {}})
    report = regress(golden, settings=_settings(), judge=judge, repeat=2)
    assert report.metrics["call_goal_achieved"].self_agreement == 0.0
    assert report.metrics["topic"].self_agreement == 1.0


def test_html_escapes_the_judges_words(tmp_path: Path) -> None:
    judge = ScriptedJudge(
        answers={"call_goal_achieved": {"reasoning": "<script>x</script>", "value": True}}
    )
    page = report_html(regress(_golden(tmp_path), settings=_settings(), judge=judge))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["calls"]["book_checkup_success"].update(sentiment="happy"),
            "expected one of positive, neutral, negative",
        ),
        (
            lambda d: d["calls"]["book_checkup_success"].update(verbosity=9),
            "expected an integer from 1 to 5",
        ),
        (
            lambda d: d["calls"].pop("silent_line_agent_ends"),
            "calls without labels: silent_line_agent_ends",
        ),
        (
            lambda d: d["calls"]["book_checkup_success"].update(csat_typo=1),
            "not listed in manifest.yaml",
        ),
    ],
)
def test_bad_labels_name_the_call_and_field(tmp_path: Path, edit: object, message: str) -> None:
    golden = _golden(tmp_path)
    data = yaml.safe_load((golden / "labels.yaml").read_text())
    edit(data)  # type: ignore[operator]
    (golden / "labels.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(DefinitionError, match=message):
        regress(golden, settings=_settings(), judge=ScriptedJudge())


def test_unknown_metric_in_manifest_says_what_exists(tmp_path: Path) -> None:
    golden = _golden(tmp_path, {"sentimnt": {}})
    with pytest.raises(DefinitionError, match="'sentimnt' is not a metric of agent 1"):
        regress(golden, settings=_settings(), judge=ScriptedJudge())
