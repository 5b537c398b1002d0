"""The store's public value types and errors (no SQL): what callers hand in and get back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from evaluator.errors import EvaluatorError

__all__ = [
    "CallFilter",
    "CallNotFoundError",
    "Claim",
    "DuplicateCallError",
    "JobScope",
    "NewCall",
    "Recording",
    "StoreUnavailableError",
]

JobScope = Literal["request", "all", "chosen"]


class StoreUnavailableError(EvaluatorError):
    """The database cannot take the request now (unreachable, or busy past the wait allowed);
    nothing was written, and the same request may be sent again."""


class CallNotFoundError(EvaluatorError):
    """Stored calls that do not exist; ``ids`` names them."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = list(ids)
        super().__init__("no stored call with id " + ", ".join(map(str, self.ids)))


class DuplicateCallError(EvaluatorError):
    """Same ``call_id`` and agent as a stored call, with a different body."""

    def __init__(self, call_id: str, agent_id: int, existing_id: int) -> None:
        self.existing_id = existing_id
        super().__init__(
            f"call_id {call_id!r} of agent {agent_id} is already stored as call {existing_id} "
            "with a different body; re-post the identical body, or use a new call_id"
        )


@dataclass(frozen=True)
class Recording:
    filename: str | None
    content_type: str | None
    sha256: str
    data: bytes


@dataclass(frozen=True)
class NewCall:
    """A validated call, ready to store."""

    call_id: str
    agent_id: int
    agent_name: str
    trace_id: str | None
    body: str
    body_hash: str
    request: dict[str, Any]
    occurred_at: datetime
    duration: str | None
    transcript_text: str
    transcript_object: list[dict[str, Any]]
    recording: Recording | None = None


@dataclass(frozen=True)
class CallFilter:
    """List filters; ``None`` means any."""

    agent_id: int | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    success: bool | None = None
    status: str | None = None
    evaluation_status: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class Claim:
    """A call a worker holds the lease on, and what to evaluate."""

    call_pk: int
    token: str
    attempts: int
    request: dict[str, Any]
    job_scope: JobScope
    job_metric_ids: list[str] | None

    def effective_request(self) -> dict[str, Any]:
        """The request to evaluate: ``all`` drops the metric choice, ``chosen`` replaces it."""
        request = dict(self.request)
        if self.job_scope == "all":
            request.pop("metric_ids", None)
        elif self.job_scope == "chosen":
            request["metric_ids"] = list(self.job_metric_ids or [])
        return request
