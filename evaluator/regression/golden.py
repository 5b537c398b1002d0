"""The golden set: calls people have labelled, as files, validated once at load.

A golden set is a folder::

    manifest.yaml     agent, who labelled, which metrics are labelled and their thresholds,
                      the judge the cassettes were recorded with, where the cassettes live
    labels.yaml       calls: {<call name>: {<metric id>: value | {value, note}}}
    calls/*.json      one observe request per call (any transcript_type); the file's stem
                      is the call's name (and its cassette's name)

A label's value has the metric's type (true/false, an enum value, an integer on the scale,
a number), or ``not_applicable`` when the metric does not apply to the call. ``topic``
labels the call's topic (one of the agent's topics, or ``other``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluator.catalogue.definitions import AgentDefinition, Catalogue, MetricDefinition
from evaluator.errors import DefinitionError, EvaluatorError, RequestValidationError
from evaluator.ingest.intake import PreparedCall, read_request

__all__ = [
    "NOT_APPLICABLE",
    "TOPIC",
    "GoldenCall",
    "GoldenSet",
    "JudgeRecipe",
    "Label",
    "Manifest",
    "Thresholds",
    "load_golden",
]

NOT_APPLICABLE = "not_applicable"
TOPIC = "topic"
LabelValue = bool | int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """The least a metric must reach; a run below any of them fails."""

    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_kappa: float | None = Field(default=None, ge=-1, le=1)
    max_mae: float | None = Field(default=None, ge=0)
    min_spearman: float | None = Field(default=None, ge=-1, le=1)


class JudgeRecipe(_Strict):
    """The judge the cassettes were recorded with; ``--replay`` uses it unless told otherwise."""

    model: str
    api_base: str | None = None
    structured_mode: Literal["auto", "tools", "json_schema", "json", "constrained_json"] = "auto"
    temperature: float = 0.0
    max_tokens: int = Field(default=4096, ge=64)
    max_reasks: int = Field(default=2, ge=0)
    # A fixed seed makes a sampling temperature repeatable; null sends none (for --repeat).
    seed: int | None = 0


class Manifest(_Strict):
    agent: int = Field(ge=1)
    description: str = ""
    labelled_by: tuple[str, ...] = Field(min_length=1)
    labelled_on: str | None = None
    metrics: dict[str, Thresholds] = Field(min_length=1)
    judge: JudgeRecipe | None = None
    cassettes: str = "cassettes"
    # labelled: ask the judge only the labelled metrics (cassettes survive new metrics);
    # agent: ask every metric of the agent in one batch, as production does.
    ask: Literal["labelled", "agent"] = "labelled"
    baseline_tolerance: float = Field(default=0.0, ge=0)

    @field_validator("metrics", mode="before")
    @classmethod
    def _empty_thresholds(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value


@dataclass(frozen=True)
class Label:
    value: LabelValue
    note: str | None = None


@dataclass(frozen=True)
class GoldenCall:
    name: str
    path: Path
    prepared: PreparedCall
    labels: dict[str, Label]


@dataclass(frozen=True)
class GoldenSet:
    root: Path
    manifest: Manifest
    agent: AgentDefinition
    calls: tuple[GoldenCall, ...]
    labels_digest: str

    @property
    def cassette_dir(self) -> Path:
        return (self.root / self.manifest.cassettes).resolve()

    def metric_ids(self) -> list[str]:
        return list(self.manifest.metrics)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DefinitionError(str(path), f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(str(path), f"not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise DefinitionError(str(path), "expected a mapping at the top level")
    return data


def _manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate(_read_yaml(path))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        message = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"])
        raise DefinitionError(str(path), message.removeprefix("Value error, "), where) from None


def load_golden(root: Path, catalogue: Catalogue) -> GoldenSet:
    """Read and check a golden set: every call parses, every label fits its metric."""
    if not root.is_dir():
        raise EvaluatorError(f"{root}: golden set folder not found")
    manifest = _manifest(root / "manifest.yaml")
    try:
        agent = catalogue.agent(manifest.agent)
    except EvaluatorError as exc:
        raise DefinitionError(str(root / "manifest.yaml"), str(exc), "agent") from None
    own = {m.id: m for m in catalogue.agent_metrics(agent)}
    _check_metrics(root / "manifest.yaml", manifest, own, agent)
    labels_path = root / "labels.yaml"
    raw_labels = _read_yaml(labels_path).get("calls")
    if not isinstance(raw_labels, dict) or not raw_labels:
        raise DefinitionError(
            str(labels_path), "expected calls: {<call name>: {<metric>: value}}", "calls"
        )
    files = {p.stem: p for p in sorted((root / "calls").glob("*.json"))}
    unlabelled = sorted(set(files) - set(raw_labels))
    if unlabelled:
        raise DefinitionError(
            str(labels_path), f"calls without labels: {', '.join(unlabelled)}", "calls"
        )
    calls = []
    for name, entry in raw_labels.items():
        if name not in files:
            raise DefinitionError(str(labels_path), f"no file calls/{name}.json", f"calls.{name}")
        prepared = _prepare(files[name], catalogue, manifest)
        labels = _labels(labels_path, name, entry, manifest, own, agent)
        calls.append(GoldenCall(name=name, path=files[name], prepared=prepared, labels=labels))
    digest = hashlib.sha256(
        json.dumps(raw_labels, sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    return GoldenSet(
        root=root, manifest=manifest, agent=agent, calls=tuple(calls), labels_digest=digest
    )


def _check_metrics(
    path: Path, manifest: Manifest, own: dict[str, MetricDefinition], agent: AgentDefinition
) -> None:
    for metric_id in manifest.metrics:
        if metric_id != TOPIC and metric_id not in own:
            known = ", ".join([*own, TOPIC])
            raise DefinitionError(
                str(path),
                f"{metric_id!r} is not a metric of agent {agent.id} (known: {known})",
                f"metrics.{metric_id}",
            )


def _prepare(path: Path, catalogue: Catalogue, manifest: Manifest) -> PreparedCall:
    agent_id = manifest.agent
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DefinitionError(str(path), f"not a readable JSON file ({exc})") from None
    if manifest.ask == "labelled" and isinstance(body, dict):
        body = {**body, "metric_ids": [m for m in manifest.metrics if m != TOPIC]}
    try:
        prepared = read_request(body, catalogue)
    except RequestValidationError as exc:
        raise DefinitionError(str(path), str(exc)) from None
    if prepared.agent.id != agent_id:
        raise DefinitionError(
            str(path),
            f"call is for agent {prepared.agent.id}, the manifest's agent is {agent_id}",
            "agent",
        )
    return prepared


def _labels(
    path: Path,
    name: str,
    entry: Any,
    manifest: Manifest,
    metrics: dict[str, MetricDefinition],
    agent: AgentDefinition,
) -> dict[str, Label]:
    if not isinstance(entry, dict):
        raise DefinitionError(str(path), "expected {<metric id>: value}", f"calls.{name}")
    labels: dict[str, Label] = {}
    for metric_id, raw in entry.items():
        where = f"calls.{name}.{metric_id}"
        if metric_id not in manifest.metrics:
            listed = ", ".join(manifest.metrics)
            raise DefinitionError(
                str(path), f"metric not listed in manifest.yaml metrics ({listed})", where
            )
        value, note = (raw.get("value"), raw.get("note")) if isinstance(raw, dict) else (raw, None)
        if isinstance(raw, dict) and set(raw) - {"value", "note"}:
            raise DefinitionError(str(path), "a label takes only value and note", where)
        problem = label_problem(value, metrics.get(metric_id), agent)
        if problem:
            raise DefinitionError(str(path), problem, where)
        if value is None:
            raise DefinitionError(
                str(path), f"a label needs a value ({NOT_APPLICABLE} if none)", where
            )
        labels[metric_id] = Label(value=value, note=None if note is None else str(note))
    return labels


def label_problem(
    value: Any, metric: MetricDefinition | None, agent: AgentDefinition
) -> str | None:
    if value == NOT_APPLICABLE:
        return None
    if metric is None:  # the topic
        allowed = [*agent.topics, "other"]
        return (
            None
            if value in allowed or not agent.topics
            else f"expected one of {', '.join(allowed)}; got {value!r}"
        )
    if metric.type == "boolean" and not isinstance(value, bool):
        return f"expected true, false or {NOT_APPLICABLE}; got {value!r}"
    if metric.type == "enum" and value not in (metric.enum_values or ()):
        choices = ", ".join(metric.enum_values or ())
        return f"expected one of {choices} or {NOT_APPLICABLE}; got {value!r}"
    if metric.type == "score" and metric.scale is not None:
        low, high = metric.scale.min, metric.scale.max
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return (
                f"expected an integer from {metric.scale.min} to {metric.scale.max}; got {value!r}"
            )
    if metric.type == "numeric" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"expected a number or {NOT_APPLICABLE}; got {value!r}"
    return None
