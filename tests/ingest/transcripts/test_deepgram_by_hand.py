"""Deepgram pre-recorded output, expected turns written by hand from its documented response:
diarized ``words`` (``{word, start, end, speaker, punctuated_word}``), ``utterances`` (``{start,
end, channel, speaker, transcript}``) and ``multichannel`` responses (a channel per party).
Deepgram does not say who the agent is: by default whoever speaks first."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.transcripts import ParseOptions, parse_transcript
from evaluator.transcript import Transcript
from tests.ingest.transcripts.by_hand import agent, caller


def response(*channels: list[dict[str, Any]], **results: Any) -> dict[str, Any]:
    return {
        "metadata": {"request_id": "r"},
        "results": {"channels": [{"alternatives": [{"words": w}]} for w in channels], **results},
    }


WORDS = [
    {"word": "hello", "start": 0.08, "end": 0.4, "speaker": 0, "punctuated_word": "Hello,"},
    {"word": "acme", "start": 0.4, "end": 0.9, "speaker": 0, "punctuated_word": "Acme."},
    {"word": "hi", "start": 1.5, "end": 1.7, "speaker": 1, "punctuated_word": "Hi."},
    {"word": "i", "start": 1.8, "end": 1.9, "speaker": 1, "punctuated_word": "I"},
    {"word": "need", "start": 1.9, "end": 2.2, "speaker": 1},
    {"word": "sure", "start": 2.6, "end": 3.0, "speaker": 0, "punctuated_word": "Sure."},
    {"word": "um", "start": 3.2, "end": 3.4, "speaker": 2, "punctuated_word": "Um,"},
]
FIRST_SPEAKER = (
    "deepgram: speaker 0 is the agent, being the first to speak (no main_agent_channel_index given)"
)


def test_diarized_words_by_hand() -> None:
    assert parse_transcript("deepgram", response(WORDS)) == Transcript(
        provider="deepgram",
        turns=(
            agent("Hello, Acme.", 0.08, 0.9),  # a speaker's consecutive words are one turn
            caller("Hi. I need", 1.5, 2.2),  # "need" has no punctuated_word: the raw word
            agent("Sure.", 2.6, 3.0),
            caller("Um,", 3.2, 3.4),  # a third speaker counts on the caller's side
        ),
        notes=(FIRST_SPEAKER,),
    )


def test_utterances_are_turns_as_they_are() -> None:
    utterances = [
        {"start": 0.1, "end": 1.0, "channel": 0, "speaker": 1, "transcript": "Hello."},
        {"start": 1.2, "end": 2.0, "channel": 0, "speaker": 0, "transcript": "Hi"},
        {"start": 2.1, "end": 2.5, "channel": 0, "speaker": 0, "transcript": "again"},
    ]
    transcript = parse_transcript("deepgram", response(WORDS, utterances=utterances))
    # utterances win over words; two utterances of one speaker stay two turns
    assert transcript.turns == (
        agent("Hello.", 0.1, 1.0),
        caller("Hi", 1.2, 2.0),
        caller("again", 2.1, 2.5),
    )
    assert transcript.notes == (FIRST_SPEAKER.replace("speaker 0", "speaker 1"),)


def test_multichannel_the_named_channel_is_the_agent() -> None:
    left = [{"word": "hello", "start": 0.5, "end": 0.9, "punctuated_word": "Hello?"},
            {"word": "yes", "start": 2.0, "end": 2.3, "punctuated_word": "Yes."}]  # fmt: skip
    right = [{"word": "acme", "start": 1.0, "end": 1.6, "punctuated_word": "Acme support."}]
    transcript = parse_transcript(
        "deepgram", response(left, right), ParseOptions(main_agent_channel_index=1)
    )
    # the channels interleave in time; each channel is one party
    assert transcript.turns == (
        caller("Hello?", 0.5, 0.9),
        agent("Acme support.", 1.0, 1.6),
        caller("Yes.", 2.0, 2.3),
    )
    assert transcript.notes == ("deepgram: channel 1 is the agent (main_agent_channel_index)",)


def test_rule_words_with_no_text_make_no_turn() -> None:
    words = [
        {"word": "", "start": 0.0, "end": 0.2, "speaker": 0, "punctuated_word": ""},
        {"word": "hi", "start": 0.5, "end": 0.7, "speaker": 1, "punctuated_word": "Hi."},
    ]
    # speaker 0 spoke first (silently) and is the agent; only the caller's turn remains
    assert parse_transcript("deepgram", words).turns == (caller("Hi.", 0.5, 0.7),)
