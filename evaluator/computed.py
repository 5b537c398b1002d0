"""Deterministic metrics over the canonical transcript: no LLM, exact and cheap.

Each function takes the transcript and its validated parameters and returns a ``Computed``:
a value with an explanation that quotes ``[MM:SS]`` times, or "not applicable" with why
(most often: the transcript has no timestamps; never reported as 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, Transcript, Turn, format_clock

__all__ = ["FUNCTIONS", "Computed", "ComputedFunction", "percentile", "run_computed"]

NO_TIMESTAMPS = "not available: the transcript has no timestamps"


@dataclass(frozen=True)
class Computed:
    """A computed metric's answer: ``value`` or ``not_applicable`` (the reason)."""

    value: float | int | bool | None
    explanation: str
    details: dict[str, Any] | None = None
    not_applicable: str | None = None

    @classmethod
    def na(cls, reason: str) -> Computed:
        return cls(value=None, explanation=reason, not_applicable=reason)


class Params(BaseModel):
    """Parameters of a computed metric, from its YAML ``params``."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


class LatencyParams(Params):
    statistic: str = Field(default="avg", pattern=r"^(avg|min|max|count|p[1-9][0-9]?)$")


class SilenceParams(Params):
    threshold_seconds: float = Field(default=10.0, gt=0)


@dataclass(frozen=True)
class ComputedFunction:
    """A computed metric's code, the type of its parameters, and what the call must have."""

    run: Callable[[Transcript, Any], Computed]
    params: type[Params] = NoParams
    needs: tuple[str, ...] = field(default=("timestamps",))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _timed_speech(transcript: Transcript) -> list[Turn] | None:
    if not transcript.has_timestamps:
        return None
    return list(transcript.speech_turns)


def handoff_latencies(turns: Sequence[Turn]) -> list[tuple[float, Turn]]:
    """(ms, agent turn) for each caller→agent hand-off where the agent starts after the caller
    stops; overlaps are interruptions, not latency, and are left out."""
    found: list[tuple[float, Turn]] = []
    for before, after in zip(turns, turns[1:], strict=False):
        if before.role == CALLER and after.role == AGENT:
            gap = (after.start_time or 0.0) - (before.end_time or 0.0)
            if gap >= 0:
                found.append((round(gap * 1000.0, 1), after))
    return found


def latency(transcript: Transcript, params: LatencyParams) -> Computed:
    turns = _timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    found = handoff_latencies(turns)
    if not found:
        return Computed.na("not applicable: no caller-to-agent hand-off in the call")
    values = [ms for ms, _ in found]
    stat = params.statistic
    if stat == "avg":
        value = sum(values) / len(values)
    elif stat == "min":
        value = min(values)
    elif stat == "max":
        value = max(values)
    elif stat == "count":
        value = float(len(values))
    else:
        value = percentile(values, float(stat[1:]))
    slowest_ms, slowest = max(found, key=lambda f: f[0])
    return Computed(
        value=round(value, 1),
        explanation=(
            f"{stat} over {len(values)} caller-to-agent hand-offs; slowest {slowest_ms:.0f} ms "
            f"before the agent spoke at [{format_clock(slowest.start_time or 0)}]"
        ),
        details={"latencies_ms": values},
    )


def talk_ratio(transcript: Transcript, params: NoParams) -> Computed:
    turns = _timed_speech(transcript)
    duration = transcript.duration_seconds
    if turns is None or not duration:
        return Computed.na(NO_TIMESTAMPS)
    agent = sum((t.end_time or 0) - (t.start_time or 0) for t in turns if t.role == AGENT)
    ratio = agent / duration
    return Computed(
        value=round(ratio, 3),
        explanation=f"the agent spoke {agent:.1f} s of a {duration:.1f} s call",
    )


def words_per_minute(transcript: Transcript, params: NoParams) -> Computed:
    turns = _timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    agent_turns = [t for t in turns if t.role == AGENT]
    seconds = sum((t.end_time or 0) - (t.start_time or 0) for t in agent_turns)
    if seconds <= 0:
        return Computed.na("not applicable: the agent has no timed speech")
    words = sum(len(t.content.split()) for t in agent_turns)
    return Computed(
        value=round(words / (seconds / 60.0), 1),
        explanation=f"the agent said {words} words in {seconds:.1f} s of speech",
    )


def silences(turns: Sequence[Turn]) -> list[tuple[float, float]]:
    """Stretches (start, end) inside the call where neither party speaks."""
    spans = sorted((t.start_time or 0.0, t.end_time or 0.0) for t in turns)
    gaps: list[tuple[float, float]] = []
    covered_until = spans[0][1] if spans else 0.0
    for start, end in spans[1:]:
        if start > covered_until:
            gaps.append((covered_until, start))
        covered_until = max(covered_until, end)
    return gaps


def longest_silence(transcript: Transcript, params: NoParams) -> Computed:
    turns = _timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    gaps = silences(turns)
    if not gaps:
        return Computed(value=0.0, explanation="no silence between turns")
    start, end = max(gaps, key=lambda g: g[1] - g[0])
    return Computed(
        value=round(end - start, 2),
        explanation=f"longest silence {end - start:.1f} s from [{format_clock(start)}]",
    )


def _is_error_result(turn: Turn) -> bool:
    data = turn.data
    if data is None:
        return False
    if data.is_error:
        return True
    text = (data.result or "").strip()
    if text.lower().startswith(("error", "failed", "exception")):
        return True
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return isinstance(parsed, dict) and bool(parsed.get("error"))


def tool_call_errors(transcript: Transcript, params: NoParams) -> Computed:
    calls = [t for t in transcript.turns if t.role == TOOL_CALL]
    results = [t for t in transcript.turns if t.role == TOOL_RESULT]
    if not calls and not results:
        return Computed.na("not applicable: no tool calls in the call")
    errors = [t for t in results if _is_error_result(t)]
    answered = {t.data.id for t in results if t.data is not None and t.data.id}
    unanswered = [t for t in calls if t.data is not None and t.data.id and t.data.id not in answered]
    quoted = [
        f"[{format_clock(t.start_time or 0)}] {t.data.name if t.data else 'tool'}"
        for t in [*errors, *unanswered]
    ]
    explanation = f"{len(calls)} tool calls, {len(errors)} errors, {len(unanswered)} without result"
    if quoted:
        explanation += ": " + ", ".join(quoted)
    return Computed(
        value=len(errors) + len(unanswered),
        explanation=explanation,
        details={"calls": len(calls), "errors": len(errors), "unanswered": len(unanswered)},
    )


FUNCTIONS: dict[str, ComputedFunction] = {
    "latency": ComputedFunction(latency, LatencyParams),
    "talk_ratio": ComputedFunction(talk_ratio),
    "words_per_minute": ComputedFunction(words_per_minute),
    "longest_silence": ComputedFunction(longest_silence),
    "tool_call_errors": ComputedFunction(tool_call_errors, needs=("tool calls",)),
}


def validate_params(function: str, params: Mapping[str, Any]) -> Params:
    """The function's parameters, validated; ``ValueError`` says which and why."""
    spec = FUNCTIONS.get(function)
    if spec is None:
        raise ValueError(f"unknown computed function {function!r}; known: {', '.join(sorted(FUNCTIONS))}")
    try:
        return spec.params.model_validate(dict(params))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"params.{where}: {err['msg']}") from None


def run_computed(function: str, transcript: Transcript, params: Mapping[str, Any]) -> Computed:
    """Run a computed metric by name with its (already validated) parameters."""
    spec = FUNCTIONS[function]
    return spec.run(transcript, validate_params(function, params))

