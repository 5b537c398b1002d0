"""Judging stored calls again: ``evaluate_metrics`` (chosen metrics, answered with the calls as
``CallLogList[]``) and ``rerun_evaluation`` (every metric, answered ``CallLogDetail[]``), with
Cekura's bodies. Evaluation runs in the background; the calls are answered as they stand."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from fastapi import APIRouter, Request

from evaluator.calllog import CallLogDetail, CallLogList
from evaluator.catalogue.definitions import AgentDefinition
from evaluator.contract import CallEvaluation
from evaluator.errors import RequestValidationError, UnknownIdError
from evaluator.service.bodies import read_json_body
from evaluator.service.deps import AUTHORIZED, Service, ServiceDep
from evaluator.service.schemas import EvaluateMetrics, RerunEvaluation, body_spec, parse_body
from evaluator.service.views import details_of, list_items
from evaluator.store.calls import CallFilter, CallNotFoundError, JobScope
from evaluator.store.tenancy import Tenancy

__all__ = ["queue_calls", "router"]

router = APIRouter(tags=["call-logs"], dependencies=AUTHORIZED)


@router.post("/evaluate_metrics/", openapi_extra=body_spec(EvaluateMetrics))
async def evaluate_metrics(service: ServiceDep, request: Request) -> list[CallLogList]:
    """Run the chosen metrics (integer ids or slugs) on stored calls; their results replace
    those metrics' results. Each metric must be one of each call's agent's."""
    body = parse_body(
        EvaluateMetrics, await read_json_body(request, _limit(service), service.settings.limits())
    )
    if body.project_id is not None:
        await asyncio.to_thread(_check_project, service, body.project_id)
    agents = await asyncio.to_thread(
        _agents_of, service, body.call_logs, body.agent_id, body.project_id
    )
    for agent_id, pks in agents.items():
        slugs = _chosen_metrics(service, agent_id, body.metrics)
        await queue_calls(service, pks, agent_id, "chosen", slugs)
    calls = await asyncio.to_thread(_calls, service, body.call_logs)
    return list_items(service, calls)


@router.post("/rerun_evaluation/", openapi_extra=body_spec(RerunEvaluation))
async def rerun_evaluation(service: ServiceDep, request: Request) -> list[CallLogDetail]:
    """Re-run every metric on the given calls, or on ``"all"`` calls of the agent (named by
    ``agent_id`` or ``assistant_id``); human-reviewed outcomes are kept."""
    body = parse_body(
        RerunEvaluation, await read_json_body(request, _limit(service), service.settings.limits())
    )
    agent = _agent(service, body)
    if body.call_logs == "all":
        if agent is None:
            raise RequestValidationError({"agent_id": ['agent_id or assistant_id is required '
                                                       'with call_logs "all"']})  # fmt: skip
        pks = await asyncio.to_thread(_all_calls, service, agent.id)
    else:
        pks = list(dict.fromkeys(body.call_logs))
    agent_id = agent.id if agent is not None else None
    groups = await asyncio.to_thread(_agents_of, service, pks, agent_id)
    for group_agent, group in groups.items():
        await queue_calls(service, group, group_agent, "all")
    return await asyncio.to_thread(details_of, service, pks, request.base_url)


def _check_project(service: Service, project_id: int) -> None:
    """A project the key sees (its own; an admin's: any that exists), else a 400 naming it."""
    own = service.principal.project
    if own not in (None, project_id) or project_id not in Tenancy(service.store).project_ids():
        raise RequestValidationError({"project_id": [f"unknown project {project_id}"]})


def _limit(service: Service) -> int:
    return service.settings.max_body_bytes


async def queue_calls(
    service: Service, ids: list[int], agent_id: int | None, scope: JobScope,
    metric_ids: list[str] | None = None,
) -> list[int]:  # fmt: skip
    """Queue stored calls for the worker; an id that is not stored (or not of the agent) is a
    400 naming it."""
    try:
        queued = await asyncio.to_thread(service.store.enqueue, ids, agent_id=agent_id,
                                         scope=scope, metric_ids=metric_ids)  # fmt: skip
    except CallNotFoundError as exc:
        of = f" of agent {agent_id}" if agent_id is not None else ""
        raise RequestValidationError({"call_logs": [f"{exc}{of}"]}) from None
    await service.running_worker().queued(queued)
    return queued


def _calls(service: Service, pks: list[int]) -> list[CallEvaluation]:
    calls, _ = service.store.list_calls(CallFilter(call_pks=tuple(pks)), limit=len(pks))
    by_id = {c.id: c for c in calls}
    return [by_id[pk] for pk in dict.fromkeys(pks) if pk in by_id]


def _agents_of(
    service: Service, pks: Iterable[int], agent_id: int | None, project_id: int | None = None
) -> dict[int, list[int]]:
    """The calls grouped by agent; unknown ids (another project's are unknown), or ids of
    another agent than ``agent_id`` or another project than ``project_id``, are a 400 naming
    them."""
    wanted = list(dict.fromkeys(pks))
    where = CallFilter(call_pks=tuple(wanted), project_id=project_id)
    calls, _ = service.store.list_calls(where, limit=len(wanted))
    found = {c.id: c.agent for c in calls if c.id is not None}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        of = f" in project {project_id}" if project_id is not None else ""
        raise RequestValidationError({"call_logs": [f"{CallNotFoundError(missing)}{of}"]})
    other = [pk for pk in wanted if agent_id is not None and found[pk] != agent_id]
    if other:
        raise RequestValidationError({"call_logs": [
            f"calls {', '.join(map(str, other))} are not of agent {agent_id}"]})  # fmt: skip
    groups: dict[int, list[int]] = {}
    for pk in wanted:
        groups.setdefault(found[pk], []).append(pk)
    return groups


def _all_calls(service: Service, agent_id: int) -> list[int]:
    pks: list[int] = []
    after = 0
    while batch := service.store.call_ids(CallFilter(agent_id=agent_id), after_id=after):
        pks.extend(batch)
        after = batch[-1]
    return pks


def _agent(service: Service, body: RerunEvaluation) -> AgentDefinition | None:
    catalogue = service.definitions.catalogue
    by_id = by_assistant = None
    try:
        if body.agent_id is not None:
            by_id = catalogue.agent(body.agent_id)
    except UnknownIdError as exc:
        raise RequestValidationError({"agent_id": [str(exc)]}) from None
    try:
        if body.assistant_id is not None:
            by_assistant = catalogue.agent_by_assistant(str(body.assistant_id))
    except UnknownIdError as exc:
        raise RequestValidationError({"assistant_id": [str(exc)]}) from None
    if by_id is not None and by_assistant is not None and by_id.id != by_assistant.id:
        raise RequestValidationError({"assistant_id": [
            f"assistant_id {body.assistant_id!r} is agent {by_assistant.id}, "
            f"not {by_id.id}"]})  # fmt: skip
    return by_id or by_assistant


def _chosen_metrics(service: Service, agent_id: int, wanted: list[int | str]) -> list[str]:
    """The slugs of the chosen metrics, each one of the agent's; else a 400 naming them."""
    catalogue = service.definitions.catalogue
    try:
        agent = catalogue.agent(agent_id)
    except UnknownIdError as exc:
        raise RequestValidationError({"agent_id": [str(exc)]}) from None
    own = {m.id for m in catalogue.agent_metrics(agent)}
    slugs, problems = [], []
    for ref in wanted:
        try:
            metric = catalogue.metric(ref)
        except UnknownIdError as exc:
            problems.append(str(exc))
            continue
        if metric.id not in own:
            problems.append(f"metric {ref!r} is not one of agent {agent_id}'s metrics")
        slugs.append(metric.id)
    if problems:
        raise RequestValidationError({"metrics": problems})
    return list(dict.fromkeys(slugs))
