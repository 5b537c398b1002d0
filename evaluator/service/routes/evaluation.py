"""Re-judging stored calls: ``evaluate_metrics`` (chosen metrics) and ``rerun_evaluation``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from evaluator.errors import RequestValidationError, UnknownIdError
from evaluator.service.deps import AUTHORIZED, PREFIX, Service, ServiceDep
from evaluator.service.schemas import EvaluateMetricsRequest, QueuedCalls, RerunRequest
from evaluator.store.calls import CallNotFoundError, JobScope

router = APIRouter(prefix=f"{PREFIX}/call-logs", tags=["call-logs"], dependencies=AUTHORIZED)


@router.post("/evaluate_metrics/")
async def evaluate_metrics(service: ServiceDep, body: EvaluateMetricsRequest) -> QueuedCalls:
    """Run the chosen metrics on stored calls; their results replace those metrics' results."""
    check_agent_metrics(service, body.agent_id, body.metrics)
    return await queue_calls(
        service, body.call_logs, body.agent_id, "chosen", list(dict.fromkeys(body.metrics))
    )


@router.post("/rerun_evaluation/")
async def rerun_evaluation(service: ServiceDep, body: RerunRequest) -> QueuedCalls:
    """Re-run every metric of the agent; human-reviewed outcomes are kept."""
    check_agent_metrics(service, body.agent_id, [])
    ids = None if body.call_logs == "all" else body.call_logs
    return await queue_calls(service, ids, body.agent_id, "all")


async def queue_calls(
    service: Service, ids: list[int] | None, agent_id: int, scope: JobScope,
    metric_ids: list[str] | None = None,
) -> QueuedCalls:  # fmt: skip
    """Queue stored calls of one agent for the worker; an id not of that agent is a 400."""
    try:
        queued = await asyncio.to_thread(service.store.enqueue, ids, agent_id=agent_id,
                                         scope=scope, metric_ids=metric_ids)  # fmt: skip
    except CallNotFoundError as exc:
        raise RequestValidationError({"call_logs": [f"{exc} of agent {agent_id}"]}) from None
    service.running_worker().wake()
    return QueuedCalls(agent_id=agent_id, queued=queued)


def check_agent_metrics(service: Service, agent_id: int, metric_ids: list[str]) -> None:
    """The agent exists and every metric named is one of its own; else a field-keyed 400."""
    catalogue = service.definitions.catalogue
    try:
        agent = catalogue.agent(agent_id)
    except UnknownIdError as exc:
        raise RequestValidationError({"agent_id": [str(exc)]}) from None
    own = {m.id for m in catalogue.agent_metrics(agent)}
    problems = []
    for wanted in metric_ids:
        try:
            metric = catalogue.metric(wanted)
        except UnknownIdError as exc:
            problems.append(str(exc))
            continue
        if metric.id not in own:
            problems.append(f"metric {wanted!r} is not one of agent {agent_id}'s metrics")
    if problems:
        raise RequestValidationError({"metrics": problems})
