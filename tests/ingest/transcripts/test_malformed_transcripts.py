"""Malformed variants of real-shaped payloads: each is a TranscriptFormatError naming the
provider, the item and the field, with what was expected and what was received."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts import ParseOptions, known_formats, parse_transcript
from tests.ingest.transcripts.transcript_payloads import read_payload

Key = str | int


def set_at(*keys: Key, value: Any) -> Callable[[Any], Any]:
    def apply(payload: Any) -> Any:
        node = payload
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return payload

    return apply


def drop_at(*keys: Key) -> Callable[[Any], Any]:
    def apply(payload: Any) -> Any:
        node = payload
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
        return payload

    return apply


def replace(value: Any) -> Callable[[Any], Any]:
    return lambda _payload: value


@dataclass(frozen=True)
class Case:
    provider: str
    fixture: str
    mutate: Callable[[Any], Any]
    path: str
    message: str  # the full error message

    def __str__(self) -> str:
        return f"{self.provider}:{self.path}"


TWC = "transcript_with_tool_calls"
UTT = ("results", "utterances")
LKI = ("chat_history", "items")
CASES = [
    # retell
    Case("retell", "retell_get_call.json", set_at(TWC, 1, "role", value="customer"),
         "transcript_with_tool_calls[1].role",
         'retell: transcript_with_tool_calls[1].role: expected one of agent, user, transfer_target, '
         'tool_call_invocation, tool_call_result, node_transition, dtmf; got "customer"'),
    Case("retell", "retell_get_call.json", set_at(TWC, 0, "words", value="Hi"),
         "transcript_with_tool_calls[0].words",
         'retell: transcript_with_tool_calls[0].words: expected a list; got "Hi"'),
    Case("retell", "retell_get_call.json", drop_at(TWC, 3, "words", 0, "start"),
         "transcript_with_tool_calls[3].words[0].start",
         "retell: transcript_with_tool_calls[3].words[0].start: expected a number "
         "(the field is missing)"),
    Case("retell", "retell_get_call.json", set_at(TWC, 6, "words", 0, "start", value=2.0),
         "transcript_with_tool_calls[6]",
         "retell: transcript_with_tool_calls[6]: expected times in call order (a start time >= "
         "the previous turn's 10.3); got 2.0"),
    Case("retell", "retell_get_call.json", drop_at(TWC, 4, "tool_call_id"),
         "transcript_with_tool_calls[4].tool_call_id",
         "retell: transcript_with_tool_calls[4].tool_call_id: expected a string "
         "(the field is missing)"),
    Case("retell", "retell_get_call.json", set_at(TWC, 9, "digit", value=None),
         "transcript_with_tool_calls[9].digit",
         "retell: transcript_with_tool_calls[9].digit: expected a digit; got null"),
    Case("retell", "retell_webhook_call_ended.json", set_at("call", "transcript_object", value={}),
         "call.transcript_object", "retell: call.transcript_object: expected a list; got an object"),
    Case("retell", "retell_get_call.json", set_at(TWC, 2, value=["agent"]),
         "transcript_with_tool_calls[2]",
         "retell: transcript_with_tool_calls[2]: expected an object; got a list of 1"),
    # elevenlabs
    Case("elevenlabs", "elevenlabs_conversation.json", set_at("transcript", 1, "role", value="assistant"),
         "transcript[1].role",
         'elevenlabs: transcript[1].role: expected one of agent, user; got "assistant"'),
    Case("elevenlabs", "elevenlabs_conversation.json",
         set_at("transcript", 2, "time_in_call_secs", value="11"),
         "transcript[2].time_in_call_secs",
         'elevenlabs: transcript[2].time_in_call_secs: expected a number or null; got "11"'),
    Case("elevenlabs", "elevenlabs_conversation.json", set_at("transcript", 5, "time_in_call_secs", value=3),
         "transcript[5]",
         "elevenlabs: transcript[5]: expected times in call order (a start time >= the previous "
         "turn's 12); got 3.0"),
    Case("elevenlabs", "elevenlabs_conversation.json",
         set_at("transcript", 2, "tool_calls", 0, "tool_name", value=7),
         "transcript[2].tool_calls[0].tool_name",
         "elevenlabs: transcript[2].tool_calls[0].tool_name: expected a string or null; got 7"),
    Case("elevenlabs", "elevenlabs_post_call_webhook.json", set_at("data", "transcript", value="hi"),
         "data.transcript", 'elevenlabs: data.transcript: expected a list; got "hi"'),
    Case("elevenlabs", "elevenlabs_conversation.json", set_at("transcript", 0, "message", value=["Hallo"]),
         "transcript[0].message",
         "elevenlabs: transcript[0].message: expected a string or null; got a list of 1"),
    # livekit
    Case("livekit", "livekit_session_report.json", set_at(*LKI, 2, "role", value="customer"),
         "chat_history.items[2].role",
         'livekit: chat_history.items[2].role: expected one of user, assistant, system, developer; '
         'got "customer"'),
    Case("livekit", "livekit_session_report.json", set_at(*LKI, 3, "type", value="tool_call"),
         "chat_history.items[3].type",
         "livekit: chat_history.items[3].type: expected one of message, function_call, "
         'function_call_output, agent_handoff; got "tool_call"'),
    Case("livekit", "livekit_session_report.json", set_at(*LKI, 4, "created_at", value=1760520100.0),
         "chat_history.items[4].created_at",
         "livekit: chat_history.items[4].created_at: expected items in call order (a created_at >= "
         "the previous item's 1760520151.030000); got 1760520100.0"),
    Case("livekit", "livekit_session_report.json", drop_at(*LKI, 3, "call_id"),
         "chat_history.items[3].call_id",
         "livekit: chat_history.items[3].call_id: expected a string (the field is missing)"),
    Case("livekit", "livekit_session_report.json",
         set_at(*LKI, 1, "metrics", "stopped_speaking_at", value=1760520142.5),
         "chat_history.items[1]",
         "livekit: chat_history.items[1]: expected an end time >= its start time 0.71; got 0.19"),
    Case("livekit", "livekit_simple.json", set_at(1, "role", value="customer"), "[1].role",
         'livekit: [1].role: expected one of user, assistant; got "customer"'),
    Case("livekit", "livekit_simple.json", set_at(4, "timestamp", value=2.0), "[4]",
         "livekit: [4]: expected times in call order (a start time >= the previous turn's 8.3); "
         "got 2.0"),
    Case("livekit", "livekit_chat_context.json", set_at("items", 0, "content", value=5),
         "items[0].content", "livekit: items[0].content: expected a list of strings; got 5"),
    # pipecat
    Case("pipecat", "pipecat_timed.json", set_at(2, "role", value="human"), "[2].role",
         "pipecat: [2].role: expected one of user, assistant, tool_call, tool_call_result, system; "
         'got "human"'),
    Case("pipecat", "pipecat_timed.json", set_at(3, "end_time", value=1.0), "[3]",
         "pipecat: [3]: expected an end time >= its start time 8.9; got 1.0"),
    Case("pipecat", "pipecat_timed.json", set_at(4, "start_time", value=-1), "[4].start_time",
         "pipecat: [4].start_time: expected a number >= 0; got -1"),
    Case("pipecat", "pipecat_untimed.json", drop_at(2, "data"), "[2].data",
         "pipecat: [2].data: expected an object {id, name, arguments | result}; got null"),
    Case("pipecat", "pipecat_transcription_messages.json", set_at(2, "timestamp", value="yesterday"),
         "[2].timestamp",
         "pipecat: [2].timestamp: expected an ISO-8601 time like 2025-01-31T14:03:07.123+00:00; "
         'got "yesterday"'),
    Case("pipecat", "pipecat_transcription_messages.json",
         set_at(4, "timestamp", value="2025-03-14T09:26:00+00:00"), "[4]",
         "pipecat: [4]: expected times in call order (a start time >= the previous turn's 62.95); "
         "got 0.0"),
    # deepgram
    Case("deepgram", "deepgram_words.json", drop_at(8, "speaker"), "[8].speaker",
         "deepgram: [8].speaker: expected a speaker number (send a diarize=true response)"),
    Case("deepgram", "deepgram_words.json", set_at(5, "start", value=0.1), "[5].start",
         "deepgram: [5].start: expected times in order (>= the previous start 1.44); got 0.1"),
    Case("deepgram", "deepgram_words.json", set_at(3, "end", value="1.36"), "[3].end",
         'deepgram: [3].end: expected a number or null; got "1.36"'),
    Case("deepgram", "deepgram_utterances.json", set_at(*UTT, 2, "transcript", value=None),
         "results.utterances[2].transcript",
         "deepgram: results.utterances[2].transcript: expected a string; got null"),
    Case("deepgram", "deepgram_utterances.json", set_at(*UTT, 1, "end", value=1.0),
         "results.utterances[1].end",
         "deepgram: results.utterances[1].end: expected a time >= its start 3.2; got 1.0"),
    Case("deepgram", "deepgram_multichannel.json",
         set_at("results", "channels", 1, "alternatives", value={}),
         "results.channels[1].alternatives",
         "deepgram: results.channels[1].alternatives: expected a list; got an object"),
    Case("deepgram", "deepgram_utterances.json", set_at("results", value=[]), "results",
         "deepgram: results: expected an object; got a list of 0"),
    # vapi
    Case("vapi", "vapi_end_of_call_report.json",
         set_at("message", "artifact", "messages", 2, "role", value="customer"),
         "message.artifact.messages[2].role",
         'vapi: message.artifact.messages[2].role: expected one of bot, user, system, tool_calls, '
         'tool_call_result; got "customer"'),
    Case("vapi", "vapi_end_of_call_report.json",
         set_at("message", "artifact", "messages", 5, "secondsFromStart", value=3.0),
         "message.artifact.messages[5]",
         "vapi: message.artifact.messages[5]: expected times in call order (a start time >= the "
         "previous turn's 11.34); got 3.0"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_malformed_variant_names_provider_item_and_field(case: Case) -> None:
    payload = case.mutate(read_payload(case.fixture))
    with pytest.raises(TranscriptFormatError) as caught:
        parse_transcript(case.provider, payload)
    assert caught.value.provider == case.provider
    assert caught.value.path == case.path
    assert str(caught.value) == case.message


def test_every_provider_has_malformed_variants() -> None:
    covered = {case.provider for case in CASES}
    assert covered >= {"retell", "elevenlabs", "livekit", "pipecat", "deepgram", "vapi"}


@pytest.mark.parametrize("name", [n for n in known_formats() if n != "vocera"])
@pytest.mark.parametrize("bad", ["hello", 42, None, True])
def test_non_list_payload_is_a_format_error(name: str, bad: Any) -> None:
    with pytest.raises(TranscriptFormatError) as caught:
        parse_transcript(name, bad)
    assert caught.value.provider == name
    assert caught.value.path == "transcript_json"


@pytest.mark.parametrize("name", [*known_formats(), "auto"])
def test_empty_list_is_an_error_expecting_a_turn(name: str) -> None:
    with pytest.raises(TranscriptFormatError) as caught:
        parse_transcript(name, [])
    assert "expected at least one turn" in str(caught.value)
    assert caught.value.path == "transcript_json"


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("retell", [{"role": "agent", "content": "", "words": []}]),
        (
            "elevenlabs",
            {"transcript": [{"role": "agent", "message": None, "time_in_call_secs": 0}]},
        ),
        ("livekit", {"items": [{"type": "message", "role": "system", "content": ["Be nice."]}]}),
        ("pipecat", [{"role": "user", "content": "   "}]),
        ("deepgram", {"results": {"channels": [{"alternatives": [{"words": []}]}]}}),
        ("vapi", [{"role": "user", "message": "", "secondsFromStart": 1}]),
        ("cekura", [{"role": "Main Agent", "content": None}]),
    ],
)
def test_only_empty_messages_is_an_error_expecting_a_turn(name: str, payload: Any) -> None:
    with pytest.raises(TranscriptFormatError, match="expected at least one turn"):
        parse_transcript(name, payload, ParseOptions())
