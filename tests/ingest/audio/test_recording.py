"""A recording at intake: measured only when a transcript came with it, transcribed when
none did, and silenced before storage when PII must be redacted."""

from __future__ import annotations

from typing import Any

import pytest

from evaluator.contract import ObserveRequest
from evaluator.ingest.audio.decode import AudioLimits
from evaluator.ingest.recording import needs_transcription, process_recording
from evaluator.transcript import AGENT, CALLER
from tests.ingest.audio.fixtures import RememberingSTT

LIMITS = AudioLimits(max_bytes=50 * 1024 * 1024, max_seconds=600)


def _request(**fields: Any) -> ObserveRequest:
    return ObserveRequest.model_validate({"call_id": "c1", "agent": 1, **fields})


def test_a_recording_with_a_transcript_is_measured_not_transcribed(stereo_wav: bytes) -> None:
    asked: list[str] = []

    def never() -> Any:
        asked.append("stt")
        raise AssertionError("no transcription needed")

    request = _request(transcript_json=[{"role": "Main Agent", "content": "Hello"}])
    assert not needs_transcription(request)
    outcome = process_recording(stereo_wav, "audio/wav", request, stt=never, limits=LIMITS)
    assert asked == [] and outcome.transcript is None
    assert outcome.stored == stereo_wav  # kept as sent
    assert outcome.audio.timing.handoffs  # timing from the signal
    assert outcome.audio.duration > 5


def test_a_recording_without_a_transcript_becomes_the_calls_transcript(
    stereo_wav: bytes, stt: RememberingSTT
) -> None:
    request = _request(transcript_type="none-mono", voice_recording_url="http://x/a.wav")
    assert needs_transcription(request)
    outcome = process_recording(stereo_wav, "audio/wav", request, stt=lambda: stt, limits=LIMITS)
    assert outcome.transcript is not None
    assert {t.role for t in outcome.transcript.turns} == {AGENT, CALLER}


def test_redaction_stores_only_silenced_audio(stereo_wav: bytes, stt: RememberingSTT) -> None:
    request = _request(
        transcript_json=[{"role": "Main Agent", "content": "Hello"}],
        redact_fields=["phone_number"],
    )
    outcome = process_recording(stereo_wav, "audio/wav", request, stt=lambda: stt, limits=LIMITS)
    assert outcome.transcript is None  # the call keeps the transcript it came with
    assert outcome.content_type == "audio/flac"
    assert outcome.stored != stereo_wav
    assert outcome.transcription is not None


@pytest.mark.parametrize("transcript_type", ["cekura", "none-mono"])
def test_none_mono_is_read_as_one_mixed_signal(transcript_type: str) -> None:
    request = _request(transcript_type=transcript_type, voice_recording_url="http://x/a.wav")
    assert needs_transcription(request)
