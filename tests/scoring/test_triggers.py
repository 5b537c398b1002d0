"""Engine tier: triggers firing and not firing through ``evaluate_prepared`` with the scripted
judge, and the rubric skipping rules whose metric is not applicable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.catalogue.definitions import RubricRule
from evaluator.config import Settings
from evaluator.contract import CallEvaluation, MetricResult
from evaluator.engine import evaluate_prepared
from evaluator.ingest.intake import read_request
from evaluator.judge.scripted import ScriptedJudge
from evaluator.scoring.rubric import apply_rubric
from evaluator.scoring.triggers import evaluate_expression
from tests.conftest import ROOT, load_example

CUSTOM = {
    "slow_call_review": """
id: slow_call_review
name: Slow call review
type: boolean
trigger: {type: custom, expression: 'metrics["latency_avg"] > 1000'}
description: Did the agent apologise for the wait?
""",
    "gold_tier_check": """
id: gold_tier_check
name: Gold tier check
type: boolean
trigger: {type: custom, expression: 'metadata["tier"] == "gold"'}
description: Did the agent greet the caller as a gold member?
""",
    "refund_handling": """
id: refund_handling
name: Refund handling
type: score
scale: {min: 1, max: 5}
trigger: {type: custom, question: 'Did the caller ask for a refund?'}
description: How well did the agent handle the refund request?
""",
}


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Definitions:
    folder: Path = tmp_path_factory.mktemp("metrics")
    for name, text in CUSTOM.items():
        (folder / f"{name}.yaml").write_text(text)
    return load_definitions(
        Settings(agents_dirs=[ROOT / "agents"], metrics_dirs=[ROOT / "metrics", folder])
    )


async def _evaluate(
    definitions: Definitions, judge: ScriptedJudge, **overrides: Any
) -> dict[str, MetricResult]:
    result = await _evaluation(definitions, judge, **overrides)
    return {m.id: m for m in result.metrics}


async def _evaluation(
    definitions: Definitions, judge: ScriptedJudge, **overrides: Any
) -> CallEvaluation:
    request = {**load_example("booking_success_cekura.json"), **overrides}
    prepared = read_request(request, definitions.catalogue)
    return await evaluate_prepared(prepared, judge=judge, renderer=definitions.renderer)


def _asked(judge: ScriptedJudge) -> set[str]:
    return {
        info.alias or name
        for r in judge.requests
        for name, info in r.response_model.model_fields.items()
    }


async def test_call_ended_reason_triggers(definitions: Definitions) -> None:
    judge = ScriptedJudge()
    metrics = await _evaluate(definitions, judge)  # customer-ended-call
    agent_end = metrics["agent_call_termination"]
    assert agent_end.outcome == "not_applicable" and agent_end.score is None
    assert "did not fire" in agent_end.explanation and "call_ended_reason" in agent_end.explanation
    assert metrics["caller_call_termination"].outcome == "scored"
    assert "agent_call_termination" not in _asked(judge)  # never put to the judge

    judge = ScriptedJudge(answers={"agent_call_termination": False})
    metrics = await _evaluate(definitions, judge, call_ended_reason="assistant-ended-call")
    assert metrics["agent_call_termination"].score is False
    assert metrics["caller_call_termination"].outcome == "not_applicable"


async def test_expression_over_computed_values_and_metadata(custom: Definitions) -> None:
    metrics = await _evaluate(custom, ScriptedJudge())  # latency_avg is 1200 ms
    assert metrics["slow_call_review"].outcome == "scored"
    gold = metrics["gold_tier_check"]
    assert gold.outcome == "not_applicable" and "no value for 'tier'" in gold.explanation
    metrics = await _evaluate(custom, ScriptedJudge(), metadata={"tier": "gold"})
    assert metrics["gold_tier_check"].outcome == "scored"


async def test_question_trigger_not_applicable_when_the_judge_says_no(custom: Definitions) -> None:
    answer = {"applicable_reasoning": "[00:05] the caller books a check-up; no refund",
              "applicable": False, "reasoning": "n/a", "value": None}  # fmt: skip
    metrics = await _evaluate(custom, ScriptedJudge(answers={"refund_handling": answer}))
    refund = metrics["refund_handling"]
    assert refund.outcome == "not_applicable" and refund.score is None
    assert (
        refund.explanation
        == "not applicable (judge): [00:05] the caller books a check-up; no refund"
    )


async def test_question_trigger_scored_when_it_applies(custom: Definitions) -> None:
    answer = {
        "applicable_reasoning": "asked",
        "applicable": True,
        "reasoning": "[00:10] ok",
        "value": 4,
    }
    metrics = await _evaluate(custom, ScriptedJudge(answers={"refund_handling": answer}))
    assert metrics["refund_handling"].score == 4


async def test_applicable_without_a_value_is_a_failure(custom: Definitions) -> None:
    answer = {"applicable_reasoning": "asked", "applicable": True, "reasoning": "x", "value": None}
    metrics = await _evaluate(custom, ScriptedJudge(answers={"refund_handling": answer}))
    assert metrics["refund_handling"].outcome == "failed"
    assert "value is required" in (metrics["refund_handling"].error or "")


async def test_automatic_voicemail_trigger(definitions: Definitions) -> None:
    no = {"applicable_reasoning": "[00:00] a live caller answers", "applicable": False,
          "reasoning": "n/a", "value": None}  # fmt: skip
    metrics = await _evaluate(definitions, ScriptedJudge(answers={"voicemail_detection": no}))
    assert metrics["voicemail_detection"].outcome == "not_applicable"
    assert "a live caller answers" in metrics["voicemail_detection"].explanation
    yes = {"applicable_reasoning": "[00:01] 'leave a message after the tone'", "applicable": True,
           "reasoning": "[00:03] the agent left the message", "value": True}  # fmt: skip
    metrics = await _evaluate(definitions, ScriptedJudge(answers={"voicemail_detection": yes}))
    assert metrics["voicemail_detection"].score is True


async def test_instruction_following_findings_reach_the_result(definitions: Definitions) -> None:
    finding = {"category": "quoted a price", "priority": "critical",
               "evidence": '[00:42] Main Agent: "about $80"'}  # fmt: skip
    answer = {"reasoning": "rule 6 broken", "findings": [finding], "value": False}
    metrics = await _evaluate(definitions, ScriptedJudge(answers={"instruction_following": answer}))
    result = metrics["instruction_following"]
    assert result.score is False and result.details == {"findings": [finding]}
    bad = {**answer, "findings": [{**finding, "priority": "urgent"}]}
    metrics = await _evaluate(definitions, ScriptedJudge(answers={"instruction_following": bad}))
    assert metrics["instruction_following"].outcome == "failed"  # off-menu priority


async def test_rubric_skips_a_rule_whose_trigger_did_not_fire(definitions: Definitions) -> None:
    agent = definitions.catalogue.agent(1)
    rules = (RubricRule(metric="agent_call_termination", op="eq", value=True),
             RubricRule(metric="call_goal_achieved", op="eq", value=True))  # fmt: skip
    result = await _evaluation(definitions, ScriptedJudge(answers={"call_goal_achieved": True}))
    by_id = {m.id: m for m in result.metrics}
    outcome = apply_rubric(rules, by_id)
    assert outcome.success is True
    assert any(r.startswith("skipped agent_call_termination") for r in outcome.reasons)
    only_skipped = apply_rubric(rules[:1], by_id)
    assert only_skipped.success is True  # every rule skipped: counts as a success
    failing = apply_rubric(
        rules,
        {
            **by_id,
            "call_goal_achieved": by_id["call_goal_achieved"].model_copy(update={"score": False}),
        },
    )
    assert failing.success is False
    assert agent.success is not None  # the shipped agent has its own rubric, applied by the engine
    assert result.success is True


def test_rubric_failed_metric_leaves_success_unknown() -> None:
    failed = MetricResult(id="csat", name="CSAT", type="score", outcome="failed", error="timeout")
    na = MetricResult(id="voicemail_detection", name="V", type="boolean", outcome="not_applicable")
    rules = (RubricRule(metric="csat", op="gte", value=70),
             RubricRule(metric="voicemail_detection", op="eq", value=True))  # fmt: skip
    outcome = apply_rubric(rules, {"csat": failed, "voicemail_detection": na})
    assert outcome.success is None
    scored = failed.model_copy(update={"outcome": "scored", "score": 65, "error": None})
    assert apply_rubric(rules, {"csat": scored, "voicemail_detection": na}).success is False


@pytest.mark.parametrize(
    ("expression", "fires"),
    [
        ('call_ended_reason in ["customer-ended-call", "user_hangup"]', True),
        ('call_ended_reason == "agent-ended-call"', False),
        ("duration_seconds > 30 and turn_count >= 10", True),
        ('lower(metadata["campaign"]) == "inbound"', True),
        ('dynamic_variables["today"].startswith("Mon")', True),  # plain string methods
        ("metadata.__class__", False),  # no dunder access
        ("open('/etc/passwd')", False),  # no builtins beyond the listed functions
        ("__import__('os')", False),
    ],
)
def test_expressions_are_evaluated_safely(expression: str, fires: bool) -> None:
    names = {"call_ended_reason": "customer-ended-call", "duration_seconds": 48.0, "turn_count": 12,
             "metadata": {"campaign": "Inbound"}, "dynamic_variables": {"today": "Monday"}}  # fmt: skip
    assert evaluate_expression(expression, names).fires is fires


def test_helper_functions_and_reasons() -> None:
    names = {"metrics": {"latency_p95": 2400.0, "latency_avg": 900.0}}
    assert evaluate_expression('max(metrics["latency_p95"], 0) > 2000', names).fires
    decision = evaluate_expression('metrics["talk_ratio"] > 0.7', names)
    assert not decision.fires and "no value for 'talk_ratio'" in decision.reason
