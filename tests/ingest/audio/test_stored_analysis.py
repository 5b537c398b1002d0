"""What a recording said, kept as JSON, reads back to the same timing, notes and transcript,
so a re-evaluation from storage measures exactly what the first one did."""

from __future__ import annotations

import json

import pytest

from evaluator.ingest.audio import AudioLimits, measure_call_audio
from evaluator.ingest.audio.stored import RecordingAnalysis, analysis_from_json, analysis_to_json
from evaluator.transcript import AGENT, Transcript, Turn

PARAMS = [
    ("latency", {"statistic": "p90"}),
    ("interruptions", {"by": "agent"}),
    ("interruptions", {"by": "caller"}),
    ("longest_silence", {}),
    ("silence_over_threshold", {"threshold_seconds": 2}),
    ("talk_ratio", {}),
    ("call_duration", {}),
]


@pytest.mark.parametrize("mono", [False, True])
def test_timing_reads_back_the_same(stereo_wav: bytes, mono_wav: bytes, mono: bool) -> None:
    audio = measure_call_audio(
        mono_wav if mono else stereo_wav, agent_channel=None, mono=mono, limits=AudioLimits()
    )
    heard = Transcript(turns=(Turn(role=AGENT, content="Hello <PHONE_NUMBER>"),), provider="audio")
    stored = json.loads(json.dumps(analysis_to_json(RecordingAnalysis(audio, heard, "whisper"))))
    back = analysis_from_json(stored)
    assert back.audio.timing == audio.timing
    assert (back.audio.duration, back.audio.channels, back.audio.agent_channel) == (
        audio.duration, audio.channels, audio.agent_channel)  # fmt: skip
    assert back.audio.notes == audio.notes
    assert back.heard == heard and back.stt_model == "whisper"
    for function, params in PARAMS:
        assert back.audio.timing.metric(function, params) == audio.timing.metric(function, params)


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        analysis_from_json({"version": 99})
