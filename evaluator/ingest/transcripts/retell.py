"""Retell: ``transcript_with_tool_calls`` (preferred) or ``transcript_object`` of a call.

Utterances are ``{role: agent|user|transfer_target, content, words: [{word, start, end}]}``
with times in seconds; a turn spans its first word's start to its last word's end. The richer
list adds ``tool_call_invocation`` ``{tool_call_id, name, arguments}``, ``tool_call_result``
``{tool_call_id, content}``, ``node_transition`` and ``dtmf`` ``{digit}`` items. Items without
words take the neighbouring time (the previous turn's end, else the next turn's start).

``transfer_target`` (the party a call is transferred to) is a third speaker: its turns count on
the caller side for timing but keep the label ``Transfer Target``. DTMF digits are the caller's
key presses, rendered ``[DTMF 5]``. Node transitions are neither speech nor tool use, so they
are recorded in ``notes``. The whole call object (``GET /v2/get-call``), the webhook body
(``{"event": ..., "call": {...}}``) and a custom function's request (``{"name", "args",
"call"}``) are accepted too. Mid-call (a custom function's request) the richer list may lag
behind ``transcript_object``: then the fuller list is read, with the tool calls merged in after
the utterances they followed. Cekura's own simplified items ``{"role": "agent", "message": ...,
"time": 2.5}`` (seconds) are read too.
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
    req_number,
    req_str,
)
from evaluator.transcript import (
    AGENT,
    CALLER,
    TOOL_CALL,
    TOOL_RESULT,
    ToolData,
    Transcript,
    Turn,
    format_clock,
)

PROVIDER = "retell"
TRANSFER_TARGET = "Transfer Target"
SPEAKERS = ("agent", "user", "transfer_target")
EVENTS = ("tool_call_invocation", "tool_call_result", "node_transition", "dtmf")
ROLES = SPEAKERS + EVENTS
_CONTAINERS: tuple[tuple[str, ...], ...] = (
    ("transcript_with_tool_calls",),
    ("transcript_object",),
    ("call", "transcript_with_tool_calls"),
    ("call", "transcript_object"),
)
_EXPECTED = (
    "a transcript list, or a call object with transcript_with_tool_calls or transcript_object"
)

Span = tuple[float, float] | None


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read a Retell transcript (bare list, call object, webhook body or function request)."""
    notes: list[str] = []
    items, base = _fuller(payload, notes) or find_list(PROVIDER, payload, _CONTAINERS, _EXPECTED)
    objects = [expect_object(PROVIDER, raw, item_path(base, i)) for i, raw in enumerate(items)]
    spans = _fill_spans([_span(obj, item_path(base, i)) for i, obj in enumerate(objects)])
    names: dict[str, str] = {}
    pairs: list[tuple[Turn, str]] = []
    for index, obj in enumerate(objects):
        path = item_path(base, index)
        span = spans[index]
        turn = _turn(obj, path, span, names, notes)
        if turn is not None:
            pairs.append((turn, path))
    return finish(PROVIDER, pairs, notes=notes)


def _fuller(payload: Any, notes: list[str]) -> tuple[list[Any], str] | None:
    """``transcript_object`` with the tool items of ``transcript_with_tool_calls`` merged in,
    when the richer list holds fewer utterances (it lags mid-call); None otherwise."""
    call = payload.get("call") if isinstance(payload, dict) else None
    holder = call if isinstance(call, dict) else payload
    if not isinstance(holder, dict):
        return None
    rich, plain = holder.get("transcript_with_tool_calls"), holder.get("transcript_object")
    if not (isinstance(rich, list) and isinstance(plain, list)):
        return None
    if not (all_dicts(rich) and all_dicts(plain)):
        return None
    said = len(_utterances(rich))
    if len(_utterances(plain)) <= said:
        return None
    after: dict[int, list[Any]] = {}
    seen = 0
    for item in rich:
        if item.get("role") in SPEAKERS:
            seen += 1
        else:
            after.setdefault(seen, []).append(item)
    merged: list[Any] = list(after.get(0, []))
    for index, utterance in enumerate(plain, 1):
        merged += [utterance, *after.get(index, [])]
    notes.append(
        f"retell: transcript_with_tool_calls holds {said} utterances, transcript_object "
        f"{len(_utterances(plain))}: read transcript_object with the tool calls merged in"
    )
    return merged, "transcript_object+tool_calls"


def _utterances(items: list[Any]) -> list[Any]:
    return [i for i in items if i.get("role") in SPEAKERS]


def _role(obj: Mapping[str, Any], path: str) -> str:
    role = obj.get("role")
    if role not in ROLES:
        raise TranscriptFormatError(PROVIDER, f"{path}.role", "one of " + ", ".join(ROLES), role)
    return str(role)


def _span(obj: Mapping[str, Any], path: str) -> Span:
    """First word's start and last word's end, or None for an item without words (an
    utterance in Cekura's simplified shape spans its ``time``, in seconds)."""
    if _role(obj, path) not in SPEAKERS:
        return None
    if obj.get("words") is None:
        time = opt_number(PROVIDER, obj, "time", path)
        return None if time is None else (time, time)
    words = expect_list(PROVIDER, obj["words"], f"{path}.words")
    if not words:
        return None
    first = expect_object(PROVIDER, words[0], f"{path}.words[0]")
    last_path = f"{path}.words[{len(words) - 1}]"
    last = expect_object(PROVIDER, words[-1], last_path)
    start = req_number(PROVIDER, first, "start", f"{path}.words[0]")
    end = req_number(PROVIDER, last, "end", last_path)
    return start, end


def _fill_spans(spans: list[Span]) -> list[Span]:
    """Items without words take the previous item's end, else the next item's start."""
    filled: list[Span] = []
    previous: float | None = None
    for span in spans:
        if span is None and previous is not None:
            span = (previous, previous)
        filled.append(span)
        if span is not None:
            previous = span[1]
    following: float | None = None
    for index in range(len(filled) - 1, -1, -1):
        span = filled[index]
        if span is None and following is not None:
            filled[index] = (following, following)
        elif span is not None:
            following = span[0]
    return filled


def _turn(
    obj: Mapping[str, Any], path: str, span: Span, names: dict[str, str], notes: list[str]
) -> Turn | None:
    role = _role(obj, path)
    start, end = span if span is not None else (None, None)
    if role in SPEAKERS:
        content = opt_str(PROVIDER, obj, "content", path) or ""
        if not content:
            content = opt_str(PROVIDER, obj, "message", path) or ""
        speaker = TRANSFER_TARGET if role == "transfer_target" else None
        side = AGENT if role == "agent" else CALLER
        return Turn(role=side, content=content, start_time=start, end_time=end, speaker=speaker)
    if role == "dtmf":
        digit = json_text(obj.get("digit"))
        if not digit:
            raise TranscriptFormatError(PROVIDER, f"{path}.digit", "a digit", obj.get("digit"))
        return Turn(role=CALLER, content=f"[DTMF {digit}]", start_time=start, end_time=start)
    if role == "node_transition":
        at = f" at {format_clock(start)}" if start is not None else ""
        former = obj.get("former_node_name") or obj.get("former_node_id") or "start"
        new = obj.get("new_node_name") or obj.get("new_node_id") or "?"
        notes.append(f"retell: node transition{at} from {former!s} to {new!s}")
        return None
    call_id = req_str(PROVIDER, obj, "tool_call_id", path)
    if role == "tool_call_invocation":
        name = req_str(PROVIDER, obj, "name", path)
        names[call_id] = name
        data = ToolData(id=call_id, name=name, arguments=json_text(obj.get("arguments")))
        return Turn(role=TOOL_CALL, start_time=start, end_time=start, data=data)
    successful = opt_bool(PROVIDER, obj, "successful", path)
    data = ToolData(
        id=call_id,
        name=names.get(call_id),
        result=json_text(obj.get("content")),
        is_error=None if successful is None else not successful,
    )
    return Turn(role=TOOL_RESULT, start_time=start, end_time=start, data=data)


def detect(payload: Any) -> bool:
    """Retell roles, utterances carrying ``content`` (ElevenLabs' carry ``message``)."""
    items = locate(payload, _CONTAINERS)
    if not all_dicts(items):
        return False
    for item in items:
        role = item.get("role")
        if role not in ROLES:
            return False
        if role in SPEAKERS and ("content" not in item or "time_in_call_secs" in item):
            return False
        if role in ("tool_call_invocation", "tool_call_result") and "tool_call_id" not in item:
            return False
    return True


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect)
