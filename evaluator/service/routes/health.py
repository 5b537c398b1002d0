"""``GET /health``: the database answers, and what the catalogue holds."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from evaluator.service.deps import ServiceDep
from evaluator.service.schemas import Health

router = APIRouter(tags=["service"])


@router.get("/health")
async def health(service: ServiceDep) -> Health:
    await asyncio.to_thread(service.store.ping)
    catalogue = service.definitions.catalogue
    return Health(status="ok", database="ok", agents=len(catalogue.agents),
                  metrics=len(catalogue.metrics))  # fmt: skip
