"""The judge: the one LLM boundary, and the only importer of litellm and instructor.

A request is a list of messages and a response model; the answer is the parsed fields, the
fields that failed (with why), the raw completion and the usage. Two kinds of retry are kept
apart: transport (timeouts, 429, 5xx) by litellm's ``num_retries`` with backoff, and schema
(an answer that does not validate) by instructor's re-ask. When re-asks run out the fields
that did validate are kept and the rest are reported as failures: never as a low score.
"""

from __future__ import annotations

import asyncio
import functools
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import instructor
import litellm
from instructor.core import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel

from evaluator.contract import Usage
from evaluator.errors import JudgeOutputError, JudgeUnavailableError
from evaluator.judge.schema import Judge, JudgeAnswer, JudgeRequest, salvage
from evaluator.judge.transport import RetriesExhausted, send_with_retries

__all__ = [
    "Judge",
    "JudgeAnswer",
    "JudgeRequest",
    "JudgeSettings",
    "LiteLLMJudge",
    "choose_mode",
]

StructuredMode = Literal["auto", "tools", "json_schema", "json", "constrained_json"]
_MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "constrained_json": instructor.Mode.JSON,
}


@dataclass(frozen=True)
class JudgeSettings:
    """Everything that decides how the model is asked (and so is part of a cache key)."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout: float = 120.0
    num_retries: int = 3
    max_reasks: int = 2
    temperature: float = 0.0
    max_tokens: int = 4096
    # constrained_json: response_format {"type": "json_object", "schema": ...}, which
    # llama.cpp-style servers turn into a grammar so a small model's output always parses.
    structured_mode: StructuredMode = "auto"
    seed: int | None = 0
    # constrained_json only: longest free-text answer the grammar allows, so a small model
    # cannot ramble until max_tokens (the pydantic model itself sets no such limit).
    constrained_max_chars: int = 300
    # For chat templates with no system role (Gemma's): the system text is put at the head of
    # the first user message, as Gemma's own template does, instead of being dropped.
    merge_system: bool = False
    # Requests in flight at once from this judge; None = no limit. A llama.cpp server answers
    # one request at a time: queued requests would otherwise time out while they wait.
    max_parallel: int | None = None
    # What identifies the server in reports and cache keys instead of api_base, when the
    # address says nothing about the model (the offline server takes a random local port).
    server_identity: str | None = None

    def describe(self) -> dict[str, Any]:
        """The settings that change answers (no secrets), for reports and cache keys."""
        return {
            "model": self.model,
            "api_base": self.server_identity or self.api_base,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "structured_mode": self.structured_mode,
            "max_reasks": self.max_reasks,
            "seed": self.seed,
            "merge_system": self.merge_system,
        }


def choose_mode(settings: JudgeSettings) -> instructor.Mode:
    """The structured-output mode: as configured, else what litellm says the model supports
    (native JSON schema first, then tools, then plain JSON with the schema in the prompt)."""
    if settings.structured_mode != "auto":
        return _MODES[settings.structured_mode]
    try:
        if litellm.supports_response_schema(model=settings.model):
            return instructor.Mode.JSON_SCHEMA
        if litellm.supports_function_calling(model=settings.model):
            return instructor.Mode.TOOLS
    except Exception:  # unknown models raise in some litellm versions; treat as unsupported
        pass
    return instructor.Mode.JSON


@dataclass(frozen=True)
class _Reply:
    """One response of the server, with the usage it reported and its price, read the moment
    it arrived. Read later they would be wrong: on every re-ask instructor rewrites the
    response's ``usage`` in place to the running total of the attempts so far, so summing
    the responses' usage afterwards counts the first attempts again and again."""

    response: Any
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @classmethod
    def of(cls, response: Any) -> _Reply:
        counted = getattr(response, "usage", None)
        return cls(
            response=response,
            prompt_tokens=int(getattr(counted, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(counted, "completion_tokens", 0) or 0),
            cost_usd=_price_of(response),
        )


class LiteLLMJudge:
    """The real judge: any litellm model string, any OpenAI-compatible server."""

    def __init__(self, settings: JudgeSettings) -> None:
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        self.settings = settings
        self._mode = choose_mode(settings)
        self._slots = asyncio.Semaphore(settings.max_parallel) if settings.max_parallel else None

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def mode(self) -> str:
        return str(self._mode.value)

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        """Ask once (plus transport retries and schema re-asks); never raises on bad output."""
        if self._slots is None:
            return await self._answer(request)
        async with self._slots:
            return await self._answer(request)

    async def _answer(self, request: JudgeRequest) -> JudgeAnswer:
        replies: list[_Reply] = []
        client = instructor.from_litellm(
            self._completion(replies, request.response_model), mode=self._mode, async_client=True
        )
        started = time.perf_counter()
        try:
            parsed = await client.create(
                messages=request.messages,  # type: ignore[arg-type]
                response_model=_instructor_model(request.response_model),
                max_retries=self.settings.max_reasks,
                **self._call_kwargs(),
            )
        except InstructorRetryException as exc:
            transport = _transport_cause(exc)
            if transport is not None:
                raise self._unavailable(transport) from exc
            return self._salvaged(request, replies, exc, started)
        except JudgeUnavailableError:
            raise
        except Exception as exc:
            if _is_transport(exc):
                raise self._unavailable(exc) from exc
            if isinstance(exc, IncompleteOutputException):
                return self._salvaged(request, replies, exc, started)
            raise JudgeOutputError(self.model, f"{type(exc).__name__}: {exc}") from exc
        fields = {
            (info.alias or name): getattr(parsed, name)
            for name, info in request.response_model.model_fields.items()
        }
        return JudgeAnswer(
            fields=fields,
            errors={},
            raw_completion=_text_of(replies[-1].response) if replies else None,
            usage=self._usage(replies),
            attempts=len(replies),
            seconds=time.perf_counter() - started,
        )

    def _call_kwargs(self) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {
            "model": s.model,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "drop_params": True,
        }
        if s.seed is not None:
            kwargs["seed"] = s.seed
        if s.api_base:
            kwargs["api_base"] = s.api_base
        if s.api_key:
            kwargs["api_key"] = s.api_key
        return kwargs

    def _completion(
        self, replies: list[_Reply], response_model: type[BaseModel]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        """litellm's acompletion, recording each raw response (with its usage and price as it
        arrived) for usage and evidence, and (in constrained_json mode) adding the schema to
        ``response_format``."""
        constrained = self.settings.structured_mode == "constrained_json"
        merge_system = self.settings.merge_system

        grammar_schema = (
            _grammar_schema(response_model, self.settings.constrained_max_chars)
            if constrained
            else None
        )

        async def complete(**kwargs: Any) -> Any:
            if constrained:
                kwargs["response_format"] = {"type": "json_object", "schema": grammar_schema}
                kwargs["messages"] = _without_schema_text(kwargs.get("messages", []))
            if merge_system:
                kwargs["messages"] = _system_into_user(kwargs.get("messages", []))
            # The HTTP timeout is given here, to litellm only: instructor reads a `timeout`
            # argument as a deadline across all its re-asks, which made the number of
            # re-asks depend on how fast the server was.
            # Transport retries have one owner, judge/transport.py: litellm's and the
            # OpenAI client's own are off (they stacked, and skipped Retry-After).
            response = await send_with_retries(
                lambda: litellm.acompletion(
                    **kwargs, timeout=self.settings.timeout, num_retries=0, max_retries=0
                ),
                retries=self.settings.num_retries,
                is_transient=_is_transient,
                retry_after=_retry_after,
            )
            replies.append(_Reply.of(response))
            return response

        return complete

    def _usage(self, replies: list[_Reply]) -> Usage:
        """The sum of what the server reported for each response of this request."""
        usage = Usage(model=self.model, requests=len(replies))
        cost: float | None = None
        for reply in replies:
            usage.prompt_tokens += reply.prompt_tokens
            usage.completion_tokens += reply.completion_tokens
            if reply.cost_usd is not None:
                cost = (cost or 0.0) + reply.cost_usd
        usage.cost_usd = cost
        return usage

    def _salvaged(
        self, request: JudgeRequest, replies: list[_Reply], exc: Exception, started: float
    ) -> JudgeAnswer:
        raw = _text_of(replies[-1].response) if replies else None
        fields, errors = salvage(raw, request.response_model)
        reason = f"no schema-valid answer after {len(replies)} attempts"
        return JudgeAnswer(
            fields=fields,
            errors={k: f"{reason}: {v}" for k, v in errors.items()},
            raw_completion=raw,
            usage=self._usage(replies),
            attempts=len(replies),
            seconds=time.perf_counter() - started,
            notes=[f"{request.key}: {type(exc).__name__}"],
        )

    def _unavailable(self, exc: BaseException) -> JudgeUnavailableError:
        if isinstance(exc, RetriesExhausted):
            cause, tries = exc.last, exc.attempts
        else:  # not retried: refused outright (bad request, credentials)
            cause, tries = exc, 1
        plural = "request" if tries == 1 else "requests"
        reason = f"{type(cause).__name__} after {tries} {plural}: {_first_line(str(cause))}"
        return JudgeUnavailableError(self.model, reason)


_INSTRUCTOR_SCHEMA_TEXT = "As a genius expert, your task is to understand the content"


def _without_schema_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the JSON schema instructor appends to the system message in JSON mode: with
    constrained decoding the grammar already enforces it, and for a small model with a short
    context it only costs tokens (about half the prompt for the full catalogue)."""
    out = []
    for message in messages:
        content = message.get("content")
        if message.get("role") == "system" and isinstance(content, str):
            cut = content.find(_INSTRUCTOR_SCHEMA_TEXT)
            if cut > 0:
                message = {**message, "content": content[:cut].rstrip()}
        out.append(message)
    return out


@functools.lru_cache(maxsize=512)
def _instructor_model(response_model: type[BaseModel]) -> type[BaseModel]:
    """The response model as instructor's ``OpenAISchema`` subclass, made once per model.
    Handed a plain model, instructor wraps it in a new class on every request, whose JSON
    schema is then built afresh each time (about 60% of the judge's CPU per request)."""
    wrapped: type[BaseModel] = instructor.openai_schema(response_model)
    return wrapped


@functools.lru_cache(maxsize=512)
def _grammar_schema(response_model: type[BaseModel], max_chars: int) -> dict[str, Any]:
    schema: dict[str, Any] = grammar_friendly(response_model.model_json_schema(), max_chars)
    return schema


def _system_into_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """System messages folded into the first user message (Gemma has no system role, and
    llama-cpp-python's ``gemma`` chat format silently drops system messages)."""
    system = "\n\n".join(
        str(m["content"]) for m in messages if m.get("role") == "system" and m.get("content")
    )
    rest = [m for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    for index, message in enumerate(rest):
        if message.get("role") == "user":
            merged = {**message, "content": f"{system}\n\n{message.get('content', '')}"}
            return [*rest[:index], merged, *rest[index + 1 :]]
    return [{"role": "user", "content": system}, *rest]


def grammar_friendly(schema: Any, max_chars: int) -> Any:
    """A copy of a JSON schema that grammar-constrained decoders (llama.cpp) enforce fully:
    free strings get ``maxLength``, small integer ranges become enums (their grammar does not
    apply ``minimum``/``maximum``)."""
    if isinstance(schema, list):
        return [grammar_friendly(item, max_chars) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: grammar_friendly(value, max_chars) for key, value in schema.items()}
    if out.get("type") == "string" and "enum" not in out and "const" not in out:
        out.setdefault("maxLength", max_chars)
    low, high = out.get("minimum"), out.get("maximum")
    if (
        out.get("type") == "integer"
        and isinstance(low, int)
        and isinstance(high, int)
        and high - low <= 200
    ):
        out = {k: v for k, v in out.items() if k not in ("type", "minimum", "maximum")}
        out["enum"] = list(range(low, high + 1))
    return out


def _transport_cause(exc: BaseException) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if _is_transport(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    for attempt in getattr(exc, "failed_attempts", None) or ():
        inner = getattr(attempt, "exception", None)
        if isinstance(inner, BaseException) and _is_transport(inner):
            return inner
    return None


def _is_transport(exc: BaseException) -> bool:
    import openai  # litellm's exceptions subclass openai's; imported here to keep one home

    return isinstance(
        exc,
        RetriesExhausted | openai.APIError | openai.OpenAIError | TimeoutError | ConnectionError,
    )


def _is_transient(exc: BaseException) -> bool:
    """Worth sending again: timeouts, dropped connections, 408, 409, 429 and 5xx answers."""
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in (408, 409, 429) or status >= 500)


def _retry_after(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` in seconds (the delta form), if it sent one."""
    headers = getattr(exc, "headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    value = None
    if headers is not None:
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            value = None
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from model APIs; fall back to backoff
        return None


def _price_of(response: Any) -> float | None:
    """What litellm priced the response at when it returned it (``None``: a model it has no
    price for). Read back rather than priced again: pricing is ~1 ms of CPU per response."""
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, dict) and "response_cost" in hidden:
        price = hidden["response_cost"]
        return None if price is None else float(price)
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm does not know this model's price
        return None


def _text_of(response: Any) -> str | None:
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError):
        return None
    if getattr(message, "content", None):
        return str(message.content)
    calls = getattr(message, "tool_calls", None)
    if calls:
        return str(calls[0].function.arguments)
    return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
