"""The calls list and the call page, with the review forms: status and feedback, a vote on a
metric (stored exactly as ``mark_metric_vote`` stores it), a re-evaluation; and the call's
recording for the page's player (served with ``Range`` so the player can seek)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from evaluator.errors import RequestValidationError
from evaluator.service.deps import PREFIX, Service
from evaluator.service.listing import condition
from evaluator.service.routes.recordings import recording_response
from evaluator.service.ui.auth import (
    ReviewerDep,
    UiRefused,
    UiServiceDep,
    UiSessionDep,
    base_context,
)
from evaluator.service.ui.render import linked_clocks, page, worst_metrics
from evaluator.service.views import detail_of
from evaluator.store.browse import SORTS, BrowseQuery, browse_calls
from evaluator.store.types import CallFilter, MetricCondition
from evaluator.store.votes import Vote, VoteStore

__all__ = ["router"]

router = APIRouter()
OPS = {"=": "eq", "==": "eq", "!=": "neq", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
CONDITION = re.compile(r"^\s*([\w.-]+)\s*(==|!=|>=|<=|=|>|<)\s*(.+?)\s*$")
REVIEW_STATUSES = ("reviewed_success", "reviewed_failure")
PAGE_SIZE = 25


def _conditions(service: Service, texts: list[str]) -> tuple[MetricCondition, ...]:
    """``hallucination = true``, ``latency_p95 > 2000``: a 400 naming ``metric`` if not."""
    found = []
    for text in (t for t in texts if t.strip()):
        match = CONDITION.match(text)
        if match is None:
            raise RequestValidationError(
                {"metric": [f"{text!r}: expected <metric> <op> <value>, op one of {' '.join(OPS)}"]}
            )
        ref, op, value = match.groups()
        metric: int | str = int(ref) if ref.isdigit() else ref
        found.append(condition(service.definitions.catalogue, metric, OPS[op], value, "metric"))
    return tuple(found)


def _tristate(value: str | None, field: str) -> bool | None:
    if value in (None, ""):
        return None
    if value in ("true", "yes"):
        return True
    if value in ("false", "no"):
        return False
    raise RequestValidationError({field: [f"{value!r}: expected true or false"]})


def _day(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise RequestValidationError({field: [f"{value!r}: expected YYYY-MM-DD"]}) from None
    return day + timedelta(days=1) if end else day


@router.get("/calls")
async def calls_page(
    request: Request,
    service: UiServiceDep,
    session: UiSessionDep,
    agent_text: Annotated[str | None, Query(alias="agent", max_length=12)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    success: Annotated[str | None, Query(max_length=5)] = None,
    topic: Annotated[str | None, Query(max_length=1000)] = None,
    dropoff: Annotated[str | None, Query(max_length=1000)] = None,
    reviewed: Annotated[str | None, Query(max_length=5)] = None,
    metric: Annotated[list[str] | None, Query(max_length=10)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(max_length=10)] = "newest",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """The calls list: filters, transcript search, sorting, pages and the count."""
    conditions = [m for m in metric or [] if m.strip()]
    agent = int(agent_text) if agent_text and agent_text.isdigit() else None
    form: dict[str, Any] = {
        "agent": agent or "",
        "from": start or "",
        "to": end or "",
        "status": status or "",
        "success": success or "",
        "topic": topic or "",
        "dropoff": dropoff or "",
        "reviewed": reviewed or "",
        "metric": conditions,
        "q": q or "",
        "sort": sort,
    }
    values = _filter_values(service)
    context = {
        **base_context(request, session),
        "form": form,
        "values": values,
        "sorts": SORTS,
        "error": None,
        "calls": [],
        "total": 0,
        "page": page_number,
        "pages": 1,
        "worst": worst_metrics,
        "page_link": lambda n: _page_link(request, n),
    }
    try:
        where = CallFilter(
            agent_id=agent,
            occurred_from=_day(start, "from"),
            occurred_to=_day(end, "to", end=True),
            status=status or None,
            success=_tristate(success, "success"),
            topic=topic or None,
            dropoff_point=dropoff or None,
            is_reviewed=_tristate(reviewed, "reviewed"),
            metrics=_conditions(service, conditions),
        )
        if agent_text and agent is None:
            raise RequestValidationError({"agent": [f"{agent_text!r} is not an agent id"]})
        if sort not in SORTS:
            raise RequestValidationError({"sort": [f"expected one of {', '.join(SORTS)}"]})
    except RequestValidationError as exc:
        context["error"] = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
        return page("calls.html", 400, **context)
    browse = BrowseQuery(
        where, q or None, sort, page_number, PAGE_SIZE, session.principal.project_id
    )
    found = await asyncio.to_thread(browse_calls, service.store, browse)
    context.update(calls=found.calls, total=found.total, pages=found.pages)
    template = "_calls_table.html" if request.headers.get("HX-Request") else "calls.html"
    return page(template, **context)


def _filter_values(service: Service) -> dict[str, Any]:
    """The choices of the filter form, from the definitions (reading them off the stored
    calls would scan every call on each page view)."""
    catalogue = service.definitions.catalogue
    agents = sorted(catalogue.agents.values(), key=lambda a: a.id)
    return {
        "agents": [{"id": a.id, "name": a.name} for a in agents],
        "topics": sorted({t for a in agents for t in a.topics}),
        "dropoff_points": list(dict.fromkeys(d for a in agents for d in a.dropoff_points)),
        "metrics": [{"slug": m.id} for m in sorted(catalogue.metrics.values(), key=lambda m: m.id)],
    }


def _page_link(request: Request, number: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return "/ui/calls?" + urlencode([*params, ("page", str(number))])


def _visible_call(service: Service, session: Any, pk: int) -> None:
    """A call of the session's project (the service is scoped to it), else not found."""
    service.store.check_visible(pk)


def _player_source(detail_url: str, pk: int) -> str | None:
    """Where the page's player reads the recording: our own route through the session
    (a browser's player cannot send an API key), or the caller's http(s) URL as given."""
    if not detail_url:
        return None
    if f"{PREFIX}/call-logs/{pk}/" in detail_url:
        return f"/ui/calls/{pk}/recording"
    return detail_url if detail_url.startswith(("https://", "http://")) else None


@router.get("/calls/{pk}")
async def call_page(
    request: Request, service: UiServiceDep, session: UiSessionDep, pk: int
) -> Response:
    """One call: transcript, player, metrics with linked quotes, review and votes."""
    _visible_call(service, session, pk)
    call = await asyncio.to_thread(service.store.get_call, pk)
    detail = await asyncio.to_thread(detail_of, service, pk, request.base_url)
    votes = await asyncio.to_thread(VoteStore(service.store).of_call, pk)
    turns = [_shown_turn(t) for t in call.transcript_object if isinstance(t, dict)]
    explained = {m.id: linked_clocks(m.explanation, turns) for m in call.metrics}
    catalogue = service.definitions.catalogue
    return page(
        "call.html",
        **base_context(request, session),
        call=call,
        turns=turns,
        explained=explained,
        votes=votes,
        player=_player_source(detail.voice_recording_url, pk),
        definitions={m.id: catalogue.metrics.get(m.id) for m in call.metrics},
        statuses=REVIEW_STATUSES,
        notice=request.query_params.get("notice"),
    )


def _shown_turn(turn: dict[str, Any]) -> dict[str, Any]:
    """A stored turn with every key the template reads (a tool turn's name, arguments and
    result as text)."""
    data = turn.get("data") if isinstance(turn.get("data"), dict) else None
    start, end = turn.get("start_time"), turn.get("end_time")
    return {
        "role": str(turn.get("role", "")),
        "content": str(turn.get("content") or ""),
        "start_time": start if isinstance(start, int | float) else None,
        "end_time": end if isinstance(end, int | float) else None,
        "tool": None
        if data is None
        else {
            "name": str(data.get("name") or ""),
            "arguments": str(data.get("arguments") or ""),
            "result": str(data.get("result") or ""),
        },
    }


def _back(pk: int, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/calls/{pk}?notice={notice}", status_code=303)


@router.post("/calls/{pk}/review")
async def review(
    service: UiServiceDep,
    session: ReviewerDep,
    pk: int,
    status: Annotated[str, Form(max_length=32)] = "",
    feedback: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Set the person's status (reviewed_success / reviewed_failure, or none) and feedback."""
    _visible_call(service, session, pk)
    if status and status not in REVIEW_STATUSES:
        raise UiRefused(400, f"status: expected one of {', '.join(REVIEW_STATUSES)}")
    await asyncio.to_thread(
        service.store.review,
        pk,
        status=status or None,
        feedback=feedback or None,
        fields={"status", "feedback"},
    )
    return _back(pk, "review-saved")


def _expected(raw: str, kind: str) -> Any:
    """The expected value typed as the metric's values are (a 400 when it cannot be)."""
    if raw == "":
        return None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise UiRefused(400, "expected_value: expected true or false")
        return raw == "true"
    if kind == "enum":
        return raw
    try:
        number = json.loads(raw)
    except ValueError:
        number = None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise UiRefused(400, f"expected_value: {raw!r} is not a number")
    return number


@router.post("/calls/{pk}/vote")
async def vote(
    service: UiServiceDep,
    session: ReviewerDep,
    pk: int,
    metric_id: Annotated[str, Form(max_length=255)],
    thumbs: Annotated[str, Form(max_length=5)] = "",
    expected_value: Annotated[str, Form(max_length=255)] = "",
    feedback: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """A vote on one metric, as ``mark_metric_vote`` stores it (the call is marked reviewed)."""
    _visible_call(service, session, pk)
    call = await asyncio.to_thread(service.store.get_call, pk)
    metric = service.definitions.catalogue.metrics.get(metric_id)
    if metric is None or metric_id not in {m.id for m in call.metrics}:
        raise UiRefused(400, f"metric_id: {metric_id!r} is not one of this call's metrics")
    thumbs_up = {"up": True, "down": False}.get(thumbs)
    label = Vote(
        pk,
        metric.id,
        thumbs_up,
        _expected(expected_value, metric.type),
        feedback or None,
        voter=session.principal.key_id,
    )
    await asyncio.to_thread(VoteStore(service.store).add, label)
    return _back(pk, "vote-saved")


@router.post("/calls/{pk}/reevaluate")
async def reevaluate(service: UiServiceDep, session: ReviewerDep, pk: int) -> Response:
    """Queue the call for evaluation again (its every metric); the page shows it evaluating."""
    _visible_call(service, session, pk)
    queued = await asyncio.to_thread(service.store.enqueue, [pk], agent_id=None, scope="all")
    # Published to Celery's workers too (a wake-up alone reaches only the in-process one).
    await service.running_worker().queued(queued)
    return _back(pk, "reevaluation-queued")


@router.get("/calls/{pk}/recording")
async def recording(
    request: Request, service: UiServiceDep, session: UiSessionDep, pk: int
) -> Response:
    """The stored recording, whole or the one byte range asked for (206), as the API's own
    recording route streams it."""
    _visible_call(service, session, pk)
    return await recording_response(service, pk, request.headers.get("range"))
