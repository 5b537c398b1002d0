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
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TranscriptFormatError(provider, f"{path}.{key}", "a number or null", value)
    if value < 0:
        raise TranscriptFormatError(provider, f"{path}.{key}", "a number >= 0", value)
    return float(value)


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
