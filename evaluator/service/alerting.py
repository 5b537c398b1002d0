"""Alerts after each evaluation: the worker hands every finished call to ``Alerting.check``,
which runs each enabled alert watching one of the call's scored metrics, keeps each firing,
and delivers it by webhook unless the alert is in its cool-down.

Delivery: ``format: slack`` posts a Slack incoming-webhook message (``{"text": ...}``);
``format: json`` posts the firing as JSON signed like the completion webhook
(``X-Evaluator-Signature: sha256=<HMAC of the body>``, with the hook's own secret or
``EVALUATOR_ALERT_WEBHOOK_SECRET``). Destinations were checked against the operator's
allowed prefixes when the alert was saved, and are checked again here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx

from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.errors import EvaluatorError
from evaluator.scoring.alerts import Firing, Rule, evaluate_rule
from evaluator.service.alert_config import rule_of
from evaluator.service.listing import read_filters_v2
from evaluator.service.webhook import SIGNATURE_HEADER, sign
from evaluator.store.alerts import Alert, AlertFiring, AlertStore, NewFiring
from evaluator.store.calls import Store
from evaluator.store.types import CallFilter

__all__ = ["Alerting", "destinations", "slack_message"]

log = logging.getLogger("evaluator.service.alerting")


def slack_message(alert: Alert, firing: AlertFiring, call: CallEvaluation) -> dict[str, Any]:
    """A Slack incoming-webhook body: one mrkdwn text line and a section block."""
    text = (
        f":rotating_light: *{alert.name}* fired on call {call.id} ({call.call_id}, agent "
        f"{call.agent_name}): {firing.message}"
    )
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def json_message(alert: Alert, firing: AlertFiring, call: CallEvaluation) -> dict[str, Any]:
    return {
        "event": "alert.fired",
        "alert": {
            "id": alert.id,
            "name": alert.name,
            "source_id": alert.source_id,
            "source": alert.source,
            "threshold": alert.threshold,
        },
        "firing": {
            "id": firing.id,
            "metric": firing.metric_id,
            "value": firing.value,
            "message": firing.message,
            "details": firing.details,
            "fired_at": firing.fired_at.isoformat() if firing.fired_at else None,
        },
        "call_log": {"id": call.id, "call_id": call.call_id, "agent": call.agent},
    }


def destinations(settings: Settings) -> list[str]:
    """The URL prefixes alerts may be delivered to (``EVALUATOR_ALERT_WEBHOOK_ALLOW``)."""
    return [p.strip() for p in settings.alert_webhook_allow.split(",") if p.strip()]


class Alerting:
    """Runs the alerts of finished calls; one per service (or worker process)."""

    def __init__(
        self,
        store: Store,
        catalogue: Any,
        *,
        allow: list[str],
        secret: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.alerts = AlertStore(store)
        self.catalogue = catalogue
        self.allow = allow
        self.secret = secret
        self._transport = transport

    async def check(self, call: CallEvaluation) -> list[AlertFiring]:
        """Run every enabled alert on one finished call; the firings kept (delivered or not)."""
        scored = {m.id for m in call.metrics if m.outcome == "scored"}
        if not scored or call.id is None:
            return []
        alerts = await asyncio.to_thread(self.alerts.list_alerts, enabled=True)
        return await self._run(alerts, call, scored)

    async def check_stored(
        self, pk: int, read: Callable[[int], Awaitable[CallEvaluation]] | None = None
    ) -> list[AlertFiring]:
        """``check`` on call ``pk`` as stored, read only when some alert is enabled (most
        calls of most deployments: one query, not the five of reading the call). ``read``:
        how to read it (the service's worker reads a large call in a process)."""
        alerts = await asyncio.to_thread(self.alerts.list_alerts, enabled=True)
        if not alerts:
            return []
        if read is None:
            call = await asyncio.to_thread(self.store.get_call, pk)
        else:
            call = await read(pk)
        scored = {m.id for m in call.metrics if m.outcome == "scored"}
        if not scored or call.id is None:
            return []
        return await self._run(alerts, call, scored)

    async def _run(
        self, alerts: list[Alert], call: CallEvaluation, scored: set[str]
    ) -> list[AlertFiring]:
        fired = []
        for alert in alerts:
            try:
                firing = await self._check_one(alert, call, scored)
            except Exception:  # one broken alert must not stop the others
                log.exception("alert %s on call %s failed", alert.id, call.id)
                continue
            if firing is not None:
                fired.append(firing)
        return fired

    async def _check_one(
        self, alert: Alert, call: CallEvaluation, scored: set[str]
    ) -> AlertFiring | None:
        try:
            metric = self.catalogue.metric(alert.source_id)
            rule = rule_of(alert.source, alert.threshold)
            where = self._scope(alert)
        except EvaluatorError as exc:
            log.warning("alert %s cannot run: %s", alert.id, exc)
            return None
        if metric.id not in scored or call.id is None:
            return None
        pk = call.id
        if where != CallFilter():
            inside = await asyncio.to_thread(
                self.store.call_ids, replace(where, call_pks=(pk,)), limit=1
            )
            if not inside:
                return None
        found = await asyncio.to_thread(self._judged, alert, rule, metric.id, where, pk)
        if found is None:
            return None
        return await self._keep_and_deliver(alert, call, metric.id, found)

    def _scope(self, alert: Alert) -> CallFilter:
        filters = alert.source.get("filters")
        if not filters:
            return CallFilter()
        text = filters if isinstance(filters, str) else json.dumps(filters)
        return read_filters_v2(self.catalogue, CallFilter(), text)

    def _judged(
        self, alert: Alert, rule: Rule, metric_id: str, where: CallFilter, pk: int
    ) -> Firing | None:
        window = getattr(rule, "window_size", 1) + 1
        values = self.alerts.metric_history(metric_id, where, up_to_call=pk, limit=window)
        return evaluate_rule(rule, values)

    async def _keep_and_deliver(
        self, alert: Alert, call: CallEvaluation, metric_id: str, found: Firing
    ) -> AlertFiring:
        hook = alert.notifications.get("webhook")
        cooldown = float(alert.notifications.get("cooldown_seconds", 0) or 0)
        value = found.details.get("value")
        new = NewFiring(
            alert.id, call.id, metric_id,
            float(value) if isinstance(value, int | float) else None,
            found.message, dict(found.details),
        )  # fmt: skip
        firing = await asyncio.to_thread(
            self.alerts.record_firing, new, deliver=isinstance(hook, dict),
            cooldown_seconds=cooldown,
        )  # fmt: skip
        delivery = firing.delivery
        if delivery != "sending" or not isinstance(hook, dict):
            return firing
        outcome, error = await self._deliver(hook, alert, firing, call)
        await asyncio.to_thread(self.alerts.set_delivery, firing.id, outcome, error)
        return replace(firing, delivery=outcome, delivery_error=error)

    async def _deliver(
        self, hook: dict[str, Any], alert: Alert, firing: AlertFiring, call: CallEvaluation
    ) -> tuple[str, str | None]:
        url = str(hook.get("url", ""))
        if not any(url.startswith(prefix) for prefix in self.allow):
            return "failed", f"{url} is not an allowed destination"
        slack = hook.get("format") == "slack"
        message = slack_message(alert, firing, call) if slack else json_message(alert, firing, call)
        body = json.dumps(message, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Evaluator-Event": "alert.fired"}
        secret = hook.get("secret") or self.secret
        if not slack and secret:
            headers[SIGNATURE_HEADER] = sign(body, str(secret))
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=10.0, trust_env=False
            ) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return "failed", f"{type(exc).__name__}: {exc}"
        if not response.is_success:
            return "failed", f"HTTP {response.status_code}"
        return "sent", None
