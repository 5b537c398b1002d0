"""LiveKit Agents, expected turns written by hand from the documented ``ChatContext.to_dict()``
(``session.history``): ``{"items": [...]}`` of ``message`` (``role``, ``content`` a list of text
and non-text parts, ``interrupted``, ``created_at`` epoch seconds, ``metrics.started_speaking_at``
/ ``stopped_speaking_at``), ``function_call``, ``function_call_output`` and ``agent_handoff``;
and Cekura's simple list ``[{role: user|assistant, content, timestamp}]``."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import parse_transcript
from evaluator.transcript import Transcript
from tests.ingest.transcripts.by_hand import agent, caller, tool_call, tool_result

E = 1_760_520_000.0  # the epoch second of the earliest item: time 0 of the call
HISTORY: dict[str, Any] = {
    "items": [
        {"id": "s", "type": "message", "role": "system", "content": ["You are a bank assistant."],
         "created_at": E},
        {"id": "a1", "type": "message", "role": "assistant",
         "content": ["Northwind Bank,", "how can I help?"], "interrupted": False,
         "created_at": E + 1.0,
         "metrics": {"started_speaking_at": E + 1.5, "stopped_speaking_at": E + 3.25}},
        {"id": "u1", "type": "message", "role": "user",
         "content": ["Freeze my card.", {"type": "audio_content", "frame": []}],
         "interrupted": False, "created_at": E + 6.0,
         "metrics": {"started_speaking_at": E + 4.0, "stopped_speaking_at": E + 5.5}},
        {"id": "f1", "type": "function_call", "call_id": "fc1", "name": "freeze_card",
         "arguments": "{\"last4\": \"1234\"}", "created_at": E + 6.5},
        {"id": "f1o", "type": "function_call_output", "call_id": "fc1", "name": "freeze_card",
         "output": "frozen", "is_error": False, "created_at": E + 7.0},
        {"id": "h", "type": "agent_handoff", "old_agent_id": "front", "new_agent_id": "cards",
         "created_at": E + 7.5},
        {"id": "a2", "type": "message", "role": "assistant", "content": ["Done."],
         "interrupted": True, "created_at": E + 8.0},
    ]
}  # fmt: skip


def test_a_card_freeze_call_by_hand() -> None:
    assert parse_transcript("livekit", HISTORY) == Transcript(
        provider="livekit",
        context="You are a bank assistant.",
        turns=(
            # text parts joined by a space; times from when speaking started and stopped
            agent("Northwind Bank, how can I help?", 1.5, 3.25, interrupted=False),
            # the audio part carries no text; placed at 4.0, when the user started speaking
            caller("Freeze my card.", 4.0, 5.5, interrupted=False),
            tool_call(6.5, "fc1", "freeze_card", '{"last4": "1234"}'),
            tool_result(7.0, "fc1", "freeze_card", "frozen", False),
            agent("Done.", 8.0, 8.0, interrupted=True),  # no metrics: when it was created
        ),
        notes=("livekit: agent handoff from front to cards",),
    )


def test_rule_text_parts_get_a_space_only_where_none_is() -> None:
    item = {"type": "message", "role": "user", "content": ["Hello ", "there", "friend", " again"],
            "created_at": 5.0}  # fmt: skip
    assert parse_transcript("livekit", {"items": [item]}).turns[0].content == (
        "Hello there friend again"
    )


def test_rule_developer_messages_are_context_too() -> None:
    items = [{"type": "message", "role": "developer", "content": ["Be brief."]},
             {"type": "message", "role": "assistant", "content": ["Hi."]}]  # fmt: skip
    transcript = parse_transcript("livekit", {"items": items})
    assert transcript.context == "Be brief."
    assert transcript.turns == (agent("Hi.", None, None),)


def test_rule_without_every_time_the_listed_order_is_kept() -> None:
    items = [
        {"type": "message", "role": "assistant", "content": ["First."], "created_at": E + 9.0},
        {"type": "message", "role": "user", "content": ["Second."]},  # no time at all
        {"type": "message", "role": "assistant", "content": ["Third."], "created_at": E + 10.0},
    ]  # fmt: skip
    # sorting by start would move the untimed turn first; it stays where it was listed
    assert parse_transcript("livekit", {"items": items}).turns == (
        agent("First.", 0.0, 0.0),
        caller("Second.", None, None),
        agent("Third.", 1.0, 1.0),
    )


def test_simple_list_by_hand() -> None:
    items = [
        {"role": "system", "content": "Greet warmly."},
        {"role": "assistant", "content": "Hi, Northwind Bank.", "timestamp": 0.5},
        {"role": "user", "content": "", "timestamp": 1.0},
        {"role": "user", "content": "Card question.", "timestamp": 2.25},
    ]
    assert parse_transcript("livekit", items) == Transcript(
        provider="livekit",
        context="Greet warmly.",
        # offsets in seconds as sent; each turn an instant; the empty one dropped
        turns=(agent("Hi, Northwind Bank.", 0.5, 0.5), caller("Card question.", 2.25, 2.25)),
    )
