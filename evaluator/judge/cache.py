"""Never paying twice: a judgment cache in front of any judge.

The key is a sha256 of everything that decides an answer: the judge's settings (model,
server, temperature, max tokens, structured mode, re-asks, seed), the rendered messages and
the response model's JSON schema. The value is the raw completion and the usage it cost.
A hit is read back through ``verdicts.salvage``, the same validation a live answer gets,
and reports ``cache_hits: 1`` with no requests, tokens or cost. Only complete, schema-valid
answers are stored; failures are always asked again.

Backends: the configured SQL store (table ``judgments``) or Redis. ``EVALUATOR_CACHE=off``
(or ``--no-cache``) bypasses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from evaluator.contract import Usage
from evaluator.errors import EvaluatorError
from evaluator.judge.schema import Judge, JudgeAnswer, JudgeRequest, salvage

__all__ = [
    "CacheMode",
    "CachingJudge",
    "JudgmentBackend",
    "RedisBackend",
    "judge_description",
    "judgment_key",
]

CacheMode = Literal["off", "sql", "redis"]
KEY_FORMAT = "judgment-v1"
REDIS_PREFIX = "evaluator:judgment:"


class JudgmentBackend(Protocol):
    """Where cached judgments live: get by key, put once."""

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None: ...

    async def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None: ...


def judge_description(judge: Judge) -> dict[str, Any]:
    """What a judge says decides its answers: ``settings.describe()`` if it has one."""
    settings = getattr(judge, "settings", None)
    describe = getattr(settings, "describe", None)
    if callable(describe):
        described = describe()
        if isinstance(described, dict):
            return described
    return {"model": judge.model}


def judgment_key(description: dict[str, Any], request: JudgeRequest, schema: str) -> str:
    """sha256 over the judge's settings, the rendered messages and the response schema."""
    payload = json.dumps(
        {"format": KEY_FORMAT, "judge": description, "messages": request.messages,
         "schema": schema},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )  # fmt: skip
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class CachingJudge:
    """A judge that answers from the cache when it can, and fills it when it cannot."""

    judge: Judge
    backend: JudgmentBackend
    description: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    saved: Usage = field(default_factory=Usage)
    _schemas: dict[type[BaseModel], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.description:
            self.description = judge_description(self.judge)

    @property
    def model(self) -> str:
        return self.judge.model

    @property
    def settings(self) -> Any:
        """The wrapped judge's settings (reports read ``settings.describe()``)."""
        return getattr(self.judge, "settings", None)

    def key(self, request: JudgeRequest) -> str:
        schema = self._schemas.get(request.response_model)
        if schema is None:
            schema = json.dumps(
                request.response_model.model_json_schema(by_alias=True), sort_keys=True
            )
            self._schemas[request.response_model] = schema
        return judgment_key(self.description, request, schema)

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        key = self.key(request)
        hit = await self.backend.get(key)
        if hit is not None:
            raw, usage = hit
            fields, errors = salvage(raw, request.response_model)
            if not errors:
                self.hits += 1
                self.saved = self.saved.plus(_usage(usage, self.model))
                return JudgeAnswer(
                    fields=fields,
                    errors={},
                    raw_completion=raw,
                    usage=Usage(model=self.model, cost_usd=0.0, cache_hits=1),
                    attempts=0,
                    notes=[f"{request.key}: answered from the judgment cache"],
                )
        self.misses += 1
        answer = await self.judge.answer(request)
        if _cacheable(answer, request):
            assert answer.raw_completion is not None  # checked by _cacheable
            usage = answer.usage.model_dump(mode="json")
            await _finish(self.backend.put(key, self.model, answer.raw_completion, usage))
        return answer


async def _finish(write: Coroutine[Any, Any, None]) -> None:
    """Run a cache write to its end even if the caller is cancelled meanwhile (a run stopped
    because another worker crashed, say): the answer was paid for, and a resumed run must
    find it. The cancellation is passed on once the write is done."""
    task = asyncio.ensure_future(write)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _cacheable(answer: JudgeAnswer, request: JudgeRequest) -> bool:
    """Complete and schema-valid: no failed field, and the raw text validates on its own."""
    if answer.errors or not answer.raw_completion:
        return False
    _, errors = salvage(answer.raw_completion, request.response_model)
    return not errors


def _usage(data: dict[str, Any], model: str) -> Usage:
    try:
        return Usage.model_validate(data)
    except ValueError:
        return Usage(model=model)


class RedisBackend:
    """Redis (``redis://host:port/db``); keys ``evaluator:judgment:<sha256>``, optional TTL."""

    def __init__(self, url: str, ttl_seconds: int | None = None) -> None:
        self.url = url
        self.ttl_seconds = ttl_seconds
        # An asyncio client belongs to the event loop it was first used on: one per loop.
        self._clients: dict[int, Any] = {}

    def _client(self) -> Any:
        import redis.asyncio

        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            self._clients = {loop: redis.asyncio.Redis.from_url(self.url)}
            client = self._clients[loop]
        return client

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        data = await self._client().get(REDIS_PREFIX + key)
        if data is None:
            return None
        value = json.loads(data)
        return str(value["raw"]), dict(value["usage"])

    async def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        value = json.dumps({"model": model, "raw": raw, "usage": usage})
        await self._client().set(REDIS_PREFIX + key, value, ex=self.ttl_seconds, nx=True)


class CacheUnavailableError(EvaluatorError):
    """The configured cache backend cannot be reached."""
