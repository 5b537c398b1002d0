"""Engine tier: the whole pipeline with the scripted fake judge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evaluator.bootstrap import Definitions
from evaluator.contract import parse_request
from evaluator.engine import evaluate_call, evaluate_prepared
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.judge.schema import JudgeRequest
from evaluator.judge.scripted import ScriptedJudge
from tests.conftest import load_example


async def run(call: PreparedCall, definitions: Definitions, judge: ScriptedJudge):  # type: ignore[no-untyped-def]
    return await evaluate_prepared(call, judge=judge, renderer=definitions.renderer)


def by_id(result: Any) -> dict[str, Any]:
    return {m.id: m for m in result.metrics}


async def test_one_request_answers_every_llm_metric(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    judge = ScriptedJudge(
        answers={"sentiment": "positive", "verbosity": 4, "call_goal_achieved": True}
    )
    result = await run(booking_call, definitions, judge)
    assert len(judge.requests) == 1
    metrics = by_id(result)
    assert metrics["sentiment"].enum == "positive" and metrics["sentiment"].value == "positive"
    assert metrics["verbosity"].score == 4
    assert metrics["call_goal_achieved"].score is True
    assert metrics["latency_avg"].score == 1200.0  # computed: exact, no LLM
    assert result.success is True and result.status == "success"
    assert result.topic == "book appointment"  # the first topic, as scripted by default
    assert result.duration == "00:47"  # 47.6 s: whole seconds elapsed, as every clock shows
    assert result.usage is not None and result.usage.requests == 1
    assert all(m.version and "+" in m.version for m in result.metrics)


async def test_off_menu_answer_is_a_failure_not_a_low_score(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    judge = ScriptedJudge(answers={"sentiment": "furious", "verbosity": 9})
    result = await run(booking_call, definitions, judge)
    metrics = by_id(result)
    for metric_id in ("sentiment", "verbosity"):
        assert metrics[metric_id].outcome == "failed"
        assert metrics[metric_id].score is None and metrics[metric_id].enum is None
    assert "sentiment" in (result.error_message or "")
    assert metrics["call_goal_achieved"].outcome == "scored"  # the rest of the batch survives


async def test_judge_unavailable_leaves_success_unknown(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    result = await run(booking_call, definitions, ScriptedJudge(fail_times=1))
    assert result.success is None and result.status is None
    assert result.evaluation_status == "failed"
    assert "scripted failure" in (result.error_message or "")
    llm = [m for m in result.metrics if m.id in ("sentiment", "verbosity", "call_goal_achieved")]
    assert llm and all(m.outcome == "failed" and m.score is None for m in llm)
    assert by_id(result)["latency_avg"].outcome == "scored"


async def test_trigger_that_does_not_fire_is_not_applicable(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    judge = ScriptedJudge()
    result = await run(booking_call, definitions, judge)
    termination = by_id(result)["agent_call_termination"]
    assert termination.outcome == "not_applicable" and termination.score is None
    assert "did not fire" in termination.explanation
    assert (
        "agent_call_termination"
        not in judge.requests[0].response_model.model_json_schema(by_alias=True)["properties"]
    )


async def test_trigger_that_fires_is_judged(definitions: Definitions) -> None:
    call = read_request(load_example("emergency_tool_error_vapi.json"), definitions.catalogue)
    result = await run(call, definitions, ScriptedJudge(answers={"agent_call_termination": False}))
    assert by_id(result)["agent_call_termination"].score is False


async def test_rubric_rule_on_computed_metric(definitions: Definitions) -> None:
    call = read_request(load_example("emergency_tool_error_vapi.json"), definitions.catalogue)
    result = await run(call, definitions, ScriptedJudge(answers={"call_goal_achieved": True}))
    assert by_id(result)["tool_call_errors"].score == 1
    assert result.success is False
    assert any("fails: tool_call_errors eq 0" in note for note in result.notes)


async def test_metric_ids_limit_the_request(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    call = read_request(
        {**booking_request, "metric_ids": "sentiment,latency_avg"}, definitions.catalogue
    )
    judge = ScriptedJudge()
    result = await run(call, definitions, judge)
    # the agent's success rubric reads call_goal_achieved and tool_call_errors: they are kept
    assert [m.id for m in result.metrics] == [
        "sentiment",
        "latency_avg",
        "call_goal_achieved",
        "tool_call_errors",
    ]
    properties = judge.requests[0].response_model.model_json_schema(by_alias=True)["properties"]
    assert set(properties) == {
        "sentiment",
        "call_goal_achieved",
        "topic",
        "dropoff_point",
        "evaluation",
    }


async def test_untimed_transcript_makes_timing_metrics_not_available(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    body = json.loads(json.dumps(booking_request))
    for turn in body["transcript_json"]:
        turn.pop("start_time"), turn.pop("end_time")
    result = await run(read_request(body, definitions.catalogue), definitions, ScriptedJudge())
    latency = by_id(result)["latency_avg"]
    assert latency.outcome == "not_applicable" and latency.score is None
    assert "no timestamps" in latency.explanation
    assert result.duration is None


async def test_isolated_metric_gets_its_own_request(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    verbosity = definitions.catalogue.metrics["verbosity"].model_copy(update={"isolated": True})
    metrics = tuple(verbosity if m.id == "verbosity" else m for m in booking_call.metrics)
    call = PreparedCall(booking_call.request, booking_call.agent, booking_call.transcript, metrics)
    judge = ScriptedJudge(answers={"verbosity": 3})
    result = await run(call, definitions, judge)
    assert sorted(r.key for r in judge.requests) == ["call", "verbosity"]
    assert by_id(result)["verbosity"].score == 3
    assert result.usage is not None and result.usage.requests == 2


async def test_variables_are_data_not_templates(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    body = {
        **booking_request,
        "dynamic_variables": {"clinic_location": "{{ 7*7 }}", "today": "{% raw %}"},
    }
    judge = ScriptedJudge()
    await run(read_request(body, definitions.catalogue), definitions, judge)
    user = judge.requests[0].messages[1]["content"]
    assert "Bright Smile Dental, {{ 7*7 }}." in user and "49" not in user.split("<transcript")[0]


async def test_evaluate_call_validates_first(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    from evaluator.errors import RequestValidationError

    judge = ScriptedJudge()
    with pytest.raises(RequestValidationError):
        await evaluate_call(parse_request({**booking_request, "agent": 42}), catalogue=definitions.catalogue,
                            judge=judge, renderer=definitions.renderer)  # fmt: skip
    assert judge.requests == []


async def test_unparseable_answer_fails_every_field(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    def garbage(request: JudgeRequest) -> str:
        return "I think the call went fine."

    result = await run(booking_call, definitions, ScriptedJudge(respond=garbage))
    llm = [m for m in result.metrics if m.id in ("sentiment", "verbosity", "call_goal_achieved")]
    assert all(m.outcome == "failed" and "not JSON" in (m.error or "") for m in llm)
    assert result.topic is None and result.success is None


async def test_derived_metric_is_exact_arithmetic_after_the_judge(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    result = await run(
        booking_call, definitions, ScriptedJudge(answers={"unnecessary_repetition": 1})
    )
    metrics = by_id(result)
    assert metrics["agent_turns"].score == 7
    assert metrics["unnecessary_repetition_score"].score == round(5 * (1 - 1 / 7), 2)


async def test_derived_metric_without_its_inputs_is_not_applicable(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    result = await run(
        booking_call, definitions, ScriptedJudge(answers={"unnecessary_repetition": "many"})
    )
    derived = by_id(result)["unnecessary_repetition_score"]
    assert derived.outcome == "not_applicable" and derived.score is None
    assert "unnecessary_repetition" in derived.explanation


def test_expression_triggers_leave_the_callers_results_alone(
    booking_call: PreparedCall,
) -> None:
    from evaluator.contract import MetricResult
    from evaluator.engine import apply_expression_triggers

    # agent_call_termination's trigger (call_ended_reason is an agent hang-up) does not fire
    # on the booking call: its computed stand-in result is dropped from what is returned,
    # and the list handed in keeps all of its items.
    given = [
        MetricResult(id="agent_call_termination", name="x", type="boolean", score=True),
        MetricResult(id="latency_avg", name="y", type="numeric", score=1200),
    ]
    before = list(given)
    kept, applicable, skipped = apply_expression_triggers(booking_call, given)
    assert given == before
    assert [r.id for r in kept] == ["latency_avg"]
    assert "agent_call_termination" in [r.id for r in skipped]
    assert "agent_call_termination" not in [m.id for m in applicable]


async def test_timing_comes_from_the_recording_when_the_call_has_one(
    definitions: Definitions, booking_call: PreparedCall
) -> None:
    import dataclasses

    from evaluator.ingest.audio.pipeline import CallAudio
    from evaluator.ingest.audio.timing import measure_timing
    from evaluator.ingest.audio.vad import SpeechInterval as Run

    # Agent 0-2 s, caller 2.5-4 s, agent again from 4.8 s: one hand-off of 800 ms
    # (4.8 - 4.0), whatever the transcript's own timestamps say (1200 ms on average).
    timing = measure_timing([Run(0.0, 2.0), Run(4.8, 6.0)], [Run(2.5, 4.0)], duration=6.5)
    audio = CallAudio(duration=6.5, channels=2, agent_channel=0, timing=timing, notes=())
    with_audio = dataclasses.replace(booking_call, audio=audio)
    heard = by_id(await run(with_audio, definitions, ScriptedJudge()))
    read = by_id(await run(booking_call, definitions, ScriptedJudge()))
    assert heard["latency_avg"].score == 800
    assert heard["latency_avg"].details is not None
    assert heard["latency_avg"].details["source"] == "audio"
    assert read["latency_avg"].score == 1200
    assert read["latency_avg"].details is not None
    assert read["latency_avg"].details["source"] == "transcript timestamps"
    assert "source" not in (read["turn_count"].details or {})  # counts need no timing
