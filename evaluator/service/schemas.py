"""Request and response bodies of the service's endpoints other than observe (pydantic only)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaluator.contract import CallEvaluation

__all__ = [
    "MAX_ID",
    "CallLogPage",
    "CallLogUpdate",
    "EvaluateMetricsRequest",
    "Health",
    "QueuedCalls",
    "RerunRequest",
]

# Ids are 32-bit in the database; larger numbers cannot name a stored call.
MAX_ID = 2**31 - 1
StoredId = Annotated[int, Field(ge=1, le=MAX_ID)]


class CallLogPage(BaseModel):
    """One page of call logs, newest first (the shape of Cekura's paginated lists)."""

    count: int
    next: str | None
    previous: str | None
    results: list[CallEvaluation]


class CallLogUpdate(BaseModel):
    """``PATCH /call-logs/{id}/``: human review and request fields; only what is sent changes."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["reviewed_success", "reviewed_failure"] | None = Field(
        default=None, description="the reviewed outcome; null clears the review"
    )
    feedback: str | None = None
    metadata: dict[str, Any] | None = None
    dynamic_variables: dict[str, Any] | None = None
    reevaluate_metrics: bool = False


class EvaluateMetricsRequest(BaseModel):
    """Run chosen metrics on stored calls of one agent."""

    model_config = ConfigDict(extra="forbid")

    agent_id: StoredId
    call_logs: list[StoredId] = Field(min_length=1, max_length=10_000)
    metrics: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        min_length=1, max_length=1000
    )


class RerunRequest(BaseModel):
    """Re-run every metric of the agent on the given calls, or on all of its calls."""

    model_config = ConfigDict(extra="forbid")

    agent_id: StoredId
    call_logs: list[StoredId] | Literal["all"] = Field(
        description='call log ids, or "all" for every call of the agent'
    )


class QueuedCalls(BaseModel):
    """Calls put back in the evaluation queue."""

    agent_id: int
    queued: list[int]
    evaluation_status: Literal["pending"] = "pending"


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    agents: int
    metrics: int
