"""Recording bytes → float32 PCM at 16 kHz, one array per channel.

PyAV (FFmpeg) reads every common container and codec: WAV (PCM, 8 kHz μ-law/A-law telephony),
MP3, M4A/AAC, Ogg/Opus/Vorbis, FLAC, and the audio track of a video file. Everything downstream
(voice activity, speech-to-text, timing) works on 16 kHz because that is what Whisper and
Silero expect; the source rate and codec are kept for the notes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import av
import av.error
import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    NotAudioError,
    SilentAudioError,
    UnsupportedAudioError,
)

__all__ = [
    "SAMPLE_RATE",
    "AudioInfo",
    "AudioLimits",
    "DecodedAudio",
    "check_audio",
    "decode_audio",
    "peak_dbfs",
]

SAMPLE_RATE = 16_000
Samples = NDArray[np.float32]

# Below this a decoded file is taken to be truncated rather than a (very short) call.
_MIN_SECONDS = 0.1


@dataclass(frozen=True)
class AudioLimits:
    """Caps a recording must satisfy; the service builds this from its settings.

    ``silence_dbfs``: a recording whose peak stays below this level on every channel is
    silent (digital silence or line hiss, never speech).
    """

    max_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 4 * 3600.0
    silence_dbfs: float = -60.0


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A decoded recording: ``channels`` holds one float32 array per channel at 16 kHz."""

    channels: tuple[Samples, ...]
    source_rate: int
    codec: str
    container: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.channels[0]) / SAMPLE_RATE

    @property
    def is_stereo(self) -> bool:
        return len(self.channels) == 2

    def mono(self) -> Samples:
        """The channels averaged (a stereo call listened to as one signal)."""
        if len(self.channels) == 1:
            return self.channels[0]
        mixed: Samples = np.mean(np.stack(self.channels), axis=0).astype(np.float32)
        return mixed

    def describe(self) -> str:
        """One line for the notes: what was decoded."""
        layout = "stereo" if self.is_stereo else "mono"
        return (
            f"recording: {self.container}/{self.codec}, {layout}, {self.source_rate} Hz, "
            f"{self.duration:.1f} s"
        )


def decode_audio(data: bytes, limits: AudioLimits | None = None) -> DecodedAudio:
    """Decode a recording held in memory into 16 kHz float32 channels (mono or stereo).

    Raises ``AudioTooLargeError`` before decoding when ``data`` is over ``limits.max_bytes``,
    ``AudioTooLongError`` as soon as the duration (announced or decoded) passes
    ``limits.max_seconds``, ``NotAudioError`` for bytes no decoder recognizes or that hold
    no audio stream, ``UnsupportedAudioError`` for an unknown codec or more than two
    channels, ``CorruptAudioError`` for a stream that fails part-way or decodes to nothing,
    and ``SilentAudioError`` when every channel peaks below ``limits.silence_dbfs``.
    """
    limits = limits or AudioLimits()
    with _opened(data, limits) as container:
        stream, channels = _audio_stream(container, limits)
        pieces = list(_resampled(container, stream, channels, limits))
        decoded = _joined(pieces, container, stream)
    _not_silent(max(peak_dbfs(channel) for channel in decoded.channels), limits)
    return decoded


@dataclass(frozen=True)
class AudioInfo:
    """What ``check_audio`` found: the decoded length, layout and format."""

    duration: float
    channels: int
    source_rate: int
    codec: str
    container: str


def check_audio(data: bytes, limits: AudioLimits | None = None) -> AudioInfo:
    """Everything ``decode_audio`` checks (size, container, codec, channels, duration cap,
    a stream that decodes to the end, not silent), decoding the stream once without keeping
    the samples: memory stays flat whatever the length. For intake, which must refuse a bad
    upload before storing it. Raises the same errors as ``decode_audio``."""
    limits = limits or AudioLimits()
    with _opened(data, limits) as container:
        stream, channels = _audio_stream(container, limits)
        samples, peak = 0, float("-inf")
        for piece in _resampled(container, stream, channels, limits):
            samples += piece.shape[1]
            peak = max(peak, peak_dbfs(piece))
        if samples < _MIN_SECONDS * SAMPLE_RATE:
            raise CorruptAudioError(_truncated(samples))
        info = AudioInfo(samples / SAMPLE_RATE, channels, stream.codec_context.sample_rate,
                         stream.codec_context.name, container.format.name)  # fmt: skip
    _not_silent(peak, limits)
    return info


def _opened(data: bytes, limits: AudioLimits) -> av.container.InputContainer:
    if len(data) > limits.max_bytes:
        raise AudioTooLargeError(len(data), limits.max_bytes)
    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError) as exc:
        raise NotAudioError(
            "not a recording this engine can read (expected WAV, MP3, M4A, Ogg, FLAC, ...)"
        ) from exc


def _not_silent(peak: float, limits: AudioLimits) -> None:
    if peak < limits.silence_dbfs:
        raise SilentAudioError(
            f"the recording is silent (peak {peak:.0f} dBFS on every channel, below "
            f"{limits.silence_dbfs:.0f} dBFS); nothing to transcribe or time"
        )


def _truncated(samples: int) -> str:
    if not samples:
        return "the audio stream decodes to nothing; is the file truncated?"
    return f"the audio stream decodes to {samples / SAMPLE_RATE:.2f} s only; is the file truncated?"


def _audio_stream(
    container: av.container.InputContainer, limits: AudioLimits
) -> tuple[av.AudioStream, int]:
    """The first audio stream and its channel count, once the container's header passes."""
    if not container.streams.audio:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
        raise NotAudioError(f"the file holds no audio ({container.format.name}: {kinds})")
    stream = container.streams.audio[0]
    context = stream.codec_context
    if context is None:
        raise UnsupportedAudioError(
            f"the audio codec in this {container.format.name} file is not supported; "
            "re-encode it as WAV (PCM), MP3, FLAC or Ogg"
        )
    channels = context.channels
    if channels not in (1, 2):
        raise UnsupportedAudioError(
            f"{channels} audio channels; expected mono, or stereo with one party per channel"
        )
    # The header's duration is checked first so an over-long file costs no decoding; the
    # decoded length is checked too, because a header can say anything.
    announced = container.duration / 1_000_000 if container.duration else 0.0
    if announced > limits.max_seconds:
        raise AudioTooLongError(announced, limits.max_seconds)
    return stream, channels


def _joined(
    pieces: list[Samples], container: av.container.InputContainer, stream: av.AudioStream
) -> DecodedAudio:
    if not pieces:
        raise CorruptAudioError(_truncated(0))
    planes = np.concatenate(pieces, axis=1)
    if planes.shape[1] < _MIN_SECONDS * SAMPLE_RATE:
        raise CorruptAudioError(_truncated(planes.shape[1]))
    return DecodedAudio(
        channels=tuple(np.ascontiguousarray(plane) for plane in planes),
        source_rate=stream.codec_context.sample_rate,
        codec=stream.codec_context.name,
        container=container.format.name,
    )


def _resampled(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    channels: int,
    limits: AudioLimits,
) -> Iterator[Samples]:
    """Planar float32 pieces of shape (channels, n) at 16 kHz, flushed at the end."""
    resampler = av.AudioResampler(
        format="fltp", layout="mono" if channels == 1 else "stereo", rate=SAMPLE_RATE
    )
    cap = int(limits.max_seconds * SAMPLE_RATE)
    total = 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                piece = out.to_ndarray().astype(np.float32, copy=False)
                total += piece.shape[1]
                if total > cap:
                    raise AudioTooLongError(total / SAMPLE_RATE, limits.max_seconds)
                yield piece
        for out in resampler.resample(None):
            yield out.to_ndarray().astype(np.float32, copy=False)
    except av.error.FFmpegError as exc:
        raise CorruptAudioError(
            f"the {stream.codec_context.name} stream fails to decode after "
            f"{total / SAMPLE_RATE:.1f} s ({exc.strerror}); the file is damaged or truncated"
        ) from exc


def peak_dbfs(samples: Samples) -> float:
    """The peak level of ``samples`` in dB relative to full scale (-inf for all zeros)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")
