"""Who speaks when on a mono recording: two-speaker attribution without a diarization model.

The speech is cut into chunks (voice activity with short pauses, long runs split into pieces
of at most ``max_chunk`` seconds so a turn change without a pause is still caught within
one piece). Each chunk is described by its voice: the mean and spread of its MFCCs (the
vocal tract's shape, loudness left out) and the median of its pitch (the strongest single cue
between two voices). The standardized descriptions are split into two groups by k-means,
and the group heard first is the agent, since agents greet first. Measured on the synthetic
two-voice set, see ``benchmarks/bench_audio.py``: a male and a female voice separate cleanly,
two voices of one pitch range do not. Overlapping speech cannot be separated this way: an
overlap goes to whoever dominates its chunk.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.decode import SAMPLE_RATE
from evaluator.ingest.audio.vad import SpeechInterval
from evaluator.transcript import AGENT, CALLER, Role

__all__ = ["Attribution", "attribute_speakers", "split_long"]

Samples = NDArray[np.float32]
_WIN, _HOP, _NFFT = 400, 160, 512  # 25 ms windows every 10 ms
_PITCH_WIN = 640  # 40 ms: two periods of a 50 Hz voice
_F0_RANGE = (60.0, 400.0)


@dataclass(frozen=True)
class Attribution:
    """Each chunk of speech with its party, in time order. ``separation`` is the mean
    simplified silhouette of the two groups (1: far apart, 0: indistinguishable)."""

    chunks: tuple[tuple[SpeechInterval, Role], ...]
    separation: float

    def role_at(self, start: float, end: float) -> Role:
        """The party of the chunk holding the middle of ``[start, end]`` (the nearest chunk
        when it falls in a pause)."""
        if not self.chunks:
            return AGENT
        middle = (start + end) / 2.0
        starts = [c.start for c, _ in self.chunks]
        at = max(0, bisect.bisect_right(starts, middle) - 1)
        candidates = self.chunks[at : at + 2]
        return min(candidates, key=lambda cr: _distance(cr[0], middle))[1]

    def note(self) -> str:
        return (
            f"mono recording: {len(self.chunks)} speech chunks split into two voices by "
            "k-means on pitch and MFCC statistics; the voice heard first is the agent; "
            f"separation {self.separation:.2f} (0 = indistinguishable, 1 = clearly two voices)"
        )


def _distance(chunk: SpeechInterval, t: float) -> float:
    return 0.0 if chunk.start <= t <= chunk.end else min(abs(chunk.start - t), abs(chunk.end - t))


def split_long(intervals: Sequence[SpeechInterval], max_chunk: float) -> list[SpeechInterval]:
    """Intervals longer than ``max_chunk`` cut into equal pieces no longer than it."""
    out: list[SpeechInterval] = []
    for interval in intervals:
        pieces = max(1, int(np.ceil(interval.seconds / max_chunk)))
        step = interval.seconds / pieces
        out.extend(
            SpeechInterval(interval.start + k * step, interval.start + (k + 1) * step)
            for k in range(pieces)
        )
    return out


def attribute_speakers(samples: Samples, chunks: Sequence[SpeechInterval]) -> Attribution:
    """Attribute each chunk of ``samples`` (mono, 16 kHz) to the agent or the caller."""
    if not chunks:
        return Attribution((), 0.0)
    filters = _Filters(_mel_filters(), _dct_matrix())
    features = np.stack([_describe(samples, c, filters) for c in chunks])
    labels, separation = _two_means(_standardize(features))
    agent_label = labels[0]
    roles: list[Role] = [AGENT if label == agent_label else CALLER for label in labels]
    return Attribution(tuple(zip(chunks, roles, strict=True)), separation)


@dataclass(frozen=True, eq=False)
class _Filters:
    mel: NDArray[np.float64]
    dct: NDArray[np.float64]


def _describe(samples: Samples, chunk: SpeechInterval, filters: _Filters) -> NDArray[np.float64]:
    piece = samples[int(chunk.start * SAMPLE_RATE) : int(chunk.end * SAMPLE_RATE)]
    piece = np.pad(piece, (0, max(0, _PITCH_WIN - len(piece))))
    return np.concatenate([_mfcc_stats(piece, filters), [_median_log_pitch(piece)]])


def _frames(x: Samples, width: int) -> NDArray[np.float64]:
    count = 1 + max(0, (len(x) - width) // _HOP)
    index = np.arange(width)[None, :] + _HOP * np.arange(count)[:, None]
    return np.asarray(x[index], dtype=np.float64)


def _mfcc_stats(x: Samples, filters: _Filters) -> NDArray[np.float64]:
    """Mean and standard deviation of MFCCs 1-12 over the chunk's louder frames (c0 is
    loudness, which says more about the microphone than the voice)."""
    frames = _frames(x, _WIN) * np.hamming(_WIN)
    power = np.abs(np.fft.rfft(frames, _NFFT)) ** 2
    log_mel = np.log(power @ filters.mel.T + 1e-10)
    energy = log_mel.sum(axis=1)
    cepstra = (log_mel[energy >= np.percentile(energy, 30)] @ filters.dct.T)[:, 1:13]
    return np.concatenate([cepstra.mean(axis=0), cepstra.std(axis=0)])


def _median_log_pitch(x: Samples) -> float:
    """Median log F0 over voiced 40 ms frames (autocorrelation peak), NaN when unvoiced."""
    frames = _frames(x, _PITCH_WIN)
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(frames, 2 * _PITCH_WIN)
    corr = np.fft.irfft(np.abs(spectrum) ** 2)[:, :_PITCH_WIN]
    lo, hi = int(SAMPLE_RATE / _F0_RANGE[1]), int(SAMPLE_RATE / _F0_RANGE[0])
    lags = lo + np.argmax(corr[:, lo:hi], axis=1)
    strength = corr[np.arange(len(corr)), lags] / (corr[:, 0] + 1e-10)
    voiced = strength > 0.5
    if not voiced.any():
        return float("nan")
    return float(np.median(np.log(SAMPLE_RATE / lags[voiced])))


def _standardize(features: NDArray[np.float64]) -> NDArray[np.float64]:
    # A chunk with no voiced frame has no pitch: it takes the median pitch of the others.
    pitch = features[:, -1]
    pitch[np.isnan(pitch)] = np.nanmedian(pitch) if np.isfinite(pitch).any() else 0.0
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    scaled = (features - features.mean(axis=0)) / spread
    # Pitch is one column against 24 cepstral ones; weight it as much as they weigh
    # together, since it is the cue that separates two voices most reliably.
    scaled[:, -1] *= np.sqrt(features.shape[1] - 1)
    return np.asarray(scaled, dtype=np.float64)


def _two_means(points: NDArray[np.float64], restarts: int = 8) -> tuple[list[int], float]:
    """Two-cluster k-means (k-means++ seeding, fixed seed: the same call always splits the
    same way), best of ``restarts``; the labels and the mean simplified silhouette."""
    if len(points) < 2:
        return [0] * len(points), 0.0
    rng = np.random.default_rng(0)
    runs = [_one_two_means(points, rng) for _ in range(max(1, restarts))]
    _, labels, dist = min(runs, key=lambda run: run[0])
    near, far_d = np.sqrt(np.min(dist, axis=1)), np.sqrt(np.max(dist, axis=1))
    silhouette = float(np.mean((far_d - near) / np.maximum(far_d, 1e-10)))
    return [int(label) for label in labels], silhouette


def _one_two_means(
    points: NDArray[np.float64], rng: np.random.Generator
) -> tuple[float, NDArray[np.int64], NDArray[np.float64]]:
    """One k-means run: (inertia, labels, squared distances to both centres)."""
    first = points[rng.integers(len(points))]
    far = np.sum((points - first) ** 2, axis=1)
    second = points[rng.choice(len(points), p=far / far.sum())] if far.sum() else first
    centres = np.stack([first, second])
    for _ in range(50):
        dist = np.sum((points[:, None, :] - centres[None, :, :]) ** 2, axis=2)
        labels = np.argmin(dist, axis=1)
        moved = np.stack(
            [points[labels == k].mean(axis=0) if (labels == k).any() else centres[k]
             for k in (0, 1)]
        )  # fmt: skip
        if np.allclose(moved, centres):
            break
        centres = moved
    return float(np.sum(np.min(dist, axis=1))), labels, dist


def _mel_filters(bands: int = 26, low: float = 80.0, high: float = 7600.0) -> NDArray[np.float64]:
    def mel(f: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(2595.0 * np.log10(1.0 + f / 700.0), dtype=np.float64)

    edges_mel = np.linspace(mel(np.array(low)), mel(np.array(high)), bands + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(_NFFT, 1.0 / SAMPLE_RATE)
    filters = np.zeros((bands, len(bins)))
    for k in range(bands):
        left, centre, right = edges[k : k + 3]
        rising = (bins - left) / (centre - left)
        falling = (right - bins) / (right - centre)
        filters[k] = np.clip(np.minimum(rising, falling), 0.0, None)
    return filters


def _dct_matrix(bands: int = 26, count: int = 13) -> NDArray[np.float64]:
    n = np.arange(bands)
    return np.asarray(
        np.cos(np.pi / bands * (n[None, :] + 0.5) * np.arange(count)[:, None]), dtype=np.float64
    )
