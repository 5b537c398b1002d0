"""A stand-in for an OpenAI-compatible judge server, on loopback, for tests of the command.

It answers every chat completion with the simplest JSON that the request's
``response_format.schema`` accepts (the judge sends that schema in ``constrained_json``
mode), and keeps each request body, so a test can count what was sent. A real HTTP server
(uvicorn, raw ASGI, in a thread): the command's own judge (litellm) talks to it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = ["StandIn", "example_of", "serve_stand_in"]

Receive = Any
Send = Any


def example_of(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The simplest value ``schema`` accepts, for the shapes the judge's answer models use."""
    if "$ref" in schema:
        return example_of(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            choices = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_of(choices[0], defs)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: example_of(sub, defs) for name, sub in schema["properties"].items()}
    if kind == "array":
        return [example_of(schema["items"], defs)] * schema.get("minItems", 0)
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0.0))
    if kind == "boolean":
        return True
    return "[00:01] the stand-in's reasons".ljust(schema.get("minLength", 0), ".")


@dataclass
class StandIn:
    """The server's ASGI app and what it was sent (``requests``: the parsed bodies)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # Seconds before each answer; when each request arrived (time.time()); the most
    # requests it held at once.
    latency: float = 0.0
    arrivals: list[float] = field(default_factory=list, repr=False)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def sent(self) -> int:
        """Chat completions received so far."""
        with self._lock:
            return len(self.requests)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if not scope["path"].endswith("/chat/completions"):
            return await _reply(send, 404, {"error": {"message": f"no {scope['path']} here"}})
        request = json.loads(body)
        with self._lock:
            self.requests.append(request)
            self.arrivals.append(time.time())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
        finally:
            with self._lock:
                self.in_flight -= 1
        schema = request["response_format"]["schema"]
        answer = json.dumps(example_of(schema, schema.get("$defs", {})))
        prompt = sum(len(m.get("content") or "") for m in request["messages"]) // 4
        usage = {"prompt_tokens": prompt, "completion_tokens": len(answer) // 4,
                 "total_tokens": prompt + len(answer) // 4}  # fmt: skip
        choice = {"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": answer}}  # fmt: skip
        await _reply(send, 200, {"id": f"stand-in-{self.sent}", "object": "chat.completion",
                                 "created": 0, "model": request["model"], "choices": [choice],
                                 "usage": usage})  # fmt: skip


async def _reply(send: Send, status: int, data: Any) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


@contextlib.contextmanager
def serve_stand_in(start_timeout: float = 10.0, latency: float = 0.0) -> Iterator[StandIn]:
    """The stand-in serving on a free loopback port (``url`` ends in ``/v1``); stopped on exit."""
    stand_in = StandIn(latency=latency)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(stand_in, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the stand-in judge server did not start")
        time.sleep(0.005)
    stand_in.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    try:
        yield stand_in
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout)
        sock.close()
