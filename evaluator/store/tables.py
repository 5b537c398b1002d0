"""The database schema (SQLAlchemy 2 declarative tables), used by ``store.py`` and the migrations.

A call row holds what was received (the raw body, its hash, the normalized transcript) and its
place in the evaluation queue. Machine results live in ``evaluations`` (one row per run) and
``metric_results``; a human review lives in ``reviews``, apart from both, so re-running an
evaluation never overwrites what a person decided.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AlertFiringRow",
    "AlertRow",
    "ApiKeyRow",
    "Base",
    "CallRow",
    "EvaluationRow",
    "MetricResultRow",
    "ProjectRow",
    "RecordingRow",
    "ReviewRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, whatever the database keeps (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The metadata every table (and the migrations) share."""


class ProjectRow(Base):
    """A tenant: every agent (its YAML's ``project``) and every call belongs to one."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of the key (the key itself is shown once, at
    creation) with its first characters for display. ``project_id`` null: an admin key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallRow(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The agent's project when the call was stored (Cekura denormalizes it the same way).
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), default=1)
    call_id: Mapped[str] = mapped_column(String(100))
    agent_id: Mapped[int] = mapped_column(Integer)
    agent_name: Mapped[str] = mapped_column(String(255))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    # The body exactly as received (JSON text; multipart fields re-encoded as JSON).
    body: Mapped[str] = mapped_column(Text)
    body_hash: Mapped[str] = mapped_column(String(64))
    # The validated request (ObserveRequest as JSON): what evaluations and reads use.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Unique when set: "<agent>:<call_id>" (duplicates refused) or with the hash appended.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # PATCHed metadata / dynamic_variables, applied over the body when (re)evaluating.
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration: Mapped[str | None] = mapped_column(String(16))
    transcript_text: Mapped[str] = mapped_column(Text)
    transcript_object: Mapped[list[Any]] = mapped_column(JSON)
    evaluation_status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    # What the next evaluation runs: "request" (the request's own metric_ids), "all"
    # (every metric of the agent) or "chosen" (job_metric_ids, merged into the last results).
    job_scope: Mapped[str] = mapped_column(String(16), default="request")
    job_metric_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    current_evaluation_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How the request was read (unknown fields ignored, say), shown in the call log's notes.
    intake_notes: Mapped[list[Any] | None] = mapped_column(JSON)
    # Set when the call was deleted with retain_evaluations: hidden from every read, its
    # evaluations and votes kept for the agent's statistics.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the sweeper last re-published the call's task (Celery backend): a call is
    # re-published at most once per lease, however deep the broker's queue.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_calls_agent_call_id", "agent_id", "call_id"),
        Index("ix_calls_queue", "evaluation_status", "next_attempt_at"),
        Index("ix_calls_occurred_at", "occurred_at"),
        Index("ix_calls_project_occurred_at", "project_id", "occurred_at"),
        Index("ix_calls_agent_occurred_at", "agent_id", "occurred_at"),
        # The review UI's list counts and pages live calls without reading their wide rows
        # (body, request, transcript): every column its filters and order need.
        Index(
            "ix_calls_list",
            "deleted_at",
            "occurred_at",
            "id",
            "agent_id",
            "current_evaluation_id",
            "evaluation_status",
        ),
    )


class RecordingRow(Base):
    """A call's recording: a reference into the blob store (``store/blobs.py``), never the
    bytes. See ``types.RecordingRef`` for what each column holds."""

    __tablename__ = "recordings"

    call_pk: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(8), server_default="upload")
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    blob_key: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EvaluationRow(Base):
    """One run of the engine over a call: the call-level results and what it cost."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(255))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))
    success: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str | None] = mapped_column(String(32))
    topic: Mapped[str | None] = mapped_column(String(1000))
    dropoff_point: Mapped[str | None] = mapped_column(String(1000))
    evaluation: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MetricResultRow(Base):
    __tablename__ = "metric_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    metric_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    score: Mapped[Any] = mapped_column(JSON, nullable=True)
    enum: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[str | None] = mapped_column(String(255))
    model: Mapped[str | None] = mapped_column(String(255))
    # The metric's integer id (Cekura's ``id``) and its value as a number (true 1, false 0)
    # for metric conditions in list filters.
    numeric_id: Mapped[int | None] = mapped_column(Integer)
    number_value: Mapped[float | None] = mapped_column(Float)

    # Metric conditions (list filters, dashboards, alert windows) look up one metric of one
    # run: the pair, with the outcome and the value, answers them from the index alone.
    __table_args__ = (
        Index(
            "ix_metric_results_run_metric", "evaluation_id", "metric_id", "outcome", "number_value"
        ),
        Index("ix_metric_results_metric", "metric_id", "evaluation_id"),
    )


class ReviewRow(Base):
    """A person's verdict on a call, kept apart from (and outliving) machine results."""

    __tablename__ = "reviews"

    call_pk: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str | None] = mapped_column(String(32))
    feedback: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JudgmentRow(Base):
    __tablename__ = "judgments"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(255))
    raw_completion: Mapped[str] = mapped_column(Text)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RerunRow(Base):
    __tablename__ = "reevaluation_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RerunItemRow(Base):
    __tablename__ = "reevaluation_items"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("reevaluation_runs.id", ondelete="CASCADE"), primary_key=True
    )
    call_pk: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    # pending -> done (new results stored) | skipped (nothing to do) | failed (with error)
    state: Mapped[str] = mapped_column(String(16))
    before_evaluation_id: Mapped[int | None] = mapped_column(Integer)
    after_evaluation_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reevaluation_items_state", "run_id", "state", "call_pk"),)


class DeliveryRow(Base):
    """A completion webhook owed to a receiver: kept until delivered or out of tries, so a
    delivery survives a restart and can be inspected (``deliveries`` in the store)."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(32))
    # pending -> delivered | failed (out of tries)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)


class MetricVoteRow(Base):
    """A person's label on one metric of one call (``mark_metric_vote``, or the review UI):
    thumbs up/down on the machine's value, the value it should have had, and why. These are
    the team's own labels: the regression harness reads them as a golden set."""

    __tablename__ = "metric_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    metric_id: Mapped[str] = mapped_column(String(100))
    thumbs_up: Mapped[bool | None] = mapped_column(Boolean)
    expected_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    feedback: Mapped[str | None] = mapped_column(Text)
    # The machine's value when the vote was cast, so agreement is measured against what the
    # person saw even after a re-evaluation changes it.
    machine_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    voter: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_metric_votes_call_metric", "call_pk", "metric_id"),)


class AlertRow(Base):
    """An alert rule on one metric (Cekura's alert): ``source`` says which kind (its
    ``sub_type``) and over what window, ``threshold`` when it fires, ``notifications`` where
    it is delivered and the cool-down between deliveries."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    project: Mapped[int] = mapped_column(Integer)
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    threshold: Mapped[dict[str, Any]] = mapped_column(JSON)
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger_count: Mapped[int] = mapped_column(Integer, default=0)
    last_triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertFiringRow(Base):
    """One firing of an alert: the call whose evaluation set it off, what was seen, and what
    became of its delivery (sent, failed, held back by the cool-down, or no destination)."""

    __tablename__ = "alert_firings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    call_pk: Mapped[int | None] = mapped_column(Integer)
    metric_id: Mapped[str] = mapped_column(String(255))
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    delivery: Mapped[str] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_alert_firings_alert", "alert_id", "id"),)
