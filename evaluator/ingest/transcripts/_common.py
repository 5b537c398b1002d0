"""Small, strict readers shared by the provider parsers.

Each reader takes the provider name and the path of the value so that every error names both,
as ``TranscriptFormatError`` requires. Nothing here knows any provider's shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evaluator.errors import TranscriptFormatError
from evaluator.transcript import Transcript, Turn


@dataclass(frozen=True)
class ParseOptions:
    """What a parser may need beyond the payload itself."""

    main_agent_channel_index: int | None = None


@dataclass(frozen=True)
class TranscriptFormat:
    """A provider format: its name, aliases, parser and (optional) shape detector.

    A provider module defines one of these as ``FORMAT``; the registry finds it.
    """

    name: str
    parse: Callable[[Any, ParseOptions], Transcript]
    detect: Callable[[Any], bool] | None = None
    aliases: tuple[str, ...] = ()


def expect_list(provider: str, value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise TranscriptFormatError(provider, path, "a list", value)
    return value


def expect_object(provider: str, value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TranscriptFormatError(provider, path, "an object", value)
    return value


def opt_str(provider: str, obj: Mapping[str, Any], key: str, path: str) -> str | None:
    """A string field that may be absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise TranscriptFormatError(provider, f"{path}.{key}", "a string or null", value)


def req_str(provider: str, obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, str):
        return value
    what = "a string" if key in obj else "a string (the field is missing)"
    raise TranscriptFormatError(provider, f"{path}.{key}", what, value, show_received=key in obj)


def opt_number(provider: str, obj: Mapping[str, Any], key: str, path: str) -> float | None:
    """A finite, non-negative number that may be absent or null (bools are not numbers)."""
    value = obj.get(key)
    if value is None:
        return None
    number = _finite(value)
    if number is None:
        raise TranscriptFormatError(provider, f"{path}.{key}", "a number or null", value)
    if number < 0:
        raise TranscriptFormatError(provider, f"{path}.{key}", "a number >= 0", value)
    return number


def req_number(provider: str, obj: Mapping[str, Any], key: str, path: str) -> float:
    """A finite, non-negative number that must be present."""
    if key not in obj:
        raise TranscriptFormatError(
            provider, f"{path}.{key}", "a number (the field is missing)", show_received=False
        )
    number = opt_number(provider, obj, key, path)
    if number is None:
        raise TranscriptFormatError(provider, f"{path}.{key}", "a number", None)
    return number


def _finite(value: Any) -> float | None:
    # Huge JSON integers overflow a float: they are not times, so they are rejected, not raised.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def opt_bool(provider: str, obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise TranscriptFormatError(provider, f"{path}.{key}", "true, false or null", value)


def find_list(
    provider: str, payload: Any, containers: tuple[tuple[str, ...], ...], expected: str
) -> tuple[list[Any], str]:
    """The transcript list and its path, from a bare list or an object that holds it.

    ``containers`` are key paths tried in order; the first that exists (non-null) must be a list.
    """
    if isinstance(payload, list):
        return payload, ""
    obj = expect_object(provider, payload, "transcript_json")
    for keys in containers:
        node: Any = obj
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            path = ".".join(keys)
            return expect_list(provider, node, path), path
    raise TranscriptFormatError(provider, "transcript_json", expected, payload)


def item_path(base: str, index: int) -> str:
    """``base[3]``, or ``[3]`` for a bare list."""
    return f"{base}[{index}]"


def lookup(obj: Any, *keys: str) -> Any:
    """A nested value or None, never an error (for detectors)."""
    node = obj
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def locate(payload: Any, containers: tuple[tuple[str, ...], ...]) -> Any:
    """What :func:`find_list` would read, or None; never an error (for detectors)."""
    if isinstance(payload, list):
        return payload
    for keys in containers:
        node = lookup(payload, *keys)
        if node is not None:
            return node
    return None


def all_dicts(items: Any) -> bool:
    """A non-empty list of objects (what every detector first asks)."""
    return isinstance(items, list) and bool(items) and all(isinstance(i, dict) for i in items)


def json_text(value: Any) -> str | None:
    """Tool arguments and results as text: strings kept as sent, other JSON serialized."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def text_content(provider: str, value: Any, path: str) -> str:
    """Message content: a string, null (empty), or a list of strings joined by spaces."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(v for v in value if v)
    raise TranscriptFormatError(provider, path, "a string or a list of strings", value)


def check_times(provider: str, turns: Iterable[Turn], path_of: Callable[[int], str]) -> None:
    """Each turn ends no earlier than it starts, and starts no earlier than the one before."""
    previous: float | None = None
    for index, turn in enumerate(turns):
        start, end = turn.start_time, turn.end_time
        if start is not None and end is not None and end < start:
            raise TranscriptFormatError(
                provider, path_of(index), f"an end time >= its start time {start:g}", end
            )
        if start is not None and previous is not None and start < previous:
            raise TranscriptFormatError(
                provider,
                path_of(index),
                f"times in call order (a start time >= the previous turn's {previous:g})",
                start,
            )
        if start is not None:
            previous = start


def carries_something(turn: Turn) -> bool:
    """Empty messages that carry no text and no tool data are dropped."""
    return bool(turn.content.strip()) or turn.data is not None


def finish(
    provider: str,
    pairs: Iterable[tuple[Turn, str]],
    *,
    context: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> Transcript:
    """Drop empty turns, check the times run forward, and build the transcript."""
    kept = [(turn, path) for turn, path in pairs if carries_something(turn)]
    check_times(provider, (t for t, _ in kept), lambda i: kept[i][1])
    return Transcript(
        turns=tuple(t for t, _ in kept),
        provider=provider,
        context="\n\n".join(c for c in context if c) or None,
        notes=tuple(notes),
    )
