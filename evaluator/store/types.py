"""The store's public value types and errors (no SQL): what callers hand in and get back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from evaluator.catalogue.definitions import DEFAULT_PROJECT
from evaluator.contract import apply_overrides
from evaluator.errors import EvaluatorError

__all__ = [
    "EDITABLE_COLUMNS",
    "EVALUATING",
    "Busy",
    "CallBusyError",
    "CallFilter",
    "CallInputs",
    "CallNotFoundError",
    "Claim",
    "ConditionOp",
    "DuplicateCallError",
    "JobScope",
    "MetricCondition",
    "NewCall",
    "RecordingRef",
    "RecordingSource",
    "StoreUnavailableError",
]

JobScope = Literal["request", "all", "chosen"]
# Evaluation states in which a call shows status "evaluating" (and success null unless a
# person reviewed it): the store's call logs and its status filter share this rule.
EVALUATING = ("pending", "evaluating")
ConditionOp = Literal["eq", "neq", "gt", "gte", "lt", "lte", "in", "isnull"]
RecordingSource = Literal["upload", "url"]


class StoreUnavailableError(EvaluatorError):
    """The database cannot take the request now (unreachable, or busy past the wait allowed);
    nothing was written, and the same request may be sent again."""


class CallNotFoundError(EvaluatorError):
    """Stored calls that do not exist; ``ids`` names them."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = list(ids)
        super().__init__("no stored call with id " + ", ".join(map(str, self.ids)))


class CallBusyError(EvaluatorError):
    """A call whose evaluation is pending or running: changes that evaluation reads wait."""

    def __init__(self, pk: int, state: str) -> None:
        self.pk = pk
        self.state = state
        super().__init__(
            f"call {pk} is being evaluated ({state}); it is left as it is: try again once "
            "its evaluation has finished"
        )


# Call columns a correction (PATCH) may set besides the request's fields.
EDITABLE_COLUMNS = ("call_id", "occurred_at", "duration", "transcript_text", "transcript_object")


class DuplicateCallError(EvaluatorError):
    """Same ``call_id`` and agent as a stored call, with a different body."""

    def __init__(self, call_id: str, agent_id: int, existing_id: int) -> None:
        self.existing_id = existing_id
        super().__init__(
            f"call_id {call_id!r} of agent {agent_id} is already stored as call {existing_id} "
            "with a different body; re-post the identical body, or use a new call_id"
        )


@dataclass(frozen=True)
class RecordingRef:
    """A call's recording as the database keeps it: a reference into the blob store, never
    the bytes. ``sha256``: of the bytes as received (None until a URL is fetched);
    ``blob_key``: of the bytes kept (differs from ``sha256`` when PII was silenced; None
    until stored). ``analysis``: what the recording said (``ingest.audio.stored``), None
    until it was processed; a re-evaluation reads it instead of the audio."""

    source: RecordingSource
    filename: str | None = None
    content_type: str | None = None
    sha256: str | None = None
    blob_key: str | None = None
    size: int | None = None
    analysis: dict[str, Any] | None = None


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
    recording: RecordingRef | None = None
    notes: tuple[str, ...] = ()
    project_id: int = DEFAULT_PROJECT
    # Not claimable before this time (an upload being redacted in the receiving process).
    hold_until: datetime | None = None


@dataclass(frozen=True)
class CallInputs:
    """A call's request as it is evaluated (corrections applied), the corrections themselves
    (a PATCH's fields), and whether a recording is stored (ours to stream back)."""

    request: dict[str, Any]
    overrides: dict[str, Any]
    has_recording: bool
    project_id: int = DEFAULT_PROJECT
    # The agent's channel of a stored stereo recording, as given or detected.
    agent_channel: int | None = None


@dataclass(frozen=True)
class MetricCondition:
    """A condition on one metric of the call's current results: ``op`` compares the numeric
    value (true is 1, false 0) for ``gt``..``lte``, the text value for enums otherwise;
    ``isnull`` with ``True`` matches calls without a value for it."""

    metric_id: str
    op: ConditionOp
    value: Any


@dataclass(frozen=True)
class CallFilter:
    """List filters; ``None`` means any."""

    agent_id: int | None = None
    project_id: int | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    success: bool | None = None
    status: str | None = None
    evaluation_status: str | None = None
    topic: str | None = None
    agent_ids: tuple[int, ...] | None = None
    call_pks: tuple[int, ...] | None = None
    is_reviewed: bool | None = None
    dropoff_point: str | None = None
    metrics: tuple[MetricCondition, ...] = ()


@dataclass(frozen=True)
class Busy:
    """A call that cannot be claimed yet: another worker's lease holds it, or its retry is
    not due; ``seconds`` until that changes."""

    seconds: float
    lease: bool = False  # True: another worker holds it; False: its retry is not due


@dataclass(frozen=True)
class Claim:
    """A call a worker holds the lease on, and what to evaluate.

    The request stays the stored JSON text until someone needs it as data
    (``effective_request``): a 10,000-turn call is a megabyte to decode, and the service's
    worker hands it to a process (service/offload.py) without decoding it itself. What the
    recording step must know first is read by the claim's query (``recording_url``,
    ``recorded``)."""

    call_pk: int
    token: str
    attempts: int
    request_json: str  # as stored; PATCHed fields are in ``overrides``
    overrides: dict[str, Any]
    job_scope: JobScope
    job_metric_ids: list[str] | None
    recording_url: str | None = None  # the request's voice_recording_url
    # Whether a recording is stored for the call (uploaded, or kept from an earlier try):
    # without one, and without a voice_recording_url, there is no recording to look up.
    recorded: bool = True

    def effective_request(self) -> dict[str, Any]:
        """The request to evaluate: PATCHed fields applied; ``all`` drops the metric
        choice, ``chosen`` replaces it. Decodes the stored text: CPU work on a large call."""
        request = apply_overrides(json.loads(self.request_json), self.overrides)
        if self.job_scope == "all":
            request.pop("metric_ids", None)
        elif self.job_scope == "chosen":
            request["metric_ids"] = list(self.job_metric_ids or [])
        return request
