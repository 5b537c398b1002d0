"""Providers' own end-of-call webhooks, as each provider sends them, become judged calls; a
configured secret makes the provider's signature the authentication."""

from __future__ import annotations

import json
import time
from typing import Any

from evaluator.ingest.webhooks.signatures import hmac_signature, retell_signature
from tests.ingest.transcripts.transcript_payloads import read_payload
from tests.service.calls import listed
from tests.service.conftest import HEADERS, RunApp, call_detail

PROVIDER = "/observability/v1/{}/observe/"
ASSISTANT = "asst_bright_smile_01"
SECRETS = {"vapi_secret": "vapi-s3cret", "retell_api_key": "key_retell",
           "livekit_webhook_secret": "lk-s3cret", "pipecat_webhook_secret": "pc-s3cret"}  # fmt: skip


def vapi_report() -> dict[str, Any]:
    body: dict[str, Any] = read_payload("vapi_end_of_call_report.json")
    body["message"]["assistant"] = {"id": ASSISTANT, "variableValues": {"today": "Monday",
                                                                        "bad name": 1}}  # fmt: skip
    body["message"]["customer"] = {"number": "+14155550123"}
    return body


def retell_event(event: str) -> dict[str, Any]:
    body: dict[str, Any] = read_payload("retell_webhook_call_ended.json")
    body["event"] = event
    body["call"]["agent_id"] = ASSISTANT
    return body


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def test_vapi_end_of_call_report_with_its_secret_becomes_a_judged_call(
    run_app: RunApp,
) -> None:
    url = PROVIDER.format("vapi")
    update = {"message": {"type": "status-update", "status": "in-progress"}}
    async with run_app(**SECRETS) as running:
        post = running.client.post
        stored = await post(
            url, content=raw(vapi_report()), headers={"X-Vapi-Secret": "vapi-s3cret"}
        )
        assert stored.status_code == 200, stored.text
        done = call_detail(await running.wait_finished(stored.json()["id"]))
        wrong = await post(url, content=raw(vapi_report()), headers={"X-Vapi-Secret": "nope"})
        key_only = await post(url, content=raw(vapi_report()), headers=HEADERS)
        ignored = await post(url, json=update, headers={"X-Vapi-Secret": "vapi-s3cret"})
        count = (await listed(running))["count"]
    assert done.evaluation_status == "evaluated" and done.agent == 1
    assert done.call_id == "9a7b3c2d-1e0f-4a5b-8c6d-7e8f9a0b1c2d"
    assert (done.call_ended_reason, done.customer_number) == ("customer-ended-call", "+14155550123")
    assert done.voice_recording_url == "https://storage.vapi.ai/9a7b3c2d-recording.wav"
    assert done.dynamic_variables == {"today": "Monday"}
    assert done.transcript_object[0].start_time == 2.32
    assert "dynamic variable 'bad name' ignored" in stored.json()["notes"][0]
    assert wrong.status_code == key_only.status_code == 401
    assert ignored.status_code == 200 and ignored.json()["detail"].startswith("ignored")
    assert count == 1


async def test_without_a_secret_the_api_key_authenticates_and_agent_id_names_the_agent(
    run_app: RunApp,
) -> None:
    body = vapi_report()
    del body["message"]["assistant"]
    url = PROVIDER.format("vapi")
    async with run_app() as running:
        anonymous = await running.client.post(url, content=raw(body))
        unnamed = await running.client.post(url, content=raw(body), headers=HEADERS)
        named = await running.client.post(
            url,
            params={"agent_id": 1},
            content=raw(body),
            headers={"X-CEKURA-API-KEY": "test-key-1"},
        )
    assert anonymous.status_code == 401
    assert unnamed.status_code == 400 and "agent_id" in unnamed.json()
    assert named.status_code == 200 and named.json()["agent"] == 1


async def test_retell_end_events_with_valid_signatures_are_one_judged_call(
    run_app: RunApp,
) -> None:
    url = PROVIDER.format("retell")
    now = int(time.time() * 1000)
    async with run_app(**SECRETS) as running:
        sent = []
        for event in ("call_started", "call_ended", "call_analyzed"):
            body = raw(retell_event(event))
            header = {"x-retell-signature": retell_signature("key_retell", body)}
            sent.append(await running.client.post(url, content=body, headers=header))
        pk = sent[1].json()["id"]
        done = call_detail(await running.wait_finished(pk))
        body = raw(retell_event("call_analyzed"))
        forged = await running.client.post(
            url, content=body, headers={"x-retell-signature": retell_signature("other", body)}
        )
        stale = await running.client.post(url, content=body, headers={
            "x-retell-signature": retell_signature("key_retell", body, now - 10 * 60 * 1000)})  # fmt: skip
        count = (await listed(running))["count"]
    started, ended, analyzed = sent
    assert started.status_code == 200 and "ignored" in started.json()["detail"]
    assert ended.status_code == analyzed.status_code == 200
    assert analyzed.json()["id"] == pk and count == 1
    assert done.evaluation_status == "evaluated" and done.call_ended_reason == "user_hangup"
    assert done.timestamp is not None and done.timestamp.year == 2024
    assert forged.status_code == stale.status_code == 401


async def test_livekit_session_report_and_pipecat_post_call_bodies(run_app: RunApp) -> None:
    report = {**read_payload("livekit_session_report.json"), "session_id": "lk-session-1"}
    pipecat = {
        "call_id": "pc-call-1",
        "assistant_id": ASSISTANT,
        "transcript": read_payload("pipecat_timed.json"),
        "call_ended_reason": "customer-ended-call",
    }
    async with run_app(**SECRETS) as running:
        livekit = await running.client.post(
            PROVIDER.format("livekit"), params={"agent_id": 1}, content=raw(report),
            headers={"X-Evaluator-Signature": hmac_signature("lk-s3cret", raw(report))},
        )  # fmt: skip
        piped = await running.client.post(
            PROVIDER.format("pipecat"), content=raw(pipecat),
            headers={"X-Evaluator-Signature": hmac_signature("pc-s3cret", raw(pipecat))},
        )  # fmt: skip
        unsigned = await running.client.post(
            PROVIDER.format("pipecat"), content=raw(pipecat), headers=HEADERS
        )
        room_event = await running.client.post(
            PROVIDER.format("livekit"), params={"agent_id": 1}, content=raw({"event": "room_finished"}),
            headers={"X-Evaluator-Signature": hmac_signature("lk-s3cret", raw({"event": "room_finished"}))},
        )  # fmt: skip
    assert livekit.status_code == 200, livekit.text
    assert livekit.json()["call_id"] == "lk-session-1"
    assert livekit.json()["transcript"].startswith(
        "[00:00] Main Agent: Thanks for calling Northwind"
    )
    assert piped.status_code == 200, piped.text
    assert piped.json()["call_ended_reason"] == "customer-ended-call"
    assert unsigned.status_code == 401
    assert room_event.status_code == 200 and "ignored" in room_event.json()["detail"]
