"""The whole pipeline with the real bundled Whisper model on the synthetic calls: turns by
party, the channel index, two voices on mono, and the recording's redaction. Each distinct
channel is transcribed once per session (``RememberingSTT``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from evaluator.ingest.audio import (
    SAMPLE_RATE,
    AudioLimits,
    AudioTranscription,
    decode_audio,
    redact_recording,
    transcribe_call,
    word_error_rate,
)
from evaluator.redact.detect import detect
from evaluator.redact.mask import redact_transcript
from evaluator.transcript import AGENT, CALLER
from tests.ingest.audio.fixtures import RememberingSTT
from tests.ingest.audio.synth import SyntheticCall

LIMITS = AudioLimits()


@dataclass
class Transcribed:
    result: AudioTranscription
    progress: list[tuple[float, float]]


@pytest.fixture(scope="session")
def stereo_transcribed(stereo_wav: bytes, stt: RememberingSTT) -> Transcribed:
    progress: list[tuple[float, float]] = []
    result = transcribe_call(
        stereo_wav,
        agent_channel=None,
        mono=False,
        stt=stt,
        limits=LIMITS,
        progress=lambda done, total: progress.append((done, total)),
    )
    return Transcribed(result, progress)


def _said(call: SyntheticCall, party: str) -> str:
    return " ".join(line.text for line in call.lines if line.party == party)


def test_stereo_channels_become_turns_by_party(
    stereo_transcribed: Transcribed, short_call: SyntheticCall
) -> None:
    result = stereo_transcribed.result
    assert result.agent_channel == 0 and result.transcript.provider == "audio"
    expected = [AGENT if line.party == "agent" else CALLER for line in short_call.lines]
    assert [t.role for t in result.transcript.turns] == expected
    for turn, line in zip(result.transcript.turns, short_call.lines, strict=True):
        # Whisper's word times are good to a few tenths of a second, not to VAD's 10 ms.
        assert turn.start_time == pytest.approx(line.start, abs=0.5)
    # The caller spells a phone number out ("four one five, ...") and Whisper writes digits
    # ("415-555-..."): a dozen words against four, so the caller's bound is looser.
    for party, role, bound in (("agent", AGENT, 0.3), ("caller", CALLER, 0.5)):
        heard = " ".join(t.content for t in result.transcript.turns if t.role == role)
        rate = word_error_rate(_said(short_call, party), heard)
        assert rate.wer is not None and rate.wer < bound, (party, heard)
    assert any("rule: first_speaker" in note for note in result.notes)
    assert any("speech-to-text: whisper:base" in note for note in result.notes)


def test_progress_runs_up_to_every_channel_transcribed(
    stereo_transcribed: Transcribed, short_call: SyntheticCall
) -> None:
    done = [d for d, _ in stereo_transcribed.progress]
    assert done == sorted(done)
    for _, total in stereo_transcribed.progress:
        assert total == pytest.approx(2 * short_call.duration, abs=0.05)
    assert done[-1] == pytest.approx(2 * short_call.duration, abs=0.05)


def test_words_carry_party_channel_and_time(stereo_transcribed: Transcribed) -> None:
    words = stereo_transcribed.result.words
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert {(w.role, w.channel) for w in words} == {(AGENT, 0), (CALLER, 1)}
    assert sum(len(group) for group in stereo_transcribed.result.turn_words) == len(words)


def test_the_channel_index_swaps_the_roles(
    stereo_wav: bytes, swapped_wav: bytes, stt: RememberingSTT, stereo_transcribed: Transcribed
) -> None:
    detected = stereo_transcribed.result.transcript.turns
    swapped = transcribe_call(swapped_wav, agent_channel=1, mono=False, stt=stt, limits=LIMITS)
    assert [(t.role, t.content) for t in swapped.transcript.turns] == [
        (t.role, t.content) for t in detected
    ]
    forced = transcribe_call(stereo_wav, agent_channel=1, mono=False, stt=stt, limits=LIMITS)
    flip = {AGENT: CALLER, CALLER: AGENT}
    assert [(t.role, t.content) for t in forced.transcript.turns] == [
        (flip[t.role], t.content) for t in detected
    ]
    assert any("given by main_agent_channel_index" in n for n in forced.notes)


def test_mono_words_are_attributed_to_the_right_voice(
    mono_wav: bytes, mono_call: SyntheticCall, stt: RememberingSTT
) -> None:
    result = transcribe_call(mono_wav, agent_channel=None, mono=True, stt=stt, limits=LIMITS)
    assert result.channels == 1 and result.agent_channel is None
    right = 0
    for word in result.words:
        middle = (word.start + word.end) / 2
        line = min(mono_call.lines, key=lambda p: abs((p.start + p.end) / 2 - middle))
        right += word.role == (AGENT if line.party == "agent" else CALLER)
    assert len(result.words) >= 50
    assert right / len(result.words) >= 0.95
    assert [t.role for t in result.transcript.turns][:2] == [AGENT, CALLER]
    assert any("k-means" in note for note in result.notes)


def test_redacted_recording_no_longer_says_the_phone_number(
    stereo_wav: bytes, stereo_transcribed: Transcribed, stt: RememberingSTT
) -> None:
    result = stereo_transcribed.result
    caller_text = " ".join(t.content for t in result.transcript.turns if t.role == CALLER)
    assert detect(caller_text, ["phone_number"]), caller_text  # heard, so there is a leak to stop
    redacted, _ = redact_transcript(result.transcript, ["phone_number"])
    words = result.redaction_words(redacted)
    assert words and {w.role for w in words} == {CALLER}

    cleaned = decode_audio(redact_recording(stereo_wav, words))
    for channel in cleaned.channels:
        first, last = int(words[0].start * SAMPLE_RATE), int(words[-1].end * SAMPLE_RATE)
        assert not np.any(channel[first:last])
    again = stt.inner.transcribe(cleaned.channels[1]).text
    assert detect(again, ["phone_number"]) == [], again
    assert not any(digits in again for digits in ("415", "555", "267", "2671"))
    assert "cleaning" in again.lower()  # the rest of the caller's speech is still there


@pytest.mark.slow
def test_telephony_audio_is_still_understood(
    ulaw_wav: bytes, short_call: SyntheticCall, stt: RememberingSTT
) -> None:
    """8 kHz μ-law halves the bandwidth Whisper hears; the agent's words should survive."""
    agent = decode_audio(ulaw_wav).channels[0]
    heard = stt.inner.transcribe(agent).text
    rate = word_error_rate(_said(short_call, "agent"), heard)
    assert rate.wer is not None and rate.wer < 0.35, heard
