"""The judge: the one LLM boundary. It and its two helpers (``structured``: instructor's
side, ``replies``: reading what the server sent) are the only importers of litellm and
instructor.

A request is a list of messages and a response model; the answer is the parsed fields, the
fields that failed (with why), the raw completion and the usage. Two kinds of retry are kept
apart: transport (timeouts, 429, 5xx) by litellm's ``num_retries`` with backoff, and schema
(an answer that does not validate) by instructor's re-ask. When re-asks run out the fields
that did validate are kept and the rest are reported as failures: never as a low score.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import weakref

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import instructor
import litellm
from instructor.core import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel

from evaluator.contract import Usage
from evaluator.errors import JudgeOutputError, JudgeUnavailableError
from evaluator.judge.replies import Reply as _Reply
from evaluator.judge.replies import first_line as _first_line
from evaluator.judge.replies import retry_after as _retry_after
from evaluator.judge.replies import text_of as _text_of
from evaluator.judge.schema import Judge, JudgeAnswer, JudgeRequest, salvage
from evaluator.judge.structured import checked_once, grammar_friendly, grammar_schema
from evaluator.judge.structured import system_into_user as _system_into_user
from evaluator.judge.structured import without_schema_text as _without_schema_text
from evaluator.judge.transport import RetriesExhausted, send_with_retries

__all__ = [
    "Judge",
    "JudgeAnswer",
    "JudgeRequest",
    "JudgeSettings",
    "LiteLLMJudge",
    "choose_mode",
    "grammar_friendly",
]

# Re-exported for the judge's tests, which read them here.
_REEXPORTED = (_system_into_user, _without_schema_text)

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
    # USD per prompt token and per completion token, priced by litellm with these rates
    # instead of its price list (a model it does not know would otherwise cost "unknown",
    # and litellm searches its whole list for it again on every response). Not in
    # ``describe``: a price changes no answer, so no cache key.
    price: tuple[float, float] | None = None

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
class _Exchange:
    """One request's own part of the judge's calls to litellm: its response model (for the
    constrained grammar) and the replies it received."""

    replies: list[_Reply]
    response_model: type[BaseModel]


_EXCHANGE: contextvars.ContextVar[_Exchange] = contextvars.ContextVar("judge_exchange")


class LiteLLMJudge:
    """The real judge: any litellm model string, any OpenAI-compatible server."""

    def __init__(self, settings: JudgeSettings) -> None:
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        self.settings = settings
        self._mode = choose_mode(settings)
        self._slots = asyncio.Semaphore(settings.max_parallel) if settings.max_parallel else None
        # One instructor client for every request (building one per request was a tenth of
        # the judge's CPU); what is particular to a request reaches ``_complete`` through
        # ``_EXCHANGE``, set for the request's own task.
        self._client = instructor.from_litellm(self._complete, mode=self._mode, async_client=True)

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
        exchange = _EXCHANGE.set(_Exchange(replies, request.response_model))
        started = time.perf_counter()
        try:
            parsed = await self._client.create(
                messages=request.messages,  # type: ignore[arg-type]
                response_model=self._instructor_model(request.response_model),
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
        finally:
            _EXCHANGE.reset(exchange)
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

    def _instructor_model(self, response_model: type[BaseModel]) -> type[BaseModel]:
        if self.settings.structured_mode == "constrained_json":
            return grammar_model(response_model)
        return instructor_model(response_model)

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
        if s.price is not None:
            kwargs["input_cost_per_token"], kwargs["output_cost_per_token"] = s.price
        return kwargs

    async def _complete(self, **kwargs: Any) -> Any:
        """litellm's acompletion for instructor, recording each raw response (with its usage
        and price as it arrived) for usage and evidence, and (in constrained_json mode)
        adding the schema to ``response_format``."""
        exchange = _EXCHANGE.get()
        if self.settings.structured_mode == "constrained_json":
            schema = grammar_schema(exchange.response_model, self.settings.constrained_max_chars)
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
            kwargs["messages"] = _without_schema_text(kwargs.get("messages", []))
        if self.settings.merge_system:
            kwargs["messages"] = _system_into_user(kwargs.get("messages", []))
        # The HTTP timeout is given here, to litellm only: instructor reads a `timeout`
        # argument as a deadline across all its re-asks, which made the number of re-asks
        # depend on how fast the server was.
        # Transport retries have one owner, judge/transport.py: litellm's and the OpenAI
        # client's own are off (they stacked, and skipped Retry-After).
        response = await send_with_retries(
            lambda: litellm.acompletion(
                **kwargs, timeout=self.settings.timeout, num_retries=0, max_retries=0
            ),
            retries=self.settings.num_retries,
            is_transient=_is_transient,
            retry_after=_retry_after,
        )
        exchange.replies.append(_Reply.of(response, _price_of(response)))
        return response

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


# The response models' instructor classes made by ``instructor_model``, each checked once.
_CHECKED: weakref.WeakSet[type] = weakref.WeakSet()


@functools.lru_cache(maxsize=512)
def instructor_model(response_model: type[BaseModel]) -> type[BaseModel]:
    """The response model as instructor's ``OpenAISchema`` subclass, made once per model.
    Handed a plain model, instructor wraps it in a new class on every request, whose JSON
    schema is then built afresh each time (about 60% of the judge's CPU per request)."""
    wrapped: type[BaseModel] = instructor.openai_schema(response_model)
    _REJECT_ASYNC_VALIDATORS(wrapped)  # raises as instructor would, before any request
    _CHECKED.add(wrapped)
    return wrapped


_SCHEMA_IN_GRAMMAR = {"description": "the schema is given as response_format.schema"}


@functools.lru_cache(maxsize=512)
def grammar_model(response_model: type[BaseModel]) -> type[BaseModel]:
    """``instructor_model`` for constrained_json, without the schema text in the prompt.
    Instructor's JSON mode writes the schema into the system message (``json.dumps`` with
    indent, pure Python: about 7% of the judge's CPU per request), and ``_complete`` cuts that
    text off again (``without_schema_text``): the grammar carries the schema instead. So the
    schema instructor writes is a short placeholder; parsing and validation are the response
    model's own, unchanged, and the request sent is the same."""
    wrapped = instructor_model(response_model)

    def model_json_schema(cls: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(_SCHEMA_IN_GRAMMAR)

    # Made under the wrapped class's own name: it is in validation errors, so in re-asks.
    namespace: dict[str, Any] = {
        "__module__": wrapped.__module__,
        "__qualname__": wrapped.__qualname__,
        "__doc__": wrapped.__doc__,
        "model_json_schema": classmethod(model_json_schema),
    }
    grammar: type[BaseModel] = type(wrapped.__name__, (wrapped,), namespace)
    _CHECKED.add(grammar)  # the same fields and validators as ``wrapped``, checked there
    return grammar


def _install_checked_once() -> Callable[[Any], None]:
    """Put ``checked_once`` where instructor looks its async-validator check up (its module,
    and the one module that imported the name); returns the original check. Nothing changes
    with an instructor that has no such check (another version)."""
    try:
        from instructor.v2.core import patch
        from instructor.v2.validation import async_validators
    except ImportError:  # pragma: no cover - another instructor layout: nothing to skip
        return lambda _model: None
    original: Callable[[Any], None] = async_validators.reject_async_validators
    if getattr(original, "__evaluator_checked_once__", False):
        return original.__wrapped__  # type: ignore[attr-defined, no-any-return]
    faster = checked_once(original, _CHECKED)
    async_validators.reject_async_validators = faster  # type: ignore[assignment]
    if getattr(patch, "reject_async_validators", None) is original:
        patch.reject_async_validators = faster  # type: ignore[attr-defined, assignment]
    return original


_REJECT_ASYNC_VALIDATORS = _install_checked_once()
