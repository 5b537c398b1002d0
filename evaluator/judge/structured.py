"""The judge's structured-output plumbing around instructor, without instructor itself
(``litellm_judge`` is its one home): the schema as a grammar a constrained decoder enforces,
the message rewrites some servers need, and the once-per-class async-validator check."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

__all__ = [
    "checked_once",
    "grammar_friendly",
    "grammar_schema",
    "system_into_user",
    "without_schema_text",
]

_INSTRUCTOR_SCHEMA_TEXT = "As a genius expert, your task is to understand the content"


def without_schema_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def checked_once(
    check: Callable[[Any], None], checked: weakref.WeakSet[type]
) -> Callable[[Any], None]:
    """instructor's async-validator check, skipped for the classes in ``checked`` (the
    judge's response models, each checked once when it was made). instructor runs the
    check four times per request, each a walk over every field of every nested model (a
    sixth of the judge's CPU per request); its answer for a class cannot change, and any
    other model still gets the full check every time."""

    @functools.wraps(check)
    def reject_async_validators(response_model: Any) -> None:
        if isinstance(response_model, type) and response_model in checked:
            return
        check(response_model)

    reject_async_validators.__evaluator_checked_once__ = True  # type: ignore[attr-defined]
    return reject_async_validators


@functools.lru_cache(maxsize=512)
def grammar_schema(response_model: type[BaseModel], max_chars: int) -> dict[str, Any]:
    schema: dict[str, Any] = grammar_friendly(response_model.model_json_schema(), max_chars)
    return schema


def system_into_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
