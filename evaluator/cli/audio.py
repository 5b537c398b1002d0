"""``evaluator transcribe``: a recording's transcript, timing and notes, transcribed on this
machine (Whisper base, bundled) or by ``EVALUATOR_STT_MODEL``; progress on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from evaluator.cli.common import err, fail, print_json
from evaluator.config import Settings
from evaluator.ingest.audio.decode import AudioLimits
from evaluator.ingest.audio.errors import AudioError
from evaluator.ingest.audio.pipeline import transcribe_call
from evaluator.ingest.audio.stt import SpeechToText

__all__ = ["audio_limits", "stt_from", "transcribe"]


def stt_from(settings: Settings) -> SpeechToText:
    """The transcriber the settings name (nothing loaded until first use)."""
    return settings.speech_to_text()


def audio_limits(settings: Settings) -> AudioLimits:
    return settings.audio_limits()


def transcribe(
    recording: Annotated[Path, typer.Argument(help="an audio file (wav, mp3, m4a, ogg, flac)")],
    agent_channel: Annotated[
        int | None,
        typer.Option("--agent-channel", min=0, max=1, help="stereo channel of the agent"),
    ] = None,
    mono: Annotated[bool, typer.Option("--mono", help="one mixed signal: tell voices apart")] = (
        False
    ),
) -> None:
    """Transcribe a call's recording and print its transcript, timing and notes as JSON."""
    settings = Settings()
    try:
        data = recording.read_bytes()
    except OSError as exc:
        raise fail(2, f"{recording}: cannot read: {exc.strerror}") from None
    with Progress(
        TextColumn("transcribing"), BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s of audio"),
        TimeRemainingColumn(), console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("audio", total=1)

        def advance(done: float, total: float) -> None:
            progress.update(task, completed=done, total=total)

        try:
            heard = transcribe_call(
                data, agent_channel=agent_channel, mono=mono, stt=stt_from(settings),
                limits=audio_limits(settings), progress=advance,
            )  # fmt: skip
        except AudioError as exc:
            raise fail(2, f"{recording}: {exc}") from None
    print_json(_summary(heard))


def _summary(heard: Any) -> dict[str, Any]:
    values = heard.timing.summary()
    return {
        "transcript_object": heard.transcript.to_object(),
        "transcript": heard.transcript.to_text(),
        "duration": heard.duration,
        "agent_channel": heard.agent_channel,
        "timing": {k: v.value for k, v in values.items()},
        "notes": list(heard.notes),
        "stt_model": heard.stt_model,
    }
