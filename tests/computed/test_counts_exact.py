"""Pure tier: tool-call outcomes, turn counts, call duration and parameter errors, with the
whole answer (value, explanation, details) written out by hand."""

from __future__ import annotations

import re

import pytest

from evaluator.bootstrap import Definitions
from evaluator.computed.base import Computed
from evaluator.computed.registry import UnknownFunctionError, validate_params
from evaluator.transcript import TOOL_CALL, TOOL_RESULT, ToolData, Turn
from tests.computed.helpers import agent, call, caller, compute, tool_call, tool_result


def test_failed_tools_are_listed_with_their_times(definitions: Definitions) -> None:
    transcript = call(
        caller(0, 2),
        tool_call(3, "a", "book"),
        tool_result(4, "a", "Exception: calendar down", "book"),  # an error, by its text
        tool_call(None, "b", "send_sms"),  # untimed, never answered
    )
    summary = "2 tool calls, 1 errors, 1 without result: [00:04] book, [--:--] send_sms"
    details = {"calls": 2, "errors": 1, "unanswered": 1}
    assert compute(definitions, "tool_call_errors", transcript) == Computed(
        value=2, explanation=summary, details=details
    )
    assert compute(definitions, "tool_call_success", transcript) == Computed(
        value=False, explanation=summary, details=details
    )


def test_a_nameless_failed_tool_is_called_tool(definitions: Definitions) -> None:
    # Cekura and ElevenLabs tool data may leave the name out: the summary says "tool", not
    # "None".
    nameless = Turn(role=TOOL_CALL, start_time=7.0, data=ToolData(id="c"))
    summary = compute(definitions, "tool_call_errors", call(nameless)).explanation
    assert summary == "1 tool calls, 0 errors, 1 without result: [00:07] tool"


def test_clean_tools_have_a_bare_summary(definitions: Definitions) -> None:
    transcript = call(tool_call(1, "a"), tool_result(2, "a", '{"slots": []}'), agent(3, 4))
    assert compute(definitions, "tool_call_success", transcript) == Computed(
        value=True,
        explanation="1 tool calls, 0 errors, 0 without result",
        details={"calls": 1, "errors": 0, "unanswered": 0},
    )


@pytest.mark.parametrize(
    ("result", "is_error"),
    [
        ('{"error": ""}', False),  # an empty error field is no error
        ('["error"]', False),  # JSON, but not an object with an error field
        ("  error: slot taken", True),  # leading spaces are ignored
        ("EXCEPTION raised", True),  # any case
        ("errors were none", True),  # the rule is a prefix: "error..."
        ("no error", False),
    ],
)
def test_error_result_rules(definitions: Definitions, result: str, is_error: bool) -> None:
    transcript = call(tool_call(1, "a"), tool_result(2, "a", result))
    assert compute(definitions, "tool_call_errors", transcript).value == int(is_error)


def test_calls_without_results_and_results_without_data(definitions: Definitions) -> None:
    only_a_call = call(agent(0, 1), tool_call(1, "a"))
    assert compute(definitions, "tool_call_errors", only_a_call).value == 1  # never answered
    # A result turn that carries no tool data answers no call and is no error.
    bare_result = Turn(role=TOOL_RESULT, start_time=2.0)
    transcript = call(tool_call(1, "a"), bare_result)
    assert compute(definitions, "tool_call_errors", transcript).details == {
        "calls": 1,
        "errors": 0,
        "unanswered": 1,
    }
    # A call without an id cannot be matched to a result, so it is never "unanswered".
    anonymous = call(tool_call(1, None))
    assert compute(definitions, "tool_call_success", anonymous).value is True


def test_turn_count_explains_both_sides(definitions: Definitions) -> None:
    transcript = call(agent(None, None), caller(None, None), agent(None, None))
    assert compute(definitions, "turn_count", transcript) == Computed(
        value=3, explanation="2 agent turns and 1 caller turns"
    )


def test_call_duration_names_the_turn_that_ends_last(definitions: Definitions) -> None:
    # The caller's turn ends last (65.256 -> 65.26) although the agent's starts later.
    transcript = call(agent(0.5, 4.0), caller(5.0, 65.256), agent(60.0, 63.0))
    assert compute(definitions, "call_duration", transcript) == Computed(
        value=65.26, explanation="the last turn (Testing Agent, from [00:05]) ends at [01:05]"
    )
    # under a second: the caller's 0.2-0.5 ends after the agent's 0.0-0.0 blip
    short = call(agent(0.0, 0.0, "hi"), caller(0.2, 0.5))
    assert compute(definitions, "call_duration", short) == Computed(
        value=0.5, explanation="the last turn (Testing Agent, from [00:00]) ends at [00:00]"
    )


def test_unknown_function_lists_the_known_ones() -> None:
    known = (
        "call_duration, infrastructure_issues, interruption_score, interruptions, latency, "
        "longest_silence, silence_over_threshold, stop_time_after_interruption, talk_ratio, "
        "tool_call_errors, tool_call_success, transcription_wer, turn_count, words_per_minute"
    )
    message = f"unknown computed function 'latncy'; known: {known}"
    with pytest.raises(UnknownFunctionError, match=f"^{re.escape(message)}$"):
        validate_params("latncy", {})
    with pytest.raises(ValueError, match=r"^params\.statistic: String should match pattern"):
        validate_params("latency", {"statistic": "p100"})
