"""Pure tier: tool calls, turn counts, call duration and latency percentiles on hand-built
transcripts, each answer worked out by hand."""

from __future__ import annotations

import pytest

from evaluator.bootstrap import Definitions
from evaluator.computed.registry import validate_params
from tests.computed.helpers import agent, call, caller, compute, tool_call, tool_result


def test_tool_call_success_when_every_call_returns_cleanly(definitions: Definitions) -> None:
    transcript = call(
        caller(0, 2), tool_call(3, "a"), tool_result(4, "a", '{"slots": ["09:30"]}'), agent(5, 7)
    )
    assert compute(definitions, "tool_call_success", transcript).value is True
    assert compute(definitions, "tool_call_errors", transcript).value == 0


@pytest.mark.parametrize(
    ("result", "is_error"),
    [
        ("ok", True),  # the provider flagged it
        ('{"error": "timeout"}', None),  # a JSON error field
        ("Error: scheduling service timeout", None),  # text starting with error
        ("failed to connect", None),
    ],
)
def test_an_error_result_fails_tool_call_success(
    definitions: Definitions, result: str, is_error: bool | None
) -> None:
    transcript = call(
        tool_call(3, "a", "book"), tool_result(4, "a", result, "book", is_error), agent(5, 7)
    )
    success = compute(definitions, "tool_call_success", transcript)
    assert success.value is False
    assert "[00:04] book" in success.explanation
    assert compute(definitions, "tool_call_errors", transcript).value == 1


def test_a_call_without_result_is_a_failure_and_empty_error_field_is_not(
    definitions: Definitions,
) -> None:
    transcript = call(
        tool_call(1, "a"),
        tool_result(2, "a", '{"error": null, "ok": true}'),
        tool_call(3, "b", "send_sms"),
    )
    errors = compute(definitions, "tool_call_errors", transcript)
    assert errors.value == 1 and errors.details == {"calls": 2, "errors": 0, "unanswered": 1}
    assert "[00:03] send_sms" in errors.explanation
    assert compute(definitions, "tool_call_success", transcript).value is False


def test_tool_metrics_not_applicable_without_tool_calls(definitions: Definitions) -> None:
    transcript = call(agent(0, 1), caller(2, 3))
    for metric_id in ("tool_call_success", "tool_call_errors"):
        result = compute(definitions, metric_id, transcript)
        assert result.value is None and "no tool calls" in (result.not_applicable or "")


def test_turn_counts_need_no_timestamps(definitions: Definitions) -> None:
    transcript = call(
        agent(None, None), caller(None, None), tool_call(None, "a"), tool_result(None, "a", "ok"),
        agent(None, None), caller(None, None), agent(None, None),
    )  # fmt: skip
    assert compute(definitions, "agent_turns", transcript).value == 3
    assert compute(definitions, "caller_turns", transcript).value == 2
    assert compute(definitions, "turn_count", transcript).value == 5  # tool events are not turns
    duration = compute(definitions, "call_duration", transcript)
    assert duration.value is None and duration.not_applicable is not None


def test_call_duration_is_the_latest_end_time(definitions: Definitions) -> None:
    # The caller's turn ends last although the agent's turn starts later.
    transcript = call(agent(0.5, 4.0), caller(5.0, 65.25), agent(60.0, 63.0))
    result = compute(definitions, "call_duration", transcript)
    assert result.value == 65.25
    assert "[01:05]" in result.explanation


# Hand-offs (caller end -> agent start): 0.5, 1.0, 1.5, 2.0, 4.0 s; the agent turn at 30.0
# follows an agent turn and the one at 39.5 overlaps the caller, so neither is a hand-off.
LATENCIES = call(
    caller(0, 1), agent(1.5, 3),
    caller(4, 5), agent(6, 7),
    caller(8, 9), agent(10.5, 11),
    caller(12, 13), agent(15, 16),
    caller(17, 18), agent(22, 25), agent(30, 31),
    caller(38, 40), agent(39.5, 41),
)  # fmt: skip


def test_latency_statistics(definitions: Definitions) -> None:
    # sorted [500, 1000, 1500, 2000, 4000]; p95 rank 0.95*4 = 3.8 -> 2000 + 0.8*2000
    assert compute(definitions, "latency_avg", LATENCIES).value == pytest.approx(1800.0)
    assert compute(definitions, "latency_p50", LATENCIES).value == pytest.approx(1500.0)
    assert compute(definitions, "latency_p90", LATENCIES).value == pytest.approx(3200.0)
    assert compute(definitions, "latency_p95", LATENCIES).value == pytest.approx(3600.0)
    assert compute(definitions, "latency_p99", LATENCIES).value == pytest.approx(3920.0)


def test_bad_params_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"params\.threshold_seconds"):
        validate_params("silence_over_threshold", {"threshold_seconds": 0})
    with pytest.raises(ValueError, match=r"params\.by"):
        validate_params("interruptions", {"by": "robot"})
    with pytest.raises(ValueError, match=r"params\.role"):
        validate_params("turn_count", {"role": "everyone"})
    with pytest.raises(ValueError, match=r"params\.threshold"):
        validate_params("infrastructure_issues", {"threshold": 10})
