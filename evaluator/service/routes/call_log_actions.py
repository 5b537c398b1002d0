"""Cekura's named actions on call logs: bulk ``delete_call_logs/``, ``{id}/mark_metric_vote/``,
``filters/`` (the values present) and ``export_call_logs/`` (the filtered list, streamed as
CSV or JSON). Registered before ``{id}/`` so a named action is never read as an id."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from evaluator.calllog import CallLogList, wire_type
from evaluator.catalogue.definitions import MetricDefinition
from evaluator.errors import RequestValidationError, UnknownIdError
from evaluator.service.bodies import read_json_body
from evaluator.service.deps import AUTHORIZED, CallPk, Service, ServiceDep
from evaluator.service.listing import LIST_PARAMS, call_filter, reject_unknown
from evaluator.service.schemas import (
    DeleteCallLogs,
    Detail,
    FilterValues,
    MarkMetricVote,
    body_spec,
    parse_body,
)
from evaluator.service.views import list_items
from evaluator.store.calls import CallFilter, CallNotFoundError
from evaluator.store.votes import Vote, VoteStore

__all__ = ["router"]

router = APIRouter(tags=["call-logs"], dependencies=AUTHORIZED)
EXPORT_PAGE = 200
CALL_COLUMNS = (
    "id", "call_id", "agent", "agent_name", "timestamp", "duration", "status", "success",
    "is_reviewed", "topic", "dropoff_point", "call_ended_reason", "customer_number",
    "feedback", "error_message", "evaluation_status", "evaluation",
)  # fmt: skip


@router.post("/delete_call_logs/", status_code=204, openapi_extra=body_spec(DeleteCallLogs))
async def delete_call_logs(service: ServiceDep, request: Request) -> Response:
    """Delete calls, all or none (an unknown id, or one of another agent, is a 400)."""
    body = parse_body(
        DeleteCallLogs, await read_json_body(request, _limit(service), service.settings.limits())
    )
    pks = list(dict.fromkeys(body.call_logs))
    if body.agent_id is not None:
        where = CallFilter(agent_id=body.agent_id, call_pks=tuple(pks))
        found = await asyncio.to_thread(service.store.call_ids, where, limit=len(pks))
        other = [pk for pk in pks if pk not in found]
        if other:
            raise RequestValidationError({"call_logs": [
                f"no stored call with id {', '.join(map(str, other))} of agent "
                f"{body.agent_id}"]})  # fmt: skip
    try:
        await service.recordings.delete_calls(pks, retain_evaluations=body.retain_evaluations)
    except CallNotFoundError as exc:
        raise RequestValidationError({"call_logs": [str(exc)]}) from None
    return Response(status_code=204)


@router.post(
    "/{id}/mark_metric_vote/",
    openapi_extra=body_spec(MarkMetricVote),
    responses={404: {"model": Detail, "description": "Not found."}},
)
async def mark_metric_vote(service: ServiceDep, request: Request, pk: CallPk) -> Detail:
    """A person's vote on one metric of one call (thumbs up or down, the value it should have
    had, why): stored as a label for the agent's golden set; the call is marked reviewed."""
    body = parse_body(
        MarkMetricVote, await read_json_body(request, _limit(service), service.settings.limits())
    )
    call = await asyncio.to_thread(service.store.get_call, pk)
    metric = _voted_metric(service, body.metric_id, call.agent, [m.id for m in call.metrics])
    vote = Vote(pk, metric.id, body.thumbs_up, body.expected_value, body.feedback)
    await asyncio.to_thread(VoteStore(service.store).add, vote)
    return Detail(detail=f"vote recorded on metric {metric.number} ({metric.id}) of call {pk}")


@router.get("/filters/")
async def filters(service: ServiceDep, request: Request) -> FilterValues:
    """The values the stored calls hold: agents, statuses, topics, dropoff points, metrics
    (each with Cekura's integer ``id`` and output ``type``)."""
    reject_unknown(request, ())
    values = await asyncio.to_thread(service.store.filter_values)
    numbers = service.definitions.catalogue.numbers()
    values["metrics"] = [
        {"id": m["numeric_id"] or numbers.get(m["slug"], 0), "slug": m["slug"], "name": m["name"],
         "type": wire_type(m["type"])}
        for m in values["metrics"]
    ]  # fmt: skip
    return FilterValues(**values)


@router.get("/export_call_logs/", response_class=StreamingResponse)
async def export_call_logs(
    service: ServiceDep,
    request: Request,
    where: Annotated[CallFilter, Depends(call_filter)],
    format: Annotated[Literal["csv", "json"], Query(description="csv or json")] = "csv",
) -> StreamingResponse:
    """The filtered list (the list's filters), every page of it, streamed: CSV with one
    column per metric (its value as text), or a JSON array of list items."""
    reject_unknown(request, (*LIST_PARAMS, "format"))
    pages = _pages(service, where)
    if format == "json":
        body, media = _json_lines(pages), "application/json"
    else:
        body, media = _csv_lines(pages, _columns(service)), "text/csv; charset=utf-8"
    disposition = f'attachment; filename="call_logs.{format}"'
    return StreamingResponse(body, media_type=media, headers={"Content-Disposition": disposition})


def _limit(service: Service) -> int:
    return service.settings.max_body_bytes


def _voted_metric(
    service: Service, ref: int | str, agent_id: int | None, judged: list[str]
) -> MetricDefinition:
    catalogue = service.definitions.catalogue
    try:
        metric = catalogue.metric(ref)
    except UnknownIdError as exc:
        raise RequestValidationError({"metric_id": [str(exc)]}) from None
    own: set[str] = set(judged)
    if agent_id in catalogue.agents:
        own |= {m.id for m in catalogue.agent_metrics(catalogue.agents[agent_id])}
    if metric.id not in own:
        raise RequestValidationError(
            {"metric_id": [f"metric {ref!r} is not one of this call's metrics"]}
        )
    return metric


def _columns(service: Service) -> list[MetricDefinition]:
    return sorted(service.definitions.catalogue.metrics.values(), key=lambda m: m.number)


async def _pages(service: Service, where: CallFilter) -> AsyncIterator[list[CallLogList]]:
    offset = 0
    while True:
        calls, _ = await asyncio.to_thread(
            service.store.list_calls, where, offset=offset, limit=EXPORT_PAGE
        )
        if not calls:
            return
        yield list_items(service, calls)
        offset += len(calls)


async def _json_lines(pages: AsyncIterator[list[CallLogList]]) -> AsyncIterator[str]:
    yield "["
    first = True
    async for page in pages:
        for item in page:
            yield ("" if first else ",") + item.model_dump_json()
            first = False
    yield "]"


async def _csv_lines(
    pages: AsyncIterator[list[CallLogList]], metrics: list[MetricDefinition]
) -> AsyncIterator[str]:
    header = [*CALL_COLUMNS, *(f"metric:{m.id}" for m in metrics)]
    yield _row(header)
    async for page in pages:
        for item in page:
            data = item.model_dump(mode="json")
            values = {m.slug: m.value for m in item.metrics}
            cells = [data.get(c) for c in CALL_COLUMNS] + [values.get(m.id, "") for m in metrics]
            yield _row(["" if v is None else json.dumps(v) if isinstance(v, bool) else v
                        for v in cells])  # fmt: skip


def _row(cells: Sequence[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue()
