"""Retell, expected turns written by hand from its documented ``transcript_with_tool_calls``:
utterances ``{role: agent|user|transfer_target, content, words[{word, start, end}]}`` (seconds),
and the events ``tool_call_invocation {tool_call_id, name, arguments}``, ``tool_call_result
{tool_call_id, content, successful}``, ``node_transition`` and ``dtmf {digit}``, which carry no
time of their own."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import parse_transcript
from evaluator.transcript import Transcript
from tests.ingest.transcripts.by_hand import agent, caller, tool_call, tool_result


def words(*spans: tuple[str, float, float]) -> list[dict[str, Any]]:
    return [{"word": w, "start": s, "end": e} for w, s, e in spans]


CALL: dict[str, Any] = {
    "call_id": "c1",
    "transcript_with_tool_calls": [
        {"role": "agent", "content": "Thanks for calling Café Lumière.",
         "words": words(("Thanks", 0.4, 0.7), ("Lumière.", 1.9, 2.6))},
        {"role": "user", "content": "A table for two tonight?",
         "words": words(("A", 3.1, 3.2), ("tonight?", 4.0, 4.8))},
        {"role": "node_transition", "former_node_name": "Greeting", "new_node_name": "Reservation"},
        {"role": "tool_call_invocation", "tool_call_id": "tc1", "name": "check_availability",
         "arguments": "{\"party\": 2}"},
        {"role": "tool_call_result", "tool_call_id": "tc1", "content": "{\"slots\": [\"19:00\"]}",
         "successful": True},
        {"role": "agent", "content": "Seven o'clock is free.",
         "words": words(("Seven", 6.0, 6.3), ("free.", 7.0, 7.5))},
        {"role": "dtmf", "digit": "1"},
        {"role": "transfer_target", "content": "Host stand.",
         "words": words(("Host", 9.0, 9.2), ("stand.", 9.3, 9.8))},
    ],
}  # fmt: skip


def test_a_reservation_call_by_hand() -> None:
    assert parse_transcript("retell", CALL) == Transcript(
        provider="retell",
        turns=(
            agent("Thanks for calling Café Lumière.", 0.4, 2.6),  # first word's start, last's end
            caller("A table for two tonight?", 3.1, 4.8),
            # events without words take the previous turn's end (4.8)
            tool_call(4.8, "tc1", "check_availability", '{"party": 2}'),
            tool_result(4.8, "tc1", "check_availability", '{"slots": ["19:00"]}', False),
            agent("Seven o'clock is free.", 6.0, 7.5),
            caller("[DTMF 1]", 7.5, 7.5),  # a key press is the caller's
            # the transferred-to party counts on the caller's side, under its own label
            caller("Host stand.", 9.0, 9.8, speaker="Transfer Target"),
        ),
        notes=("retell: node transition at 00:04 from Greeting to Reservation",),
    )


def test_rule_a_result_names_its_invocation_and_successful_sets_is_error() -> None:
    items = [
        {"role": "tool_call_invocation", "tool_call_id": "a", "name": "book", "arguments": "{}"},
        {"role": "tool_call_result", "tool_call_id": "a", "content": "taken", "successful": False},
        {"role": "tool_call_result", "tool_call_id": "zzz", "content": "ok"},
    ]
    _, failed, orphan = parse_transcript("retell", items).turns
    assert failed == tool_result(None, "a", "book", "taken", True)
    assert orphan == tool_result(None, "zzz", None, "ok", None)  # no invocation, no name


def test_rule_a_numeric_digit_and_a_transition_before_any_speech() -> None:
    items = [
        {"role": "node_transition", "new_node_name": "Start"},
        {"role": "dtmf", "digit": 5},
        {"role": "user", "content": "Hello?", "words": words(("Hello?", 2.0, 2.5))},
    ]
    transcript = parse_transcript("retell", items)
    # the leading events take the next turn's start (2.0); a former node missing is "start"
    assert transcript.turns == (caller("[DTMF 5]", 2.0, 2.0), caller("Hello?", 2.0, 2.5))
    assert transcript.notes == ("retell: node transition at 00:02 from start to Start",)


def test_rule_an_utterance_with_an_empty_word_list_takes_its_neighbours_time() -> None:
    items = [
        {"role": "agent", "content": "Hi.", "words": words(("Hi.", 0.5, 1.0))},
        {"role": "user", "content": "Mm.", "words": []},
    ]
    assert parse_transcript("retell", items).turns[1] == caller("Mm.", 1.0, 1.0)
