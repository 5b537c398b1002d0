"""A loopback stand-in for an OpenAI-compatible server that answers from a script.

Each chat completion gets the next scripted reply: its text and the ``usage`` the server
reports for it. A test can so make the real judge (litellm, instructor) re-ask, and knows
exactly what the server said each response cost. A real HTTP server on 127.0.0.1, in a thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Reply", "ScriptedServer", "scripted_server"]


@dataclass(frozen=True)
class Reply:
    """One scripted response: the assistant's text and the tokens the server reports."""

    content: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class ScriptedServer:
    """The replies still to give, and every request body received (parsed)."""

    replies: list[Reply]
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_body(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(request)
            if not self.replies:
                raise AssertionError("the judge sent more requests than the script has replies")
            reply = self.replies.pop(0)
            number = len(self.requests)
        usage = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
        message = {"role": "assistant", "content": reply.content}
        return {
            "id": f"scripted-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": usage,
        }


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no {self.path} here"}})
                return
            self._send(200, server.next_body(request))

        def _send(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@contextlib.contextmanager
def scripted_server(replies: Sequence[Reply]) -> Iterator[ScriptedServer]:
    """The server on a free loopback port (``url`` ends in ``/v1``), stopped on exit."""
    state = ScriptedServer(list(replies))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
