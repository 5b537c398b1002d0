"""Words to turns, the agent-channel rules, two-voice attribution, and WER: pure logic,
plus attribution on the synthetic mono call (no speech-to-text)."""

from __future__ import annotations

import pytest

from evaluator.ingest.audio import (
    SpeechInterval,
    TimedWord,
    VadSettings,
    choose_agent_channel,
    speech_intervals,
    transcript_wer,
    word_error_rate,
    words_to_turns,
)
from evaluator.ingest.audio.merge import spell
from evaluator.ingest.audio.speakers import attribute_speakers, split_long
from evaluator.transcript import AGENT, CALLER, Transcript, Turn
from tests.ingest.audio.synth import SyntheticCall

A, C = AGENT, CALLER


def w(role: str, text: str, start: float, end: float) -> TimedWord:
    return TimedWord(role, text, start, end)  # type: ignore[arg-type]


def test_spell_keeps_the_models_spacing() -> None:
    words = [w(C, " My", 0, 1), w(C, " number", 1, 2), w(C, " 415", 2, 3), w(C, "-555.", 3, 4)]
    text, spans = spell(words)
    assert text == "My number 415-555."
    assert [text[a:b] for a, b in spans] == ["My", "number", "415", "-555."]


def test_turns_break_at_long_pauses_and_where_the_other_party_begins() -> None:
    words = [
        w(A, " Hello,", 0.0, 0.4), w(A, " how", 0.5, 0.7), w(A, " can", 0.7, 0.9),
        w(C, " Hi.", 1.2, 1.5), w(A, " I", 1.6, 1.7), w(A, " help?", 1.7, 2.0),
        w(C, " Yes", 4.0, 4.3), w(C, " please.", 6.0, 6.4),
    ]  # fmt: skip
    turns = words_to_turns(words, max_pause=1.5)
    assert [(t.role, t.content) for t in turns] == [
        (A, "Hello, how can"), (C, "Hi."), (A, "I help?"), (C, "Yes"), (C, "please."),
    ]  # fmt: skip
    assert (turns[0].start_time, turns[0].end_time) == (0.0, 0.9)


def test_talking_over_a_turn_does_not_cut_it() -> None:
    # The caller says "No, that is all" while the agent is still finishing its sentence.
    words = [
        w(A, " Anything", 23.86, 24.12), w(C, " No,", 24.02, 24.58), w(A, " else", 24.12, 24.46),
        w(A, " do?", 24.8, 25.06), w(C, " that", 24.88, 25.04), w(C, " is", 25.04, 25.14),
        w(C, " all.", 25.14, 25.44),
    ]  # fmt: skip
    turns = words_to_turns(words)
    assert [(t.role, t.content) for t in turns] == [
        (A, "Anything else do?"),
        (C, "No, that is all."),
    ]
    assert turns[1].start_time is not None and turns[0].end_time is not None
    assert turns[1].start_time < turns[0].end_time  # still an overlap the metrics can see


def test_given_channel_wins() -> None:
    choice = choose_agent_channel([[SpeechInterval(0, 1)], [SpeechInterval(5, 6)]], given=1)
    assert (choice.agent_channel, choice.rule, choice.confidence) == (1, "given", 1.0)
    with pytest.raises(ValueError, match="0 or 1"):
        choose_agent_channel([[], []], given=2)


def test_first_speaker_confidence_grows_with_the_margin() -> None:
    close = choose_agent_channel([[SpeechInterval(0.5, 2)], [SpeechInterval(0.4, 2)]])
    clear = choose_agent_channel([[SpeechInterval(0.5, 2)], [SpeechInterval(3.0, 4)]])
    assert (close.agent_channel, clear.agent_channel) == (1, 0)
    assert close.confidence < 0.6 < 0.99 < clear.confidence + 1e-9
    assert "rule: first_speaker" in clear.note and "confidence" in clear.note


def test_description_outvotes_a_near_tie_and_agreeing_rules_combine() -> None:
    speech = [[SpeechInterval(0.45, 2)], [SpeechInterval(0.4, 2)]]
    texts = ["Thank you for calling Acme Dental, I can book your cleaning appointment",
             "Hi, I would like to come in next week"]  # fmt: skip
    description = "You are the receptionist of Acme Dental. Book cleaning appointments."
    choice = choose_agent_channel(speech, texts=texts, agent_description=description)
    assert (choice.agent_channel, choice.rule) == (0, "description")
    assert "rules disagree" in choice.note
    agree = choose_agent_channel(
        [[SpeechInterval(0.4, 2)], [SpeechInterval(0.9, 2)]], texts=texts,
        agent_description=description,
    )  # fmt: skip
    assert agree.agent_channel == 0 and agree.confidence > 0.9


def test_a_silent_channel_leaves_the_other() -> None:
    choice = choose_agent_channel([[], [SpeechInterval(1, 2)]])
    assert (choice.agent_channel, choice.rule) == (1, "only_speaker")


def test_two_voices_on_one_channel_are_told_apart(mono_call: SyntheticCall) -> None:
    samples = mono_call.mono()
    chunks = split_long(speech_intervals(samples, VadSettings(min_silence_seconds=0.2)), 2.0)
    attribution = attribute_speakers(samples, chunks)
    right = total = 0.0
    for chunk, role in attribution.chunks:
        middle = (chunk.start + chunk.end) / 2
        line = min(mono_call.lines, key=lambda p: abs((p.start + p.end) / 2 - middle))
        total += chunk.seconds
        right += chunk.seconds * (role == (AGENT if line.party == "agent" else CALLER))
    assert right / total >= 0.95
    assert attribution.chunks[0][1] == AGENT  # the voice heard first
    assert attribution.separation > 0.3


def test_split_long_cuts_evenly() -> None:
    pieces = split_long([SpeechInterval(0.0, 5.0), SpeechInterval(6.0, 7.0)], 2.0)
    assert [round(p.seconds, 3) for p in pieces] == [1.667, 1.667, 1.667, 1.0]


def test_wer_normalizes_formatting_only() -> None:
    same = word_error_rate(
        "he was not an ill disposed young man", "He was not an ill-disposed young man."
    )
    assert same.wer == 0.0
    off = word_error_rate("book a cleaning for next week", "work a cleaning next week please")
    assert (off.substitutions, off.deletions, off.insertions) == (1, 1, 1)
    assert off.wer == pytest.approx(3 / 6)
    assert word_error_rate("", "anything").wer is None
    # Numbers compare digit by digit, however they were written.
    assert word_error_rate("Tuesday at ten", "tuesday at 10").wer == 0.0
    assert word_error_rate("four one five, two six", "415-26").wer == 0.0
    assert word_error_rate("fifty", "15").wer == 1.0  # "5 0" against "1 5": two substitutions
    # A compound stays an error: "2 0 1" against "2 1", one deletion in three.
    assert word_error_rate("twenty one", "21").wer == pytest.approx(1 / 3, abs=1e-3)


def test_transcript_wer_per_party() -> None:
    reference = Transcript(turns=(Turn(role=A, content="How can I help?", start_time=0.0),
                                  Turn(role=C, content="Book a cleaning.", start_time=2.0)))  # fmt: skip
    heard = Transcript(turns=(Turn(role=A, content="How can I help", start_time=0.0),
                              Turn(role=C, content="Work a cleaning", start_time=2.0)))  # fmt: skip
    rates = transcript_wer(reference, heard)
    assert rates[A].wer == 0.0
    assert rates[C].wer == pytest.approx(1 / 3, abs=1e-3)
    assert rates["all"].errors == 1 and rates["all"].reference_words == 7
