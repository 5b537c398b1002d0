"""No call is lost: restarts mid-evaluation, a judge that fails and recovers, retries running
out and a re-run, and the signed completion webhook."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import func, select

from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.webhook import SIGNATURE_HEADER, Webhook, verify_signature
from evaluator.store.deliveries import DeliveryStore
from evaluator.store.tables import EvaluationRow
from tests.service.conftest import HEADERS, RunApp, Running

OBSERVE = "/observability/v1/observe/"
LOGS = "/observability/v1/call-logs/"


def evaluation_runs(running: Running, pk: int) -> int:
    with running.service.store.engine.connect() as conn:
        count = conn.scalar(select(func.count()).where(EvaluationRow.call_pk == pk))
    return int(count or 0)


async def _post(running: Running, body: dict[str, Any]) -> int:
    response = await running.client.post(OBSERVE, json=body, headers=HEADERS)
    assert response.status_code == 201, response.text
    pk: int = response.json()["id"]
    return pk


async def test_clean_restart_mid_evaluation_hands_calls_back(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(judge=ScriptedJudge(latency_seconds=3600)) as first:
        pks = [await _post(first, {**booking_request, "call_id": f"r{n}"}) for n in range(3)]
        for pk in pks[:2]:  # concurrency 2: two in flight, one waiting
            await first.wait_finished(pk, statuses=("evaluating",))
    async with run_app() as second:
        finished = [await second.wait_finished(pk) for pk in pks]
        runs = [evaluation_runs(second, pk) for pk in pks]
    assert [c["evaluation_status"] for c in finished] == ["evaluated"] * 3
    assert runs == [1, 1, 1]
    assert len(second.judge.requests) == 3


async def test_crash_mid_evaluation_is_taken_over_when_the_lease_ends(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(judge=ScriptedJudge(latency_seconds=3600), lease_seconds=0.3) as first:
        pk = await _post(first, booking_request)
        await first.wait_finished(pk, statuses=("evaluating",))
        # A crash: the process dies without handing its call back.
        first.service.store.release = lambda claim: None  # type: ignore[method-assign]
    async with run_app(lease_seconds=0.3) as second:
        done = await second.wait_finished(pk)
        runs = evaluation_runs(second, pk)
    assert done["evaluation_status"] == "evaluated" and done["metrics"]
    assert runs == 1


async def test_a_judge_that_fails_twice_then_succeeds(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    judge = ScriptedJudge(fail_times=2)
    async with run_app(judge=judge, max_attempts=3) as running:
        pk = await _post(running, booking_request)
        done = await running.wait_finished(pk)
        runs = evaluation_runs(running, pk)
    assert done["evaluation_status"] == "evaluated" and done["error_message"] is None
    assert done["success"] is True
    assert judge.failures == 2 and len(judge.requests) == 3
    assert runs == 1


async def test_retries_run_out_then_a_rerun_succeeds(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    judge = ScriptedJudge(fail_times=100)
    async with run_app(judge=judge, max_attempts=3) as running:
        pk = await _post(running, booking_request)
        failed = await running.wait_finished(pk)
        judge.fail_times = 0
        rerun = await running.client.post(
            f"{LOGS}rerun_evaluation/", json={"agent_id": 1, "call_logs": [pk]}, headers=HEADERS
        )
        done = await running.wait_finished(pk)
    assert failed["evaluation_status"] == "failed"
    assert "failed after 3 attempts" in failed["error_message"]
    assert "scripted failure" in failed["error_message"]
    assert failed["success"] is None
    assert len(judge.requests) == 4
    assert rerun.status_code == 200
    assert done["evaluation_status"] == "evaluated" and done["error_message"] is None


async def test_completion_webhook_is_signed(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    secret = "webhook-secret"
    url = "http://hooks.example/evaluated"
    async with run_app(webhook_url=url, webhook_secret=secret) as running:
        worker = running.service.running_worker()
        assert worker.webhook is not None and worker.webhook.url == url
        worker.webhook = Webhook(url, secret, transport=httpx.MockTransport(receiver))
        pk = await _post(running, booking_request)
        await running.wait_finished(pk)
        for _ in range(500):
            records = DeliveryStore(running.service.store).of_call(pk)
            if received and records and records[0].status == "delivered":
                break
            await asyncio.sleep(0.01)
    assert len(received) == 1
    # The delivery is kept: one try, delivered.
    assert [(d.url, d.status, d.attempts, d.last_error) for d in records] == [
        (url, "delivered", 1, None)]  # fmt: skip
    body = received[0].content
    assert verify_signature(body, secret, received[0].headers[SIGNATURE_HEADER])
    assert not verify_signature(body + b" ", secret, received[0].headers[SIGNATURE_HEADER])
    assert json.loads(body)["id"] == pk and json.loads(body)["evaluation_status"] == "evaluated"
