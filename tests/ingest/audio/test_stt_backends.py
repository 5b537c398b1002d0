"""The transcriber back-ends without transcribing: the bundled model's assembly, and the
hosted transcriber against a loopback stand-in of the OpenAI transcription endpoint
(``/v1/audio/transcriptions``, ``verbose_json`` with word times)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest

from evaluator.ingest.audio import (
    LiteLLMSTT,
    SpeechToTextError,
    WhisperSTT,
    resolve_whisper_model,
    speech_to_text,
)
from evaluator.ingest.audio.model_files import ensure_builtin_model
from tests.ingest.audio.loopback import Loopback, Seen, loopback, reply

RATE = 16_000


def test_the_bundled_model_is_assembled_once_and_whole(tmp_path: Path) -> None:
    folder = resolve_whisper_model("base", tmp_path)
    assert folder == tmp_path / "whisper-base"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert json.loads((folder / "config.json").read_text())  # a real config, not a stub
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert resolve_whisper_model("base", tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not rebuilt
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_broken_model_folder_is_rebuilt(tmp_path: Path) -> None:
    folder = tmp_path / "whisper-base"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"half a model")
    ensure_builtin_model(folder)
    assert (folder / "model.bin").stat().st_size > 100_000_000


@pytest.mark.parametrize("name", ["small", "large-v3", "Systran/faster-whisper-tiny"])
def test_model_names_are_never_downloaded(name: str, tmp_path: Path) -> None:
    with pytest.raises(SpeechToTextError, match="never downloaded"):
        resolve_whisper_model(name, tmp_path)


def test_a_local_model_folder_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert resolve_whisper_model(str(tmp_path)) == tmp_path


def _verbose_json(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
    """Two words per request, at 0.1-0.5 s and 0.6-1.0 s of the uploaded piece."""
    body = {
        "task": "transcribe", "language": "english", "duration": 1.0, "text": "Hello there.",
        "words": [{"word": "Hello", "start": 0.1, "end": 0.5},
                  {"word": "there.", "start": 0.6, "end": 1.0}],
    }  # fmt: skip
    reply(handler, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})


@pytest.fixture
def stand_in() -> Iterator[Loopback]:
    with loopback() as server:
        server.routes["/v1/audio/transcriptions"] = _verbose_json
        yield server


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _hosted(server: Loopback, **kwargs: object) -> LiteLLMSTT:
    options: dict[str, object] = {"num_retries": 0, **kwargs}
    return LiteLLMSTT(
        "openai/whisper-1", api_base=server.url("/v1"), api_key="sk-test",
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


def test_hosted_words_come_back_timed(stand_in: Loopback) -> None:
    result = _hosted(stand_in).transcribe(_tone(2.0))
    assert [(w.text, w.start, w.end) for w in result.words] == [
        (" Hello", 0.1, 0.5), (" there.", 0.6, 1.0)]  # fmt: skip
    assert result.model == "litellm:openai/whisper-1"
    request = stand_in.seen[0]
    assert request.headers["authorization"] == "Bearer sk-test"
    form = request.body.decode("latin-1")
    assert 'name="response_format"\r\n\r\nverbose_json' in form
    assert re.search(r'name="timestamp_granularities\[\]"\r\n\r\nword', form)
    assert 'filename="channel.flac"' in form and "fLaC" in form


def test_long_channels_go_in_pieces_with_times_shifted_back(stand_in: Loopback) -> None:
    samples = np.concatenate([_tone(4.0), np.zeros(RATE // 2, np.float32), _tone(4.0)])
    seen: list[float] = []
    result = _hosted(stand_in, chunk_seconds=5.0).transcribe(samples, progress=seen.append)
    assert len(stand_in.seen) == 2
    # The cut falls in the pause (4.0-4.5 s), the quietest place before the 5 s limit.
    second_piece = result.words[2].start - 0.1
    assert 4.0 - 1e-6 <= second_piece <= 4.5
    assert seen[-1] == pytest.approx(len(samples) / RATE)
    assert [w.start for w in result.words] == sorted(w.start for w in result.words)


def test_segments_without_words_are_spread_and_say_so(stand_in: Loopback) -> None:
    def segments_only(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        body = {"text": "one two", "segments": [{"start": 1.0, "end": 2.0, "text": " one two"}]}
        reply(handler, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    stand_in.routes["/v1/audio/transcriptions"] = segments_only
    result = _hosted(stand_in).transcribe(_tone(3.0))
    assert [(w.text, w.start, w.end) for w in result.words] == [
        (" one", 1.0, 1.5),
        (" two", 1.5, 2.0),
    ]
    assert "spread" in result.model


@pytest.mark.parametrize("retries", [0, 1])
def test_a_server_error_is_retried_as_configured_then_raised(
    stand_in: Loopback, retries: int
) -> None:
    stand_in.routes["/v1/audio/transcriptions"] = lambda h, s: reply(h, 500, b'{"error": "boom"}')
    with pytest.raises(SpeechToTextError, match=r"litellm:openai/whisper-1.*500"):
        _hosted(stand_in, num_retries=retries).transcribe(_tone(1.0))
    assert len(stand_in.seen) == 1 + retries


async def test_inside_an_event_loop_the_async_call_is_the_way(stand_in: Loopback) -> None:
    hosted = _hosted(stand_in)
    with pytest.raises(SpeechToTextError, match="await atranscribe"):
        hosted.transcribe(_tone(1.0))
    result = await hosted.atranscribe(_tone(1.0))
    assert len(result.words) == 2


def test_settings_choose_the_transcriber(tmp_path: Path) -> None:
    hosted = speech_to_text(hosted_model="groq/whisper-large-v3", api_base="http://127.0.0.1:9")
    assert isinstance(hosted, LiteLLMSTT) and hosted.name == "litellm:groq/whisper-large-v3"
    local = speech_to_text(whisper_model=str(tmp_path))
    assert isinstance(local, WhisperSTT) and local.name == f"whisper:{tmp_path.name}"
    assert speech_to_text().name == "whisper:base"
