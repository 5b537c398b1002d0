"""ElevenLabs Conversational AI: the ``transcript`` of ``GET /v1/convai/conversations/{id}``.

Items are ``{role: agent|user, message (nullable), time_in_call_secs, tool_calls[{request_id,
tool_name, params_as_json}], tool_results[{request_id, tool_name, result_value, is_error}],
interrupted}``. A turn starts at ``time_in_call_secs`` and ends where the next item starts (the
last ends where it starts): ElevenLabs gives one time per item. Tool calls and results become
their own turns at the item's time, after the item's message. The whole conversation object and
the post-call webhook body (``{"type": "post_call_transcription", "data": {...}}``) are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts._common import (
    ParseOptions,
    TranscriptFormat,
    all_dicts,
    expect_list,
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

PROVIDER = "elevenlabs"
ROLES = ("agent", "user")
_CONTAINERS: tuple[tuple[str, ...], ...] = (("transcript",), ("data", "transcript"))
_EXPECTED = "a transcript list, a conversation object with transcript, or a webhook body with data"


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read an ElevenLabs transcript (bare list, conversation object or webhook body)."""
    items, base = find_list(PROVIDER, payload, _CONTAINERS, _EXPECTED)
    objects = [expect_object(PROVIDER, raw, item_path(base, i)) for i, raw in enumerate(items)]
    starts = [
        opt_number(PROVIDER, o, "time_in_call_secs", item_path(base, i))
        for i, o in enumerate(objects)
    ]
    pairs: list[tuple[Turn, str]] = []
    for index, obj in enumerate(objects):
        path = item_path(base, index)
        start = starts[index]
        end = _next_start(starts, index, start)
        pairs.extend((turn, path) for turn in _turns(obj, path, start, end))
    return finish(PROVIDER, pairs)


def _next_start(starts: list[float | None], index: int, start: float | None) -> float | None:
    """The next item's start, when it is not before this one (a backwards time is reported by
    the order check, at the item that goes back)."""
    if start is None:
        return None
    for later in starts[index + 1 :]:
        if later is not None:
            return later if later >= start else start
    return start


def _turns(obj: Mapping[str, Any], path: str, start: float | None, end: float | None) -> list[Turn]:
    role = obj.get("role")
    if role not in ROLES:
        raise TranscriptFormatError(PROVIDER, f"{path}.role", "one of agent, user", role)
    message = opt_str(PROVIDER, obj, "message", path) or ""
    side = AGENT if role == "agent" else CALLER
    interrupted = opt_bool(PROVIDER, obj, "interrupted", path)
    turns = [
        Turn(role=side, content=message, start_time=start, end_time=end, interrupted=interrupted)
    ]
    calls = expect_list(PROVIDER, obj.get("tool_calls") or [], f"{path}.tool_calls")
    for i, raw in enumerate(calls):
        turns.append(_tool_call(raw, f"{path}.tool_calls[{i}]", start))
    results = expect_list(PROVIDER, obj.get("tool_results") or [], f"{path}.tool_results")
    for i, raw in enumerate(results):
        turns.append(_tool_result(raw, f"{path}.tool_results[{i}]", start))
    return turns


def _tool_call(raw: Any, path: str, start: float | None) -> Turn:
    call = expect_object(PROVIDER, raw, path)
    data = ToolData(
        id=opt_str(PROVIDER, call, "request_id", path),
        name=opt_str(PROVIDER, call, "tool_name", path),
        arguments=json_text(call.get("params_as_json")),
    )
    return Turn(role=TOOL_CALL, start_time=start, end_time=start, data=data)


def _tool_result(raw: Any, path: str, start: float | None) -> Turn:
    result = expect_object(PROVIDER, raw, path)
    data = ToolData(
        id=opt_str(PROVIDER, result, "request_id", path),
        name=opt_str(PROVIDER, result, "tool_name", path),
        result=json_text(result.get("result_value")),
        is_error=opt_bool(PROVIDER, result, "is_error", path),
    )
    return Turn(role=TOOL_RESULT, start_time=start, end_time=start, data=data)


def detect(payload: Any) -> bool:
    """``agent``/``user`` items carrying ``message`` or ``time_in_call_secs``."""
    items = locate(payload, _CONTAINERS)
    return all_dicts(items) and all(
        i.get("role") in ROLES and ("time_in_call_secs" in i or "message" in i) for i in items
    )


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect)
