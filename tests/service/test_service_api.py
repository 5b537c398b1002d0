"""The observe service end to end: post, background evaluation, reads, review, re-runs."""

from __future__ import annotations

import json
from typing import Any

from evaluator.judge.scripted import ScriptedJudge
from tests.ingest.audio.synth import tone_wav
from tests.service.calls import as_form
from tests.service.conftest import HEADERS, RunApp, call_detail, call_log, metric_of

OBSERVE = "/observability/v1/observe/"
LOGS = "/observability/v1/call-logs/"


async def test_post_answers_pending_then_get_returns_the_evaluation(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        response = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        assert response.status_code == 201, response.text
        posted = call_log(response.json())
        assert posted.evaluation_status == "pending"
        assert posted.status == "evaluating" and posted.success is None
        assert posted.metrics == []
        assert posted.call_id == booking_request["call_id"]
        assert posted.transcript.startswith("[00:00] Main Agent:")
        assert posted.id is not None
        done = call_detail(await running.wait_finished(posted.id))
        numbers = running.service.definitions.catalogue.numbers()
    assert done.evaluation_status == "evaluated"
    assert done.success is True and done.status == "success"
    assert done.topic == "book appointment"
    assert done.dropoff_point
    assert {m.slug for m in done.metrics} >= {
        "call_goal_achieved",
        "tool_call_errors",
        "latency_avg",
    }
    assert all(m.version and m.id == numbers[m.slug] for m in done.metrics)
    goal = metric_of(done, "call_goal_achieved")
    assert (goal.type, goal.score, goal.value, goal.enum, goal.passed) == (
        "binary",
        5,
        "true",
        "",
        True,
    )
    assert [m.slug for m in done.evaluation.metrics] == [m.slug for m in done.metrics]
    assert all(isinstance(m.explanation, list) for m in done.evaluation.metrics)
    assert done.evaluation.summary and done.transcript_object[0].timestamp == 0.6
    assert done.usage is not None and done.usage.requests == 1
    assert done.customer_number == booking_request["customer_number"]
    assert done.timestamp is not None and done.timestamp.year == 2026
    assert len(running.judge.requests) == 1


async def test_wait_true_returns_the_finished_evaluation(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        response = await running.client.post(
            OBSERVE, params={"wait": "true"}, json=booking_request, headers=HEADERS
        )
    assert response.status_code == 201
    body = call_log(response.json())
    assert body.evaluation_status == "evaluated" and body.metrics


async def test_identical_repost_is_idempotent_and_a_different_body_is_refused(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    raw = json.dumps(booking_request).encode()
    async with run_app() as running:
        first = await running.client.post(
            OBSERVE, content=raw, headers={**HEADERS, "Content-Type": "application/json"}
        )
        again = await running.client.post(
            OBSERVE, content=raw, headers={**HEADERS, "Content-Type": "application/json"}
        )
        changed = await running.client.post(
            OBSERVE, json={**booking_request, "customer_number": "+1999"}, headers=HEADERS
        )
        listed = await running.client.get(LOGS, headers=HEADERS)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert changed.status_code == 400
    assert f"already stored as call {first.json()['id']}" in changed.json()["call_id"][0]
    assert listed.json()["count"] == 1


async def test_duplicates_allowed_by_configuration_store_a_second_call(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(allow_duplicate_calls=True) as running:
        first = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        second = await running.client.post(
            OBSERVE, json={**booking_request, "customer_number": "+1999"}, headers=HEADERS
        )
        again = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
    assert (first.status_code, second.status_code, again.status_code) == (201, 201, 200)
    assert first.json()["id"] != second.json()["id"]
    assert again.json()["id"] == first.json()["id"]


async def test_multipart_with_a_voice_recording(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    fields = as_form(booking_request)
    files = {"voice_recording": ("call.wav", tone_wav(), "audio/wav")}
    async with run_app(recording_timing=True) as running:
        response = await running.client.post(OBSERVE, data=fields, files=files, headers=HEADERS)
        assert response.status_code == 201, response.text
        pk = response.json()["id"]
        done = await running.wait_finished(pk)
        recording = running.service.store.recording(pk)
        assert recording is not None and recording.blob_key is not None
        kept = running.service.recordings.blobs.read(recording.blob_key)
    assert done["evaluation_status"] == "evaluated"
    assert kept == tone_wav() and recording.filename == "call.wav"
    # A tone has no speech: the call is judged on its transcript, its notes say why.
    assert any("recording not used" in note for note in done["notes"]), done["notes"]


async def _post_evaluated(running: Any, body: dict[str, Any]) -> int:
    response = await running.client.post(
        OBSERVE, params={"wait": "true"}, json=body, headers=HEADERS
    )
    assert response.status_code == 201, response.text
    pk: int = response.json()["id"]
    return pk


async def test_list_filters_and_pages(run_app: RunApp, booking_request: dict[str, Any]) -> None:
    judge = ScriptedJudge(answers={"call_goal_achieved": False})
    async with run_app(judge=judge) as running:
        ids = []
        for n, day in enumerate(["2026-11-01", "2026-11-02", "2026-11-03"]):
            body = {**booking_request, "call_id": f"c{n}", "timestamp": f"{day}T10:00:00Z"}
            ids.append(await _post_evaluated(running, body))

        async def listed(**params: Any) -> dict[str, Any]:
            response = await running.client.get(LOGS, params=params, headers=HEADERS)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        everything = await listed()
        page = await listed(page_size=2)
        second = await listed(page_size=2, page=2)
        ranged = await listed(
            timestamp_from="2026-11-02T00:00:00Z", timestamp_to="2026-11-03T00:00:00Z"
        )
        failures = await listed(success="false", status="failure", topic="book appointment")
        successes = await listed(success="true")
        other_agent = await listed(agent_id=2)
    assert [c["id"] for c in everything["results"]] == ids[::-1]
    assert (
        page["count"] == 3 and len(page["results"]) == 2 and page["next"] and not page["previous"]
    )
    assert [c["id"] for c in second["results"]] == [ids[0]] and second["next"] is None
    assert [c["id"] for c in ranged["results"]] == [ids[1]]
    assert failures["count"] == 3 and successes["count"] == 0
    assert other_agent["count"] == 0


async def test_review_is_kept_apart_and_survives_rerun(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        pk = await _post_evaluated(running, booking_request)
        patched = await running.client.patch(
            f"{LOGS}{pk}/",
            json={"status": "reviewed_failure", "feedback": "missed the DOB"},
            headers=HEADERS,
        )
        reviewed = await running.client.get(
            LOGS, params={"status": "reviewed_failure"}, headers=HEADERS
        )
        rerun = await running.client.post(
            f"{LOGS}rerun_evaluation/", json={"agent_id": 1, "call_logs": "all"}, headers=HEADERS
        )
        after = await running.wait_finished(pk)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["status"] == "reviewed_failure" and body["is_reviewed"] is True
    assert body["feedback"] == "missed the DOB" and body["success"] is True
    assert reviewed.json()["count"] == 1
    assert rerun.status_code == 200 and [c["id"] for c in rerun.json()] == [pk]
    assert call_detail(rerun.json()[0]).status == "reviewed_failure"
    assert after["status"] == "reviewed_failure" and after["success"] is True
    assert len(running.judge.requests) == 2


async def test_patch_variables_and_reevaluate(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        pk = await _post_evaluated(running, booking_request)
        variables = {"clinic_location": "Elm Road", "today": "Friday"}
        response = await running.client.patch(
            f"{LOGS}{pk}/",
            json={"dynamic_variables": variables, "reevaluate_metrics": True},
            headers=HEADERS,
        )
        assert response.status_code == 200, response.text
        await running.wait_finished(pk)
        bad = await running.client.patch(
            f"{LOGS}{pk}/", json={"dynamic_variables": {"bad name": 1}}, headers=HEADERS
        )
    prompts = [json.dumps(r.messages) for r in running.judge.requests]
    assert "Elm Road" not in prompts[0] and "Elm Road" in prompts[1]
    assert bad.status_code == 400 and "dynamic_variables" in bad.json()


async def test_evaluate_metrics_replaces_only_the_chosen_results(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        pk = await _post_evaluated(running, booking_request)
        before = (await running.client.get(f"{LOGS}{pk}/", headers=HEADERS)).json()
        running.judge.answers["sentiment"] = "negative"
        sentiment_id = running.service.definitions.catalogue.metric("sentiment").number
        response = await running.client.post(
            f"{LOGS}evaluate_metrics/",
            json={"agent_id": 1, "project_id": 1, "call_logs": [pk], "metrics": [sentiment_id]},
            headers=HEADERS,
        )
        after = await running.wait_finished(pk)
        unknown = await running.client.post(
            f"{LOGS}evaluate_metrics/",
            json={"agent_id": 1, "call_logs": [pk], "metrics": ["sentimnt"]},
            headers=HEADERS,
        )
        missing = await running.client.post(
            f"{LOGS}evaluate_metrics/",
            json={"agent_id": 1, "call_logs": [pk, 999], "metrics": ["sentiment"]},
            headers=HEADERS,
        )
    assert response.status_code == 200 and [c["id"] for c in response.json()] == [pk]
    assert call_log(response.json()[0]).status == "evaluating"
    assert [m["id"] for m in after["metrics"]] == [m["id"] for m in before["metrics"]]
    sentiment = metric_of(call_detail(after), "sentiment")
    assert (sentiment.enum, sentiment.value, sentiment.score) == ("negative", "negative", None)
    assert unknown.status_code == 400 and "sentiment" in unknown.json()["metrics"][0]
    assert missing.status_code == 400 and "999" in missing.json()["call_logs"][0]


async def test_health_and_openapi(run_app: RunApp) -> None:
    async with run_app() as running:
        health = await running.client.get("/health", headers=HEADERS)
        schema = await running.client.get("/openapi.json")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    paths = schema.json()["paths"]
    assert "/observability/v1/observe/" in paths
    assert (
        "multipart/form-data"
        in paths["/observability/v1/observe/"]["post"]["requestBody"]["content"]
    )
