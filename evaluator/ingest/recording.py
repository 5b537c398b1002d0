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

from evaluator.catalogue.definitions import Catalogue
from evaluator.contract import AUDIO_ONLY, ObserveRequest
from evaluator.errors import UnknownIdError
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

__all__ = [
    "RecordingOutcome",
    "agent_description",
    "audio_only",
    "needs_transcription",
    "process_recording",
]


@dataclass(frozen=True)
class RecordingOutcome:
    """``transcript``: ours, when the call came without one. ``audio``: duration and timing
    (None when the recording could not be used: ``notes`` say why). ``stored``: the bytes
    that may be kept (silenced where PII was found when redaction was asked for), with their
    content type. ``heard``: our transcript whenever we transcribed (for the
    transcription-accuracy metric), redacted when redaction was asked for; the call's
    ``transcript`` is that same redacted text. ``transcription``: the full result (words and
    their times, unredacted): never stored. ``notes``: what the call's notes should say about
    the recording beyond what the transcript's notes say."""

    audio: CallAudio | None
    stored: bytes = b""
    content_type: str | None = None
    transcript: Transcript | None = None
    transcription: AudioTranscription | None = None
    heard: Transcript | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def unused(cls, reason: str) -> RecordingOutcome:
        """A recording that came beside a transcript and could not be used: the call is
        judged on its transcript alone, and its notes say why."""
        note = f"recording not used ({reason}); timing from the transcript's timestamps"
        return cls(audio=None, notes=(note,))


def needs_transcription(request: ObserveRequest, *, check_transcript: bool = False) -> bool:
    """Whether the recording must be transcribed: no transcript came, or PII must be found in
    the audio itself to silence it, or (``check_transcript``) ours is wanted beside the
    provider's to measure how well the agent's own speech-to-text heard the call."""
    return audio_only(request) or bool(request.redact_fields) or check_transcript


def audio_only(request: ObserveRequest) -> bool:
    """The call came without a transcript: its recording must give it one."""
    return request.transcript_type == AUDIO_ONLY or request.transcript_json is None


def agent_description(catalogue: Catalogue, request: ObserveRequest) -> str | None:
    """The description of the agent the request names (for telling its channel by what it
    says), or None when it names none the catalogue knows."""
    try:
        if request.agent is not None:
            return catalogue.agent(request.agent).description
        if request.assistant_id is not None:
            return catalogue.agent_by_assistant(request.assistant_id).description
    except UnknownIdError:
        return None
    return None


def process_recording(
    data: bytes,
    content_type: str | None,
    request: ObserveRequest,
    *,
    stt: Callable[[], SpeechToText],
    limits: AudioLimits,
    agent_description: str | None = None,
    progress: ProgressCallback | None = None,
    check_transcript: bool = False,
) -> RecordingOutcome:
    """Read, measure and (when needed) transcribe and redact one recording. ``stt`` is called
    only when transcription is needed (``check_transcript``: also for a call that came with
    a transcript). Raises the ``AudioError`` family (each names its field:
    ``voice_recording`` or ``voice_recording_url``)."""
    mono = request.transcript_type == AUDIO_ONLY
    if not needs_transcription(request, check_transcript=check_transcript):
        audio = measure_call_audio(
            data, agent_channel=request.main_agent_channel_index, mono=mono, limits=limits
        )
        return RecordingOutcome(
            audio=audio, stored=data, content_type=content_type, notes=audio.notes
        )
    heard = transcribe_call(
        data, agent_channel=request.main_agent_channel_index, mono=mono, stt=stt(),
        limits=limits, progress=progress, agent_description=agent_description,
    )  # fmt: skip
    stored, stored_type, ours = data, content_type, heard.transcript
    if request.redact_fields:
        ours, _report = redact_transcript(heard.transcript, request.redact_fields)
        silenced = heard.redaction_words(ours)
        stored = redact_recording(data, silenced, limits=limits, fmt="flac")
        stored_type = "audio/flac"
    return RecordingOutcome(
        audio=heard,
        stored=stored,
        content_type=stored_type,
        transcript=ours if audio_only(request) else None,
        transcription=heard,
        heard=ours,
        # An audio-only call's transcript carries the recording's notes; otherwise they are
        # the call's own.
        notes=() if audio_only(request) else heard.notes,
    )
