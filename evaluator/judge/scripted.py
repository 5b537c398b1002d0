"""``ScriptedJudge``: a real, labelled test double for the judge (like inspect_ai's mockllm).

It answers every request with JSON built from the request's own response model, then reads
that JSON back through the same validation as the real judge (``salvage``), so off-menu
answers fail exactly as a model's would. Scripts override answers per metric id, fail a
number of times first, or add latency (for benchmarks). Never used outside tests, examples
of use and benchmarks: its answers are made up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from evaluator.contract import Usage
from evaluator.errors import JudgeUnavailableError
from evaluator.judge.schema import JudgeAnswer, JudgeRequest, salvage

__all__ = ["ScriptedJudge", "default_answer"]

FAKE_MODEL = "scripted/fake-judge"


@dataclass
class ScriptedJudge:
    """A judge whose answers are scripted.

    ``answers`` maps a response key (a metric id, ``topic``, ``dropoff_point``,
    ``evaluation``) to the JSON value to answer for it; anything unscripted gets a valid
    default. ``fail_times`` makes the first N requests raise ``JudgeUnavailableError``.
    ``respond`` replaces the whole answer (request -> raw completion text).
    """

    answers: dict[str, Any] = field(default_factory=dict)
    fail_times: int = 0
    latency_seconds: float = 0.0
    respond: Callable[[JudgeRequest], str] | None = None
    model_name: str = FAKE_MODEL
    requests: list[JudgeRequest] = field(default_factory=list)
    failures: int = 0

    @property
    def model(self) -> str:
        return self.model_name

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        self.requests.append(request)
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        if self.failures < self.fail_times:
            self.failures += 1
            raise JudgeUnavailableError(
                self.model, f"scripted failure {self.failures} of {self.fail_times}"
            )
        raw = self.respond(request) if self.respond else json.dumps(self._answer_for(request))
        fields, errors = salvage(raw, request.response_model)
        prompt_chars = sum(len(m["content"]) for m in request.messages)
        usage = Usage(
            model=self.model,
            requests=1,
            prompt_tokens=prompt_chars // 4,
            completion_tokens=len(raw) // 4,
            cost_usd=0.0,
        )
        return JudgeAnswer(fields=fields, errors=errors, raw_completion=raw, usage=usage)

    def _answer_for(self, request: JudgeRequest) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, info in request.response_model.model_fields.items():
            key = info.alias or name
            if key in self.answers:
                scripted = self.answers[key]
                out[key] = (
                    scripted
                    if isinstance(scripted, dict) or not _has_value(info.annotation)
                    else {**default_answer(info.annotation), "value": scripted}
                )
            else:
                out[key] = default_answer(info.annotation)
        return out


def _has_value(annotation: Any) -> bool:
    return (
        isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
        and "value" in annotation.model_fields
    )


def default_answer(annotation: Any) -> Any:
    """A schema-valid JSON value for a field's type: first enum value, lowest score, true."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            (info.alias or name): _field_default(name, info.annotation, info.metadata)
            for name, info in annotation.model_fields.items()
        }
    if origin is not None and str(origin).endswith("Literal"):
        return args[0]
    if annotation is bool:
        return True
    if annotation is str:
        return "scripted answer"
    if annotation is float:
        return 1.0
    if annotation is int:
        return 1
    if origin is list:
        return []
    if args:
        non_null = [a for a in args if a is not type(None)]
        return default_answer(non_null[0]) if non_null else None
    return None


def _field_default(name: str, annotation: Any, metadata: list[Any]) -> Any:
    if name in ("reasoning", "applicable_reasoning"):
        return f"scripted {name}: [00:00] Main Agent quoted"
    if name == "applicable":
        return True
    lows = [getattr(m, "ge", None) for m in metadata if getattr(m, "ge", None) is not None]
    if lows:
        return lows[0]
    origin = get_origin(annotation)
    if origin is not None and not str(origin).endswith("Literal"):
        for arg in get_args(annotation):
            inner = [getattr(m, "ge", None) for m in getattr(arg, "__metadata__", ())]
            if inner and inner[0] is not None:
                return inner[0]
    return default_answer(annotation)
