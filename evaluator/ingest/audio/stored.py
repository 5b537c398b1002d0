"""What a recording said, kept as JSON beside the stored recording, so a re-evaluation needs
neither the download nor speech-to-text again.

Only the inputs of the timing are kept (each party's runs of speech and the duration): the
hand-offs, overlaps and silences are recomputed from them by ``measure_timing``, exactly as
the first time. ``heard`` is our transcript of the recording when we made one, already
redacted when the call asked for redaction (nothing unredacted is ever kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.ingest.audio.pipeline import CallAudio
from evaluator.ingest.audio.timing import measure_timing
from evaluator.ingest.audio.vad import SpeechInterval
from evaluator.transcript import Transcript

__all__ = ["RecordingAnalysis", "analysis_from_json", "analysis_to_json"]

_VERSION = 1


@dataclass(frozen=True)
class RecordingAnalysis:
    """The recording's timing and layout (``audio``) and our transcript of it (``heard``)."""

    audio: CallAudio
    heard: Transcript | None = None
    stt_model: str | None = None


def analysis_to_json(analysis: RecordingAnalysis) -> dict[str, Any]:
    """A JSON-ready dict (numbers, strings, lists) that ``analysis_from_json`` reads back."""
    audio = analysis.audio
    return {
        "version": _VERSION,
        "duration": audio.duration,
        "channels": audio.channels,
        "agent_channel": audio.agent_channel,
        "notes": list(audio.notes),
        "agent": _runs(audio.timing.agent),
        "caller": _runs(audio.timing.caller),
        "heard": analysis.heard.model_dump(mode="json") if analysis.heard else None,
        "stt_model": analysis.stt_model,
    }


def analysis_from_json(data: dict[str, Any]) -> RecordingAnalysis:
    """The analysis ``analysis_to_json`` wrote; ``ValueError`` for anything else."""
    if data.get("version") != _VERSION:
        raise ValueError(f"unknown recording analysis version {data.get('version')!r}")
    duration = float(data["duration"])
    timing = measure_timing(_intervals(data["agent"]), _intervals(data["caller"]), duration)
    audio = CallAudio(
        duration=duration,
        channels=int(data["channels"]),
        agent_channel=data["agent_channel"],
        timing=timing,
        notes=tuple(data["notes"]),
    )
    heard = Transcript.model_validate(data["heard"]) if data.get("heard") else None
    return RecordingAnalysis(audio, heard, data.get("stt_model"))


def _runs(runs: Sequence[SpeechInterval]) -> list[list[float]]:
    return [[run.start, run.end] for run in runs]


def _intervals(runs: Sequence[Sequence[float]]) -> list[SpeechInterval]:
    return [SpeechInterval(float(start), float(end)) for start, end in runs]
