"""``GET /health``: answers at once, whatever state the database is in.

Without a key it says only up or down (a load balancer's probe; it reveals nothing about the
deployment). With a valid key it says what is unhealthy: the database (checked with a short
deadline, by a read that waits for no writer), the worker, and the queue's depth.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from evaluator.service.deps import Principal, Service, WholeServiceDep, presented_key

router = APIRouter(tags=["service"])
DATABASE_DEADLINE = 2.0


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    database: str | None = None
    worker: Literal["running", "stopped"] | None = None
    queue: int | None = None
    agents: int | None = None
    metrics: int | None = None


@router.get("/health", responses={503: {"model": Health}})
async def health(
    service: WholeServiceDep,
    response: Response,
    key: Annotated[str | None, Depends(presented_key)],
) -> Health:
    database, queue = await _database(service)
    if database != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    principal = await _principal(service, key) if key is not None else None
    if principal is None:
        return Health(status="ok" if database == "ok" else "unavailable")
    worker: Literal["running", "stopped"] = "running" if service.worker else "stopped"
    healthy = database == "ok" and worker == "running"
    # A project's key counts its project's agents; metrics are every project's.
    catalogue = service.scoped(principal).definitions.catalogue
    return Health(
        status="ok" if healthy else "degraded" if database == "ok" else "unavailable",
        database=database, worker=worker, queue=queue,
        agents=len(catalogue.agents), metrics=len(catalogue.metrics),
    )  # fmt: skip


async def _principal(service: Service, key: str) -> Principal | None:
    """The key's principal, or None when it is not valid or cannot be checked in time (the
    stored keys are in the database, which may be the unhealthy part)."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(service.authenticate, key), DATABASE_DEADLINE
        )
    except Exception:  # a timeout or any driver error: answer as to no key
        return None


async def _database(service: Service) -> tuple[str, int | None]:
    try:
        queue = await asyncio.wait_for(
            asyncio.to_thread(service.store.queue_depth), DATABASE_DEADLINE
        )
    except TimeoutError:
        return f"no answer within {DATABASE_DEADLINE:g} s", None
    except Exception as exc:  # any driver error: say what, never a 500
        return f"unavailable: {type(exc).__name__}", None
    return "ok", queue
