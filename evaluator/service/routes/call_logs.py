"""The stored calls: ``GET`` one or a filtered page, ``PATCH`` a human review."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from evaluator.contract import CallEvaluation
from evaluator.errors import RequestValidationError
from evaluator.service.deps import AUTHORIZED, PREFIX, CallPk, ServiceDep
from evaluator.service.routes.evaluation import queue_calls
from evaluator.service.schemas import MAX_ID, CallLogPage, CallLogUpdate
from evaluator.store.calls import CallFilter

router = APIRouter(prefix=f"{PREFIX}/call-logs", tags=["call-logs"], dependencies=AUTHORIZED)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no stored call"}}


@router.get("/{pk}/", responses=NOT_FOUND)
async def get_call_log(service: ServiceDep, pk: CallPk) -> CallEvaluation:
    """One stored call with its evaluation."""
    return await asyncio.to_thread(service.store.get_call, pk)


@router.get("/")
async def list_call_logs(
    service: ServiceDep,
    request: Request,
    agent: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    timestamp_from: Annotated[datetime | None, Query(description="calls at or after")] = None,
    timestamp_to: Annotated[datetime | None, Query(description="calls before")] = None,
    success: bool | None = None,
    status: Literal["success", "failure", "reviewed_success", "reviewed_failure"] | None = None,
    evaluation_status: Literal["pending", "evaluating", "evaluated", "failed"] | None = None,
    topic: Annotated[str | None, Query(max_length=1000, pattern=r"^[^\x00]*$")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CallLogPage:
    """Stored calls, newest first (by the call's timestamp), filtered and paginated."""
    where = CallFilter(
        agent, timestamp_from, timestamp_to, success, status, evaluation_status, topic
    )
    calls, total = await asyncio.to_thread(
        service.store.list_calls, where, offset=(page - 1) * page_size, limit=page_size
    )
    url = request.url
    more = page * page_size < total
    return CallLogPage(
        count=total,
        next=str(url.include_query_params(page=page + 1)) if more else None,
        previous=str(url.include_query_params(page=page - 1)) if page > 1 else None,
        results=calls,
    )


@router.patch("/{pk}/", responses=NOT_FOUND)
async def update_call_log(service: ServiceDep, pk: CallPk, update: CallLogUpdate) -> CallEvaluation:
    """Human review (status, feedback), request fields, and ``reevaluate_metrics``."""
    call = await asyncio.to_thread(service.store.get_call, pk)
    given = update.model_fields_set
    overrides: dict[str, Any] = {
        k: getattr(update, k) for k in ("metadata", "dynamic_variables") if k in given
    }
    for key, value in overrides.items():
        if value is None:
            raise RequestValidationError({key: ["expected an object, not null"]})
    if overrides:
        await asyncio.to_thread(service.check_overrides, pk, overrides)
        await asyncio.to_thread(service.store.set_overrides, pk, overrides)
    if given & {"status", "feedback"}:
        await asyncio.to_thread(service.store.review, pk, status=update.status,
                                feedback=update.feedback, fields=set(given))  # fmt: skip
    if update.reevaluate_metrics:
        await queue_calls(service, [pk], call.agent, "request")
    return await asyncio.to_thread(service.store.get_call, pk)
