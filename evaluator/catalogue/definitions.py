"""Metric and agent definitions: YAML files validated once, at load, with file and field in
every error. A bad file fails at start-up, never in the middle of an evaluation."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evaluator.errors import DefinitionError, UnknownIdError

# Validates a computed metric's function and params: LookupError for an unknown function,
# ValueError for bad params. Handed in, so the catalogue does not depend on computed/.
CheckFunction = Callable[[str, Mapping[str, Any]], object]

__all__ = [
    "DEFAULT_PROJECT",
    "GOAL_METRIC_ID",
    "AgentDefinition",
    "Catalogue",
    "MetricDefinition",
    "RubricRule",
    "Scale",
    "Trigger",
    "derived_numeric_id",
    "load_catalogue",
]

GOAL_METRIC_ID = "call_goal_achieved"
# The project every store starts with: agents that name none, and calls stored before projects.
DEFAULT_PROJECT = 1
_M = TypeVar("_M", bound=BaseModel)
_ID = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    """The inclusive integer range of a ``score`` metric, e.g. 1..5 or 0..100."""

    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        return self


class Trigger(_Strict):
    """When a metric applies. ``custom`` takes an ``expression`` over the call (evaluated
    safely, never with Python's eval) or a yes/no ``question`` put to the judge."""

    type: Literal["always", "custom", "automatic"] = "always"
    expression: str | None = None
    question: str | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Trigger:
        given = [x for x in (self.expression, self.question) if x]
        if self.type == "custom" and len(given) != 1:
            raise ValueError("a custom trigger needs exactly one of expression or question")
        if self.type != "custom" and given:
            raise ValueError(f"a {self.type} trigger takes no expression or question")
        return self


class MetricDefinition(_Strict):
    """One metric. LLM metrics put ``description`` (and ``prompt``) to the judge; computed
    metrics name a ``function`` of evaluator.computed.registry and its ``params``."""

    id: str = Field(pattern=_ID, max_length=64)
    # The stable integer id a Cekura client sends and reads (``metric_ids``, votes, the
    # call log's ``metrics[].id``). Unique across the catalogue; left out, one is derived
    # from ``id`` (``derived_numeric_id``), stable only while the slug stays the same.
    numeric_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    name: str = Field(min_length=1)
    type: Literal["boolean", "score", "enum", "numeric"]
    method: Literal["llm_judge", "computed", "derived"] = "llm_judge"
    description: str = Field(min_length=1)
    prompt: str | None = None
    prompt_file: str | None = None
    scale: Scale | None = None
    enum_values: tuple[str, ...] | None = None
    unit: str | None = None
    trigger: Trigger = Trigger()
    version: str = "1"
    isolated: bool = False
    # The answer lists findings ({category, priority, evidence}) before its value.
    findings: bool = False
    function: str | None = None
    # derived metrics: arithmetic over other metrics' values, e.g. a score from a judged count
    expression: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    # Filled by the loader: where it came from and the hash-qualified version.
    source: str = Field(default="", exclude=True)
    fingerprint: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _type_fits(self) -> MetricDefinition:
        if self.type == "score" and self.scale is None:
            raise ValueError("a score metric needs scale: {min, max}")
        if self.type != "score" and self.scale is not None:
            raise ValueError(f"scale is only for score metrics, not {self.type}")
        if self.type == "enum" and not self.enum_values:
            raise ValueError("an enum metric needs enum_values (at least one)")
        if self.type != "enum" and self.enum_values is not None:
            raise ValueError(f"enum_values is only for enum metrics, not {self.type}")
        if self.enum_values and len(set(self.enum_values)) != len(self.enum_values):
            raise ValueError("enum_values must be distinct")
        if self.method == "computed" and not self.function:
            raise ValueError("a computed metric needs function")
        if (self.method == "derived") != (self.expression is not None):
            raise ValueError("a derived metric needs expression, and only derived metrics take one")
        if self.method == "derived" and self.type not in ("numeric", "boolean"):
            raise ValueError("a derived metric is numeric or boolean")
        if self.method == "llm_judge" and self.function:
            raise ValueError("function is only for computed metrics")
        if self.prompt and self.prompt_file:
            raise ValueError("give prompt or prompt_file, not both")
        if self.method == "computed" and self.trigger.question:
            raise ValueError("a computed metric cannot take an LLM trigger question")
        if self.findings and self.method != "llm_judge":
            raise ValueError("findings is only for llm_judge metrics")
        return self

    @property
    def is_llm(self) -> bool:
        return self.method == "llm_judge"

    @property
    def number(self) -> int:
        """The integer id on the wire: the declared ``numeric_id``, else the derived one."""
        return self.numeric_id if self.numeric_id is not None else derived_numeric_id(self.id)

    @property
    def full_version(self) -> str:
        """``version`` plus a hash of everything that decides the answer (definition and
        prompt text): editing a prompt or a parameter changes it, so stale results show."""
        return f"{self.version}+{self.fingerprint}" if self.fingerprint else self.version


def derived_numeric_id(slug: str) -> int:
    """A metric's integer id when its YAML declares none: CRC-32 of the slug (the same on
    every machine and run), kept clear of the small numbers metrics declare."""
    return 1_000_000 + zlib.crc32(slug.encode()) % (2**31 - 1_000_001)


class RubricRule(_Strict):
    """One rule of a success rubric: ``metric op value``."""

    metric: str
    op: Literal["eq", "neq", "gt", "gte", "lt", "lte", "in"] = "eq"
    value: Any

    @model_validator(mode="after")
    def _in_takes_list(self) -> RubricRule:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("op 'in' needs a list value")
        return self


class AgentDefinition(_Strict):
    """A voice agent: its description (system prompt with ``{{variable}}`` placeholders),
    the topics and flow stages the judge chooses from, its metrics and success rubric."""

    id: int = Field(ge=1)
    # The project (tenant) the agent and its calls belong to; keys of other projects do not
    # see it. Project 1 is the default project every store has.
    project: int = Field(default=DEFAULT_PROJECT, ge=1)
    assistant_id: str | None = None
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    topics: tuple[str, ...] = ()
    dropoff_points: tuple[str, ...] = ()
    metrics: tuple[str, ...] | Literal["all"] = "all"
    success: tuple[RubricRule, ...] | None = None
    knowledge_base: str | None = None
    source: str = Field(default="", exclude=True)


@dataclass
class Catalogue:
    """Every metric and agent definition, validated, with lookups that say what exists."""

    metrics: dict[str, MetricDefinition] = field(default_factory=dict)
    agents: dict[int, AgentDefinition] = field(default_factory=dict)
    prompt_dirs: tuple[Path, ...] = ()
    _aliases: dict[str, str] = field(default_factory=dict)
    _numbers: dict[int, str] = field(default_factory=dict)

    def metric(self, metric_id: str | int) -> MetricDefinition:
        """The metric with this slug, alias or integer id (``118`` or ``"118"``, as Cekura's
        clients send them); an error naming the closest ones otherwise."""
        if isinstance(metric_id, int) or metric_id.isdigit():
            number = int(metric_id)
            if number in self._numbers:
                return self.metrics[self._numbers[number]]
            known = [str(n) for n in sorted(self._numbers)]
            raise UnknownIdError("metric", str(metric_id), known)
        key = self._aliases.get(metric_id, metric_id)
        try:
            return self.metrics[key]
        except KeyError:
            raise UnknownIdError("metric", metric_id, [*self.metrics, *self._aliases]) from None

    def numbers(self) -> dict[str, int]:
        """Each metric's integer id by slug."""
        return {slug: number for number, slug in self._numbers.items()}

    def agent(self, agent_id: int) -> AgentDefinition:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownIdError("agent", str(agent_id), map(str, self.agents)) from None

    def agent_by_assistant(self, assistant_id: str) -> AgentDefinition:
        for agent in self.agents.values():
            if agent.assistant_id == assistant_id:
                return agent
        known = [a.assistant_id for a in self.agents.values() if a.assistant_id]
        raise UnknownIdError("assistant_id", assistant_id, known)

    def for_project(self, project_id: int | None) -> Catalogue:
        """The catalogue as a key of ``project_id`` sees it: only that project's agents
        (``None``: every agent). Metrics are shared by every project."""
        if project_id is None:
            return self
        agents = {k: a for k, a in self.agents.items() if a.project == project_id}
        return replace(self, agents=agents)

    def agent_metrics(self, agent: AgentDefinition) -> list[MetricDefinition]:
        """The agent's metrics in a stable order; the goal metric is always among them."""
        ids = list(self.metrics) if agent.metrics == "all" else list(agent.metrics)
        if GOAL_METRIC_ID in self.metrics and GOAL_METRIC_ID not in ids:
            ids.append(GOAL_METRIC_ID)
        return [self.metric(i) for i in ids]


def load_catalogue(
    metric_dirs: Iterable[Path],
    agent_dirs: Iterable[Path],
    prompt_dirs: Iterable[Path],
    *,
    check_function: CheckFunction,
) -> Catalogue:
    """Read and validate every ``*.yaml`` in the given folders (later folders may not redefine
    an id: duplicates name both files). ``check_function`` validates a computed metric's
    ``function`` and ``params`` (the computed registry's ``validate_params``)."""
    prompts = tuple(p for p in prompt_dirs if p.is_dir())
    catalogue = Catalogue(prompt_dirs=prompts)
    for path in _yaml_files(metric_dirs):
        metric = _load_metric(path, prompts, check_function)
        _add_metric(catalogue, metric)
    for path in _yaml_files(agent_dirs):
        agent = _validated(AgentDefinition, path, {"source": str(path)})
        if agent.id in catalogue.agents:
            other = catalogue.agents[agent.id].source
            raise DefinitionError(
                str(path), f"agent id {agent.id} is also defined in {other}", "id"
            )
        catalogue.agents[agent.id] = agent
        _check_agent(catalogue, agent)
    return catalogue


def _yaml_files(dirs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in dirs:
        if folder.is_dir():
            files.extend(sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]))
    return files


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise DefinitionError(str(path), f"{where}not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise DefinitionError(str(path), "expected a mapping of fields at the top level")
    return data


def _validated(model: type[_M], path: Path, extra: dict[str, Any]) -> _M:
    data = _read_yaml(path)
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise DefinitionError(str(path), message + more, where) from None


def _load_metric(
    path: Path, prompt_dirs: tuple[Path, ...], check_function: CheckFunction
) -> MetricDefinition:
    metric = _validated(MetricDefinition, path, {"source": str(path)})
    if metric.function is not None:
        try:
            check_function(metric.function, metric.params)
        except LookupError as exc:  # no such function
            raise DefinitionError(str(path), str(exc.args[0]), "function") from None
        except ValueError as exc:
            raise DefinitionError(str(path), str(exc), "params") from None
    prompt_text = ""
    if metric.prompt_file:
        prompt_path = next(
            (d / metric.prompt_file for d in prompt_dirs if (d / metric.prompt_file).is_file()),
            None,
        )
        if prompt_path is None:
            raise DefinitionError(
                str(path),
                f"prompt file {metric.prompt_file!r} not found in prompts/",
                "prompt_file",
            )
        prompt_text = prompt_path.read_text(encoding="utf-8")
    # The integer id names the metric; it does not decide its answer, so it stays out of
    # the version hash (declaring one does not make every stored result look stale).
    dumped = metric.model_dump(mode="json", exclude={"numeric_id"})
    decided_by = json.dumps(dumped, sort_keys=True) + prompt_text
    digest = hashlib.sha256(decided_by.encode()).hexdigest()[:8]
    return metric.model_copy(update={"fingerprint": digest})


def _add_metric(catalogue: Catalogue, metric: MetricDefinition) -> None:
    for key in (metric.id, *metric.aliases):
        owner_id = catalogue._aliases.get(key, key if key in catalogue.metrics else None)
        if owner_id is not None:
            other = catalogue.metrics[owner_id].source
            raise DefinitionError(
                metric.source, f"metric id {key!r} is also defined in {other}", "id"
            )
    number = metric.number
    if number in catalogue._numbers:
        other = catalogue.metrics[catalogue._numbers[number]].source
        raise DefinitionError(
            metric.source, f"numeric_id {number} is also used in {other}", "numeric_id"
        )
    if any(alias.isdigit() for alias in metric.aliases):
        raise DefinitionError(
            metric.source, "an alias may not be a number: declare numeric_id instead", "aliases"
        )
    catalogue.metrics[metric.id] = metric
    catalogue._numbers[number] = metric.id
    for alias in metric.aliases:
        catalogue._aliases[alias] = metric.id


def _check_agent(catalogue: Catalogue, agent: AgentDefinition) -> None:
    ids = [] if agent.metrics == "all" else list(agent.metrics)
    for index, metric_id in enumerate(ids):
        try:
            catalogue.metric(metric_id)
        except UnknownIdError as exc:
            raise DefinitionError(agent.source, str(exc), f"metrics.{index}") from None
    usable = {m.id for m in catalogue.agent_metrics(agent)}
    for index, rule in enumerate(agent.success or ()):
        try:
            metric = catalogue.metric(rule.metric)
        except UnknownIdError as exc:
            raise DefinitionError(agent.source, str(exc), f"success.{index}.metric") from None
        if metric.id not in usable:
            raise DefinitionError(
                agent.source,
                f"metric {rule.metric!r} is not among the agent's metrics",
                f"success.{index}.metric",
            )
        _check_rule_value(agent.source, index, rule, metric)


def _check_rule_value(source: str, index: int, rule: RubricRule, metric: MetricDefinition) -> None:
    values = rule.value if rule.op == "in" else [rule.value]
    where = f"success.{index}.value"
    for value in values:
        if metric.type == "enum" and value not in (metric.enum_values or ()):
            raise DefinitionError(
                source,
                f"{value!r} is not a value of {metric.id} ({', '.join(metric.enum_values or ())})",
                where,
            )
        if metric.type == "boolean" and not isinstance(value, bool):
            raise DefinitionError(source, f"{metric.id} is boolean: use true or false", where)
        if metric.type in ("score", "numeric") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise DefinitionError(source, f"{metric.id} is {metric.type}: use a number", where)
    if rule.op in ("gt", "gte", "lt", "lte") and metric.type in ("boolean", "enum"):
        raise DefinitionError(
            source, f"op {rule.op} needs a score or numeric metric", f"success.{index}.op"
        )
