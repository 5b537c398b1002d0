"""Cekura's own transcript format (and ``vocera``, its former name).

A list of ``{role, content, start_time, end_time}`` with roles ``Testing Agent``,
``Main Agent``, ``Function Call`` and ``Function Call Result`` (tool turns carry ``data``).
"""

from __future__ import annotations

from typing import Any, get_args

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts._common import (
    ParseOptions,
    TranscriptFormat,
    carries_something,
    check_times,
    expect_list,
    expect_object,
    json_text,
    opt_number,
    opt_str,
)
from evaluator.transcript import TOOL_CALL, TOOL_RESULT, Role, ToolData, Transcript, Turn

PROVIDER = "cekura"
ROLES: tuple[str, ...] = get_args(Role)


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read a Cekura transcript list into the canonical transcript."""
    items = expect_list(PROVIDER, payload, "transcript_json")
    turns: list[Turn] = []
    paths: list[str] = []
    for index, raw in enumerate(items):
        turn = _turn(raw, index)
        if carries_something(turn):
            turns.append(turn)
            paths.append(f"[{index}]")
    check_times(PROVIDER, turns, lambda i: paths[i])
    return Transcript(turns=tuple(turns), provider=PROVIDER)


def _turn(raw: Any, index: int) -> Turn:
    path = f"[{index}]"
    item = expect_object(PROVIDER, raw, path)
    role = item.get("role")
    if role not in ROLES:
        raise TranscriptFormatError(
            PROVIDER,
            f"{path}.role",
            "one of Testing Agent, Main Agent, Function Call, Function Call Result",
            role,
            message=(
                f"turn {index}: role {role!r} is not valid for transcript_type cekura; "
                "valid roles are Testing Agent and Main Agent (and Function Call / "
                "Function Call Result for tools)"
            ),
        )
    content = opt_str(PROVIDER, item, "content", path) or ""
    start = opt_number(PROVIDER, item, "start_time", path)
    end = opt_number(PROVIDER, item, "end_time", path)
    if end is None:
        end = start
    data = _tool_data(item, path) if role in (TOOL_CALL, TOOL_RESULT) else None
    return Turn(role=role, content=content, start_time=start, end_time=end, data=data)


def _tool_data(item: Any, path: str) -> ToolData | None:
    raw = item.get("data")
    if raw is None:
        return None
    data = expect_object(PROVIDER, raw, f"{path}.data")
    return ToolData(
        id=json_text(data.get("id")),
        name=opt_str(PROVIDER, data, "name", f"{path}.data"),
        arguments=json_text(data.get("arguments")),
        result=json_text(data.get("result")),
        is_error=data.get("is_error") if isinstance(data.get("is_error"), bool) else None,
    )


def detect(payload: Any) -> bool:
    """A list whose items carry Cekura's capitalised roles."""
    return (
        isinstance(payload, list)
        and bool(payload)
        and all(isinstance(i, dict) and i.get("role") in ROLES for i in payload)
    )


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect, aliases=("vocera",))
