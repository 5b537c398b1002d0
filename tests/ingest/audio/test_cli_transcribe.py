"""``evaluator transcribe``: the transcript of a recording as JSON; bad audio exits 2 naming
the field, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evaluator.cli.main import app
from tests.ingest.audio.synth import SyntheticCall


def test_transcribe_prints_turns_timing_and_notes(
    stereo_wav: bytes, short_call: SyntheticCall, tmp_path: Path
) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(stereo_wav)
    result = CliRunner().invoke(app, ["transcribe", str(path), "--agent-channel", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # --agent-channel 1 swaps the roles: the agent's lines are now the caller's.
    first = short_call.lines[0]
    assert data["transcript_object"][0]["role"] == (
        "Testing Agent" if first.party == "agent" else "Main Agent"
    )
    assert data["agent_channel"] == 1
    assert data["duration"] > 5 and "talk_ratio" in data["timing"]
    assert any("given" in note or "agent channel" in note for note in data["notes"])


def test_a_file_that_is_not_audio_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio", encoding="utf-8")
    result = CliRunner().invoke(app, ["transcribe", str(path)])
    assert result.exit_code == 2
    assert "voice_recording: not a recording" in result.output
    assert "Traceback" not in result.output
