"""The transcription-accuracy metric on transcripts written by hand: the WER of the call's
own caller turns against ours, in percent, worked out word by word."""

from __future__ import annotations

from evaluator.ingest.audio.accuracy import AUDIO_ONLY, NOT_TRANSCRIBED, transcription_accuracy
from evaluator.transcript import AGENT, CALLER, Transcript, Turn


def call(*turns: tuple[str, str]) -> Transcript:
    return Transcript(
        turns=tuple(
            Turn(role=role, content=text, start_time=float(i), end_time=i + 0.9)
            for i, (role, text) in enumerate(turns)
        )
    )


OURS = call(
    (AGENT, "How can I help?"),
    # 10 words on the caller's side
    (CALLER, "I would like green tickets for the concert on Friday."),
    (AGENT, "Green tickets, noted."),
)


def test_one_word_in_ten_misheard_is_ten_percent_and_not_flagged() -> None:
    theirs = call(
        (AGENT, "How can I help?"),
        (CALLER, "I would like clean tickets for the concert on Friday."),
        (AGENT, "Green tickets, noted."),
    )
    value = transcription_accuracy(theirs, OURS, {"misheard_percent": 20})
    # 1 substitution / 10 reference words = 10%
    assert value.value == 10.0 and value.unit == "percent"
    assert value.details is not None
    assert value.details["misheard"] is False
    assert value.details["differences"] == [{"recording": "green", "transcript": "clean"}]
    assert value.details["agent_wer"] == 0.0
    assert value.not_applicable is None


def test_four_errors_in_ten_words_are_flagged_as_misheard_with_the_differences() -> None:
    theirs = call(
        (AGENT, "How can I help?"),
        # green -> clean, concert -> con, Friday -> Sunday; "on" dropped: 4 errors / 10
        (CALLER, "I would like clean tickets for the con Sunday."),
        (AGENT, "Green tickets, noted."),
    )
    value = transcription_accuracy(theirs, OURS, {"misheard_percent": 20})
    assert value.value == 40.0
    assert value.details is not None and value.details["misheard"] is True
    assert "misheard the caller" in value.explanation
    assert "'green' heard as 'clean'" in value.explanation


def test_the_threshold_is_exclusive() -> None:
    theirs = call((CALLER, "I would like clean tickets for the concert on Sunday."))
    value = transcription_accuracy(theirs, OURS, {"misheard_percent": 20})
    assert value.value == 20.0  # 2 / 10
    assert value.details is not None and value.details["misheard"] is False


def test_numbers_compare_however_they_were_written() -> None:
    ours = call((CALLER, "My number is 415-555-2671, call me at ten"))
    theirs = call((CALLER, "my number is four one five five five five two six seven one, "
                           "call me at 10"))  # fmt: skip
    assert transcription_accuracy(theirs, ours, {}).value == 0.0


def test_redaction_tags_compare_equal() -> None:
    ours = call((CALLER, "My number is <PHONE_NUMBER> thanks"))
    theirs = call((CALLER, "my number is <PHONE_NUMBER>, thanks!"))
    assert transcription_accuracy(theirs, ours, {}).value == 0.0


def test_not_applicable_without_our_transcript_or_without_theirs_or_without_a_caller() -> None:
    assert transcription_accuracy(OURS, None, {}).not_applicable == NOT_TRANSCRIBED
    assert transcription_accuracy(None, OURS, {}).not_applicable == AUDIO_ONLY
    agent_only = call((AGENT, "Hello?"))
    missing = transcription_accuracy(OURS, agent_only, {})
    assert missing.value is None and "no caller speech" in (missing.not_applicable or "")
