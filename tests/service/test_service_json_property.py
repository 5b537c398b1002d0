"""Property: whatever JSON a client sends to a route that takes a body, the answer is a 2xx
or a 4xx in the contract's shape (400 and 413 keyed by field), never a 5xx; on SQLite and
on PostgreSQL (where NUL, lone surrogates, huge numbers and times fail differently).

Bodies are arbitrary JSON values, and the example call with one field (or one turn's field)
replaced by an arbitrary value; values include lone surrogates, NUL, NaN, infinities, huge
integers and deep lists. A modest example budget keeps CI fast; ``derandomize`` replays the
same examples every run."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator.config import Settings
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.app import create_app
from tests.conftest import ROOT, load_example
from tests.service.conftest import HEADERS

EXAMPLES = 40
TEXT = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ["\ud800", "a\x00b", "", "0001-01-01T00:00:00+14:00", "auto", "none-mono"]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**4200), 2**63])
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as its \\ud800 escape: valid JSON text.
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A body: arbitrary JSON, or the example call with one value replaced."""
    call = load_example("booking_success_cekura.json")
    kind = draw(st.sampled_from(["any", "field", "turn", "deep", "digits"]))
    if kind == "any":
        return _dumps(draw(VALUES))
    if kind == "digits":  # an integer past Python's 4,300-digit parsing limit, as text
        field = draw(st.sampled_from(["agent", "metadata", "feedback"]))
        text = json.dumps({**call, field: 0}).replace(f'"{field}": 0', f'"{field}": {"9" * 5000}')
        return text.encode()
    if kind == "deep":  # nested as text: json.dumps itself cannot write 2,000 levels
        field = draw(st.sampled_from(["metadata", "transcript_json", "dynamic_variables"]))
        levels = draw(st.sampled_from([31, 33, 2000]))
        deep = "[" * levels + "]" * levels
        return (
            json.dumps({**call, field: 0}).replace(f'"{field}": 0', f'"{field}": {deep}').encode()
        )
    value = draw(VALUES)
    if kind == "turn":
        turn = draw(st.integers(0, len(call["transcript_json"]) - 1))
        key = draw(st.sampled_from(["role", "content", "start_time", "end_time", "x"]))
        call["transcript_json"][turn][key] = value
    else:
        key = draw(st.sampled_from([*call, "metadata", "feedback", "dynamic_variables",
                                    "redact_fields", "timestamp", "unknown"]))  # fmt: skip
        call[key] = value
    call["call_id"] = f"prop-{draw(st.integers(0, 10**9))}"
    return _dumps(call)


def _contract_shaped(response: httpx.Response) -> bool:
    if response.status_code < 400:
        return response.status_code < 300
    if response.status_code >= 500:
        return False
    body = response.json()
    if response.status_code in (400, 413):
        return bool(body) and all(
            isinstance(v, list) and v and all(isinstance(m, str) for m in v) for v in body.values()
        )
    # 404 (the call is gone: a generated body deleted it), 409 (being evaluated).
    return response.status_code in (404, 409) and isinstance(body.get("detail"), str)


@pytest.fixture
def live(database_url: str) -> Iterator[httpx.Client]:
    app = create_app(
        Settings(database_url=database_url, api_keys=HEADERS["X-API-Key"],
                 agents_dirs=[ROOT / "agents"], poll_seconds=0.05, retry_base_seconds=0.0,
                 max_body_bytes=256 * 1024),
        judge=ScriptedJudge(),
    )  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS, timeout=30) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_any_json_body_gets_a_2xx_or_a_field_keyed_4xx(live: httpx.Client) -> None:
    stored = live.post(
        "/observability/v1/observe/", json=load_example("booking_success_cekura.json")
    )
    assert stored.status_code == 201, stored.text
    pk = stored.json()["id"]
    logs = "/observability/v1/call-logs/"
    routes = [
        ("POST", "/observability/v1/observe/"),
        ("PATCH", f"{logs}{pk}/"),
        ("POST", f"{logs}{pk}/mark_metric_vote/"),
        ("POST", f"{logs}evaluate_metrics/"),
        ("POST", f"{logs}rerun_evaluation/"),
        ("POST", f"{logs}delete_call_logs/"),
        ("POST", "/observability/v1/pipecat/observe/"),
    ]
    seen: dict[int, int] = {}

    @given(route=st.sampled_from(routes), body=bodies())
    @settings(max_examples=EXAMPLES * len(routes), deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(route: tuple[str, str], body: bytes) -> None:
        method, path = route
        answer = live.request(method, path, content=body,
                              headers={"Content-Type": "application/json"})  # fmt: skip
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        assert _contract_shaped(answer), (method, path, body[:300], answer.status_code, answer.text)

    check()
    # The bodies reached past validation too, not only into 400s.
    assert seen.get(400, 0) > 0 and sum(n for s, n in seen.items() if s < 300) > 0, seen
