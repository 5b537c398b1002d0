"""The observe contract (shared/spec/observe-api.md) as pydantic models.

``ObserveRequest`` is the body of ``POST /observability/v1/observe/``; ``CallEvaluation`` is
the call-log object it returns. The library, the CLI and the service all use these, so an
ingestion service that posts to Cekura today can post here unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evaluator.errors import RequestValidationError

__all__ = [
    "AUDIO_ONLY",
    "PII_CATEGORIES",
    "CallEvaluation",
    "MetricResult",
    "ObserveRequest",
    "Usage",
    "ignored_fields",
    "parse_request",
    "to_utc",
]

# Audio with no transcript: transcribed by the service (not a transcript format).
AUDIO_ONLY = "none-mono"

PIICategory = Literal[
    "person_name", "age", "phone_number", "email_address", "date", "time", "location",
    "origin", "gender_sexuality", "physical_attribute", "occupation", "username", "password",
    "ip_address", "url", "filename", "event", "vehicle_id", "dob", "healthcare_number",
    "medical_professional", "credit_card", "account_number", "bank_account", "money", "ssn",
    "passport_number", "driver_license", "numerical_pii",
]  # fmt: skip
PII_CATEGORIES: tuple[str, ...] = PIICategory.__args__  # type: ignore[attr-defined]

MetricType = Literal["boolean", "score", "enum", "numeric"]
Outcome = Literal["scored", "not_applicable", "failed"]
# "evaluating" while an evaluation is pending or running (the spec's Decision; Cekura's
# observe endpoint answers it although its enum lists only the other four).
CallStatus = Literal["success", "failure", "reviewed_success", "reviewed_failure", "evaluating"]
EvaluationStatus = Literal["pending", "evaluating", "evaluated", "failed"]


class ObserveRequest(BaseModel):
    """One production call, as posted to the observe endpoint.

    Lenient where Cekura's server (Django REST framework) is: unknown fields are ignored
    (``ignored_fields`` names them), null means absent for every optional field, and text is
    coerced where DRF coerces it (``"0"`` for ``main_agent_channel_index``, ``118`` for
    ``metric_ids``). Wrong values are still errors naming the field.
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    call_id: str = Field(min_length=1, max_length=100)
    agent: int | None = Field(default=None, ge=1)
    assistant_id: str | None = Field(default=None, min_length=1, max_length=255)
    voice_recording_url: AnyUrl | None = None
    # The uploaded file's name (multipart), or a local file for the CLI; its bytes travel
    # beside the request, never inside it.
    voice_recording: str | None = Field(default=None, max_length=1000)
    # Checked against the transcript formats' registry at intake (ingest.transcripts), so a
    # new provider module is all it takes to accept a new type.
    transcript_type: str = Field(default="cekura", min_length=1, max_length=32)
    transcript_json: Any = None
    call_ended_reason: str | None = Field(default=None, max_length=100)
    customer_number: str | None = Field(default=None, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    dynamic_variables: dict[str, Any] = Field(default_factory=dict)
    feedback: str | None = None
    redact_fields: list[PIICategory] = Field(default_factory=list)
    metric_ids: list[str] | None = None
    main_agent_channel_index: Literal[0, 1] | None = None
    trace_id: str | None = Field(default=None, max_length=32)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        """``null`` for a field with a default means the default."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v is not None}

    @field_validator("main_agent_channel_index", mode="before")
    @classmethod
    def _channel_from_text(cls, value: Any) -> Any:
        """Form and multipart bodies carry every value as text: ``"0"`` is 0."""
        if isinstance(value, str) and value.strip() in ("0", "1"):
            return int(value)
        return value

    @field_validator("metric_ids", mode="before")
    @classmethod
    def _split_metric_ids(cls, value: Any) -> Any:
        """``"118,119"`` (the spec's form), a JSON list of ids, or one integer id; blanks
        are an error."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
        elif isinstance(value, list):
            parts = [str(p).strip() if isinstance(p, int | str) else p for p in value]
        else:
            raise ValueError('expected a comma-separated string of metric ids, e.g. "118,119"')
        if not all(isinstance(p, str) and p for p in parts):
            raise ValueError('metric ids must be non-empty, e.g. "118,119"')
        return list(dict.fromkeys(parts))

    @field_validator("timestamp")
    @classmethod
    def _timestamp_in_utc_range(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            to_utc(value)
        return value

    @field_validator("dynamic_variables")
    @classmethod
    def _variable_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not name.replace("_", "a").isalnum() or not name.isascii():
                raise ValueError(
                    f"variable name {name!r} may use only letters, digits and underscores"
                )
        return value

    @model_validator(mode="after")
    def _identity_and_content(self) -> ObserveRequest:
        if self.agent is None and self.assistant_id is None:
            raise ValueError("agent: one of agent or assistant_id is required")
        has_audio = self.voice_recording is not None or self.voice_recording_url is not None
        if self.transcript_type == AUDIO_ONLY and not has_audio:
            raise ValueError(
                "transcript_type: none-mono needs audio: upload voice_recording or give "
                "voice_recording_url"
            )
        if self.transcript_json is None and not has_audio:
            raise ValueError(
                "transcript_json: a call needs a transcript, or audio (voice_recording or "
                "voice_recording_url) to transcribe"
            )
        return self


class Usage(BaseModel):
    """What judging a call cost: LLM requests, tokens, dollars where litellm knows the price."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cache_hits: int = 0

    def plus(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            model=self.model or other.model,
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=cost,
            cache_hits=self.cache_hits + other.cache_hits,
        )


class MetricResult(BaseModel):
    """One metric of one call: a value, not applicable (with why), or a failure (with why).

    Cekura's fields are ``id, name, type, score, enum, value, explanation``; the rest are ours.
    ``score`` holds boolean, score and numeric values; ``enum``/``value`` hold enum values.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    # The metric's integer id (``numeric_id`` in its YAML): ``id`` on Cekura's wire.
    numeric_id: int | None = None
    name: str
    type: MetricType
    score: bool | int | float | None = None
    enum: str | None = None
    value: str | None = None
    explanation: str = ""
    outcome: Outcome = "scored"
    error: str | None = None
    unit: str | None = None
    details: dict[str, Any] | None = None
    version: str | None = None
    model: str | None = None

    @property
    def answer(self) -> bool | int | float | str | None:
        """The value whatever the type: the enum value for enums, else the score."""
        return self.enum if self.type == "enum" else self.score


class CallEvaluation(BaseModel):
    """The call log: the stored call and its evaluation, as the observe endpoint returns it."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    call_id: str
    trace_id: str | None = None
    agent: int
    agent_name: str
    duration: str | None = None
    success: bool | None = None
    status: CallStatus | None = None
    is_reviewed: bool = False
    feedback: str | None = None
    metrics: list[MetricResult] = Field(default_factory=list)
    topic: str | None = Field(default=None, max_length=1000)
    dropoff_point: str | None = Field(default=None, max_length=1000)
    call_ended_reason: str | None = None
    customer_number: str | None = None
    timestamp: datetime | None = None
    transcript: str = ""
    transcript_object: list[dict[str, Any]] = Field(default_factory=list)
    evaluation: str | None = None
    error_message: str | None = None
    evaluation_status: EvaluationStatus = "evaluated"
    notes: list[str] = Field(default_factory=list)
    usage: Usage | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def ignored_fields(data: Any) -> list[str]:
    """The fields of a request body that are not the contract's (ignored, not stored)."""
    if not isinstance(data, dict):
        return []
    return [str(key) for key in data if key not in ObserveRequest.model_fields]


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive values are taken as UTC); ``ValueError`` when that falls
    outside the years 1-9999 (``0001-01-01T00:00:00+14:00`` is in year 0 in UTC)."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{value.isoformat()} is outside the years 1-9999 in UTC") from None


def parse_request(data: Any) -> ObserveRequest:
    """Validate a request body; errors come out keyed by field, as the spec's 400 body."""
    if not isinstance(data, dict):
        raise RequestValidationError({"non_field_errors": ["expected a JSON object"]})
    try:
        return ObserveRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(field_errors(exc)) from None


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors as ``{"field": ["message"]}``, messages saying what was expected."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            field = loc[0]
            message = "unknown field; see the observe contract for the fields it takes"
        elif err["type"] == "missing" and len(loc) == 1:
            field, message = loc[0], "this field is required"
        elif not loc:
            field, _, message = message.partition(": ")
            if not message:
                field, message = "non_field_errors", field
        else:
            field = loc[0]
            if err["type"] == "literal_error":
                message = f"{message}; got {err['input']!r}"
            if len(loc) > 1:
                message = f"item {'.'.join(loc[1:])}: {message}"
        errors.setdefault(field, []).append(message)
    return errors


def apply_overrides(request: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The request a call is evaluated with: as received, with later-set fields (a PATCH)
    replacing the received ones at the top level."""
    return {**request, **(overrides or {})}


def merged_results(previous: list[MetricResult], new: list[MetricResult]) -> list[MetricResult]:
    """``previous`` with each metric judged again replaced in place by its new result, and
    metrics judged for the first time appended."""
    fresh = {m.id: m for m in new}
    kept = [fresh.pop(m.id, m) for m in previous]
    return [*kept, *fresh.values()]
