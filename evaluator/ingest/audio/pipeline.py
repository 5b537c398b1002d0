"""A call's recording → timing, and with a transcriber, the canonical transcript.

``measure_call_audio`` is for a recording sent with a transcript: the transcript stays the
call's text and the recording gives duration and timing (voice activity per channel).
``transcribe_call`` is for a recording without one: each stereo channel is transcribed on its
own and merged by time; a mono recording is transcribed once and its words attributed to the
two voices. Both are plain synchronous CPU work for a worker thread or process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.channels import choose_agent_channel
from evaluator.ingest.audio.decode import SAMPLE_RATE, AudioLimits, DecodedAudio, decode_audio
from evaluator.ingest.audio.errors import SilentAudioError
from evaluator.ingest.audio.merge import TimedWord, group_words, turn_of
from evaluator.ingest.audio.redact_audio import redacted_words
from evaluator.ingest.audio.speakers import Attribution, attribute_speakers, split_long
from evaluator.ingest.audio.stt import Progress, SpeechToText, SttResult, Word
from evaluator.ingest.audio.timing import AudioTiming, measure_timing
from evaluator.ingest.audio.vad import SpeechInterval, VadSettings, join_runs, speech_intervals
from evaluator.transcript import AGENT, CALLER, Role, Transcript

__all__ = [
    "AudioSettings",
    "AudioTranscription",
    "CallAudio",
    "ProgressCallback",
    "measure_call_audio",
    "transcribe_call",
]

ProgressCallback = Callable[[float, float], None]
"""Called with (seconds of audio transcribed so far, seconds to transcribe in all)."""

# Channels this alike carry the same signal: a mono call saved as stereo.
_DUPLICATE_CORRELATION = 0.98


@dataclass(frozen=True)
class AudioSettings:
    """Tunables: voice activity, mono chunking (pauses that cut chunks, longest chunk), and
    the pause that ends a turn."""

    vad: VadSettings = field(default_factory=VadSettings)
    chunk_silence_seconds: float = 0.2
    max_chunk_seconds: float = 2.0
    max_pause_seconds: float = 1.5


@dataclass(frozen=True)
class CallAudio:
    """What the recording alone says: its length, layout, the agent's channel (stereo),
    the timing metrics, and notes on how each was found."""

    duration: float
    channels: int
    agent_channel: int | None
    timing: AudioTiming
    notes: tuple[str, ...]


@dataclass(frozen=True)
class AudioTranscription(CallAudio):
    """A transcribed call: ``transcript`` (provider ``audio``) has one turn per group in
    ``turn_words``; ``words`` are every recognized word with its party and time."""

    transcript: Transcript
    words: tuple[TimedWord, ...]
    turn_words: tuple[tuple[TimedWord, ...], ...]
    stt_model: str

    def redaction_words(self, redacted: Transcript) -> list[TimedWord]:
        """The words that text redaction removed from this transcript, given the redacted
        copy of it (``redact_transcript(self.transcript, ...)``): the spans to silence."""
        return [
            word
            for group, turn in zip(self.turn_words, redacted.turns, strict=True)
            for word in redacted_words(group, turn.content)
        ]


@dataclass(frozen=True)
class _Layout:
    """The decoded call read as stereo (runs per channel) or mono (chunks attributed)."""

    decoded: DecodedAudio
    runs: tuple[list[SpeechInterval], ...]
    attribution: Attribution | None
    notes: tuple[str, ...]


def measure_call_audio(
    audio_bytes: bytes,
    *,
    agent_channel: int | None,
    mono: bool,
    limits: AudioLimits,
    settings: AudioSettings | None = None,
) -> CallAudio:
    """Duration and timing metrics of a recording, without transcribing it. On stereo the
    agent's channel is ``agent_channel`` or, when None, the channel heard first."""
    settings = settings or AudioSettings()
    layout = _read(audio_bytes, mono=mono, limits=limits, settings=settings)
    if layout.attribution is not None:
        return _mono_audio(layout, settings)
    choice = choose_agent_channel(layout.runs, given=agent_channel)
    return _stereo_audio(layout, choice.agent_channel, (choice.note,))


def transcribe_call(
    audio_bytes: bytes,
    *,
    agent_channel: int | None,
    mono: bool,
    stt: SpeechToText,
    limits: AudioLimits,
    progress: ProgressCallback | None = None,
    agent_description: str | None = None,
    settings: AudioSettings | None = None,
) -> AudioTranscription:
    """Transcribe a call's recording into canonical turns, with timing and notes.

    ``agent_channel`` is the request's ``main_agent_channel_index`` (None: detected);
    ``mono`` reads a two-channel file as one mixed signal (two channels that carry the same
    signal are read so anyway). Raises the ``AudioError`` family: bad or over-cap input,
    no speech on any channel, or a transcriber failure (``SpeechToTextError``)."""
    settings = settings or AudioSettings()
    layout = _read(audio_bytes, mono=mono, limits=limits, settings=settings)
    decoded = layout.decoded
    signals = [decoded.mono()] if layout.attribution is not None else list(decoded.channels)
    heard = _transcribe_all(signals, layout.runs, stt, progress)
    audio, words = _attributed(layout, heard, settings, agent_channel, agent_description)
    groups = group_words(words, max_pause=settings.max_pause_seconds)
    how = "" if layout.attribution is not None else ", channel by channel"
    notes = (*audio.notes, f"speech-to-text: {stt.name}, word timestamps{how}")
    transcript = Transcript(turns=tuple(turn_of(g) for g in groups), provider="audio", notes=notes)
    words.sort(key=lambda w: w.start)
    return AudioTranscription(
        duration=audio.duration,
        channels=audio.channels,
        agent_channel=audio.agent_channel,
        timing=audio.timing,
        notes=notes,
        transcript=transcript,
        words=tuple(words),
        turn_words=tuple(groups),
        stt_model=stt.name,
    )


def _attributed(
    layout: _Layout,
    heard: list[SttResult],
    settings: AudioSettings,
    agent_channel: int | None,
    agent_description: str | None,
) -> tuple[CallAudio, list[TimedWord]]:
    """What the signal says, and every word with its party: on mono by the voice of the
    chunk it falls in, on stereo by its channel once the agent's channel is settled."""
    if layout.attribution is not None:
        attribution = layout.attribution
        words = [_timed(w, attribution.role_at(w.start, w.end), None) for w in heard[0].words]
        return _mono_audio(layout, settings), words
    choice = choose_agent_channel(
        layout.runs,
        given=agent_channel,
        texts=[r.text for r in heard],
        agent_description=agent_description,
    )
    words = [
        _timed(w, AGENT if index == choice.agent_channel else CALLER, index)
        for index, result in enumerate(heard)
        for w in result.words
    ]
    return _stereo_audio(layout, choice.agent_channel, (choice.note,)), words


def _read(
    audio_bytes: bytes, *, mono: bool, limits: AudioLimits, settings: AudioSettings
) -> _Layout:
    decoded = decode_audio(audio_bytes, limits)
    notes = [decoded.describe()]
    as_mono = len(decoded.channels) == 1 or mono or _duplicated(decoded.channels)
    if as_mono and decoded.is_stereo:
        reason = "as asked" if mono else "its two channels carry the same signal"
        notes.append(f"stereo recording read as one mixed signal ({reason})")
    if not as_mono:
        runs = tuple(speech_intervals(c, settings.vad) for c in decoded.channels)
        if not any(runs):
            raise SilentAudioError("no speech found on either channel of the recording")
        notes.append(_vad_note(settings.vad, "per channel"))
        return _Layout(decoded, runs, None, tuple(notes))
    samples = decoded.mono()
    chunking = replace(settings.vad, min_silence_seconds=settings.chunk_silence_seconds)
    chunks = split_long(speech_intervals(samples, chunking), settings.max_chunk_seconds)
    if not chunks:
        raise SilentAudioError("no speech found in the recording")
    attribution = attribute_speakers(samples, chunks)
    notes.extend([_vad_note(settings.vad, "on the mixed signal"), attribution.note()])
    return _Layout(decoded, (chunks,), attribution, tuple(notes))


def _duplicated(channels: Sequence[NDArray[np.float32]]) -> bool:
    if len(channels) != 2:
        return False
    left, right = channels
    spread = float(np.std(left)) * float(np.std(right))
    if spread == 0:
        return False
    correlation = float(np.mean((left - left.mean()) * (right - right.mean()))) / spread
    return correlation > _DUPLICATE_CORRELATION


def _vad_note(vad: VadSettings, where: str) -> str:
    method = (
        "Silero VAD (faster-whisper's ONNX model), edges placed on 10 ms frame levels"
        if vad.method == "silero"
        else "frame level over the noise floor"
    )
    return (f"voice activity {where}: {method}; pauses under {vad.min_silence_seconds:g} s "
            "do not end a run of speech")  # fmt: skip


def _stereo_audio(layout: _Layout, agent: int, notes: tuple[str, ...]) -> CallAudio:
    runs = layout.runs
    timing = measure_timing(runs[agent], runs[1 - agent], layout.decoded.duration)
    return CallAudio(layout.decoded.duration, 2, agent, timing, (*layout.notes, *notes))


def _mono_audio(layout: _Layout, settings: AudioSettings) -> CallAudio:
    attribution = layout.attribution
    chunks = attribution.chunks if attribution is not None else ()
    by_role: dict[Role, list[SpeechInterval]] = {AGENT: [], CALLER: []}
    for chunk, role in chunks:
        by_role[role].append(chunk)
    pause = settings.vad.min_silence_seconds
    timing = measure_timing(
        join_runs(by_role[AGENT], pause), join_runs(by_role[CALLER], pause), layout.decoded.duration
    )
    note = ("mono: overlapping speech is heard as one voice, so interruptions are not counted "
            "and hand-offs are read from the voice changes")  # fmt: skip
    return CallAudio(layout.decoded.duration, 1, None, timing, (*layout.notes, note))


def _transcribe_all(
    signals: Sequence[NDArray[np.float32]],
    runs: Sequence[list[SpeechInterval]],
    stt: SpeechToText,
    progress: ProgressCallback | None,
) -> list[SttResult]:
    """Each signal transcribed in turn (a channel without speech is skipped), progress
    reported across all of them."""
    total = sum(len(s) / SAMPLE_RATE for s, r in zip(signals, runs, strict=True) if r)
    done = 0.0
    results = []
    for signal, found in zip(signals, runs, strict=True):
        if not found:
            results.append(SttResult(words=(), model=stt.name))
            continue
        report = None if progress is None else _shifted(progress, done, total)
        results.append(stt.transcribe(signal, progress=report))
        done += len(signal) / SAMPLE_RATE
        if progress is not None:
            progress(done, total)
    return results


def _shifted(progress: ProgressCallback, offset: float, total: float) -> Progress:
    """One signal's progress as progress over all of them."""

    def report(seconds: float) -> None:
        progress(offset + seconds, total)

    return report


def _timed(word: Word, role: Role, channel: int | None) -> TimedWord:
    return TimedWord(role, word.text, word.start, word.end, channel, word.probability)
