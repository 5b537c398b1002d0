"""Timing from the signal: the sweep's definitions on hand-made runs, then whole recordings
(WAV, MP3, 8 kHz μ-law) against the synthetic truth, within 100 ms per hand-off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluator.ingest.audio import (
    AudioLimits,
    AudioTiming,
    SpeechInterval,
    measure_call_audio,
    measure_timing,
)
from tests.ingest.audio.synth import SyntheticCall, truth_runs, write_audio

TOLERANCE_MS = 100.0


def runs(*pairs: tuple[float, float]) -> list[SpeechInterval]:
    return [SpeechInterval(a, b) for a, b in pairs]


def test_handoffs_overlaps_and_silences_by_definition() -> None:
    agent = runs((0.0, 2.0), (3.0, 6.0), (9.5, 11.0), (14.0, 15.0))
    caller = runs((2.5, 2.8), (5.0, 8.0), (12.0, 13.0))
    timing = measure_timing(agent, caller, duration=16.0)
    # caller 2.8 -> agent 3.0; caller 8.0 -> agent 9.5; caller 13.0 -> agent 14.0
    assert [h.ms for h in timing.handoffs] == [200.0, 1500.0, 1000.0]
    assert [(o.by, o.start) for o in timing.overlaps] == [("Testing Agent", 5.0)]
    assert [(g.start, g.end, g.after) for g in timing.silences] == [
        (2.0, 2.5, "Main Agent"), (2.8, 3.0, "Testing Agent"), (8.0, 9.5, "Testing Agent"),
        (11.0, 12.0, "Main Agent"), (13.0, 14.0, "Testing Agent"),
    ]  # fmt: skip
    assert timing.metric("stop_time_after_interruption").value == 1000.0
    assert timing.metric("latency", {"statistic": "max"}).value == 1500.0
    assert timing.metric("latency", {"statistic": "p50"}).value == 1000.0
    assert timing.metric("longest_silence").value == 1.5
    assert timing.metric("silence_over_threshold", {"threshold_seconds": 1.0}).value == 1
    assert timing.metric("infrastructure_issues", {"threshold_seconds": 0.9}).value == 2


def test_a_backchannel_does_not_hide_the_handoff_after_it() -> None:
    # The agent says "mm-hmm" over the caller, then answers after the caller stops.
    timing = measure_timing(runs((1.0, 1.3), (5.6, 8.0)), runs((0.0, 5.0)), duration=8.0)
    assert [h.ms for h in timing.handoffs] == [600.0]
    assert timing.metric("interruptions", {"by": "agent"}).value == 1


def test_min_overlap_leaves_short_overlaps_out() -> None:
    timing = measure_timing(runs((0.0, 2.0)), runs((1.9, 4.0)), duration=4.0)
    assert timing.metric("interruptions", {"by": "caller"}).value == 1
    short = {"by": "caller", "min_overlap_seconds": 0.2}
    assert timing.metric("interruptions", short).value == 0


def test_every_value_says_it_comes_from_audio() -> None:
    timing = measure_timing(runs((0.0, 1.0)), runs((1.5, 2.0)), duration=3.0)
    summary = timing.summary()
    assert all(v.source == "audio" for v in summary.values())
    assert summary["latency_avg"].not_applicable is not None  # no caller->agent hand-off
    assert summary["latency_avg"].value is None
    assert summary["talk_ratio"].value == pytest.approx(1 / 3, abs=1e-3)
    assert summary["agent_speech_share"].value == pytest.approx(2 / 3, abs=1e-3)
    assert summary["call_duration"].unit == "s"


def test_unknown_measure_and_statistic_say_what_exists() -> None:
    timing = measure_timing([], [], duration=1.0)
    with pytest.raises(ValueError, match=r"known: .*latency"):
        timing.metric("latncy")
    with pytest.raises(ValueError, match="pNN"):
        measure_timing(runs((1, 2)), runs((0, 0.5)), 2.0).metric("latency", {"statistic": "x"})


def _truth(call: SyntheticCall) -> AudioTiming:
    def spans(party: str) -> list[SpeechInterval]:
        return runs(*truth_runs(call, party, 0.5))  # type: ignore[arg-type]

    return measure_timing(spans("agent"), spans("caller"), call.duration)


def _assert_close_to_truth(measured: AudioTiming, truth: AudioTiming) -> None:
    assert len(measured.handoffs) == len(truth.handoffs) == 3
    for got, want in zip(measured.handoffs, truth.handoffs, strict=True):
        assert abs(got.ms - want.ms) <= TOLERANCE_MS
    for by in ("agent", "caller"):
        got_count = measured.metric("interruptions", {"by": by}).value
        assert got_count == truth.metric("interruptions", {"by": by}).value == 1
    stop = measured.metric("stop_time_after_interruption").value
    assert stop == pytest.approx(truth.metric("stop_time_after_interruption").value, abs=100)
    longest = measured.metric("longest_silence").value
    assert longest == pytest.approx(truth.metric("longest_silence").value, abs=0.1)
    assert measured.metric("silence_over_threshold", {"threshold_seconds": 3.0}).value == 1
    # MP3 pads the end to whole frames (72 ms at 16 kHz) plus the encoder's delay.
    assert measured.duration == pytest.approx(truth.duration, abs=0.15)


@pytest.mark.parametrize("recording", ["stereo_wav", "stereo_mp3", "ulaw_wav"])
def test_recordings_match_the_truth_within_100_ms(
    recording: str, request: pytest.FixtureRequest, short_call: SyntheticCall
) -> None:
    data: bytes = request.getfixturevalue(recording)
    measured = measure_call_audio(data, agent_channel=0, mono=False, limits=AudioLimits())
    assert measured.agent_channel == 0
    _assert_close_to_truth(measured.timing, _truth(short_call))


def test_the_channel_index_decides_who_is_the_agent(
    swapped_wav: bytes, short_call: SyntheticCall
) -> None:
    right = measure_call_audio(swapped_wav, agent_channel=1, mono=False, limits=AudioLimits())
    _assert_close_to_truth(right.timing, _truth(short_call))
    wrong = measure_call_audio(swapped_wav, agent_channel=0, mono=False, limits=AudioLimits())
    assert (wrong.timing.agent, wrong.timing.caller) == (right.timing.caller, right.timing.agent)
    assert [h.ms for h in wrong.timing.handoffs] != [h.ms for h in right.timing.handoffs]
    assert wrong.timing.handoffs[0].agent_start == right.timing.caller[0].start


def test_without_an_index_the_first_speaker_is_the_agent(swapped_wav: bytes) -> None:
    measured = measure_call_audio(swapped_wav, agent_channel=None, mono=False, limits=AudioLimits())
    assert measured.agent_channel == 1
    assert any("first_speaker" in n and "channel 1 speaks first" in n for n in measured.notes)


def test_mono_timing_comes_from_the_two_voices(mono_wav: bytes, mono_call: SyntheticCall) -> None:
    measured = measure_call_audio(mono_wav, agent_channel=None, mono=False, limits=AudioLimits())
    assert measured.channels == 1 and measured.agent_channel is None
    truth = _truth(mono_call)
    assert len(measured.timing.handoffs) == len(truth.handoffs) == 3
    for got, want in zip(measured.timing.handoffs, truth.handoffs, strict=True):
        assert abs(got.ms - want.ms) <= TOLERANCE_MS
    assert any("interruptions are not counted" in note for note in measured.notes)


def test_a_stereo_file_with_one_signal_twice_is_read_as_mono(
    mono_call: SyntheticCall, audio_dir: Path
) -> None:
    doubled = np.stack([mono_call.mono(), mono_call.mono()])
    data = write_audio(audio_dir / "doubled.wav", doubled).read_bytes()
    measured = measure_call_audio(data, agent_channel=None, mono=False, limits=AudioLimits())
    assert measured.channels == 1
    assert any("carry the same signal" in note for note in measured.notes)
    assert len(measured.timing.handoffs) == 3
