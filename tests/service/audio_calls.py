"""Helpers of the service's audio tests: a call posted as audio, waited for, read back."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import httpx

from tests.ingest.audio.loopback import Loopback, Seen, reply
from tests.service.conftest import Running

Run = Callable[..., contextlib.AbstractAsyncContextManager[Running]]
GREETING = "thank you for calling"  # the agent's first line of SHORT_SCRIPT


def audio_call(call_id: str, **fields: Any) -> dict[str, Any]:
    return {"call_id": call_id, "agent": 1, **fields}


async def posted(
    running: Running, response: httpx.Response, *, audio_only: bool = True
) -> dict[str, Any]:
    """The call of a 201, once its evaluation finished: stored first (an audio-only call
    with no transcript yet), then worked on."""
    assert response.status_code == 201, response.text
    first = response.json()
    assert first["status"] == "evaluating"
    assert (first["transcript"] == "") is audio_only
    return await running.wait_finished(first["id"])


def said_by(detail: dict[str, Any], role: str) -> str:
    return " ".join(t["content"] for t in detail["transcript_object"] if t["role"] == role).lower()


def serve(server: Loopback, path: str, body: bytes, content_type: str) -> None:
    def answer(handler: Any, _seen: Seen) -> None:
        reply(handler, 200, body, {"Content-Type": content_type})

    server.routes[path] = answer
