"""Every way a body can fail to be read is a 400 keyed by field (the contract's shape, never a
bare ``detail`` or a 500), on every route that takes one; and every write is checked against
the configured limits (``Settings.limits()``), the same on POST, PATCH and in the worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.service.calls import as_form
from tests.service.conftest import HEADERS, RunApp

OBSERVE = "/observability/v1/observe/"
LOGS = "/observability/v1/call-logs/"
DEEP = "[" * 5_000 + "]" * 5_000  # past the parser's recursion, under the body limit


def _keyed(body: Any) -> bool:
    """The contract's 400 body: ``{"field": ["message", ...]}``."""
    return (
        isinstance(body, dict)
        and bool(body)
        and all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body.values())
    )


@pytest.mark.parametrize(
    ("request_args", "words"),
    [
        (
            {
                "data": {"call_id": "x"},
                "files": [("voice_recording", ("a.wav", b"RIFF")), ("second", ("b.wav", b"RIFF"))],
            },
            "Too many files",
        ),
        ({"data": {f"field{i}": "1" for i in range(150)}}, "Too many fields"),
        (
            {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}},
            "Missing boundary",
        ),
        ({"content": b"{", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"content": b"{}", "headers": {"Content-Type": "text/csv"}}, "unsupported content"),
        ({"content": b"\xfe\xff\x00{", "headers": {"Content-Type": "application/json"}}, "UTF-16"),
    ],
    ids=["files", "fields", "boundary", "json", "content-type", "utf-16"],
)
async def test_unreadable_bodies_are_field_keyed_400s_on_every_body_route(
    run_app: RunApp, request_args: dict[str, Any], words: str
) -> None:
    routes = [OBSERVE, f"{LOGS}delete_call_logs/", f"{LOGS}evaluate_metrics/"]
    async with run_app() as running:
        answers = []
        for route in routes:
            args = {**request_args, "headers": {**HEADERS, **request_args.get("headers", {})}}
            answers.append(await running.client.post(route, **args))
        count = (await running.client.get(LOGS, headers=HEADERS)).json()["count"]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert _keyed(answer.json()), answer.text
        assert words in answer.json()["non_field_errors"][0]
    assert count == 0


async def test_deep_nesting_is_a_400_naming_the_field_in_json_forms_and_webhooks(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    text = json.dumps({**booking_request, "metadata": {"x": 0}}).replace('{"x": 0}', DEEP)
    async with run_app() as running:
        as_json = await running.client.post(
            OBSERVE, content=text.encode(), headers={**HEADERS, "Content-Type": "application/json"}
        )
        as_fields = await running.client.post(
            OBSERVE, data={**as_form(booking_request), "metadata": DEEP}, headers=HEADERS
        )
        webhook = await running.client.post(
            "/observability/v1/vapi/observe/", content=DEEP.encode(), headers=HEADERS
        )
        vote = await running.client.post(
            f"{LOGS}delete_call_logs/", content=f'{{"call_logs": {DEEP}}}'.encode(),
            headers={**HEADERS, "Content-Type": "application/json"},
        )  # fmt: skip
    assert as_json.status_code == as_fields.status_code == 400
    assert "nested too deeply" in as_json.json()["metadata"][0]
    assert "nested too deeply" in as_fields.json()["metadata"][0]
    assert webhook.status_code == 400 and "nested too deeply" in webhook.text
    assert vote.status_code == 400 and "nested too deeply" in vote.json()["call_logs"][0]


async def test_non_finite_numbers_are_refused_in_every_body(run_app: RunApp) -> None:
    async with run_app() as running:
        answers = [
            await running.client.post(
                f"{LOGS}{route}/",
                content=body.encode(),
                headers={**HEADERS, "Content-Type": "application/json"},
            )
            for route, body in [
                ("delete_call_logs", '{"call_logs": [1], "retain_evaluations": NaN}'),
                ("evaluate_metrics", '{"call_logs": [1], "metrics": [1e999]}'),
            ]
        ]
    assert [a.status_code for a in answers] == [400, 400]
    assert "finite" in answers[0].json()["retain_evaluations"][0]
    assert "finite" in answers[1].json()["metrics"][0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"timestamp_from": "0001-01-01T00:00:00+14:00"}, "timestamp_from"),
        ({"timestamp_to": "9999-12-31T23:59:59-14:00"}, "timestamp_to"),
        (
            {
                "filters_v2": json.dumps(
                    {"field": "timestamp", "op": "gte", "value": "0001-01-01T00:00:00+14:00"}
                )
            },
            "filters_v2",
        ),
    ],
    ids=["from", "to", "filters_v2"],
)
async def test_list_filters_with_extreme_offsets_are_400_not_500(
    run_app: RunApp, params: dict[str, str], field: str
) -> None:
    async with run_app() as running:
        listed = await running.client.get(LOGS, params=params, headers=HEADERS)
        exported = await running.client.get(
            f"{LOGS}export_call_logs/", params=params, headers=HEADERS
        )
    for answer in (listed, exported):
        assert answer.status_code == 400, answer.text
        assert "outside the years 1-9999" in answer.json()[field][0]


async def test_post_and_patch_are_checked_against_the_configured_limits(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    """Lowered limits apply to the service's writes, not the defaults (one validation path)."""
    turns = booking_request["transcript_json"]
    async with run_app(max_turns=len(turns) - 1, max_feedback_chars=20) as running:
        too_many = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        long_feedback = await running.client.post(
            OBSERVE, json={**booking_request, "transcript_json": turns[:2], "feedback": "x" * 21},
            headers=HEADERS,
        )  # fmt: skip
        stored = await running.client.post(
            OBSERVE, json={**booking_request, "transcript_json": turns[:2]}, headers=HEADERS
        )
        pk = stored.json()["id"]
        await running.wait_finished(pk)
        patched = await running.client.patch(
            f"{LOGS}{pk}/", json={"feedback": "y" * 21}, headers=HEADERS
        )
        corrected = await running.client.patch(
            f"{LOGS}{pk}/", json={"transcript_json": turns}, headers=HEADERS
        )
        after = await running.client.get(f"{LOGS}{pk}/", headers=HEADERS)
    assert too_many.status_code == 400 and "limit is" in too_many.json()["transcript_json"][0]
    assert long_feedback.status_code == 400 and "limit is 20" in long_feedback.json()["feedback"][0]
    assert stored.status_code == 201
    assert patched.status_code == 400 and "limit is 20" in patched.json()["feedback"][0]
    assert corrected.status_code == 400 and "transcript_json" in corrected.json()
    assert after.json()["feedback"] != "y" * 21 and len(after.json()["transcript_object"]) == 2


async def test_the_worker_judges_with_the_configured_token_budget(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(max_call_tokens=50) as running:
        stored = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        done = await running.wait_finished(stored.json()["id"])
        sent = len(running.judge.requests)
    assert done["evaluation_status"] in ("failed", "evaluated")
    assert "budget" in (done["error_message"] or "") and sent == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"metadata": {"k": "a\\u0000b"}}',
        '{"metadata": {"k": "\\ud800"}}',
        '{"metadata": {"k": 1e999}}',
        '{"dynamic_variables": {"k": NaN}}',
        '{"feedback": "a\\u0000b"}',
        '{"feedback": "\\udc00 review"}',
    ],
    ids=["nul", "surrogate", "1e999", "nan", "feedback-nul", "feedback-surrogate"],
)
async def test_patch_takes_the_same_checks_as_post(
    run_app: RunApp, booking_request: dict[str, Any], raw: str
) -> None:
    """One validation path for every write: what POST refuses, PATCH refuses, and the call
    is left as it was (on PostgreSQL too, where such text cannot be stored at all)."""
    async with run_app() as running:
        stored = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        pk = stored.json()["id"]
        await running.wait_finished(pk)
        before = (await running.client.get(f"{LOGS}{pk}/", headers=HEADERS)).json()
        patched = await running.client.patch(
            f"{LOGS}{pk}/", content=raw.encode(),
            headers={**HEADERS, "Content-Type": "application/json"},
        )  # fmt: skip
        after = (await running.client.get(f"{LOGS}{pk}/", headers=HEADERS)).json()
    field = next(iter(json.loads(raw.replace("NaN", "0").replace("1e999", "0"))))
    assert patched.status_code == 400, patched.text
    assert list(patched.json()) == [field]
    assert after["metadata"] == before["metadata"] and after["feedback"] == before["feedback"]
    assert after["dynamic_variables"] == before["dynamic_variables"]
