"""A call's recording at intake: what it says, and what of it may be stored.

- No transcript (``transcript_type: none-mono``, or no ``transcript_json``): the recording is
  transcribed (stereo: each channel on its own, merged by time; mono: two voices told apart)
  and our transcript becomes the call's.
- With a transcript: the transcript stays the call's text; the recording gives the duration
  and the timing metrics (voice activity per channel).
- With ``redact_fields``: the recording is transcribed for word times, the PII found in that
  text is silenced, and only the silenced audio is returned for storage: the unredacted
  recording never reaches storage.

Plain synchronous CPU work: callers run it in a worker thread or process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evaluator.contract import AUDIO_ONLY, ObserveRequest
from evaluator.ingest.audio.decode import AudioLimits
from evaluator.ingest.audio.pipeline import (
    AudioTranscription,
    CallAudio,
    ProgressCallback,
    measure_call_audio,
    transcribe_call,
)
from evaluator.ingest.audio.redact_audio import redact_recording
from evaluator.ingest.audio.stt import SpeechToText
from evaluator.redact.mask import redact_transcript
from evaluator.transcript import Transcript

__all__ = ["RecordingOutcome", "needs_transcription", "process_recording"]


@dataclass(frozen=True)
class RecordingOutcome:
    """``transcript``: ours, when the call came without one. ``audio``: duration and timing.
    ``stored``: the bytes that may be kept (silenced where PII was found when redaction was
    asked for), with their content type."""

    audio: CallAudio
    stored: bytes
    content_type: str | None
    transcript: Transcript | None = None
    transcription: AudioTranscription | None = None


def needs_transcription(request: ObserveRequest) -> bool:
    """Whether the recording must be transcribed: no transcript came, or PII must be found in
    the audio itself to silence it."""
    return _audio_only(request) or bool(request.redact_fields)


def _audio_only(request: ObserveRequest) -> bool:
    return request.transcript_type == AUDIO_ONLY or request.transcript_json is None


def process_recording(
    data: bytes,
    content_type: str | None,
    request: ObserveRequest,
    *,
    stt: Callable[[], SpeechToText],
    limits: AudioLimits,
    agent_description: str | None = None,
    progress: ProgressCallback | None = None,
) -> RecordingOutcome:
    """Read, measure and (when needed) transcribe and redact one recording. ``stt`` is called
    only when transcription is needed. Raises the ``AudioError`` family (each names its
    field: ``voice_recording`` or ``voice_recording_url``)."""
    mono = request.transcript_type == AUDIO_ONLY
    if not needs_transcription(request):
        audio = measure_call_audio(
            data, agent_channel=request.main_agent_channel_index, mono=mono, limits=limits
        )
        return RecordingOutcome(audio=audio, stored=data, content_type=content_type)
    heard = transcribe_call(
        data, agent_channel=request.main_agent_channel_index, mono=mono, stt=stt(),
        limits=limits, progress=progress, agent_description=agent_description,
    )  # fmt: skip
    stored, stored_type = data, content_type
    if request.redact_fields:
        redacted, _report = redact_transcript(heard.transcript, request.redact_fields)
        silenced = heard.redaction_words(redacted)
        stored = redact_recording(data, silenced, limits=limits, fmt="flac")
        stored_type = "audio/flac"
    return RecordingOutcome(
        audio=heard,
        stored=stored,
        content_type=stored_type,
        transcript=heard.transcript if _audio_only(request) else None,
        transcription=heard,
    )
