"""Cekura's alerts: ``GET/POST alerts/``, ``GET/PUT/PATCH/DELETE alerts/{id}/`` (rules on one
metric: ``normal``, ``threshold``, ``significant_change``; see ``service.alert_config``), and
ours, ``GET alerts/{id}/firings/``: the history of an alert's firings and their deliveries.
A read-only key may read them; changing one needs a key that may write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from evaluator.calllog import wire_type
from evaluator.errors import UnknownIdError
from evaluator.service.alert_config import AlertBody, checked_values
from evaluator.service.alerting import destinations
from evaluator.service.bodies import read_json_body
from evaluator.service.deps import PREFIX, Principal, PrincipalDep, Service, ServiceDep
from evaluator.service.errors import NOT_FOUND
from evaluator.service.schemas import body_spec, parse_body
from evaluator.store.alerts import ALERT_FIELDS, Alert, AlertNotFoundError, AlertStore

__all__ = ["Forbidden", "alert_view", "router"]

router = APIRouter(prefix=f"{PREFIX}/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(alias="id", ge=1, le=2**31 - 1)]


class Forbidden(Exception):
    """A read-only key asked to change something: 403."""


def allowed_destinations(service: Service) -> list[str]:
    return destinations(service.settings)


def alert_view(service: Service, alert: Alert) -> dict[str, Any]:
    """Every field of Cekura's ``AlertList`` and ``AlertDetail`` (one shape serves both)."""
    catalogue = service.definitions.catalogue
    try:
        metric = catalogue.metric(alert.source_id) if alert.source_id is not None else None
    except UnknownIdError:
        metric = None
    last = alert.last_triggered_at
    return {
        "id": alert.id,
        "name": alert.name,
        "enabled": alert.enabled,
        "project": alert.project,
        "project_name": f"project {alert.project}",
        "source_type": alert.source_type,
        "source_id": alert.source_id,
        "source_object_name": metric.name if metric else "",
        "source_object_eval_type": wire_type(metric.type) if metric else "",
        "source_object_details": {"slug": metric.id, "type": metric.type} if metric else {},
        "source": alert.source,
        "threshold": alert.threshold,
        "notifications": _shown_notifications(alert.notifications),
        "trigger_count": alert.trigger_count,
        "last_triggered_at": last.isoformat() if last else None,
        "last_triggered_at_formatted": last.strftime("%Y-%m-%d %H:%M UTC") if last else "never",
        "created_at": alert.created_at.isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "last_updated_by": None,
        "last_updated_by_email": "",
    }


def _shown_notifications(notifications: dict[str, Any]) -> dict[str, Any]:
    """The notifications without the webhook's secret (it is write-only)."""
    hook = notifications.get("webhook")
    if not isinstance(hook, dict) or "secret" not in hook:
        return notifications
    return {
        **notifications,
        "webhook": {**{k: v for k, v in hook.items() if k != "secret"}, "secret_set": True},
    }


def _writer(principal: Principal) -> None:
    if principal.read_only:
        raise Forbidden()


def _visible(principal: Principal, alert: Alert) -> Alert:
    if principal.project_id is not None and str(alert.project) != principal.project_id:
        raise AlertNotFoundError(alert.id)
    return alert


@router.get("/")
async def list_alerts(
    service: ServiceDep,
    principal: PrincipalDep,
    project_id: int | None = None,
    source_type: Literal["metric"] | None = None,
    enabled: bool | None = None,
    search: Annotated[str | None, Query(max_length=255)] = None,
    ordering: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """The alerts (Cekura's ``AlertList[]``), filtered; ``ordering`` by a field, ``-`` first
    for descending."""
    store = AlertStore(service.store)
    alerts = await asyncio.to_thread(store.list_alerts, enabled=enabled, project=project_id)
    alerts = [a for a in alerts if principal.project_id in (None, str(a.project))]
    if search:
        alerts = [a for a in alerts if search.lower() in a.name.lower()]
    views = [alert_view(service, a) for a in alerts]
    if ordering:
        key = ordering.lstrip("-")
        views.sort(
            key=lambda v: (v.get(key) is None, str(v.get(key))), reverse=ordering.startswith("-")
        )
    return views


@router.post("/", status_code=201, openapi_extra=body_spec(AlertBody))
async def create_alert(
    service: ServiceDep, principal: PrincipalDep, request: Request
) -> dict[str, Any]:
    """Create an alert on a metric (``preset`` expands to the trend numbers)."""
    _writer(principal)
    body = parse_body(AlertBody, await read_json_body(request, service.settings.max_body_bytes))
    values = checked_values(
        body, None, service.definitions.catalogue, allowed_destinations(service)
    )
    if principal.project_id is not None and principal.project_id.isdigit():
        values["project"] = int(principal.project_id)
    alert = await asyncio.to_thread(AlertStore(service.store).create, values)
    return alert_view(service, alert)


@router.get("/{id}/")
async def get_alert(service: ServiceDep, principal: PrincipalDep, pk: AlertId) -> dict[str, Any]:
    """One alert's whole configuration (Cekura's ``AlertDetail``)."""
    alert = await asyncio.to_thread(AlertStore(service.store).get, pk)
    return alert_view(service, _visible(principal, alert))


@router.patch("/{id}/", openapi_extra=body_spec(AlertBody))
@router.put("/{id}/", openapi_extra=body_spec(AlertBody))
async def update_alert(
    service: ServiceDep, principal: PrincipalDep, request: Request, pk: AlertId
) -> dict[str, Any]:
    """Change an alert: the fields given; the rest stay (rules checked again as a whole)."""
    _writer(principal)
    store = AlertStore(service.store)
    current = _visible(principal, await asyncio.to_thread(store.get, pk))
    body = parse_body(AlertBody, await read_json_body(request, service.settings.max_body_bytes))
    stored = {name: getattr(current, name) for name in ALERT_FIELDS}
    values = checked_values(
        body, stored, service.definitions.catalogue, allowed_destinations(service)
    )
    values["project"] = current.project  # an alert stays in its project
    alert = await asyncio.to_thread(store.update, pk, values)
    return alert_view(service, alert)


@router.delete("/{id}/", status_code=204)
async def delete_alert(service: ServiceDep, principal: PrincipalDep, pk: AlertId) -> Response:
    """Delete an alert and its history."""
    _writer(principal)
    store = AlertStore(service.store)
    _visible(principal, await asyncio.to_thread(store.get, pk))
    await asyncio.to_thread(store.delete, pk)
    return Response(status_code=204)


@router.get("/{id}/firings/")
async def alert_firings(
    service: ServiceDep,
    principal: PrincipalDep,
    pk: AlertId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Ours: the alert's firings, newest first, each with its delivery's outcome."""
    store = AlertStore(service.store)
    _visible(principal, await asyncio.to_thread(store.get, pk))
    firings = await asyncio.to_thread(store.firings, pk, limit=limit)
    return [
        {
            "id": f.id,
            "alert": f.alert_id,
            "call_log": f.call_pk,
            "metric": f.metric_id,
            "value": f.value,
            "message": f.message,
            "details": f.details,
            "delivery": f.delivery,
            "delivery_error": f.delivery_error,
            "fired_at": (f.fired_at or datetime.now(UTC)).isoformat(),
        }
        for f in firings
    ]


def install_alert_errors(app: FastAPI) -> None:
    """404 for an unknown alert, 403 for a read-only key that asked to change one."""

    @app.exception_handler(AlertNotFoundError)
    async def _missing(_request: Request, _exc: AlertNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": NOT_FOUND}, status_code=404)

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, _exc: Forbidden) -> JSONResponse:
        return JSONResponse(
            {"detail": "this API key is read-only: it cannot change anything"}, status_code=403
        )
