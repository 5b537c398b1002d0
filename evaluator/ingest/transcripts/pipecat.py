"""Pipecat: a list of ``user``/``assistant``/``tool_call``/``tool_call_result`` items.

Timed items carry ``start_time``/``end_time`` in seconds from the call's start; untimed items
carry none (times are then null, never 0). Tool items carry ``data {id, name, arguments |
result}``. Pipecat's own ``TranscriptionMessage`` (what ``TranscriptProcessor`` emits:
``{role, content, user_id, timestamp}``, ``timestamp`` ISO 8601) is accepted too: its times
become offsets from the earliest timestamp, and a timestamp without a zone is read as UTC.
``system`` items are kept aside as context. ``{"messages": [...]}`` (a
``TranscriptionUpdateFrame``'s list) is accepted as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts._common import (
    ParseOptions,
    TranscriptFormat,
    all_dicts,
    expect_object,
    find_list,
    finish,
    item_path,
    json_text,
    locate,
    opt_bool,
    opt_number,
    opt_str,
)
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, ToolData, Transcript, Turn

PROVIDER = "pipecat"
ROLES = ("user", "assistant", "tool_call", "tool_call_result", "system")
_CONTAINERS: tuple[tuple[str, ...], ...] = (("messages",),)
_EXPECTED = "a transcript list, or an object with messages"


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read a Pipecat transcript (timed or untimed list, or TranscriptionMessages)."""
    items, base = find_list(PROVIDER, payload, _CONTAINERS, _EXPECTED)
    objects = [expect_object(PROVIDER, raw, item_path(base, i)) for i, raw in enumerate(items)]
    stamps = [_iso(obj, item_path(base, i)) for i, obj in enumerate(objects)]
    known = [s for s in stamps if s is not None]
    origin = min(known) if known else None
    notes = ["pipecat: ISO timestamps read as offsets from the earliest"] if known else []
    pairs: list[tuple[Turn, str]] = []
    context: list[str] = []
    for index, obj in enumerate(objects):
        path = item_path(base, index)
        role = obj.get("role")
        if role not in ROLES:
            raise TranscriptFormatError(
                PROVIDER, f"{path}.role", "one of " + ", ".join(ROLES), role
            )
        stamp = stamps[index]
        start, end = _seconds(obj, path)
        if stamp is not None and origin is not None:
            start = end = round((stamp - origin).total_seconds(), 3)
        if role == "system":
            context.append(opt_str(PROVIDER, obj, "content", path) or "")
        elif role in ("tool_call", "tool_call_result"):
            pairs.append((_tool_turn(obj, path, role == "tool_call", start), path))
        else:
            text = opt_str(PROVIDER, obj, "content", path) or ""
            side = AGENT if role == "assistant" else CALLER
            pairs.append((Turn(role=side, content=text, start_time=start, end_time=end), path))
    return finish(PROVIDER, pairs, context=context, notes=notes)


def _iso(obj: Mapping[str, Any], path: str) -> datetime | None:
    """The ``timestamp`` of a TranscriptionMessage, or None when absent."""
    value = obj.get("timestamp")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            stamp = None
        if stamp is not None:
            return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    raise TranscriptFormatError(
        PROVIDER, f"{path}.timestamp", "an ISO-8601 time like 2025-01-31T14:03:07.123+00:00", value
    )


def _seconds(obj: Mapping[str, Any], path: str) -> tuple[float | None, float | None]:
    start = opt_number(PROVIDER, obj, "start_time", path)
    end = opt_number(PROVIDER, obj, "end_time", path)
    if start is None and end is not None:
        raise TranscriptFormatError(
            PROVIDER, f"{path}.start_time", f"a start time with end_time {end:g}", None
        )
    return start, start if end is None else end


def _tool_turn(obj: Mapping[str, Any], path: str, is_call: bool, start: float | None) -> Turn:
    raw = obj.get("data")
    if raw is None:
        raise TranscriptFormatError(
            PROVIDER, f"{path}.data", "an object {id, name, arguments | result}", None
        )
    data = expect_object(PROVIDER, raw, f"{path}.data")
    tool = ToolData(
        id=json_text(data.get("id")),
        name=opt_str(PROVIDER, data, "name", f"{path}.data"),
        arguments=json_text(data.get("arguments")) if is_call else None,
        result=None if is_call else json_text(data.get("result")),
        is_error=None if is_call else opt_bool(PROVIDER, data, "is_error", f"{path}.data"),
    )
    return Turn(
        role=TOOL_CALL if is_call else TOOL_RESULT, start_time=start, end_time=start, data=tool
    )


def detect(payload: Any) -> bool:
    """Pipecat roles; ``user``/``assistant`` messages untimed, timed by ``start_time``, or with
    an ISO ``timestamp`` (LiveKit's simple list carries a numeric one)."""
    items = locate(payload, _CONTAINERS)
    if not all_dicts(items):
        return False
    return all(
        i.get("role") in ROLES
        and not isinstance(i.get("timestamp"), int | float)
        and "secondsFromStart" not in i
        for i in items
    )


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect)
