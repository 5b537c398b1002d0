"""The process pool (service/offload.py): a call read, redacted and judged in a worker process
is stored and evaluated exactly as one done in a thread, a refusal made there is the same
field-keyed 400, and the pool is shut down with the app. ``offload_min_bytes=0`` sends every
JSON body and every call through the pool; ``cpu_processes=0`` keeps everything in threads."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from evaluator.bootstrap import Definitions
from evaluator.errors import RequestValidationError
from evaluator.ingest.limits import Limits
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.offload import CHILD_NICENESS, Offload
from evaluator.service.webhook import Webhook
from evaluator.store.calls import Claim
from tests.service.calls import OBSERVE
from tests.service.conftest import HEADERS, RunApp


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only: the pool never touches the database, and each app here starts one."""
    yield f"sqlite:///{tmp_path}/offload.db"


IN_PROCESS = {"cpu_processes": 1, "offload_min_bytes": 0}
IN_THREAD = {"cpu_processes": 0}
# What differs between two runs of the same call: when, and our ids.
VOLATILE = ("id", "call_id", "created_at", "updated_at", "evaluated_at")


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def _judged(run_app: RunApp, body: dict[str, Any], **overrides: Any) -> tuple[Any, bool]:
    async with run_app(**overrides) as running:
        posted = await running.client.post(OBSERVE, json=body, headers=HEADERS)
        assert posted.status_code == 201, posted.text
        done = await running.wait_finished(posted.json()["id"])
        return (_stable(posted.json()), _stable(done)), running.service.offload.started


async def test_a_call_offloaded_is_stored_and_judged_as_in_a_thread(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    body = {**booking_request, "redact_fields": ["email_address", "phone_number", "person_name"],
            "metadata": {"note": "reach me at dana@example.com"}}  # fmt: skip
    offloaded, pooled = await _judged(run_app, {**body, "call_id": "a"}, **IN_PROCESS)
    threaded, unpooled = await _judged(run_app, {**body, "call_id": "b"}, **IN_THREAD)
    assert (pooled, unpooled) == (True, False)  # each took the path it was meant to
    assert offloaded == threaded
    _posted, done = offloaded
    assert done["evaluation_status"] == "evaluated" and done["metrics"]
    assert any(note.startswith("PII redacted") for note in done["notes"])


BAD_BODIES = {
    "not JSON": b'{"call_id": ',
    "not an object": b"[1, 2]",
    "lone surrogate": b'{"call_id": "x", "agent": 1, "feedback": "a\\ud800b", '
    b'"transcript_json": [{"role": "Main Agent", "content": "hi"}]}',
    "non-finite": b'{"call_id": "x", "agent": 1, "metadata": {"a": NaN}}',
    "too deep": json.dumps(
        {"call_id": "x", "agent": 1, "metadata": [[[[[[[[[[0]]]]]]]]]]}
    ).encode(),
}


async def test_refusals_in_a_process_are_the_same_field_keyed_400s(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    too_many = {**booking_request, "transcript_json": booking_request["transcript_json"] * 3}
    unknown_agent = {**booking_request, "agent": 999_999}
    bodies = {**BAD_BODIES, "too many turns": json.dumps(too_many).encode(),
              "unknown agent": json.dumps(unknown_agent).encode()}  # fmt: skip
    answers: dict[str, list[tuple[int, Any]]] = {name: [] for name in bodies}
    for overrides in (IN_PROCESS, IN_THREAD):
        async with run_app(max_depth=5, max_turns=5, **overrides) as running:
            for name, raw in bodies.items():
                response = await running.client.post(
                    OBSERVE, content=raw, headers={**HEADERS, "Content-Type": "application/json"}
                )
                answers[name].append((response.status_code, response.json()))
            assert running.service.offload.started is (overrides is IN_PROCESS)
    for name, (offloaded, threaded) in answers.items():
        assert offloaded == threaded, name
        assert offloaded[0] == 400 and isinstance(offloaded[1], dict), name
        assert all(isinstance(v, list) for v in offloaded[1].values()), name


async def test_the_pool_is_shut_down_with_the_app(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(**IN_PROCESS) as running:
        posted = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        assert posted.status_code == 201
        await running.wait_finished(posted.json()["id"])
        offload = running.service.offload
        pool = offload._pool
        assert pool is not None
        children = list(pool._processes.values())
        assert children and all(child.is_alive() for child in children)
    assert not offload.started
    assert all(child.exitcode is not None for child in children)


async def test_the_evaluation_stages_refuse_in_a_process_as_in_a_thread(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    """The worker's path: a stored request the definitions no longer accept."""
    request = {**booking_request, "agent": 999_999, "metric_ids": ["no-such-metric"]}
    claim = Claim(1, "token", 1, json.dumps(request), {}, "request", None)
    catalogue, renderer = definitions.catalogue, definitions.renderer
    errors = []
    for offload in (Offload(1, 0), Offload(0, 0)):
        try:
            with pytest.raises(RequestValidationError) as refused:
                await offload.evaluate(claim, catalogue, renderer, ScriptedJudge(), Limits())
            errors.append(refused.value.errors)
        finally:
            offload.shutdown()
    assert errors[0] == errors[1] and "agent" in errors[0]


async def test_a_large_post_is_stored_and_answered_by_a_process_as_by_a_thread(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    """Re-posts, a clashing call_id, and ``wait``: the answers a body stored by a child of
    the pool gets are those of one stored in this process."""
    seen = []
    for run, overrides in enumerate((IN_PROCESS, IN_THREAD)):
        first = {**booking_request, "call_id": f"same-{run}"}
        clash = {**first, "feedback": "another body"}
        async with run_app(**overrides) as running:
            post = running.client.post
            created = await post(OBSERVE, json=first, headers=HEADERS)
            again = await post(OBSERVE, json=first, headers=HEADERS)
            clashed = await post(OBSERVE, json=clash, headers=HEADERS)
            waited = await post(f"{OBSERVE}?wait=true", headers=HEADERS,
                                json={**booking_request, "call_id": f"waited-{run}"})  # fmt: skip
            assert running.service.offload.started is (overrides is IN_PROCESS)
        # The re-post answers the stored call, as it stands by then (maybe judged already).
        assert (again.status_code, again.json()["id"]) == (200, created.json()["id"])
        assert list(clashed.json()) == ["call_id"]
        seen.append([(r.status_code, _stable(r.json())) for r in (created, clashed, waited)])
    assert seen[0] == seen[1]
    assert [code for code, _ in seen[0]] == [201, 400, 201]
    assert seen[0][2][1]["evaluation_status"] == "evaluated" and seen[0][2][1]["metrics"]


async def test_the_webhook_of_a_call_judged_in_a_process_carries_the_whole_call(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    """The call the worker reads back for the webhook (and alerts) is read in a process;
    the webhook's body is the whole call log, transcript included."""
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    url = "http://hooks.example/evaluated"
    async with run_app(webhook_url=url, **IN_PROCESS) as running:
        worker = running.service.running_worker()
        worker.webhook = Webhook(url, None, transport=httpx.MockTransport(receiver))
        posted = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        pk = posted.json()["id"]
        detail = await running.wait_finished(pk)
        for _ in range(500):
            if received:
                break
            await asyncio.sleep(0.01)
    assert len(received) == 1
    sent = json.loads(received[0].content)
    assert sent["id"] == pk and sent["evaluation_status"] == "evaluated"
    said = [turn["content"] for turn in detail["transcript_object"]]
    assert said and [turn["content"] for turn in sent["transcript_object"]] == said


async def test_the_pool_starts_with_the_service_when_warm(run_app: RunApp) -> None:
    async with run_app(offload_warm=True, cpu_processes=1) as running:
        assert running.service.offload.started  # before any call came
    async with run_app(offload_warm=False, cpu_processes=1) as running:
        assert not running.service.offload.started


async def test_the_children_yield_the_cpu_to_the_service() -> None:
    """A child's long parse must not take a core from the event loop answering requests."""
    offload = Offload(1, 0)
    try:
        child = await offload.run(os.nice, 0)  # its niceness, unchanged
    finally:
        offload.shutdown()
    assert child == min(os.nice(0) + CHILD_NICENESS, 19)
