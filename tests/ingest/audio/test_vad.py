"""Voice activity against the truth of synthetic calls: every run found, each edge within
100 ms, clean and under line noise; the two detectors and the raw Silero compared."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator.ingest.audio import SpeechInterval, VadSettings, speech_intervals
from evaluator.ingest.audio.vad import join_runs
from tests.ingest.audio.synth import Party, SyntheticCall, truth_runs

TOLERANCE = 0.100


def _worst_edge_error(found: list[SpeechInterval], truth: list[tuple[float, float]]) -> float:
    assert len(found) == len(truth), (found, truth)
    return max(
        max(abs(f.start - start), abs(f.end - end))
        for f, (start, end) in zip(found, truth, strict=True)
    )


@pytest.mark.parametrize("party", ["agent", "caller"])
@pytest.mark.parametrize("method", ["silero", "energy"])
def test_runs_match_the_constructed_truth(
    short_call: SyntheticCall, party: Party, method: str
) -> None:
    settings = VadSettings(method=method)  # type: ignore[arg-type]
    found = speech_intervals(getattr(short_call, party), settings)
    truth = truth_runs(short_call, party, settings.min_silence_seconds)
    assert _worst_edge_error(found, truth) <= TOLERANCE


@pytest.mark.parametrize("noise_dbfs", [-50.0, -40.0])
def test_default_detector_holds_under_line_noise(
    short_call: SyntheticCall, noise_dbfs: float
) -> None:
    """Every run is found and starts within 100 ms; an end may lose a little more, since a
    line's hiss buries the quietest tail of a word (the truth counts from -60 dBFS)."""
    rng = np.random.default_rng(7)
    for party in ("agent", "caller"):
        clean = getattr(short_call, party)
        noisy = (clean + rng.normal(0, 10 ** (noise_dbfs / 20), len(clean))).astype(np.float32)
        found = speech_intervals(noisy)
        truth = truth_runs(short_call, party, VadSettings().min_silence_seconds)
        assert len(found) == len(truth)
        for run, (start, end) in zip(found, truth, strict=True):
            assert abs(run.start - start) <= TOLERANCE
            assert abs(run.end - end) <= 1.5 * TOLERANCE


def test_silero_edges_without_refinement_are_coarser(short_call: SyntheticCall) -> None:
    """Why the edges are refined: Silero alone places onsets in 32 ms windows, late."""
    raw = speech_intervals(short_call.agent, VadSettings(refine_seconds=0.0))
    refined = speech_intervals(short_call.agent)
    truth = truth_runs(short_call, "agent", 0.5)
    assert _worst_edge_error(refined, truth) < _worst_edge_error(raw, truth)


def test_silence_has_no_speech() -> None:
    assert speech_intervals(np.zeros(16_000 * 3, dtype=np.float32)) == []
    assert speech_intervals(np.zeros(0, dtype=np.float32)) == []


def test_join_runs_bridges_short_pauses_and_drops_blips() -> None:
    runs = [SpeechInterval(2.0, 3.0), SpeechInterval(0.0, 1.0), SpeechInterval(1.2, 1.5),
            SpeechInterval(5.0, 5.05)]  # fmt: skip
    assert join_runs(runs, 0.5, 0.1) == [SpeechInterval(0.0, 1.5), SpeechInterval(2.0, 3.0)]
