"""LiveKit Agents: Cekura's simple list, or LiveKit's own ``ChatContext.to_dict()``.

The simple list is ``[{role: user|assistant, content, timestamp}]`` with ``timestamp`` in
seconds from the call's start (epoch seconds, if sent, become offsets from the first).

``ChatContext.to_dict()`` (``session.history``) is ``{"items": [...]}``; a session report
(``ctx.make_session_report(session).to_dict()``) holds it under ``chat_history``. Item types:
``message`` (``role``, ``content`` a list of strings and non-text parts, ``interrupted``,
``created_at`` epoch seconds, optional ``metrics.started_speaking_at``/``stopped_speaking_at``),
``function_call`` (``call_id``, ``name``, ``arguments``), ``function_call_output`` (``call_id``,
``name``, ``output``, ``is_error``) and ``agent_handoff`` (recorded in ``notes``: it is neither
speech nor tool use). ``system``/``developer`` messages are kept aside as context. Epoch times
become offsets from the earliest one; a message's time is when speaking started where LiveKit
measured it, else when the item was created. Items must be in ``created_at`` order.

agents-js's ``ChatContext.toJSON()`` is read too: the same items with camelCase keys
(``callId``, ``args``, ``isError``, ``createdAt`` in epoch milliseconds, ``metrics.
startedSpeakingAt`` in seconds, ``newAgentId``), and ``agent_config_update`` items (neither
speech nor tool use: skipped). Audio parts carry their ``transcript`` as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    req_str,
)
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, ToolData, Transcript, Turn

PROVIDER = "livekit"
SIMPLE_ROLES = ("user", "assistant", "system")
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
ITEM_TYPES = ("message", "function_call", "function_call_output", "agent_handoff")
# Items that are neither speech nor tool use, read and skipped (agents-js's config changes).
SKIPPED_TYPES = ("agent_config_update",)
EPOCH_FLOOR = 1e9  # 2001-09-09: larger "timestamps" are epoch seconds, not call offsets
EPOCH_MS_FLOOR = 1e11  # agents-js writes createdAt in epoch milliseconds
_CONTAINERS: tuple[tuple[str, ...], ...] = (
    ("items",), ("chat_history", "items"), ("chatHistory", "items")
)  # fmt: skip
# agents-js's camelCase keys (ChatContext.toJSON()) and their Python names.
_SNAKE = {"callId": "call_id", "args": "arguments", "isError": "is_error",
          "createdAt": "created_at", "newAgentId": "new_agent_id",
          "oldAgentId": "old_agent_id"}  # fmt: skip
_SNAKE_METRICS = {"startedSpeakingAt": "started_speaking_at",
                  "stoppedSpeakingAt": "stopped_speaking_at"}  # fmt: skip
_EXPECTED = "a message list, a ChatContext {items: [...]}, or a session report with chat_history"


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read a LiveKit transcript (simple list, ChatContext dict or session report)."""
    items, base = find_list(PROVIDER, payload, _CONTAINERS, _EXPECTED)
    if base:
        return _parse_items(items, base)
    return _parse_simple(items)


def _parse_simple(items: list[Any]) -> Transcript:
    objects = [expect_object(PROVIDER, raw, item_path("", i)) for i, raw in enumerate(items)]
    times = [opt_number(PROVIDER, o, "timestamp", item_path("", i)) for i, o in enumerate(objects)]
    known = [t for t in times if t is not None]
    origin = min(known) if known and min(known) >= EPOCH_FLOOR else 0.0
    notes = ["livekit: epoch timestamps read as offsets from the first"] if origin else []
    pairs: list[tuple[Turn, str]] = []
    context: list[str] = []
    for index, obj in enumerate(objects):
        path = item_path("", index)
        role = obj.get("role")
        if role not in SIMPLE_ROLES:
            raise TranscriptFormatError(PROVIDER, f"{path}.role", "one of user, assistant", role)
        content = opt_str(PROVIDER, obj, "content", path) or ""
        if role == "system":
            context.append(content)
            continue
        time = times[index]
        start = None if time is None else round(time - origin, 3)
        side = AGENT if role == "assistant" else CALLER
        pairs.append((Turn(role=side, content=content, start_time=start, end_time=start), path))
    return finish(PROVIDER, pairs, context=context, notes=notes)


def _snake_case(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """An agents-js item with Python's keys (``createdAt`` ms to seconds); others as sent."""
    if not any(key in item for key in _SNAKE) and not isinstance(item.get("metrics"), dict):
        return item
    out = {_SNAKE.get(k, k): v for k, v in item.items()}
    created = out.get("created_at")
    if "createdAt" in item and isinstance(created, int | float) and created >= EPOCH_MS_FLOOR:
        out["created_at"] = created / 1000.0
    metrics = item.get("metrics")
    if isinstance(metrics, dict):
        out["metrics"] = {_SNAKE_METRICS.get(k, k): v for k, v in metrics.items()}
    return out


def _parse_items(items: list[Any], base: str) -> Transcript:
    objects = [
        _snake_case(expect_object(PROVIDER, raw, item_path(base, i))) for i, raw in enumerate(items)
    ]
    spans = [_span(obj, item_path(base, i)) for i, obj in enumerate(objects)]
    _check_created_order(objects, base)
    epochs = [t for span in spans for t in span if t is not None]
    origin = min(epochs) if epochs else 0.0
    pairs: list[tuple[Turn, str]] = []
    context: list[str] = []
    notes: list[str] = []
    for index, obj in enumerate(objects):
        path = item_path(base, index)
        start, end = (None if t is None else round(t - origin, 3) for t in spans[index])
        kind = obj.get("type")
        if kind == "agent_config_update":
            continue
        if kind == "agent_handoff":
            old = obj.get("old_agent_id") or "none"
            notes.append(f"livekit: agent handoff from {old!s} to {obj.get('new_agent_id')!s}")
        elif kind != "message":
            pairs.append((_tool_turn(obj, path, kind == "function_call", start), path))
        elif obj.get("role") in ("system", "developer"):
            context.append(_content(obj.get("content"), f"{path}.content"))
        else:
            pairs.append((_message(obj, path, start, end), path))
    if all(turn.start_time is not None for turn, _ in pairs):
        # A user message is created when its transcript is final, after speaking started:
        # ordering by when speaking started puts it back where it was said.
        pairs.sort(key=lambda pair: pair[0].start_time or 0.0)
    return finish(PROVIDER, pairs, context=context, notes=notes)


def _check_created_order(objects: list[Mapping[str, Any]], base: str) -> None:
    previous: float | None = None
    for index, obj in enumerate(objects):
        created = obj.get("created_at")
        if not isinstance(created, int | float) or isinstance(created, bool):
            continue  # already validated by _span: absent or null
        if previous is not None and created < previous:
            raise TranscriptFormatError(
                PROVIDER,
                f"{item_path(base, index)}.created_at",
                f"items in call order (a created_at >= the previous item's {previous:f})",
                created,
            )
        previous = created


def _message(obj: Mapping[str, Any], path: str, start: float | None, end: float | None) -> Turn:
    return Turn(
        role=AGENT if obj.get("role") == "assistant" else CALLER,
        content=_content(obj.get("content"), f"{path}.content"),
        start_time=start,
        end_time=end,
        interrupted=opt_bool(PROVIDER, obj, "interrupted", path),
    )


def _span(obj: Mapping[str, Any], path: str) -> tuple[float | None, float | None]:
    """Epoch start and end of an item; checks its type, role and ``created_at`` order."""
    kind = obj.get("type")
    if kind not in ITEM_TYPES and kind not in SKIPPED_TYPES:
        raise TranscriptFormatError(
            PROVIDER, f"{path}.type", "one of " + ", ".join(ITEM_TYPES), kind
        )
    if kind == "message" and obj.get("role") not in MESSAGE_ROLES:
        raise TranscriptFormatError(
            PROVIDER, f"{path}.role", "one of " + ", ".join(MESSAGE_ROLES), obj.get("role")
        )
    created = opt_number(PROVIDER, obj, "created_at", path)
    metrics = expect_object(PROVIDER, obj.get("metrics") or {}, f"{path}.metrics")
    started = opt_number(PROVIDER, metrics, "started_speaking_at", f"{path}.metrics")
    stopped = opt_number(PROVIDER, metrics, "stopped_speaking_at", f"{path}.metrics")
    start = started if started is not None else created
    end = stopped if stopped is not None and start is not None else start
    return start, end


def _content(value: Any, path: str) -> str:
    """Text parts joined by spaces; image and audio parts (objects) carry no text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for i, part in enumerate(value):
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "audio_content":
                parts.append(str(part.get("transcript") or ""))
            elif not isinstance(part, dict):
                raise TranscriptFormatError(
                    PROVIDER, f"{path}[{i}]", "a string or a content object", part
                )
        return _join(p for p in parts if p)
    raise TranscriptFormatError(PROVIDER, path, "a list of strings", value)


def _join(parts: Iterable[str]) -> str:
    """Text parts in order, a space between two only where neither side already has one."""
    text = ""
    for part in parts:
        if text and not text[-1].isspace() and not part[0].isspace():
            text += " "
        text += part
    return text


def _tool_turn(obj: Mapping[str, Any], path: str, is_call: bool, start: float | None) -> Turn:
    call_id = req_str(PROVIDER, obj, "call_id", path)
    name = opt_str(PROVIDER, obj, "name", path)
    if is_call:
        data = ToolData(id=call_id, name=name, arguments=json_text(obj.get("arguments")))
        return Turn(role=TOOL_CALL, start_time=start, end_time=start, data=data)
    data = ToolData(
        id=call_id,
        name=name,
        result=json_text(obj.get("output")),
        is_error=opt_bool(PROVIDER, obj, "is_error", path),
    )
    return Turn(role=TOOL_RESULT, start_time=start, end_time=start, data=data)


def detect(payload: Any) -> bool:
    """ChatContext items (each with a LiveKit ``type``), or user/assistant messages with a
    numeric ``timestamp`` (Pipecat's carry ISO strings)."""
    items = locate(payload, _CONTAINERS)
    if not all_dicts(items):
        return False
    if isinstance(payload, dict):
        return all(i.get("type") in (*ITEM_TYPES, *SKIPPED_TYPES) for i in items)
    return all(
        i.get("role") in SIMPLE_ROLES
        and "timestamp" in i
        and not isinstance(i["timestamp"], str)
        and "data" not in i
        for i in items
    )


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect)
