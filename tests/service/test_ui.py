"""The review UI without a browser: sign-in and the session cookie, CSRF refusals, read-only
keys, pages readable without JavaScript, votes stored as ``mark_metric_vote`` stores them,
the agreement table and the golden-set export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluator.judge.scripted import ScriptedJudge
from evaluator.regression.golden import load_golden
from evaluator.regression.labels import export_golden
from evaluator.service.deps import Principal, Service
from tests.service.conftest import API_KEY, HEADERS, RunApp
from tests.service.ui_helpers import csrf_of, sign_in

OBSERVE = "/observability/v1/observe/"
FAILING = ScriptedJudge(
    answers={"call_goal_achieved": {"reasoning": "[00:05] no booking", "value": False}}
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ui.db'}"


async def _stored(running: Any, body: dict[str, Any], call_id: str) -> int:
    posted = await running.client.post(
        OBSERVE, params={"wait": "true"}, json={**body, "call_id": call_id}, headers=HEADERS
    )
    assert posted.status_code == 201, posted.text
    pk: int = posted.json()["id"]
    return pk


async def test_pages_need_a_session_and_the_cookie_is_httponly_and_samesite(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        client = running.client
        away = await client.get("/ui/calls")
        assert away.status_code == 303 and away.headers["location"].startswith("/ui/login")
        refused = await sign_in(client, "not-a-key")
        assert refused.status_code == 401 and "not accepted" in refused.text
        signed = await sign_in(client, API_KEY)
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/calls"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie
        assert API_KEY not in signed.headers["set-cookie"]
        page = await client.get("/ui/calls")
        assert page.status_code == 200 and "<h1>Calls</h1>" in page.text


async def test_the_sign_in_form_and_every_review_form_refuse_a_missing_csrf_token(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(judge=FAILING) as running:
        client = running.client
        await client.get("/ui/login")
        no_token = await client.post("/ui/login", data={"api_key": API_KEY})
        assert no_token.status_code == 403 and "CSRF" in no_token.text
        await sign_in(client, API_KEY)
        pk = await _stored(running, booking_request, "csrf-1")
        for path, data in (
            (f"/ui/calls/{pk}/review", {"status": "reviewed_failure"}),
            (f"/ui/calls/{pk}/vote", {"metric_id": "call_goal_achieved", "thumbs": "up"}),
            (f"/ui/calls/{pk}/reevaluate", {}),
        ):
            refused = await client.post(path, data=data)
            assert refused.status_code == 403 and "CSRF" in refused.text, path
            forged = await client.post(path, data={**data, "csrf_token": "0" * 64})
            assert forged.status_code == 403, path
        call = (await client.get(f"/observability/v1/call-logs/{pk}/", headers=HEADERS)).json()
        assert call["is_reviewed"] is False


async def test_a_read_only_key_can_look_but_not_review(
    run_app: RunApp, booking_request: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = Principal(key_id="reader", project_id=None, read_only=True)
    monkeypatch.setattr(
        Service, "authenticate", lambda self, key: reader if key == "read-only-key" else None
    )
    async with run_app(judge=FAILING) as running:
        client = running.client
        pk = await _stored(running, booking_request, "ro-1")
        await sign_in(client, "read-only-key")
        page = await client.get(f"/ui/calls/{pk}")
        assert page.status_code == 200 and "read-only" in page.text
        assert f'action="/ui/calls/{pk}/review"' not in page.text
        token = csrf_of(page.text)
        refused = await client.post(
            f"/ui/calls/{pk}/review", data={"status": "reviewed_success", "csrf_token": token}
        )
        assert refused.status_code == 403 and "read-only" in refused.text
        voted = await client.post(
            f"/ui/calls/{pk}/vote",
            data={"metric_id": "call_goal_achieved", "thumbs": "up", "csrf_token": token},
        )
        assert voted.status_code == 403
        alert = await client.post(
            "/observability/v1/alerts/",
            headers={"X-API-Key": "read-only-key"},
            json={
                "name": "x",
                "project": 1,
                "source_type": "metric",
                "source_id": 1,
                "source": {"sub_type": "normal"},
            },
        )
        assert alert.status_code == 403
        assert (
            await client.get("/observability/v1/alerts/", headers={"X-API-Key": "read-only-key"})
        ).status_code == 200


async def test_pages_read_without_javascript_and_show_the_call(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app(judge=FAILING) as running:
        client = running.client
        pk = await _stored(running, booking_request, "nojs-1")
        await sign_in(client, API_KEY)
        listed = await client.get(
            "/ui/calls", params={"success": "false", "metric": "call_goal_achieved = false"}
        )
        assert listed.status_code == 200
        assert f'href="/ui/calls/{pk}"' in listed.text and "<strong>1</strong> call" in listed.text
        assert "call_goal_achieved: false" in listed.text  # the worst metric at a glance
        none = await client.get("/ui/calls", params={"q": "no such words anywhere"})
        assert "<strong>0</strong> calls" in none.text
        found = await client.get("/ui/calls", params={"q": "CHECK-UP AND CLEANING"})
        assert "<strong>1</strong> call" in found.text
        bad = await client.get("/ui/calls", params={"metric": "latncy_p95 > 3"})
        assert bad.status_code == 400 and "did you mean" in bad.text
        page = await client.get(f"/ui/calls/{pk}")
        assert "Bright Smile Dental" in page.text and "[00:00]" in page.text
        assert 'href="#t-1"' in page.text  # the [00:05] quote links to the turn at 00:05
        assert "<audio" not in page.text  # no recording: no player
        for path in ("/ui/dashboard", "/ui/agreement", "/ui/alerts"):
            shown = await client.get(path)
            assert shown.status_code == 200, path
        board = await client.get("/ui/dashboard")
        assert "<svg" in board.text and "<table>" in board.text and "book appointment" in board.text


async def test_a_vote_from_the_ui_is_the_apis_vote_and_counts_in_agreement(
    run_app: RunApp, booking_request: dict[str, Any], tmp_path: Path
) -> None:
    async with run_app(judge=FAILING) as running:
        client = running.client
        pk = await _stored(running, booking_request, "vote-1")
        await sign_in(client, API_KEY)
        token = csrf_of((await client.get(f"/ui/calls/{pk}")).text)
        voted = await client.post(
            f"/ui/calls/{pk}/vote",
            data={
                "metric_id": "call_goal_achieved",
                "thumbs": "down",
                "expected_value": "true",
                "csrf_token": token,
            },
        )
        assert voted.status_code == 303
        reviewed = await client.post(
            f"/ui/calls/{pk}/review",
            data={"status": "reviewed_failure", "feedback": "judge was wrong", "csrf_token": token},
        )
        assert reviewed.status_code == 303
        api = (await client.get(f"/observability/v1/call-logs/{pk}/", headers=HEADERS)).json()
        assert api["is_reviewed"] is True and api["status"] == "reviewed_failure"
        assert api["feedback"] == "judge was wrong"
        table = (await client.get("/ui/agreement")).text
        assert (
            'id="agree-call_goal_achieved"><td>call_goal_achieved</td><td>1</td><td>0%</td>'
            in table
        )
        store = running.service.store
        written = export_golden(
            store, running.service.definitions.catalogue, 1, tmp_path / "golden"
        )
        assert written == 1
        golden = load_golden(tmp_path / "golden", running.service.definitions.catalogue)
        assert golden.calls[0].labels["call_goal_achieved"].value is True
