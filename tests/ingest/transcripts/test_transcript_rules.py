"""Provider rules the fixtures alone do not pin down: speaker assignment, neighbouring times,
whole objects versus bare lists, and auto-detection of ambiguous shapes."""

from __future__ import annotations

from typing import Any

import pytest

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts import ParseOptions, detect_format, parse_transcript
from evaluator.transcript import AGENT, CALLER
from tests.ingest.transcripts.transcript_payloads import read_payload


def roles(payload: Any, name: str, options: ParseOptions | None = None) -> list[str]:
    return [t.role for t in parse_transcript(name, payload, options).turns]


def test_deepgram_main_agent_channel_index_overrides_the_first_speaker_rule() -> None:
    words = read_payload("deepgram_words.json")
    assert roles(words, "deepgram") == [AGENT, CALLER, AGENT]
    chosen = parse_transcript("deepgram", words, ParseOptions(main_agent_channel_index=1))
    assert [t.role for t in chosen.turns] == [CALLER, AGENT, CALLER]
    assert chosen.notes == ("deepgram: speaker 1 is the agent (main_agent_channel_index)",)


def test_deepgram_multichannel_channel_is_the_speaker() -> None:
    response = read_payload("deepgram_multichannel.json")
    chosen = parse_transcript("deepgram", response, ParseOptions(main_agent_channel_index=0))
    assert [t.role for t in chosen.turns] == [CALLER, AGENT, CALLER]
    assert chosen.turns[1].content == "Yes, I'd like to pay my bill."
    assert chosen.notes == ("deepgram: channel 0 is the agent (main_agent_channel_index)",)


def test_deepgram_uses_utterances_over_words_and_falls_back_to_words() -> None:
    response = read_payload("deepgram_utterances.json")
    assert len(parse_transcript("deepgram", response).turns) == 5
    del response["results"]["utterances"]
    words_only = parse_transcript("deepgram", response)
    assert [t.content for t in words_only.turns] == ["Good"]


def test_deepgram_word_without_punctuation_uses_the_raw_word() -> None:
    words = [{"word": "hello", "start": 0.1, "end": 0.4, "speaker": 0},
             {"word": "there", "start": 0.4, "end": 0.7, "speaker": 0}]  # fmt: skip
    assert parse_transcript("deepgram", words).turns[0].content == "hello there"


def test_retell_item_without_words_takes_the_next_time_when_first() -> None:
    items = [
        {"role": "tool_call_invocation", "tool_call_id": "t1", "name": "lookup", "arguments": "{}"},
        {"role": "agent", "content": "Found it.", "words": [{"word": "Found", "start": 2.5, "end": 3.0}]},
    ]  # fmt: skip
    turns = parse_transcript("retell", items).turns
    assert (turns[0].start_time, turns[0].end_time) == (2.5, 2.5)


def test_retell_transcript_without_any_words_has_null_times() -> None:
    items = [{"role": "agent", "content": "Hi."}, {"role": "user", "content": "Hello."}]
    transcript = parse_transcript("retell", items)
    assert all(t.start_time is None for t in transcript.turns)
    assert not transcript.has_timestamps


def test_retell_transfer_target_counts_on_the_caller_side_with_its_own_label() -> None:
    turn = parse_transcript("retell", read_payload("retell_get_call.json")).turns[-1]
    assert (turn.role, turn.speaker, turn.label) == (CALLER, "Transfer Target", "Transfer Target")


@pytest.mark.parametrize(
    ("name", "whole", "inner"),
    [
        ("retell", "retell_get_call.json", ("transcript_with_tool_calls",)),
        ("elevenlabs", "elevenlabs_conversation.json", ("transcript",)),
        ("elevenlabs", "elevenlabs_post_call_webhook.json", ("data", "transcript")),
        ("vapi", "vapi_end_of_call_report.json", ("message", "artifact", "messages")),
        ("pipecat", "pipecat_untimed.json", ()),
    ],
)
def test_whole_object_and_bare_list_give_the_same_turns(
    name: str, whole: str, inner: tuple[str, ...]
) -> None:
    payload = read_payload(whole)
    bare = payload
    for key in inner:
        bare = bare[key]
    wrapped = {"messages": bare} if name == "pipecat" else payload
    assert parse_transcript(name, wrapped).turns == parse_transcript(name, bare).turns


def test_livekit_chat_context_equals_session_report_history() -> None:
    report = read_payload("livekit_session_report.json")
    assert (
        parse_transcript("livekit", report).turns
        == parse_transcript("livekit", report["chat_history"]).turns
    )


def test_livekit_user_message_is_placed_where_speaking_started() -> None:
    report = read_payload("livekit_session_report.json")
    items = report["chat_history"]["items"]
    # The user message is created after the agent started its reply; it was said before.
    items[1]["metrics"]["stopped_speaking_at"] = 1760520148.0
    items[2]["created_at"] = 1760520150.12
    items[2]["metrics"]["started_speaking_at"] = 1760520142.95
    items[2]["metrics"]["stopped_speaking_at"] = 1760520144.0
    turns = parse_transcript("livekit", report).turns
    assert [t.role for t in turns[:2]] == [CALLER, AGENT]


def test_livekit_simple_list_with_epoch_seconds_becomes_offsets() -> None:
    items = [{"role": "assistant", "content": "Hi", "timestamp": 1760520142.5},
             {"role": "user", "content": "Hey", "timestamp": 1760520145.0}]  # fmt: skip
    transcript = parse_transcript("livekit", items)
    assert [t.start_time for t in transcript.turns] == [0.0, 2.5]
    assert transcript.notes == ("livekit: epoch timestamps read as offsets from the first",)


def test_elevenlabs_interrupted_flag_is_kept() -> None:
    turns = parse_transcript("elevenlabs", read_payload("elevenlabs_conversation.json")).turns
    assert [t.interrupted for t in turns if t.role == AGENT][:2] == [False, True]


@pytest.mark.parametrize(
    ("payload", "candidates"),
    [
        ([{"role": "user", "content": "Hi"}], "pipecat, retell"),
        ([{"role": "user", "content": "Hi", "timestamp": None}], "livekit, pipecat, retell"),
    ],
)
def test_ambiguous_shape_lists_the_candidates(payload: Any, candidates: str) -> None:
    with pytest.raises(TranscriptFormatError) as caught:
        detect_format(payload)
    assert str(caught.value) == (
        f"auto: the payload's shape is ambiguous; it fits {candidates}; "
        "set transcript_type to the right one"
    )


def test_unknown_shape_says_which_types_exist() -> None:
    with pytest.raises(TranscriptFormatError, match="fits no known transcript format"):
        parse_transcript("auto", {"speech": "hello"})
