"""Shorthand for writing expected turns by hand in the provider tests."""

from __future__ import annotations

from typing import Any

from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, ToolData, Turn


def agent(text: str, start: float | None, end: float | None, **extra: Any) -> Turn:
    return Turn(role=AGENT, content=text, start_time=start, end_time=end, **extra)


def caller(text: str, start: float | None, end: float | None, **extra: Any) -> Turn:
    return Turn(role=CALLER, content=text, start_time=start, end_time=end, **extra)


def tool_call(at: float | None, call_id: str | None, name: str | None, arguments: str) -> Turn:
    data = ToolData(id=call_id, name=name, arguments=arguments)
    return Turn(role=TOOL_CALL, start_time=at, end_time=at, data=data)


def tool_result(
    at: float | None,
    call_id: str | None,
    name: str | None,
    result: str,
    is_error: bool | None = None,
) -> Turn:
    data = ToolData(id=call_id, name=name, result=result, is_error=is_error)
    return Turn(role=TOOL_RESULT, start_time=at, end_time=at, data=data)
