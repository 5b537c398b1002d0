"""Vapi, expected turns written by hand from its documented message shape: ``artifact.messages``
of a call, each ``{role, message, time, endTime, secondsFromStart, duration}`` with ``time`` and
``endTime`` in epoch milliseconds and ``secondsFromStart`` in seconds; roles ``system``,
``bot``/``assistant`` (the agent), ``user``, ``tool_calls`` (``toolCalls[{id, function{name,
arguments}}]``) and ``tool_call_result`` (``{name, result, toolCallId}``)."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import parse_transcript
from evaluator.transcript import Transcript
from tests.ingest.transcripts.by_hand import agent, caller, tool_call, tool_result

T0 = 1_700_000_000_000  # epoch ms at the call's start
CALL: dict[str, Any] = {
    "id": "call-1",
    "artifact": {"messages": [
        {"role": "system", "message": "You are Alex.", "time": T0, "secondsFromStart": 0},
        {"role": "bot", "message": "Hi, Alex here.", "time": T0 + 1000, "endTime": T0 + 2500,
         "secondsFromStart": 1.0, "duration": 1500},
        {"role": "user", "message": "What's my balance?", "time": T0 + 3000,
         "endTime": T0 + 4250, "secondsFromStart": 3.0},
        {"role": "tool_calls", "message": "", "time": T0 + 3500, "secondsFromStart": 3.5,
         "toolCalls": [
             {"id": "t1", "type": "function",
              "function": {"name": "getBalance", "arguments": "{\"id\": 7}"}},
             {"id": "t2", "type": "function",
              "function": {"name": "getLimit", "arguments": {"id": 7}}}]},
        {"role": "tool_call_result", "time": T0 + 4000, "secondsFromStart": 4.0,
         "name": "getBalance", "result": {"balance": 12.5}, "toolCallId": "t1"},
        {"role": "assistant", "content": "It is twelve fifty.", "secondsFromStart": 5.0,
         "duration": 2000},
        {"role": "user", "message": "", "time": T0 + 7500, "secondsFromStart": 7.5},
        {"role": "user", "message": "Thanks.", "secondsFromStart": 8.0},
    ]},
}  # fmt: skip


def test_a_balance_call_by_hand() -> None:
    assert parse_transcript("vapi", CALL) == Transcript(
        provider="vapi",
        context="You are Alex.",  # the system message is context, not a turn
        turns=(
            agent("Hi, Alex here.", 1.0, 2.5),  # 1.0 + (2500 - 1000) ms
            caller("What's my balance?", 3.0, 4.25),  # 3.0 + (4250 - 3000) ms
            # one tool_calls message, two calls, both at its time
            tool_call(3.5, "t1", "getBalance", '{"id": 7}'),
            tool_call(3.5, "t2", "getLimit", '{"id": 7}'),  # JSON arguments become text
            tool_result(4.0, "t1", "getBalance", '{"balance": 12.5}'),
            agent("It is twelve fifty.", 5.0, 7.0),  # content, and duration 2000 ms
            # the empty user message at 7.5 is dropped
            caller("Thanks.", 8.0, 8.0),  # no end time or duration: an instant
        ),
    )


def test_rule_end_time_minus_time_wins_over_duration() -> None:
    message = {"role": "bot", "message": "Hi.", "time": 1000, "endTime": 3000,
               "duration": 500, "secondsFromStart": 1.0}  # fmt: skip
    assert parse_transcript("vapi", [message]).turns == (agent("Hi.", 1.0, 3.0),)


def test_rule_end_is_rounded_to_the_millisecond() -> None:
    message = {"role": "bot", "message": "Hi.", "time": 0, "endTime": 1234.5678,
               "secondsFromStart": 1.0}  # fmt: skip
    # 1.0 + 1.2345678 = 2.2345678 -> 2.235
    assert parse_transcript("vapi", [message]).turns[0].end_time == 2.235


def test_rule_without_seconds_from_start_epoch_ms_count_from_the_first_message() -> None:
    # Vapi's `time`/`endTime` are epoch milliseconds: the call starts at the first one.
    messages = [
        {"role": "bot", "message": "Hi", "time": 1700000000000, "endTime": 1700000000800},
        {"role": "user", "message": "Hello?", "time": 1700000001000, "endTime": 1700000002000},
    ]
    assert parse_transcript("vapi", messages).turns == (
        agent("Hi", 0.0, 0.8),
        caller("Hello?", 1.0, 2.0),
    )


def test_rule_small_times_are_seconds_as_cekuras_own_vapi_examples_send_them() -> None:
    message = {"role": "user", "message": "Hello?", "time": 3, "endTime": 4}
    assert parse_transcript("vapi", [message]).turns == (caller("Hello?", 3.0, 4.0),)


def test_rule_message_wins_over_content_and_agent_roles_are_one_side() -> None:
    messages = [
        {
            "role": "bot",
            "message": "From message.",
            "content": "From content.",
            "secondsFromStart": 0,
        },
        {"role": "agent", "message": "Agent role.", "secondsFromStart": 1},
        {"role": "assistant", "content": "Assistant role.", "secondsFromStart": 2},
    ]
    assert parse_transcript("vapi", messages).turns == (
        agent("From message.", 0.0, 0.0),
        agent("Agent role.", 1.0, 1.0),
        agent("Assistant role.", 2.0, 2.0),
    )


def test_rule_several_system_messages_join_into_the_context() -> None:
    messages = [
        {"role": "system", "message": "Rule one."},
        {"role": "system", "message": ""},
        {"role": "system", "message": "Rule two."},
        {"role": "user", "message": "Hi", "secondsFromStart": 0},
    ]
    transcript = parse_transcript("vapi", {"messages": messages})
    assert transcript.context == "Rule one.\n\nRule two."
    assert transcript.turns == (caller("Hi", 0.0, 0.0),)
