"""Stored calls (``/observability/{v1,v2}/call-logs/``): the filtered page, one call, a
correction or review (PATCH) and deletion. The recording itself: ``routes/recordings.py``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from evaluator.calllog import CallLogDetail
from evaluator.service.bodies import read_json_body
from evaluator.service.deps import AUTHORIZED, CallPk, ServiceDep
from evaluator.service.errors import InvalidPage
from evaluator.service.listing import LIST_PARAMS, call_filter, reject_unknown
from evaluator.service.patching import apply_patch
from evaluator.service.routes.evaluation import queue_calls
from evaluator.service.schemas import CallLogPage, CallLogPatch, Detail, body_spec, parse_body
from evaluator.service.views import detail_of, detail_response, list_items, rendered
from evaluator.store.calls import CallFilter

__all__ = ["router"]

router = APIRouter(tags=["call-logs"], dependencies=AUTHORIZED)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Detail, "description": "Not found."}}
BUSY: dict[int | str, dict[str, Any]] = {409: {"model": Detail, "description": "being evaluated"}}
MAX_PAGE_SIZE = 200


@router.get(
    "/",
    response_model=CallLogPage,
    responses={404: {"model": Detail, "description": "Invalid page."}},
)
async def list_call_logs(
    service: ServiceDep,
    request: Request,
    where: Annotated[CallFilter, Depends(call_filter)],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> Response:
    """Stored calls, newest first (by the call's timestamp), filtered and paginated; a page
    past the end is Cekura's 404 ``Invalid page.``, a page size over 200 is 200."""
    reject_unknown(request, (*LIST_PARAMS, "page", "page_size"))
    number, size = page, min(page_size, MAX_PAGE_SIZE)
    calls, total = await asyncio.to_thread(
        service.store.list_calls, where, offset=(number - 1) * size, limit=size
    )
    if number > 1 and not calls:
        raise InvalidPage(str(page))
    url = request.url
    items = await asyncio.to_thread(list_items, service, calls)
    return await rendered(CallLogPage(
        count=total,
        next=str(url.include_query_params(page=number + 1)) if number * size < total else None,
        previous=str(url.include_query_params(page=number - 1)) if number > 1 else None,
        results=items,
    ))  # fmt: skip


@router.get("/{id}/", response_model=CallLogDetail, responses=NOT_FOUND)
async def get_call_log(service: ServiceDep, request: Request, pk: CallPk) -> Response:
    """One stored call with its evaluation."""
    return await detail_response(service, pk, request.base_url)


@router.patch(
    "/{id}/",
    response_model=CallLogDetail,
    responses={**NOT_FOUND, **BUSY},
    openapi_extra=body_spec(CallLogPatch),
)
async def update_call_log(service: ServiceDep, request: Request, pk: CallPk) -> Response:
    """Correct a call (any field of Cekura's ``PatchedUpdateCallLog``) or review it; with
    ``reevaluate_metrics`` judge it again. A call being evaluated is left alone (409)."""
    data = await read_json_body(request, service.settings.max_body_bytes, service.settings.limits())
    patch = parse_body(CallLogPatch, data)
    again = await asyncio.to_thread(apply_patch, service, pk, patch)
    if again:
        call = await asyncio.to_thread(service.store.get_call, pk)
        await queue_calls(service, [pk], call.agent, "request")
    return await rendered(await asyncio.to_thread(detail_of, service, pk, request.base_url))


@router.delete("/{id}/", status_code=204, responses=NOT_FOUND)
async def delete_call_log(
    service: ServiceDep,
    request: Request,
    pk: CallPk,
    retain_evaluations: bool = False,
) -> Response:
    """Delete a call; ``retain_evaluations`` keeps its evaluations and votes for statistics."""
    reject_unknown(request, ("retain_evaluations",))
    # Its recording goes too, unless another call holds the same one.
    await service.recordings.delete_calls([pk], retain_evaluations=retain_evaluations)
    return Response(status_code=204)
