"""Hand-built transcripts for the metric tests: times in seconds, roles by short names."""

from __future__ import annotations

from evaluator.bootstrap import Definitions
from evaluator.computed.base import Computed
from evaluator.computed.registry import run_computed
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, ToolData, Transcript, Turn


def agent(start: float | None, end: float | None, text: str = "agent words here") -> Turn:
    return Turn(role=AGENT, content=text, start_time=start, end_time=end)


def caller(start: float | None, end: float | None, text: str = "caller words here") -> Turn:
    return Turn(role=CALLER, content=text, start_time=start, end_time=end)


def tool_call(at: float | None, call_id: str | None, name: str = "lookup") -> Turn:
    return Turn(role=TOOL_CALL, start_time=at, data=ToolData(id=call_id, name=name, arguments="{}"))


def tool_result(
    at: float | None,
    call_id: str | None,
    result: str,
    name: str = "lookup",
    is_error: bool | None = None,
) -> Turn:
    data = ToolData(id=call_id, name=name, result=result, is_error=is_error)
    return Turn(role=TOOL_RESULT, start_time=at, data=data)


def call(*turns: Turn) -> Transcript:
    return Transcript(turns=turns)


def compute(definitions: Definitions, metric_id: str, transcript: Transcript) -> Computed:
    """Run a catalogue metric as its YAML defines it (function and params)."""
    metric = definitions.catalogue.metric(metric_id)
    assert metric.function is not None
    return run_computed(metric.function, transcript, metric.params)
