"""ElevenLabs Conversational AI, expected turns written by hand from its documented conversation
``transcript``: items ``{role: agent|user, message (nullable), time_in_call_secs, tool_calls
[{request_id, tool_name, params_as_json}], tool_results [{request_id, tool_name, result_value,
is_error}], interrupted}``. One time per item: a turn runs until the next item starts."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import parse_transcript
from evaluator.transcript import Transcript
from tests.ingest.transcripts.by_hand import agent, caller, tool_call, tool_result

CONVERSATION: dict[str, Any] = {
    "conversation_id": "conv_1",
    "status": "done",
    "transcript": [
        {"role": "agent", "message": "Hallo! Lena here.", "time_in_call_secs": 0,
         "tool_calls": [], "tool_results": [], "interrupted": False},
        {"role": "user", "message": "I need to move my appointment.", "time_in_call_secs": 4,
         "interrupted": False},
        {"role": "agent", "message": None, "time_in_call_secs": 9,
         "tool_calls": [{"request_id": "r1", "tool_name": "find_slot",
                         "params_as_json": "{\"day\": \"Fri\"}"}],
         "tool_results": [{"request_id": "r1", "tool_name": "find_slot",
                           "result_value": "{\"slot\": \"10:00\"}", "is_error": False}]},
        {"role": "agent", "message": "Friday at ten?", "time_in_call_secs": 11,
         "interrupted": True},
        {"role": "user", "message": "Yes.", "time_in_call_secs": 12},
    ],
}  # fmt: skip


def test_a_rescheduling_call_by_hand() -> None:
    assert parse_transcript("elevenlabs", CONVERSATION) == Transcript(
        provider="elevenlabs",
        turns=(
            agent("Hallo! Lena here.", 0.0, 4.0, interrupted=False),  # until the user at 4 s
            caller("I need to move my appointment.", 4.0, 9.0, interrupted=False),
            # the item at 9 s says nothing (message null): only its tool turns remain
            tool_call(9.0, "r1", "find_slot", '{"day": "Fri"}'),
            tool_result(9.0, "r1", "find_slot", '{"slot": "10:00"}', False),
            agent("Friday at ten?", 11.0, 12.0, interrupted=True),
            caller("Yes.", 12.0, 12.0),  # the last item ends where it starts
        ),
    )


def test_rule_an_untimed_item_is_skipped_when_finding_where_a_turn_ends() -> None:
    items = [
        {"role": "agent", "message": "Hi.", "time_in_call_secs": 0},
        {"role": "user", "message": "Hello?"},
        {"role": "agent", "message": "Still there?", "time_in_call_secs": 5},
    ]
    assert parse_transcript("elevenlabs", items).turns == (
        agent("Hi.", 0.0, 5.0),
        caller("Hello?", None, None),
        agent("Still there?", 5.0, 5.0),
    )


def test_rule_the_message_comes_before_its_items_tool_turns() -> None:
    item = {"role": "agent", "message": "One moment.", "time_in_call_secs": 2,
            "tool_calls": [{"request_id": "q", "tool_name": "lookup", "params_as_json": {"a": 1}}]}  # fmt: skip
    assert parse_transcript("elevenlabs", [item]).turns == (
        agent("One moment.", 2.0, 2.0),
        tool_call(2.0, "q", "lookup", '{"a": 1}'),  # JSON params become text
    )
