"""The dashboard of an agent (charts, each also a table), the judge-against-people agreement
table from votes, and the alerts page (the alerts, their firings, and forms to manage them
through the same checks as the alerts API)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from evaluator.errors import RequestValidationError, UnknownIdError
from evaluator.regression.labels import agreement
from evaluator.service.alert_config import AlertBody, checked_values
from evaluator.service.deps import ServiceDep
from evaluator.service.routes.alerts import alert_view, allowed_destinations
from evaluator.service.ui.auth import ReviewerDep, UiRefused, UiSessionDep, base_context
from evaluator.service.ui.charts import bar_chart, line_chart
from evaluator.service.ui.render import page
from evaluator.store.alerts import Alert, AlertNotFoundError, AlertStore
from evaluator.store.browse import DEFAULT_PROJECT
from evaluator.store.dashboard import agent_dashboard
from evaluator.store.votes import VoteStore

__all__ = ["router"]

router = APIRouter()


def _agent(service: Any, agent: int | None) -> Any:
    agents = service.definitions.catalogue.agents
    if not agents:
        raise UiRefused(404, "No agents are defined.")
    try:
        return service.definitions.catalogue.agent(agent or min(agents))
    except UnknownIdError as exc:
        raise UiRefused(404, str(exc)) from None


@router.get("/dashboard")
async def dashboard(
    request: Request,
    service: ServiceDep,
    session: UiSessionDep,
    agent: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> Response:
    """Calls and success per day, metrics per day, latency, topics, the dropoff funnel."""
    definition = _agent(service, agent)
    end = datetime.now(UTC) + timedelta(days=1)
    start = end - timedelta(days=days + 1)
    own = session.principal.project_id in (None, DEFAULT_PROJECT)
    board = await asyncio.to_thread(
        agent_dashboard,
        service.store,
        definition.id if own else -1,
        start,
        end,
        definition.dropoff_points,
    )
    labels = [d.day for d in board.days]
    charts = {
        "calls": bar_chart("Calls per day", [(d.day[5:], d.calls) for d in board.days]),
        "success": line_chart(
            "Success rate per day", labels, {"success rate": [d.success_rate for d in board.days]}
        ),
        "latency": line_chart(
            "Average latency per day (percentiles across calls)",
            [d for d, _ in board.latency],
            {f"p{p}": [v[p] for _, v in board.latency] for p in (50, 90, 95)},
        ),
        "topics": bar_chart("Topics", board.topics),
        "funnel": bar_chart("Dropoff funnel: calls reaching each stage", board.funnel),
    }
    metric_charts = {
        slug: line_chart(
            f"{slug} per day",
            [d.day for d in points],
            {"mean" if _numeric(service, slug) else "rate": [d.mean for d in points]},
        )
        for slug, points in board.metrics.items()
    }
    return page(
        "dashboard.html",
        **base_context(request, session),
        agent=definition,
        agents=service.definitions.catalogue.agents,
        days=days,
        board=board,
        charts=charts,
        metric_charts=metric_charts,
    )


def _numeric(service: Any, slug: str) -> bool:
    metric = service.definitions.catalogue.metrics.get(slug)
    return metric is not None and metric.type != "boolean"


@router.get("/agreement")
async def agreement_page(
    request: Request,
    service: ServiceDep,
    session: UiSessionDep,
    agent: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """Per metric: how often the judge agrees with people's votes (n, accuracy, κ)."""
    definition = _agent(service, agent)
    own = session.principal.project_id in (None, DEFAULT_PROJECT)
    votes = await asyncio.to_thread(VoteStore(service.store).of_agent, definition.id) if own else []
    rows = agreement(votes, service.definitions.catalogue)
    return page(
        "agreement.html",
        **base_context(request, session),
        agent=definition,
        agents=service.definitions.catalogue.agents,
        rows=rows,
        votes=len(votes),
    )


@router.get("/alerts")
async def alerts_page(request: Request, service: ServiceDep, session: UiSessionDep) -> Response:
    """The alerts, the newest firings, and a form for a new alert."""
    store = AlertStore(service.store)
    project = session.principal.project_id
    alerts = [
        a for a in await asyncio.to_thread(store.list_alerts) if project in (None, str(a.project))
    ]
    ids = {a.id for a in alerts}
    firings = [
        f for f in await asyncio.to_thread(store.firings, None, limit=200) if f.alert_id in ids
    ]
    metrics = sorted(service.definitions.catalogue.metrics.values(), key=lambda m: m.number)
    return page(
        "alerts.html",
        **base_context(request, session),
        alerts=[alert_view(service, a) for a in alerts],
        firings=firings,
        metrics=metrics,
        error=request.query_params.get("error"),
    )


@router.post("/alerts")
async def create_alert(
    service: ServiceDep,
    session: ReviewerDep,
    name: Annotated[str, Form(max_length=255)],
    source_id: Annotated[int, Form(ge=0)],
    sub_type: Annotated[str, Form(max_length=32)],
    operator: Annotated[str, Form(max_length=8)] = "gt",
    value: Annotated[str, Form(max_length=64)] = "",
    min_breaches: Annotated[int, Form(ge=1)] = 1,
    window_size: Annotated[int, Form(ge=1)] = 50,
    preset: Annotated[str, Form(max_length=16)] = "balanced",
    webhook_url: Annotated[str, Form(max_length=2000)] = "",
    webhook_format: Annotated[str, Form(max_length=8)] = "slack",
    cooldown_seconds: Annotated[float, Form(ge=0)] = 0,
) -> Response:
    """A new alert from the form, checked exactly as ``POST alerts/`` checks one."""
    source: dict[str, Any] = {"sub_type": sub_type}
    threshold: dict[str, Any] = {}
    if sub_type == "threshold":
        source["window_size"] = window_size
        try:
            number = json.loads(value)
        except ValueError:
            number = value
        threshold = {"operator": operator, "value": number, "min_breaches": min_breaches}
    notifications: dict[str, Any] = {"cooldown_seconds": cooldown_seconds}
    if webhook_url:
        notifications["webhook"] = {"url": webhook_url, "format": webhook_format}
    body = {
        "name": name,
        "source_id": source_id,
        "source": source,
        "threshold": threshold,
        "notifications": notifications,
    }
    if sub_type == "significant_change":
        body["preset"] = preset
    try:
        parsed = AlertBody.model_validate(body)
        values = checked_values(
            parsed, None, service.definitions.catalogue, allowed_destinations(service)
        )
    except (RequestValidationError, ValueError) as exc:
        message = (
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            if isinstance(exc, RequestValidationError)
            else str(exc)
        )
        return RedirectResponse(f"/ui/alerts?error={_quoted(message)}", status_code=303)
    await asyncio.to_thread(AlertStore(service.store).create, values)
    return RedirectResponse("/ui/alerts", status_code=303)


def _quoted(text: str) -> str:
    return quote(text[:500])


async def _own_alert(service: Any, session: Any, alert_id: int) -> Alert:
    alert = await asyncio.to_thread(AlertStore(service.store).get, alert_id)
    if session.principal.project_id not in (None, str(alert.project)):
        raise AlertNotFoundError(alert_id)
    return alert


@router.post("/alerts/{alert_id}/toggle")
async def toggle_alert(service: ServiceDep, session: ReviewerDep, alert_id: int) -> Response:
    store = AlertStore(service.store)
    alert = await _own_alert(service, session, alert_id)
    await asyncio.to_thread(store.update, alert_id, {"enabled": not alert.enabled})
    return RedirectResponse("/ui/alerts", status_code=303)


@router.post("/alerts/{alert_id}/delete")
async def delete_alert(service: ServiceDep, session: ReviewerDep, alert_id: int) -> Response:
    await _own_alert(service, session, alert_id)
    await asyncio.to_thread(AlertStore(service.store).delete, alert_id)
    return RedirectResponse("/ui/alerts", status_code=303)
