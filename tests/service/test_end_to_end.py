"""A Cekura client's flows against a running service (uvicorn on loopback, httpx over the
network): post as JSON, form and multipart, poll, list by agent, review, vote, rerun, export,
delete; and the providers' signed end-of-call webhooks becoming judged calls."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from evaluator.config import Settings
from evaluator.ingest.webhooks.signatures import retell_signature
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.app import create_app
from tests.conftest import ROOT
from tests.ingest.audio.synth import tone_wav
from tests.ingest.transcripts.transcript_payloads import read_payload
from tests.service.calls import as_form
from tests.service.conftest import API_KEY

KEY = {"X-CEKURA-API-KEY": API_KEY}
LOGS = "/observability/v2/call-logs/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'e2e.db'}", api_keys=API_KEY,
        agents_dirs=[ROOT / "agents"], poll_seconds=0.02, retry_base_seconds=0.0,
        vapi_secret="vapi-s3cret", retell_api_key="key_retell",
        blob_url=str(tmp_path / "blobs"), recording_timing=False,
    )  # fmt: skip
    app = create_app(settings, judge=ScriptedJudge())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):  # bounded wait for start-up
        if server.started:
            break
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def poll(client: httpx.Client, pk: int) -> dict[str, Any]:
    """GET the call until its evaluation finished, as a Cekura client polls (bounded)."""
    for _ in range(500):
        body: dict[str, Any] = client.get(f"{LOGS}{pk}/").json()
        if body["status"] != "evaluating":
            return body
        time.sleep(0.02)
    raise AssertionError(f"call {pk} never finished: {body}")


def test_a_cekura_clients_flows(base_url: str, booking_request: dict[str, Any]) -> None:
    with httpx.Client(base_url=base_url, headers=KEY, timeout=30) as client:
        posted = [
            client.post("/observability/v1/observe/", json={**booking_request, "call_id": "e2e-json"}),
            client.post("/observability/v1/observe/",
                        data=as_form({**booking_request, "call_id": "e2e-form"})),
            client.post("/observability/v1/observe/",
                        data=as_form({**booking_request, "call_id": "e2e-multipart"}),
                        files={"voice_recording": ("call.wav", tone_wav(), "audio/wav")}),
        ]  # fmt: skip
        assert [r.status_code for r in posted] == [201, 201, 201], [r.text for r in posted]
        assert all(r.json()["status"] == "evaluating" for r in posted)
        pks = [r.json()["id"] for r in posted]
        done = [poll(client, pk) for pk in pks]
        assert all(d["status"] == "success" and d["evaluation"]["metrics"] for d in done)

        page = client.get(LOGS, params={"agent_id": 1, "page_size": 2}).json()
        assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
        assert client.get(page["next"]).json()["results"][0]["id"] == pks[0]

        first = pks[0]
        review = client.patch(f"{LOGS}{first}/", json={"status": "reviewed_failure",
                                                       "feedback": "wrong slot"})  # fmt: skip
        assert review.status_code == 200 and review.json()["is_reviewed"] is True
        goal = next(m for m in done[0]["metrics"] if m["slug"] == "call_goal_achieved")["id"]
        vote = client.post(f"{LOGS}{first}/mark_metric_vote/",
                           json={"metric_id": goal, "thumbs_up": False, "expected_value": False})  # fmt: skip
        assert vote.status_code == 200 and "detail" in vote.json()

        rerun = client.post(f"{LOGS}rerun_evaluation/", json={"agent_id": 1, "call_logs": "all"})
        assert rerun.status_code == 200 and sorted(c["id"] for c in rerun.json()) == sorted(pks)
        after = [poll(client, pk) for pk in pks]
        assert after[0]["status"] == "reviewed_failure" and after[1]["status"] == "success"

        exported = client.get(f"{LOGS}export_call_logs/", params={"agent_id": 1})
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert exported.status_code == 200 and len(rows) == 3
        assert {r["status"] for r in rows} == {"success", "reviewed_failure"}

        assert client.delete(f"{LOGS}{first}/").status_code == 204
        assert client.get(f"{LOGS}{first}/").status_code == 404
        deleted = client.post(f"{LOGS}delete_call_logs/", json={"call_logs": pks[1:]})
        assert deleted.status_code == 204 and client.get(LOGS).json()["count"] == 0


def test_signed_provider_webhooks_become_judged_calls(base_url: str) -> None:
    vapi = read_payload("vapi_end_of_call_report.json")
    vapi["message"]["assistant"] = {"id": "asst_bright_smile_01"}
    retell = read_payload("retell_webhook_call_ended.json")
    retell["event"] = "call_analyzed"
    retell["call"]["agent_id"] = "asst_bright_smile_01"
    retell_body = json.dumps(retell).encode()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        from_vapi = client.post("/observability/v1/vapi/observe/", json=vapi,
                                headers={"X-Vapi-Secret": "vapi-s3cret"})  # fmt: skip
        from_retell = client.post(
            "/observability/v1/retell/observe/", content=retell_body,
            headers={"x-retell-signature": retell_signature("key_retell", retell_body),
                     "Content-Type": "application/json"},
        )  # fmt: skip
        assert from_vapi.status_code == from_retell.status_code == 200, from_retell.text
        client.headers.update(KEY)
        judged = [poll(client, r.json()["id"]) for r in (from_vapi, from_retell)]
    assert [j["call_id"] for j in judged] == [
        "9a7b3c2d-1e0f-4a5b-8c6d-7e8f9a0b1c2d", "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq7"]  # fmt: skip
    assert all(j["evaluation_status"] == "evaluated" and j["metrics"] for j in judged)
