"""Pipecat, expected turns written by hand from its documented shapes: a list of
``user``/``assistant``/``tool_call``/``tool_call_result``/``system`` items, timed by
``start_time``/``end_time`` seconds or untimed, tool items carrying ``data {id, name, arguments |
result}``; and ``TranscriptionMessage`` (``{role, content, user_id, timestamp}``, ISO 8601)."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import parse_transcript
from evaluator.transcript import Transcript
from tests.ingest.transcripts.by_hand import agent, caller, tool_call, tool_result

TIMED: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a pizza bot."},
    {"role": "assistant", "content": "Tony's Pizza!", "start_time": 0.0, "end_time": 1.2},
    {"role": "user", "content": "One margherita.", "start_time": 2.0, "end_time": 3.1},
    {"role": "tool_call", "start_time": 3.5,
     "data": {"id": "p1", "name": "order", "arguments": {"pizza": "margherita"}}},
    {"role": "tool_call_result", "start_time": 3.9,
     "data": {"id": "p1", "name": "order", "result": {"eta": 25}, "is_error": False}},
    {"role": "assistant", "content": "Ready in 25 minutes.", "start_time": 4.2},
]  # fmt: skip


def test_a_pizza_order_by_hand() -> None:
    assert parse_transcript("pipecat", TIMED) == Transcript(
        provider="pipecat",
        context="You are a pizza bot.",
        turns=(
            agent("Tony's Pizza!", 0.0, 1.2),
            caller("One margherita.", 2.0, 3.1),
            tool_call(3.5, "p1", "order", '{"pizza": "margherita"}'),
            tool_result(3.9, "p1", "order", '{"eta": 25}', False),
            agent("Ready in 25 minutes.", 4.2, 4.2),  # a start without an end: an instant
        ),
    )


def test_transcription_messages_by_hand() -> None:
    messages = [
        {"role": "assistant", "content": "Hello!", "timestamp": "2025-01-31T14:03:07.000+00:00"},
        {"role": "user", "content": "Hi", "user_id": "u1", "timestamp": "2025-01-31T14:03:09.500"},
        {"role": "user", "content": "Pizza?", "user_id": "u1",
         "timestamp": "2025-01-31T15:03:10.000+01:00"},
    ]  # fmt: skip
    assert parse_transcript("pipecat", {"messages": messages}) == Transcript(
        provider="pipecat",
        turns=(
            agent("Hello!", 0.0, 0.0),  # the earliest timestamp is time 0
            caller("Hi", 2.5, 2.5),  # no zone: read as UTC
            caller("Pizza?", 3.0, 3.0),  # 15:03:10+01:00 is 14:03:10 UTC
        ),
        notes=("pipecat: ISO timestamps read as offsets from the earliest",),
    )


def test_rule_untimed_items_keep_null_times() -> None:
    items = [{"role": "assistant", "content": "Hi."}, {"role": "user", "content": "  "},
             {"role": "user", "content": "Hello."}]  # fmt: skip
    assert parse_transcript("pipecat", items).turns == (
        agent("Hi.", None, None),
        caller("Hello.", None, None),  # the blank one is dropped
    )
