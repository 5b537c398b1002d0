"""Boundary tier: how often the judge asks, counted at a loopback server.

The two kinds of retry stay apart (STYLE.md habit 8): a schema-invalid answer is re-asked
``max_reasks`` times and no more (instructor, whose integer ``max_retries`` means re-asks on
validation errors from 1.17 on; before that it counted attempts and retried every error, so
the range is pinned in pyproject.toml); a transport failure is never re-asked by instructor.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel

from evaluator.errors import JudgeUnavailableError
from evaluator.judge.litellm_judge import JudgeSettings, LiteLLMJudge
from evaluator.judge.schema import JudgeRequest


class Verdict(BaseModel):
    reasons: str
    passed: bool


class _Server(ThreadingHTTPServer):
    status = 200
    content = "{}"
    requests = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests += 1
        body: dict[str, Any] = {
            "id": "c1", "object": "chat.completion", "created": 0, "model": "stand-in",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.server.content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }  # fmt: skip
        if self.server.status != 200:
            body = {"error": {"message": "stand-in failure", "type": "server_error"}}
        data = json.dumps(body).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _judge(server: _Server, **changes: Any) -> LiteLLMJudge:
    settings = JudgeSettings(
        model="openai/stand-in", api_base=f"http://127.0.0.1:{server.server_port}/v1",
        api_key="sk-test", structured_mode="json", timeout=10.0, **changes,
    )  # fmt: skip
    return LiteLLMJudge(settings)


REQUEST = JudgeRequest("call", [{"role": "user", "content": "judge this"}], Verdict)


@pytest.mark.parametrize("max_reasks", [0, 1, 2])
async def test_an_off_schema_answer_is_re_asked_exactly_max_reasks_times(
    server: _Server, max_reasks: int
) -> None:
    server.content = json.dumps({"reasons": "fine", "passed": "maybe"})  # not a boolean
    answer = await _judge(server, max_reasks=max_reasks, num_retries=0).answer(REQUEST)
    assert server.requests == 1 + max_reasks
    assert answer.attempts == 1 + max_reasks
    assert "passed" in answer.errors and "passed" not in answer.fields


async def test_a_valid_answer_after_one_re_ask_stops_asking(server: _Server) -> None:
    answers = iter(['{"reasons": "x", "passed": "maybe"}', '{"reasons": "x", "passed": true}'])

    original = _Handler.do_POST

    def do_post(handler: _Handler) -> None:
        handler.server.content = next(answers, handler.server.content)
        original(handler)

    _Handler.do_POST = do_post  # type: ignore[method-assign]
    try:
        answer = await _judge(server, max_reasks=3, num_retries=0).answer(REQUEST)
    finally:
        _Handler.do_POST = original  # type: ignore[method-assign]
    assert server.requests == 2
    assert answer.fields["passed"] is True


async def test_a_transport_failure_is_not_re_asked(server: _Server) -> None:
    server.status = 500
    with pytest.raises(JudgeUnavailableError):
        await _judge(server, max_reasks=2, num_retries=0).answer(REQUEST)
    assert server.requests == 1


@pytest.mark.parametrize("num_retries", [0, 2])
async def test_transport_retries_send_exactly_one_more_request_each_and_say_so(
    server: _Server, num_retries: int
) -> None:
    server.status = 503
    with pytest.raises(JudgeUnavailableError) as caught:
        await _judge(server, num_retries=num_retries).answer(REQUEST)
    sent = 1 + num_retries
    assert server.requests == sent
    assert f"after {sent} request" in str(caught.value)


async def test_a_bad_request_is_not_retried(server: _Server) -> None:
    server.status = 400
    with pytest.raises(JudgeUnavailableError) as caught:
        await _judge(server, num_retries=3).answer(REQUEST)
    assert server.requests == 1
    assert "after 1 request:" in str(caught.value)


class _Failure(Exception):
    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"status {status}")
        self.status_code = status
        self.retry_after = retry_after


async def test_retry_after_is_honoured_on_every_re_send_and_backoff_otherwise() -> None:
    from evaluator.judge.transport import RetriesExhausted, send_with_retries

    failures = iter([_Failure(429, 2.0), _Failure(503), _Failure(429, 2.0), _Failure(429, 999)])
    slept: list[float] = []

    async def send() -> str:
        raise next(failures)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with pytest.raises(RetriesExhausted) as caught:
        await send_with_retries(
            send, retries=3, is_transient=lambda e: True,
            retry_after=lambda e: getattr(e, "retry_after", None), base_delay=0.5, sleep=sleep,
        )  # fmt: skip
    assert caught.value.attempts == 4
    assert slept[0] == 2.0 and slept[2] == 2.0  # as the server asked, every time
    assert 0 <= slept[1] <= 0.5 * 2  # backoff (full jitter) after the 2nd attempt's 503
    assert len(slept) == 3  # no sleep after the last attempt
