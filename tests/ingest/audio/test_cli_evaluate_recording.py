"""``evaluator evaluate`` with a request whose recording is a local file (``voice_recording``,
relative to the request file): it is transcribed here and judged; bad audio exits 2 naming
the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaluator.cli.main import app
from evaluator.config import Settings
from tests.conftest import ROOT
from tests.ingest.audio.fixtures import RememberingSTT


@pytest.fixture(autouse=True)
def shared_model(monkeypatch: pytest.MonkeyPatch, stt: RememberingSTT) -> None:
    """The session's model instead of a second one loaded by the command."""
    monkeypatch.setattr(Settings, "speech_to_text", lambda _self: stt)


def request_file(folder: Path, **fields: Any) -> str:
    path = folder / "request.json"
    path.write_text(json.dumps({"call_id": "local", "agent": 1, **fields}), encoding="utf-8")
    return str(path)


def evaluate(*args: str) -> Any:
    return CliRunner().invoke(
        app, ["evaluate", *args, "--agents", str(ROOT / "agents")], catch_exceptions=False
    )


@pytest.mark.slow
def test_a_local_recording_is_transcribed_and_reaches_the_judge(
    stereo_wav: bytes, tmp_path: Path
) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "call.wav").write_bytes(stereo_wav)
    source = request_file(tmp_path, voice_recording="audio/call.wav", main_agent_channel_index=0)
    result = evaluate(source, "--dry-run")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    messages = json.dumps(shown["requests"]).lower()
    assert "thank you for calling" in messages  # our transcript is what the judge reads
    assert any("speech-to-text" in note for note in shown["notes"])


def test_an_unreadable_or_bad_recording_exits_2_naming_the_field(tmp_path: Path) -> None:
    missing = evaluate(request_file(tmp_path, voice_recording="nowhere.wav"), "--dry-run")
    (tmp_path / "notes.wav").write_text("not audio", encoding="utf-8")
    bad = evaluate(request_file(tmp_path, voice_recording="notes.wav"), "--dry-run")
    assert missing.exit_code == 2 and "voice_recording: cannot read" in missing.output
    assert bad.exit_code == 2 and "voice_recording: not a recording" in bad.output
    assert "Traceback" not in missing.output + bad.output
