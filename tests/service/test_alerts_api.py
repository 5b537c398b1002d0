"""Cekura's alerts API (CRUD, presets, field-keyed 400s) and alerts firing after each
evaluation in the worker, delivered to a real HTTP receiver on loopback: Slack messages,
signed JSON, the cool-down, and the firing history."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.webhook import SIGNATURE_HEADER, verify_signature
from tests.service.conftest import HEADERS, RunApp

ALERTS = "/observability/v1/alerts/"
OBSERVE = "/observability/v1/observe/"
GOAL = 5  # call_goal_achieved's integer id (boolean)


class Receiver:
    """A webhook receiver on loopback that keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


def _normal(url: str, fmt: str, **notifications: Any) -> dict[str, Any]:
    return {
        "name": "goal missed",
        "project": 1,
        "source_type": "metric",
        "source_id": GOAL,
        "source": {"sub_type": "normal"},
        "threshold": {},
        "notifications": {
            "webhook": {"url": url, "format": fmt, "secret": "s3cret"},
            **notifications,
        },
    }


async def test_alerts_crud_with_presets_and_field_keyed_errors(run_app: RunApp) -> None:
    async with run_app() as running:
        client = running.client
        trend = {
            "name": "latency drift",
            "project": 1,
            "source_type": "metric",
            "source_id": 15,
            "source": {"sub_type": "significant_change"},
            "preset": "aggressive",
        }
        created = await client.post(ALERTS, json=trend, headers=HEADERS)
        assert created.status_code == 201, created.text
        alert = created.json()
        assert alert["source"] == {"sub_type": "significant_change", "window_size": 25}
        assert alert["threshold"] == {"std_multiplier": 1.5, "ewma_alpha": 0.5, "direction": "both"}
        assert alert["trigger_count"] == 0 and alert["last_triggered_at"] is None
        pk = alert["id"]
        patched = await client.patch(
            f"{ALERTS}{pk}/",
            json={"enabled": False, "threshold": {"std_multiplier": 3.5}},
            headers=HEADERS,
        )
        assert patched.status_code == 200, patched.text
        assert (
            patched.json()["enabled"] is False
            and patched.json()["threshold"]["std_multiplier"] == 3.5
        )
        listed = await client.get(ALERTS, params={"enabled": "false"}, headers=HEADERS)
        assert [a["id"] for a in listed.json()] == [pk]
        assert (await client.get(ALERTS, params={"enabled": "true"}, headers=HEADERS)).json() == []
        shown = (await client.get(f"{ALERTS}{pk}/", headers=HEADERS)).json()
        assert shown["source_object_name"] and shown["source_object_eval_type"]
        bad = [
            ({**trend, "source_id": 99999}, "source_id"),
            ({**trend, "source": {"sub_type": "sometimes"}}, "source"),
            (
                {
                    **trend,
                    "source_id": GOAL,
                    "source": {"sub_type": "threshold"},
                    "threshold": {"operator": "gt", "value": 1},
                },
                "source_id",
            ),
            (
                {
                    **trend,
                    "source": {"sub_type": "threshold", "window_size": 3},
                    "threshold": {"operator": "gt", "value": 1, "min_breaches": 4},
                },
                "threshold",
            ),
            (
                {
                    **trend,
                    "source": {"sub_type": "threshold"},
                    "threshold": {"operator": "outside", "value": {"low": 5, "high": 1}},
                },
                "threshold",
            ),
            (
                {
                    **trend,
                    "notifications": {
                        "webhook": {"url": "http://169.254.169.254/", "format": "json"}
                    },
                },
                "notifications",
            ),
            ({k: v for k, v in trend.items() if k != "name"}, "name"),
            (
                {
                    **trend,
                    "source_id": GOAL,
                    "source": {"sub_type": "normal", "filters": {"field": "colour", "value": 1}},
                },
                "source",
            ),
        ]
        for body, field in bad:
            answer = await client.post(ALERTS, json=body, headers=HEADERS)
            assert answer.status_code == 400 and field in answer.json(), (body, answer.text)
        assert (await client.delete(f"{ALERTS}{pk}/", headers=HEADERS)).status_code == 204
        assert (await client.get(f"{ALERTS}{pk}/", headers=HEADERS)).status_code == 404
        assert (await client.get(ALERTS)).status_code == 401


async def test_a_failing_evaluation_fires_and_delivers_slack_and_signed_json_with_a_cooldown(
    run_app: RunApp, booking_request: dict[str, Any], receiver: Receiver
) -> None:
    judge = ScriptedJudge(answers={"call_goal_achieved": {"reasoning": "no", "value": False}})
    async with run_app(judge=judge, alert_webhook_allow="http://127.0.0.1:") as running:
        client = running.client
        slack = (
            await client.post(ALERTS, json=_normal(receiver.url, "slack"), headers=HEADERS)
        ).json()
        signed = (
            await client.post(
                ALERTS,
                json={**_normal(receiver.url, "json", cooldown_seconds=3600), "name": "signed"},
                headers=HEADERS,
            )
        ).json()
        assert "secret" not in signed["notifications"]["webhook"]
        for n in range(3):
            posted = await client.post(
                OBSERVE,
                params={"wait": "true"},
                json={**booking_request, "call_id": f"fail-{n}"},
                headers=HEADERS,
            )
            assert posted.json()["evaluation_status"] == "evaluated"
        await _settled(client, [slack["id"], signed["id"]], 3)
        # three failures: the Slack alert delivers each, the JSON one the first (cool-down)
        slack_bodies = [
            json.loads(b) for h, b in receiver.received if SIGNATURE_HEADER.lower() not in h
        ]
        json_sent = [(h, b) for h, b in receiver.received if SIGNATURE_HEADER.lower() in h]
        assert len(slack_bodies) == 3 and "goal missed" in slack_bodies[0]["text"]
        assert slack_bodies[0]["blocks"][0]["type"] == "section"
        assert len(json_sent) == 1
        headers, body = json_sent[0]
        assert verify_signature(body, "s3cret", headers[SIGNATURE_HEADER.lower()])
        assert json.loads(body)["event"] == "alert.fired"
        history = (await client.get(f"{ALERTS}{signed['id']}/firings/", headers=HEADERS)).json()
        assert [f["delivery"] for f in history] == ["cooldown", "cooldown", "sent"]
        assert (await client.get(f"{ALERTS}{slack['id']}/", headers=HEADERS)).json()[
            "trigger_count"
        ] == 3


async def test_a_threshold_alert_fires_on_its_window_not_before(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    # tool_call_errors (numeric, computed): the booking call has none, so 0 each time;
    # "lt 1" breaches every call; 2 of the last 3 needed.
    async with run_app() as running:
        client = running.client
        body = {
            "name": "no tool errors",
            "project": 1,
            "source_type": "metric",
            "source_id": _number(running, "tool_call_errors"),
            "source": {"sub_type": "threshold", "window_size": 3},
            "threshold": {"operator": "lt", "value": 1, "min_breaches": 2},
        }
        alert = await client.post(ALERTS, json=body, headers=HEADERS)
        assert alert.status_code == 201, alert.text
        # the same rule scoped by a filters_v2 expression to another agent never fires
        other = {
            **body,
            "name": "agent 2 only",
            "source": {
                **body["source"],
                "filters": {"field": "agent_id", "op": "eq", "value": "2"},
            },
        }
        scoped = await client.post(ALERTS, json=other, headers=HEADERS)
        assert scoped.status_code == 201, scoped.text
        for n in range(3):
            await client.post(
                OBSERVE,
                params={"wait": "true"},
                json={**booking_request, "call_id": f"t-{n}"},
                headers=HEADERS,
            )
        await _settled(client, [alert.json()["id"]], 2)
        history = (
            await client.get(f"{ALERTS}{alert.json()['id']}/firings/", headers=HEADERS)
        ).json()
        assert len(history) == 2 and all(f["delivery"] == "none" for f in history)
        assert history[-1]["details"]["breaches"] == 2
        assert (
            await client.get(f"{ALERTS}{scoped.json()['id']}/firings/", headers=HEADERS)
        ).json() == []


async def _settled(client: Any, alerts: list[int], count: int) -> None:
    """Wait (bounded) until each alert has ``count`` firings, none of them still sending."""
    for _ in range(500):
        histories = [
            (await client.get(f"{ALERTS}{a}/firings/", headers=HEADERS)).json() for a in alerts
        ]
        if all(len(h) == count and all(f["delivery"] != "sending" for f in h) for h in histories):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"alerts {alerts} never settled: {histories}")


def _number(running: Any, slug: str) -> int:
    number: int = running.service.definitions.catalogue.metrics[slug].number
    return number
