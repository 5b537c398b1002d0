"""Cekura's own format, expected turns written by hand from its documented semantics: a list of
``{role, content, start_time, end_time}`` with the roles Main Agent (the voice agent), Testing
Agent (the other party), Function Call and Function Call Result (tool turns carry ``data``).
Each rule the parser applies without saying so has a test that names it."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import parse_transcript
from evaluator.transcript import TOOL_CALL, Transcript, Turn
from tests.ingest.transcripts.by_hand import agent, caller, tool_call, tool_result

BOOKING: list[dict[str, Any]] = [
    {"role": "Main Agent", "content": "Bright Smile Dental, Riley speaking.",
     "start_time": 0.0, "end_time": 2.5},
    {"role": "Testing Agent", "content": "Hi, can I book a cleaning?",
     "start_time": 3.0, "end_time": 4.75},
    {"role": "Function Call", "content": "", "start_time": 5.0,
     "data": {"id": "call_1", "name": "check_availability", "arguments": {"day": "Tuesday"}}},
    {"role": "Function Call Result", "content": "", "start_time": 5.5, "end_time": 5.5,
     "data": {"id": "call_1", "name": "check_availability", "result": {"slots": ["09:30"]},
              "is_error": False}},
    {"role": "Main Agent", "content": "   ", "start_time": 6.0, "end_time": 6.0},
    {"role": "Main Agent", "content": "Tuesday at 9:30 works.", "start_time": 6.0, "end_time": 7.5},
]  # fmt: skip


def test_a_booking_call_by_hand() -> None:
    transcript = parse_transcript("cekura", BOOKING)
    assert transcript == Transcript(
        provider="cekura",
        turns=(
            agent("Bright Smile Dental, Riley speaking.", 0.0, 2.5),
            caller("Hi, can I book a cleaning?", 3.0, 4.75),
            # no end_time: the call is an instant; JSON arguments become sorted JSON text
            tool_call(5.0, "call_1", "check_availability", '{"day": "Tuesday"}'),
            tool_result(5.5, "call_1", "check_availability", '{"slots": ["09:30"]}', False),
            # the whitespace-only agent turn at 6.0 is gone
            agent("Tuesday at 9:30 works.", 6.0, 7.5),
        ),
    )


def test_rule_empty_and_whitespace_only_turns_are_dropped_tool_turns_kept() -> None:
    turns = parse_transcript("cekura", BOOKING).turns
    assert [t.content for t in turns if t.role == "Main Agent"] == [
        "Bright Smile Dental, Riley speaking.",
        "Tuesday at 9:30 works.",
    ]
    assert [t.role for t in turns].count(TOOL_CALL) == 1  # empty content, but it carries data


def test_rule_a_zero_length_turn_is_kept() -> None:
    items = [{"role": "Testing Agent", "content": "Hm.", "start_time": 2.0, "end_time": 2.0}]
    assert parse_transcript("cekura", items).turns == (caller("Hm.", 2.0, 2.0),)


def test_rule_a_missing_end_time_is_the_start_time() -> None:
    items = [{"role": "Main Agent", "content": "Hello.", "start_time": 1.5}]
    assert parse_transcript("cekura", items).turns == (agent("Hello.", 1.5, 1.5),)


def test_rule_untimed_turns_keep_null_times_never_zero() -> None:
    items = [
        {"role": "Main Agent", "content": "Hello."},
        {"role": "Testing Agent", "content": "Hi."},
    ]
    transcript = parse_transcript("cekura", items)
    assert transcript.turns == (agent("Hello.", None, None), caller("Hi.", None, None))
    assert not transcript.has_timestamps


def test_rule_tool_data_is_read_leniently() -> None:
    items = [
        {"role": "Function Call", "content": "lookup()", "start_time": 1.0,
         "data": {"id": 7, "name": "lookup", "arguments": "{}", "is_error": "yes"}},
        {"role": "Function Call Result", "content": "done", "start_time": 2.0},
    ]  # fmt: skip
    call, result = parse_transcript("cekura", items).turns
    assert call.data is not None and call.data.id == "7"  # a numeric id becomes text
    assert call.data.is_error is None  # a non-boolean is_error is ignored
    assert result == Turn(role="Function Call Result", content="done", start_time=2.0, end_time=2.0)


def test_rule_vocera_is_the_same_format() -> None:
    assert parse_transcript("vocera", BOOKING).turns == parse_transcript("cekura", BOOKING).turns
