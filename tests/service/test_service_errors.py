"""Auth and bad input: 401 without a key, 400 keyed by field (never FastAPI's 422), 404, 413."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evaluator.service.app import ServiceConfigError
from tests.service.conftest import API_KEY, HEADERS, RunApp

OBSERVE = "/observability/v1/observe/"
LOGS = "/observability/v1/call-logs/"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"X-API-Key": API_KEY[:-1]}, {"Authorization": API_KEY}],
)
async def test_requests_without_a_valid_key_are_401(
    run_app: RunApp, booking_request: dict[str, Any], headers: dict[str, str]
) -> None:
    async with run_app() as running:
        post = await running.client.post(OBSERVE, json=booking_request, headers=headers)
        get = await running.client.get(LOGS, headers=headers)
        health = await running.client.get("/health")
    assert post.status_code == 401 and get.status_code == 401
    assert "X-API-Key" in post.json()["detail"]
    assert health.status_code == 200


async def test_cekura_header_and_any_configured_key_are_accepted(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        cekura = await running.client.post(
            OBSERVE, json=booking_request, headers={"X-CEKURA-API-KEY": API_KEY}
        )
        other = await running.client.get(LOGS, headers={"X-API-Key": "other-key"})
    assert cekura.status_code == 201 and other.status_code == 200


async def test_no_keys_configured_refuses_to_start(run_app: RunApp) -> None:
    """No key in the settings, none stored, authentication not switched off: no way in."""
    with pytest.raises(ServiceConfigError, match="EVALUATOR_API_KEYS"):
        async with run_app(api_keys=" , "):
            pass


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"agent": 999}, "agent", "unknown agent"),
        ({"metric_ids": "sentiment,latncy"}, "metric_ids", "latncy"),
        ({"call_id": ""}, "call_id", "at least 1"),
        ({"transcript_json": [{"role": "user", "content": "hi"}]}, "transcript_json", "user"),
        ({"transcript_type": "skype"}, "transcript_type", "cekura"),
        ({"main_agent_channel_index": "2"}, "main_agent_channel_index", "0 or 1"),
        ({"metadata": {"k": "a\u0000b"}}, "metadata", "NUL"),
    ],
)
async def test_invalid_requests_are_400_keyed_by_field(
    run_app: RunApp, booking_request: dict[str, Any], change: dict[str, Any], field: str, words: str
) -> None:
    async with run_app() as running:
        response = await running.client.post(
            OBSERVE, json={**booking_request, **change}, headers=HEADERS
        )
        listed = await running.client.get(LOGS, headers=HEADERS)
    assert response.status_code == 400, response.text
    body = response.json()
    assert field in body, body
    assert any(words in message for message in body[field]), body
    assert listed.json()["count"] == 0


@pytest.mark.parametrize(
    ("content", "content_type", "words"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b'{"call_id": NaN}', "application/json", "finite"),
        (b"\xff\xfe", "application/json", "UTF-8"),
        (b"call_id=x", "text/plain", "unsupported content type"),
    ],
)
async def test_unreadable_bodies_are_400(
    run_app: RunApp, content: bytes, content_type: str, words: str
) -> None:
    async with run_app() as running:
        response = await running.client.post(
            OBSERVE, content=content, headers={**HEADERS, "Content-Type": content_type}
        )
    assert response.status_code == 400
    assert words in json.dumps(response.json())


async def test_framework_validation_is_400_not_422(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        query = await running.client.get(
            LOGS, params={"success": "maybe", "status": "great"}, headers=HEADERS
        )
        stored = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        pk = stored.json()["id"]
        patch = await running.client.patch(
            f"{LOGS}{pk}/", json={"status": "great"}, headers=HEADERS
        )
        rerun = await running.client.post(
            f"{LOGS}rerun_evaluation/", json={"agent_id": 1}, headers=HEADERS
        )
        agent = await running.client.post(
            f"{LOGS}rerun_evaluation/", json={"agent_id": 77, "call_logs": "all"}, headers=HEADERS
        )
    assert query.status_code == 400 and set(query.json()) == {"status", "success"}
    assert patch.status_code == 400 and "status" in patch.json()
    assert rerun.status_code == 400 and rerun.json() == {"call_logs": ["this field is required"]}
    assert agent.status_code == 400 and "unknown agent" in agent.json()["agent_id"][0]


async def test_unknown_call_bad_path_and_past_the_last_page_are_cekuras_404s(
    run_app: RunApp,
) -> None:
    async with run_app() as running:
        get = await running.client.get(f"{LOGS}12345/", headers=HEADERS)
        patch = await running.client.patch(f"{LOGS}12345/", json={"feedback": "x"}, headers=HEADERS)
        delete = await running.client.delete(f"{LOGS}12345/", headers=HEADERS)
        vote = await running.client.post(
            f"{LOGS}12345/mark_metric_vote/",
            json={"metric_id": 5, "thumbs_up": True, "expected_value": None},
            headers=HEADERS,
        )
        path = await running.client.get(f"{LOGS}abc/", headers=HEADERS)
        v2 = await running.client.get("/observability/v2/call-logs/0/", headers=HEADERS)
        zero = await running.client.get(LOGS, params={"page": 0}, headers=HEADERS)
        past = await running.client.get(LOGS, params={"page": 2}, headers=HEADERS)
        first = await running.client.get(LOGS, params={"page": 1}, headers=HEADERS)
    for response in (get, patch, delete, vote, path, v2):
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    for response in (zero, past):
        assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}
    assert first.status_code == 200 and first.json()["results"] == []


async def test_bodies_over_the_limit_are_413(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    big = {**booking_request, "metadata": {"blob": "x" * 70_000}}
    async with run_app() as running:
        declared = await running.client.post(OBSERVE, json=big, headers=HEADERS)

        async def stream() -> Any:
            for _ in range(10):
                yield b" " * 10_000

        streamed = await running.client.post(
            OBSERVE, content=stream(), headers={**HEADERS, "Content-Type": "application/json"}
        )
        listed = await running.client.get(LOGS, headers=HEADERS)
    assert declared.status_code == 413 and streamed.status_code == 413
    assert "limit" in declared.json()["non_field_errors"][0]
    assert listed.json()["count"] == 0
