"""Calls as audio that cannot be used: every SSRF refusal and cap through the worker (a
failed call with the reason, the address never connected to when refused), an unusable
upload refused at intake (400, nothing stored), and a download retried once it answers
(through ``rerun_evaluation``, and through the queue's own backoff)."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evaluator.transcript import AGENT
from tests.ingest.audio.loopback import Seen, loopback, reply
from tests.service.audio_calls import GREETING, Run, audio_call, posted, said_by, serve
from tests.service.calls import OBSERVE, V1, as_form
from tests.service.conftest import HEADERS


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'evaluator.db'}"


def _status(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    def answer(handler: Any, _seen: Seen) -> None:
        reply(handler, status, body, headers)

    return answer


def _slow(handler: Any, _seen: Seen) -> None:
    time.sleep(1.5)
    reply(handler, 200, b"late")


REFUSALS = [
    # id, a path served on loopback (or an absolute URL), settings, words of the reason
    # (any of them), the paths the server saw: a refused address is never connected to.
    ("scheme", "ftp://127.0.0.1/call.wav", {}, ("scheme 'ftp' refused",), []),
    ("loopback", "/call.wav", {"recording_allow_networks": ""}, ("a loopback address",), []),
    ("loopback-by-name", "http://localhost:9/call.wav", {"recording_allow_networks": ""},
     ("localhost resolves to", "a loopback address"), []),
    ("private", "http://10.1.2.3/call.wav", {}, ("a private address",), []),
    ("link-local", "http://169.254.169.254/latest/meta-data", {}, ("a link-local address",), []),
    ("multicast", "http://224.0.0.1/call.wav", {}, ("a multicast address",), []),
    ("redirect-to-private", "/redirect", {}, ("10.9.9.9, a private address",), ["/redirect"]),
    ("size-cap", "/big", {"max_recording_bytes": 2048}, ("over the size cap of 2048 bytes",),
     ["/big"]),
    ("duration-cap", "/call.wav", {"max_recording_seconds": 2.0},
     ("longer than the duration cap",), ["/call.wav"]),
    ("timeout", "/slow", {"recording_fetch_timeout": 0.3},
     ("no complete answer in 0.3 s", "timed out"), ["/slow"]),
    ("not-found", "/missing.wav", {}, ("the server answered HTTP 404",), ["/missing.wav"]),
    ("not-audio", "/page", {}, ("not a recording this engine can read",), ["/page"]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "changes", "reasons", "seen"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])  # fmt: skip
async def test_a_recording_url_that_cannot_be_used_leaves_a_failed_call_with_the_reason(
    run_audio: Run,
    stereo_wav: bytes,
    path: str,
    changes: dict[str, Any],
    reasons: tuple[str, ...],
    seen: list[str],
) -> None:
    with loopback() as server:
        serve(server, "/call.wav", stereo_wav, "audio/wav")
        server.routes["/redirect"] = _status(302, headers={"Location": "http://10.9.9.9/x.wav"})
        server.routes["/big"] = _status(200, b"\0" * 4096, {"Content-Type": "audio/wav"})
        server.routes["/slow"] = _slow
        server.routes["/page"] = _status(200, b"<html>hello</html>", {"Content-Type": "text/html"})
        url = path if "://" in path else server.url(path)
        async with run_audio(**changes) as running:
            response = await running.client.post(
                OBSERVE, json=audio_call("refused", voice_recording_url=url), headers=HEADERS
            )
            done = await posted(running, response)
            listed = await running.client.get(V1, headers=HEADERS)
    message = done["error_message"]
    assert done["evaluation_status"] == "failed" and done["status"] == "failure"
    assert any(words in message for words in reasons), message
    assert "voice_recording_url:" in message, message
    assert [s.path for s in server.seen] == seen
    assert done["voice_recording_url"] == url  # nothing stored: the address as it was sent
    assert listed.json()["count"] == 1  # the call is kept, failed, for a re-run


@pytest.mark.slow
async def test_a_failed_fetch_is_retried_once_the_url_answers(
    run_audio: Run, stereo_wav: bytes
) -> None:
    with loopback() as server:
        url = server.url("/late.wav")
        async with run_audio() as running:
            response = await running.client.post(
                OBSERVE, json=audio_call("late", voice_recording_url=url), headers=HEADERS
            )
            failed = await posted(running, response)
            serve(server, "/late.wav", stereo_wav, "audio/wav")
            rerun = await running.client.post(
                f"{V1}rerun_evaluation/", json={"agent_id": 1, "call_logs": [failed["id"]]},
                headers=HEADERS,
            )  # fmt: skip
            assert rerun.status_code == 200, rerun.text
            done = await running.wait_finished(failed["id"])
    assert failed["evaluation_status"] == "failed" and "HTTP 404" in failed["error_message"]
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert GREETING in said_by(done, AGENT)


def _silence() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\0\0" * 8000)
    return out.getvalue()


UPLOADS: dict[str, Callable[[bytes], bytes]] = {
    "not-audio": lambda wav: b"<html>not audio</html>",
    "silent": lambda wav: _silence(),
    "too-long": lambda wav: wav,
    "too-large": lambda wav: wav,
    "truncated": lambda wav: wav[:60],
}


@pytest.mark.parametrize(
    ("kind", "changes", "reason"),
    [
        ("not-audio", {}, "not a recording this engine can read"),
        ("silent", {}, "the recording is silent"),
        ("too-long", {"max_recording_seconds": 2.0}, "longer than the duration cap"),
        ("too-large", {"max_recording_bytes": 4096}, "over the size cap"),
        ("truncated", {}, "truncated"),
    ],
)
async def test_an_unusable_upload_is_a_400_and_nothing_is_stored(
    run_audio: Run, stereo_wav: bytes, kind: str, changes: dict[str, Any], reason: str
) -> None:
    files = {"voice_recording": ("call.wav", UPLOADS[kind](stereo_wav), "audio/wav")}
    async with run_audio(**changes) as running:
        response = await running.client.post(
            OBSERVE, data=as_form(audio_call("bad")), files=files, headers=HEADERS
        )
        listed = await running.client.get(V1, headers=HEADERS)
    assert response.status_code == 400
    assert reason in response.json()["voice_recording"][0], response.json()
    assert listed.json()["count"] == 0


@pytest.mark.slow
async def test_a_download_that_fails_is_retried_by_the_worker_until_it_answers(
    run_audio: Run, stereo_wav: bytes
) -> None:
    """The queue's own retry: the first attempt meets a 404 and the call waits for its next
    attempt (the reason shown meanwhile); once the file is there, that attempt succeeds."""
    with loopback() as server:
        url = server.url("/soon.wav")
        async with run_audio(max_attempts=3, retry_base_seconds=0.3) as running:
            response = await running.client.post(
                OBSERVE, json=audio_call("soon", voice_recording_url=url), headers=HEADERS
            )
            pk = response.json()["id"]
            waiting: dict[str, Any] = {}
            for _ in range(500):
                waiting = (await running.client.get(f"{V1}{pk}/", headers=HEADERS)).json()
                if waiting["error_message"]:
                    break
                await asyncio.sleep(0.01)
            serve(server, "/soon.wav", stereo_wav, "audio/wav")
            done = await running.wait_finished(pk)
    assert waiting["status"] == "evaluating" and "HTTP 404" in waiting["error_message"]
    assert done["evaluation_status"] == "evaluated", done["error_message"]
    assert [s.path for s in server.seen] == ["/soon.wav", "/soon.wav"]
