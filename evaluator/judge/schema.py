"""The judge's answer, typed: response models built from the definitions, and their reading.

Each metric's answer is ``{reasoning, value}`` (reasons first), with ``value`` constrained by
the metric's type: ``Literal`` of the enum values, an int bounded by the scale, a bool. An
answer outside them is a validation error, which the judge re-asks; it is never coerced.
Metrics with an ``automatic`` or question trigger answer ``applicable`` first.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from evaluator.catalogue.definitions import AgentDefinition, MetricDefinition
from evaluator.contract import MetricResult, Usage

__all__ = [
    "CALL_FIELDS",
    "Judge",
    "JudgeAnswer",
    "JudgePlan",
    "JudgeRequest",
    "build_response_model",
    "field_errors_of",
    "metric_result_from_answer",
    "salvage",
]

CALL_FIELDS = ("topic", "dropoff_point", "evaluation")
# No maxLength in the schema: grammar-constrained servers (llama.cpp) expand it into a
# repetition their grammar parser rejects. Output length is bounded by max_tokens instead.
_REASONING = Field(description="Your reasons first: quote the transcript with its [MM:SS] times.")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Finding(_Answer):
    """One finding of a metric with ``findings: true`` (e.g. an instruction deviation)."""

    category: str = Field(description="a short category, e.g. 'skipped verification step'")
    priority: Literal["critical", "non_critical"]
    evidence: str = Field(description="the transcript quoted with its [MM:SS] time")


_FINDINGS = "every finding, each with category, priority and quoted evidence ([] when none)"


class _TriggeredAnswer(_Answer):
    @model_validator(mode="after")
    def _value_when_applicable(self) -> _TriggeredAnswer:
        if getattr(self, "applicable", False) and getattr(self, "value", None) is None:
            raise ValueError("value is required when applicable is true")
        return self


@dataclass(frozen=True)
class JudgePlan:
    """What one judge request asks: some metrics and, for the main request, the call fields."""

    key: str
    metrics: tuple[MetricDefinition, ...]
    include_call_fields: bool
    response_model: type[BaseModel]


@dataclass(frozen=True)
class JudgeRequest:
    """One request: ``key`` names it in errors (``call`` or an isolated metric's id)."""

    key: str
    messages: list[dict[str, str]]
    response_model: type[BaseModel]


@dataclass
class JudgeAnswer:
    """Validated fields by response key; failed fields with the reason; the evidence."""

    fields: dict[str, Any]
    errors: dict[str, str]
    raw_completion: str | None
    usage: Usage
    attempts: int = 1
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Judge(Protocol):
    """What the engine needs of a judge. ``LiteLLMJudge`` is the real one; tests use a
    scripted fake with the same shape."""

    @property
    def model(self) -> str: ...

    async def answer(self, request: JudgeRequest) -> JudgeAnswer: ...


def _value_type(metric: MetricDefinition) -> Any:
    if metric.type == "boolean":
        return bool
    if metric.type == "score":
        assert metric.scale is not None  # guaranteed by MetricDefinition's validator
        return Annotated[int, Field(ge=metric.scale.min, le=metric.scale.max)]
    if metric.type == "enum":
        return Literal[tuple(metric.enum_values or ())]
    return float


def value_description(metric: MetricDefinition) -> str:
    if metric.type == "boolean":
        return "true or false"
    if metric.type == "score" and metric.scale is not None:
        return f"an integer from {metric.scale.min} to {metric.scale.max}"
    if metric.type == "enum":
        return "one of: " + ", ".join(metric.enum_values or ())
    return f"a number{f' in {metric.unit}' if metric.unit else ''}"


def answer_model(metric: MetricDefinition) -> type[BaseModel]:
    """The answer type of one metric, built from its definition."""
    value_type = _value_type(metric)
    value_field = Field(description=f"{metric.name}: {value_description(metric)}")
    fields: dict[str, Any] = {}
    base: type[_Answer] = _Answer
    triggered = metric.trigger.type == "automatic" or bool(metric.trigger.question)
    if triggered:
        question = metric.trigger.question or f"Does the metric '{metric.name}' apply to this call?"
        fields["applicable_reasoning"] = (str, Field(description="why it does or does not apply"))
        fields["applicable"] = (bool, Field(description=question))
        base = _TriggeredAnswer
    fields["reasoning"] = (str, _REASONING)
    if metric.findings:
        fields["findings"] = (list[Finding], Field(description=_FINDINGS))
    if triggered:
        fields["value"] = (
            value_type | None,
            Field(default=None, description=value_field.description),
        )
    else:
        fields["value"] = (value_type, value_field)
    model: type[BaseModel] = create_model(f"Answer_{_pyname(metric.id)}", __base__=base, **fields)
    return model


def _pyname(metric_id: str) -> str:
    return metric_id.replace("-", "_")


_ENDINGS: Any = Literal["naturally", "caller_dropped_off", "agent_ended_early"]


def _call_field_models(agent: AgentDefinition) -> dict[str, Any]:
    topic_type: Any = Literal[(*agent.topics, "other")] if agent.topics else str
    stage_type: Any = Literal[agent.dropoff_points] if agent.dropoff_points else str
    topic = create_model(
        "TopicAnswer",
        __base__=_Answer,
        reasoning=(str, _REASONING),
        value=(topic_type, Field(description="the call's topic")),
    )
    dropoff = create_model(
        "DropoffAnswer",
        __base__=_Answer,
        reasoning=(str, _REASONING),
        last_stage=(stage_type, Field(description="the last stage of the agent's flow reached")),
        ended=(_ENDINGS, Field(description="how the call ended")),
    )
    return {
        "topic": (topic, ...),
        "dropoff_point": (dropoff, ...),
        "evaluation": (str, Field(description="a short written evaluation of the call")),
    }


def build_response_model(
    name: str,
    metrics: Sequence[MetricDefinition],
    agent: AgentDefinition,
    include_call_fields: bool,
) -> type[BaseModel]:
    """One response model: a field per metric (named by the metric id), then the call fields.

    Building pydantic models is most of the engine's own time per call, and the model depends
    only on the definitions, so each distinct one is built once (keyed by the metrics' ids and
    hash-qualified versions, which change whenever a definition does)."""
    key = (
        name,
        tuple((m.id, m.full_version) for m in metrics),
        (agent.topics, agent.dropoff_points) if include_call_fields else None,
    )
    cached = _MODEL_CACHE.get(key)
    if cached is not None:
        return cached
    fields: dict[str, Any] = {}
    for metric in metrics:
        fields[_pyname(metric.id)] = (answer_model(metric), Field(alias=metric.id))
    if include_call_fields:
        fields.update(_call_field_models(agent))
    model: type[BaseModel] = create_model(name, __base__=_ResponseBase, **fields)
    if len(_MODEL_CACHE) >= _MODEL_CACHE_SIZE:
        _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
    _MODEL_CACHE[key] = model
    return model


class _ResponseBase(BaseModel):
    """Base of every response model: strict, and its JSON schema built once per class (the
    judge and instructor each ask for it on every request; building it took ~11 ms). Each
    caller gets its own copy (instructor edits it), made from the schema's JSON text:
    several times faster than ``copy.deepcopy`` of the same dicts."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items())))
        try:
            cached = _SCHEMA_CACHE.get(key)
        except TypeError:  # an unhashable argument: no memo
            return super().model_json_schema(*args, **kwargs)
        if cached is None:
            cached = json.dumps(super().model_json_schema(*args, **kwargs))
            if len(_SCHEMA_CACHE) >= 4 * _MODEL_CACHE_SIZE:
                _SCHEMA_CACHE.clear()
            _SCHEMA_CACHE[key] = cached
        schema: dict[str, Any] = json.loads(cached)
        return schema


_SCHEMA_CACHE: dict[tuple[Any, ...], str] = {}


# A memo of a pure function of the definitions (not configuration, not call state).
_MODEL_CACHE: dict[tuple[Any, ...], type[BaseModel]] = {}
_MODEL_CACHE_SIZE = 512


@functools.lru_cache(maxsize=4096)
def _field_adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def result_fields(metric: MetricDefinition, model: str | None) -> dict[str, Any]:
    """The fields every ``MetricResult`` of this metric carries, whatever its outcome."""
    return {
        "id": metric.id,
        "numeric_id": metric.number,
        "name": metric.name,
        "type": metric.type,
        "unit": metric.unit,
        "version": metric.full_version,
        "model": model,
    }


def metric_result_from_answer(
    metric: MetricDefinition, answer: BaseModel, model: str
) -> MetricResult:
    """A scored (or judged not-applicable) ``MetricResult`` from a schema-valid answer."""
    base = result_fields(metric, model)
    if getattr(answer, "applicable", True) is False:
        reason = f"not applicable (judge): {answer.applicable_reasoning}"  # type: ignore[attr-defined]
        return MetricResult(
            **base, outcome="not_applicable", explanation=reason, details={"trigger_failed": True}
        )
    value = answer.value  # type: ignore[attr-defined]
    explanation: str = answer.reasoning  # type: ignore[attr-defined]
    found = getattr(answer, "findings", None) or []
    details = {"findings": [f.model_dump() for f in found]} if metric.findings else None
    if metric.type == "enum":
        return MetricResult(
            **base, enum=value, value=value, explanation=explanation, details=details
        )
    return MetricResult(**base, score=value, explanation=explanation, details=details)


def salvage(
    raw: str | None, response_model: type[BaseModel]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate each field of a failed answer on its own: the valid ones are kept, the others
    get the reason they failed. Used after re-asks run out, so one off-menu metric does not
    sink the rest of the batch."""
    valid: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        data = json.loads(_json_part(raw or ""))
    except ValueError:
        data = None
    for name, info in response_model.model_fields.items():
        key = info.alias or name
        if not isinstance(data, dict) or key not in data:
            errors[key] = (
                "missing from the judge's answer"
                if isinstance(data, dict)
                else "the judge's answer was not JSON"
            )
            continue
        try:
            valid[key] = _field_adapter(info.annotation).validate_python(data[key])  # type: ignore[arg-type]  # annotations of our models are hashable types
        except ValidationError as exc:
            errors[key] = field_errors_of(exc)
    return valid, errors


def field_errors_of(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"] if p != "v")
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "; ".join(parts)


def _json_part(text: str) -> str:
    """The outermost JSON object in a completion (models sometimes wrap it in prose/fences)."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text
