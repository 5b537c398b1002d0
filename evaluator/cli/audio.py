"""``evaluator transcribe``: a recording's transcript, timing and notes, transcribed on this
machine (Whisper base, bundled) or by ``EVALUATOR_STT_MODEL``; progress on stderr.

And the recording of a request given to ``evaluator evaluate``: ``voice_recording`` names a
local file (a path relative to the request file; from stdin, to the working folder), or
``voice_recording_url`` one to download (under the same SSRF rules as the service). It is
read, measured and, when the call needs it, transcribed and redacted as the service does,
with progress on stderr."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from evaluator.bootstrap import Definitions
from evaluator.cli.common import err, fail, invalid, print_json, read_json
from evaluator.config import Settings
from evaluator.contract import ObserveRequest, parse_request
from evaluator.errors import RequestValidationError
from evaluator.ingest.audio.decode import AudioLimits
from evaluator.ingest.audio.errors import AudioError
from evaluator.ingest.audio.fetch import fetch_recording
from evaluator.ingest.audio.pipeline import ProgressCallback, transcribe_call
from evaluator.ingest.audio.stt import SpeechToText
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.ingest.recording import (
    RecordingOutcome,
    agent_description,
    audio_only,
    process_recording,
)

__all__ = ["audio_limits", "prepare_with_recording", "stt_from", "transcribe"]


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
    with _transcribing() as advance:
        try:
            heard = transcribe_call(
                data, agent_channel=agent_channel, mono=mono, stt=stt_from(settings),
                limits=audio_limits(settings), progress=advance,
            )  # fmt: skip
        except AudioError as exc:
            raise fail(2, f"{recording}: {exc}") from None
    print_json(_summary(heard))


@contextlib.contextmanager
def _transcribing() -> Iterator[ProgressCallback]:
    """A progress bar on stderr, in seconds of audio transcribed, gone once done."""
    with Progress(
        TextColumn("transcribing"), BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s of audio"),
        TimeRemainingColumn(), console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("audio", total=1)

        def advance(done: float, total: float) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def prepare_with_recording(
    source: str, definitions: Definitions, settings: Settings
) -> PreparedCall:
    """A request file ready to judge, its recording (if it names one) read and, when the
    call needs it, transcribed here. Bad input exits 2 naming the field."""
    data = read_json(source)
    recording = None
    if isinstance(data, dict) and (data.get("voice_recording") or data.get("voice_recording_url")):
        recording = _recording(source, data, definitions, settings)
    try:
        return read_request(data, definitions.catalogue, settings.limits(), recording=recording)
    except RequestValidationError as exc:
        raise invalid(source, exc) from None


def _recording(
    source: str, data: dict[str, Any], definitions: Definitions, settings: Settings
) -> RecordingOutcome | None:
    try:
        request = parse_request(data)
    except RequestValidationError:
        return None  # read_request reports it, keyed by field
    only = audio_only(request)
    if not only and not settings.recording_timing:
        return None
    try:
        audio, content_type = _audio_of(source, request, settings)
        with _transcribing() as advance:
            return process_recording(
                audio, content_type, request, stt=settings.speech_to_text,
                limits=settings.audio_limits(), progress=advance,
                agent_description=agent_description(definitions.catalogue, request),
                check_transcript=settings.transcription_check,
            )  # fmt: skip
    except AudioError as exc:
        if only:
            raise fail(2, f"{source}: {exc}") from None
        err.print(f"{source}: recording not used: {exc}", markup=False, highlight=False)
        return RecordingOutcome.unused(str(exc))


def _audio_of(source: str, request: ObserveRequest, settings: Settings) -> tuple[bytes, str | None]:
    """The recording's bytes and type: the local file ``voice_recording`` names, else the
    download of ``voice_recording_url``."""
    if request.voice_recording:
        folder = Path.cwd() if source == "-" else Path(source).parent
        path = folder / request.voice_recording
        try:
            return path.read_bytes(), mimetypes.guess_type(path.name)[0]
        except OSError as exc:
            why = f"{source}: voice_recording: cannot read {path}: {exc.strerror}"
            raise fail(2, why) from None
    fetched = asyncio.run(
        fetch_recording(str(request.voice_recording_url), settings.fetch_settings())
    )
    return fetched.data, fetched.content_type


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
