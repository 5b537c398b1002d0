"""Vapi: the call's ``artifact.messages`` (or ``messages`` of the end-of-call-report webhook).

Roles ``system`` (kept aside as context), ``bot``/``assistant``/``agent`` (the agent),
``user``, ``tool_calls`` and ``tool_call_result``, and the OpenAI-formatted messages Vapi also
sends (``assistant`` with ``tool_calls``, ``tool`` results). ``secondsFromStart`` is the
start; the end is start + (``endTime`` - ``time``) / 1000, both epoch milliseconds, else
start + ``duration`` ms. Without ``secondsFromStart``, an epoch-ms ``time`` is read relative
to the call's first message, and a small ``time`` is seconds from the start (Cekura's own
simplified shape ``{"role": "agent", "message": ..., "time": 2.5}``). The whole call object
or webhook body is accepted too: the messages list is found inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts._common import (
    ParseOptions,
    TranscriptFormat,
    carries_something,
    check_times,
    expect_list,
    expect_object,
    json_text,
    lookup,
    opt_number,
    opt_str,
)
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, ToolData, Transcript, Turn

PROVIDER = "vapi"
AGENT_ROLES = ("bot", "assistant", "agent")
ROLES = ("bot", "user", "system", "tool_calls", "tool_call_result", "assistant", "agent", "tool")
EPOCH_MS_FLOOR = 1e11  # a larger ``time`` is epoch milliseconds, a smaller one seconds
END_OF_CALL = "end-of-call-report"
# Where the messages list sits in a call object or a webhook body, most specific first.
_CONTAINERS: tuple[tuple[str, ...], ...] = (
    ("message", "artifact", "messages"),
    ("artifact", "messages"),
    ("message", "messages"),
    ("messages",),
)


def find_messages(payload: Any) -> tuple[list[Any], str]:
    """The messages list and its path, from a bare list, a call object or a webhook body."""
    if isinstance(payload, list):
        return payload, "messages"
    obj = expect_object(PROVIDER, payload, "transcript_json")
    for keys in _CONTAINERS:
        node: Any = obj
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            return expect_list(PROVIDER, node, ".".join(keys)), ".".join(keys)
    raise TranscriptFormatError(
        PROVIDER,
        "transcript_json",
        "a messages list, or an object with artifact.messages or messages",
        payload,
    )


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read Vapi messages (bare, call object, or webhook body) into the canonical transcript."""
    messages, base = find_messages(payload)
    turns: list[Turn] = []
    paths: list[str] = []
    context: list[str] = []
    origin = _origin(messages)
    for index, raw in enumerate(messages):
        path = f"{base}[{index}]"
        item = expect_object(PROVIDER, raw, path)
        role = item.get("role")
        if role not in ROLES:
            raise TranscriptFormatError(
                PROVIDER, f"{path}.role", "one of " + ", ".join(ROLES[:5]), role
            )
        if role == "system":
            text = opt_str(PROVIDER, item, "message", path) or opt_str(
                PROVIDER, item, "content", path
            )
            if text:
                context.append(text)
            continue
        start, end = _times(item, path, origin)
        for turn in _turns(role, item, path, start, end):
            if carries_something(turn):
                turns.append(turn)
                paths.append(path)
    check_times(PROVIDER, turns, lambda i: paths[i])
    return Transcript(
        turns=tuple(turns),
        provider=PROVIDER,
        context="\n\n".join(context) or None,
    )


def _origin(messages: list[Any]) -> float | None:
    """The call's start in epoch ms: the earliest epoch-ms ``time`` of its messages."""
    times = [
        m["time"] for m in messages
        if isinstance(m, dict) and isinstance(m.get("time"), int | float)
        and not isinstance(m.get("time"), bool) and m["time"] >= EPOCH_MS_FLOOR
    ]  # fmt: skip
    return float(min(times)) if times else None


def _times(
    item: Mapping[str, Any], path: str, origin: float | None
) -> tuple[float | None, float | None]:
    start = opt_number(PROVIDER, item, "secondsFromStart", path)
    time_ms = opt_number(PROVIDER, item, "time", path)
    end_ms = opt_number(PROVIDER, item, "endTime", path)
    if start is None and time_ms is not None:
        if time_ms < EPOCH_MS_FLOOR:  # Cekura's simplified shape: seconds from the start
            end = end_ms if end_ms is not None and end_ms < EPOCH_MS_FLOOR else time_ms
            return time_ms, max(end, time_ms)
        start = round((time_ms - (origin or time_ms)) / 1000.0, 3)
    if start is None:
        return None, None
    if time_ms is not None and end_ms is not None:
        if end_ms < time_ms:
            raise TranscriptFormatError(
                PROVIDER, f"{path}.endTime", f"an epoch-ms time >= time ({time_ms:g})", end_ms
            )
        return start, round(start + (end_ms - time_ms) / 1000.0, 3)
    duration = opt_number(PROVIDER, item, "duration", path)
    if duration is not None:
        return start, round(start + duration / 1000.0, 3)
    return start, start


def _turns(
    role: str, item: Mapping[str, Any], path: str, start: float | None, end: float | None
) -> list[Turn]:
    if role in AGENT_ROLES or role == "user":
        text = opt_str(PROVIDER, item, "message", path)
        if text is None:
            text = opt_str(PROVIDER, item, "content", path)
        speaker = AGENT if role in AGENT_ROLES else CALLER
        spoken = [Turn(role=speaker, content=text or "", start_time=start, end_time=end)]
        if role == "assistant" and item.get("tool_calls") is not None:  # OpenAI-formatted
            calls = expect_list(PROVIDER, item["tool_calls"], f"{path}.tool_calls")
            spoken += [_tool_call(c, f"{path}.tool_calls[{i}]", start) for i, c in enumerate(calls)]
        return spoken
    if role == "tool_calls":
        calls = expect_list(PROVIDER, item.get("toolCalls", []), f"{path}.toolCalls")
        return [_tool_call(call, f"{path}.toolCalls[{i}]", start) for i, call in enumerate(calls)]
    if role == "tool":  # an OpenAI-formatted tool result
        result = ToolData(
            id=opt_str(PROVIDER, item, "tool_call_id", path),
            name=opt_str(PROVIDER, item, "name", path),
            result=json_text(item.get("content")),
        )
        return [Turn(role=TOOL_RESULT, start_time=start, end_time=start, data=result)]
    result = ToolData(
        id=opt_str(PROVIDER, item, "toolCallId", path),
        name=opt_str(PROVIDER, item, "name", path),
        result=json_text(item.get("result")),
    )
    return [Turn(role=TOOL_RESULT, start_time=start, end_time=start, data=result)]


def _tool_call(raw: Any, path: str, start: float | None) -> Turn:
    call = expect_object(PROVIDER, raw, path)
    function = expect_object(PROVIDER, call.get("function", {}), f"{path}.function")
    data = ToolData(
        id=opt_str(PROVIDER, call, "id", path),
        name=opt_str(PROVIDER, function, "name", f"{path}.function"),
        arguments=json_text(function.get("arguments")),
    )
    return Turn(role=TOOL_CALL, start_time=start, end_time=start, data=data)


def detect(payload: Any) -> bool:
    """Vapi's end-of-call-report body (whatever its messages look like), or messages that
    carry ``secondsFromStart`` or Vapi's own ``bot``/``tool_calls`` roles."""
    if isinstance(payload, dict) and lookup(payload, "message", "type") == END_OF_CALL:
        return True
    try:
        messages, _ = find_messages(payload)
    except TranscriptFormatError:
        return False
    items = [m for m in messages if isinstance(m, dict)]
    return (
        bool(items)
        and len(items) == len(messages)
        and all(m.get("role") in ROLES and _vapi_shaped(m) for m in items)
    )


def _vapi_shaped(message: Mapping[str, Any]) -> bool:
    # Retell and Pipecat share the role name tool_call_result; only Vapi's carry toolCallId.
    role = message.get("role")
    if role == "tool_call_result":
        return "toolCallId" in message
    return "secondsFromStart" in message or role in ("bot", "tool_calls")


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect)
