"""The service's routes, one module per resource: health, observe, the providers' own
webhooks, alerts, call logs (with their named actions and evaluation runs, under v1 and v2)."""

from __future__ import annotations

from fastapi import APIRouter

from evaluator.service.deps import VERSIONS
from evaluator.service.routes import (
    alerts,
    call_log_actions,
    call_logs,
    evaluation,
    health,
    observe,
    providers,
)

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """Every router in the order they match: fixed paths before ``call-logs/{id}/``, so a
    named action is never read as an id."""
    versioned = []
    for version in VERSIONS:
        mounted = APIRouter(prefix=f"{version}/call-logs")
        for module in (call_log_actions, evaluation, call_logs):
            mounted.include_router(module.router)
        versioned.append(mounted)
    return [health.router, observe.router, providers.router, alerts.router, *versioned]
