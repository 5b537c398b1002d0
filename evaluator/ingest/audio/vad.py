"""Voice activity: where on one channel someone is speaking.

Two detectors. ``silero`` is the Silero VAD network that faster-whisper ships as ONNX (no
torch; no download): it tells speech from noise, music and line hum, which a level threshold
cannot. ``energy`` is a level threshold over 10 ms frames, relative to the channel's own
noise floor; it needs no model and is exact on clean audio, so it stays as the fallback and
the yardstick. Both merge pauses shorter than ``min_silence_seconds`` into one run of speech
(a breath or a comma is not the end of a turn) and drop blips shorter than
``min_speech_seconds`` (clicks, a cough).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from faster_whisper.vad import (  # type: ignore[import-untyped]
    VadOptions,
    get_speech_timestamps,
)
from numpy.typing import NDArray

from evaluator.ingest.audio.decode import SAMPLE_RATE

__all__ = ["SpeechInterval", "VadMethod", "VadSettings", "join_runs", "speech_intervals"]

VadMethod = Literal["silero", "energy"]
Samples = NDArray[np.float32]

_FRAME = SAMPLE_RATE // 100  # 10 ms
_BRIDGE = 8  # quiet frames (80 ms) that end an edge's outward walk


@dataclass(frozen=True, order=True)
class SpeechInterval:
    """Speech from ``start`` to ``end``, seconds from the start of the recording."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class VadSettings:
    """How speech is found. ``threshold`` is Silero's speech probability;
    ``energy_margin_db`` how far above the noise floor a frame must be for the energy
    detector (which also ignores anything quieter than ``floor_dbfs``)."""

    method: VadMethod = "silero"
    threshold: float = 0.5
    min_speech_seconds: float = 0.1
    min_silence_seconds: float = 0.5
    energy_margin_db: float = 6.0
    floor_dbfs: float = -55.0
    refine_seconds: float = 0.3


def speech_intervals(samples: Samples, settings: VadSettings | None = None) -> list[SpeechInterval]:
    """The runs of speech on one 16 kHz channel, in time order and never overlapping."""
    settings = settings or VadSettings()
    if samples.size == 0:
        return []
    levels = _frame_levels(samples)
    cutoff = _cutoff(levels, settings)
    if settings.method == "silero":
        raw = _silero(samples, settings)
        if settings.refine_seconds > 0:
            raw = [_refine(i, levels, cutoff, settings.refine_seconds) for i in raw]
    else:
        raw = _energy(levels, cutoff)
    return join_runs(raw, settings.min_silence_seconds, settings.min_speech_seconds)


def _silero(samples: Samples, settings: VadSettings) -> list[SpeechInterval]:
    # No padding: the boundaries are measured, not widened for a transcriber's benefit.
    # Silero's own min-silence is set to ours so its runs already bridge short pauses.
    options = VadOptions(
        threshold=settings.threshold,
        min_speech_duration_ms=int(settings.min_speech_seconds * 1000),
        min_silence_duration_ms=int(settings.min_silence_seconds * 1000),
        speech_pad_ms=0,
    )
    stamps = get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
    return [SpeechInterval(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def _frame_levels(samples: Samples) -> NDArray[np.float64]:
    """Level in dBFS of each 10 ms frame."""
    frames = len(samples) // _FRAME
    power = np.mean(samples[: frames * _FRAME].reshape(frames, _FRAME) ** 2, axis=1)
    return np.asarray(10.0 * np.log10(power + 1e-12), dtype=np.float64)


def _cutoff(levels: NDArray[np.float64], settings: VadSettings) -> float:
    """The level a speech frame must pass: ``energy_margin_db`` over the channel's noise
    floor (the quiet end of its own levels: a telephone line's hiss sits well above
    digital silence), never below ``floor_dbfs``, never within 20 dB of the peak (a channel
    that is nearly all speech has no quiet end)."""
    if levels.size == 0:
        return settings.floor_dbfs
    floor = float(np.percentile(levels, 10))
    ceiling = float(np.max(levels)) - 20.0
    return max(min(floor + settings.energy_margin_db, ceiling), settings.floor_dbfs)


def _energy(levels: NDArray[np.float64], cutoff: float) -> list[SpeechInterval]:
    active = levels > cutoff
    edges = np.flatnonzero(np.diff(np.concatenate(([0], active.astype(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    return [SpeechInterval(s * 0.01, e * 0.01) for s, e in zip(starts, ends, strict=True)]


def _refine(
    interval: SpeechInterval, levels: NDArray[np.float64], cutoff: float, reach: float
) -> SpeechInterval:
    """Silero decides where speech is, in 32 ms windows and a little late at onsets; the
    frame levels then place each edge to 10 ms: moved out to the farthest loud frame within
    ``reach`` seconds that no quiet stretch of ``_BRIDGE`` or more separates from the run
    (a stop consonant's closure is a short dip, not the edge), or in past quiet frames."""
    loud = levels > cutoff
    steps = int(reach * 100)
    first, last = int(interval.start * 100), min(int(interval.end * 100), len(loud)) - 1
    if last < first:
        return interval
    start = _outward(loud, first, -1, steps)
    end = _outward(loud, last, +1, steps)
    while start < last and start - first < steps and not loud[start]:
        start += 1
    while end > start and last - end < steps and not loud[end]:
        end -= 1
    return SpeechInterval(start * 0.01, (end + 1) * 0.01)


def _outward(loud: NDArray[np.bool_], edge: int, step: int, steps: int) -> int:
    """The farthest loud frame from ``edge`` in direction ``step``, within ``steps`` frames,
    reached without crossing ``_BRIDGE`` quiet frames in a row (``edge`` when there is none)."""
    farthest, quiet, at = edge, 0, edge + step
    while 0 <= at < len(loud) and abs(at - edge) <= steps and quiet < _BRIDGE:
        if loud[at]:
            farthest, quiet = at, 0
        else:
            quiet += 1
        at += step
    return farthest


def join_runs(
    intervals: list[SpeechInterval], min_silence_seconds: float, min_speech_seconds: float = 0.0
) -> list[SpeechInterval]:
    """Intervals sorted, those separated by less than ``min_silence_seconds`` joined, and
    runs shorter than ``min_speech_seconds`` dropped."""
    merged: list[SpeechInterval] = []
    for interval in sorted(intervals):
        if merged and interval.start - merged[-1].end < min_silence_seconds:
            last = merged[-1]
            merged[-1] = SpeechInterval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return [i for i in merged if i.seconds >= min_speech_seconds]
