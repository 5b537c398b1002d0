"""Deterministic metrics over the canonical transcript: no LLM, exact and cheap.

Each function takes the transcript and its validated parameters and returns a ``Computed``:
a value with an explanation that quotes ``[MM:SS]`` times, or "not applicable" with why
(most often: the transcript has no timestamps; never reported as 0).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError

from evaluator.computed.base import (
    NO_TIMESTAMPS,
    Computed,
    ComputedFunction,
    NoParams,
    Params,
    seconds_of,
    timed_speech,
)
from evaluator.computed.overlap import (
    InterruptionParams,
    OverlapParams,
    ThresholdParams,
    infrastructure_issues,
    interruption_score,
    interruptions,
    longest_silence,
    silence_over_threshold,
    stop_time_after_interruption,
)
from evaluator.transcript import (
    AGENT,
    CALLER,
    TOOL_CALL,
    TOOL_RESULT,
    Transcript,
    Turn,
    format_clock,
)

__all__ = [
    "FUNCTIONS",
    "Computed",
    "ComputedFunction",
    "percentile",
    "run_computed",
    "validate_params",
]


class LatencyParams(Params):
    statistic: str = Field(default="avg", pattern=r"^(avg|min|max|count|p[1-9][0-9]?)$")


class TranscriptionParams(Params):
    misheard_percent: float = Field(default=20.0, ge=0, le=100)


def transcription_wer(transcript: Transcript, params: TranscriptionParams) -> Computed:
    """Answered from the recording (``ingest.audio.accuracy``, chosen by the engine when the
    call has one transcribed); a transcript alone has nothing to compare with."""
    return Computed.na(
        "not applicable: needs the call's recording transcribed beside its own transcript"
    )


class TurnParams(Params):
    role: Literal["agent", "caller", "all"] = "all"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def handoff_latencies(turns: Sequence[Turn]) -> list[tuple[float, Turn]]:
    """(ms, agent turn) for each caller→agent hand-off where the agent starts after the caller
    stops; overlaps are interruptions, not latency, and are left out."""
    found: list[tuple[float, Turn]] = []
    for before, after in itertools.pairwise(turns):
        if before.role == CALLER and after.role == AGENT:
            gap = (after.start_time or 0.0) - (before.end_time or 0.0)
            if gap >= 0:
                found.append((round(gap * 1000.0, 1), after))
    return found


def latency(transcript: Transcript, params: LatencyParams) -> Computed:
    """Time in ms from the caller's turn end to the start of the agent turn right after it,
    over caller-to-agent hand-offs where the agent starts after the caller stops; reduced by
    ``params.statistic``: avg, min, max, count or pNN (linear interpolation)."""
    turns = timed_speech(transcript)
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
    """The agent's total speaking time divided by the call's duration (0..1)."""
    turns = timed_speech(transcript)
    duration = transcript.duration_seconds
    if turns is None or not duration:
        return Computed.na(NO_TIMESTAMPS)
    agent = seconds_of([t for t in turns if t.role == AGENT])
    ratio = agent / duration
    return Computed(
        value=round(ratio, 3),
        explanation=f"the agent spoke {agent:.1f} s of a {duration:.1f} s call",
    )


def words_per_minute(transcript: Transcript, params: NoParams) -> Computed:
    """The agent's words (split on whitespace) per minute of the agent's speaking time."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    agent_turns = [t for t in turns if t.role == AGENT]
    seconds = seconds_of(agent_turns)
    if seconds <= 0:
        return Computed.na("not applicable: the agent has no timed speech")
    words = sum(len(t.content.split()) for t in agent_turns)
    return Computed(
        value=round(words / (seconds / 60.0), 1),
        explanation=f"the agent said {words} words in {seconds:.1f} s of speech",
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


@dataclass(frozen=True)
class _ToolOutcome:
    calls: list[Turn]
    errors: list[Turn]
    unanswered: list[Turn]

    @property
    def failed(self) -> list[Turn]:
        return [*self.errors, *self.unanswered]

    def summary(self) -> str:
        text = (
            f"{len(self.calls)} tool calls, {len(self.errors)} errors, "
            f"{len(self.unanswered)} without result"
        )
        if self.failed:
            text += ": " + ", ".join(
                f"[{_clock(t)}] {(t.data and t.data.name) or 'tool'}" for t in self.failed
            )
        return text

    def details(self) -> dict[str, Any]:
        return {
            "calls": len(self.calls),
            "errors": len(self.errors),
            "unanswered": len(self.unanswered),
        }


def _clock(turn: Turn) -> str:
    return "--:--" if turn.start_time is None else format_clock(turn.start_time)


def _tool_outcome(transcript: Transcript) -> _ToolOutcome | None:
    calls = [t for t in transcript.turns if t.role == TOOL_CALL]
    results = [t for t in transcript.turns if t.role == TOOL_RESULT]
    if not calls and not results:
        return None
    answered = {t.data.id for t in results if t.data is not None and t.data.id}
    unanswered = [
        t for t in calls if t.data is not None and t.data.id and t.data.id not in answered
    ]
    return _ToolOutcome(calls, [t for t in results if _is_error_result(t)], unanswered)


NO_TOOLS = "not applicable: no tool calls in the call"


def tool_call_errors(transcript: Transcript, params: NoParams) -> Computed:
    """Count of tool calls that failed: results flagged as errors, with an ``error`` field in
    their JSON or text starting with error/failed/exception, plus calls (with an id) that
    never got a result."""
    outcome = _tool_outcome(transcript)
    if outcome is None:
        return Computed.na(NO_TOOLS)
    return Computed(
        value=len(outcome.failed), explanation=outcome.summary(), details=outcome.details()
    )


def tool_call_success(transcript: Transcript, params: NoParams) -> Computed:
    """True when no tool call failed (the failures ``tool_call_errors`` counts)."""
    outcome = _tool_outcome(transcript)
    if outcome is None:
        return Computed.na(NO_TOOLS)
    return Computed(
        value=not outcome.failed, explanation=outcome.summary(), details=outcome.details()
    )


def turn_count(transcript: Transcript, params: TurnParams) -> Computed:
    """Count of speech turns by ``params.role`` (agent, caller or all), as the transcript
    lists them; tool calls and their results are not turns. Needs no timestamps."""
    speech = transcript.speech_turns
    agent = sum(1 for t in speech if t.role == AGENT)
    caller = len(speech) - agent
    value = {"agent": agent, "caller": caller, "all": len(speech)}[params.role]
    return Computed(value=value, explanation=f"{agent} agent turns and {caller} caller turns")


def call_duration(transcript: Transcript, params: NoParams) -> Computed:
    """The call's length in seconds: the latest end time of any turn (times count from the
    call's start)."""
    duration = transcript.duration_seconds
    if duration is None:
        return Computed.na(NO_TIMESTAMPS)
    last = max(
        (t for t in transcript.turns if t.end_time is not None), key=lambda t: t.end_time or 0.0
    )
    return Computed(
        value=round(duration, 2),
        explanation=(
            f"the last turn ({last.label}, from [{_clock(last)}]) "
            f"ends at [{format_clock(duration)}]"
        ),
    )


FUNCTIONS: dict[str, ComputedFunction] = {
    "latency": ComputedFunction(latency, LatencyParams),
    "talk_ratio": ComputedFunction(talk_ratio),
    "words_per_minute": ComputedFunction(words_per_minute),
    "longest_silence": ComputedFunction(longest_silence),
    "silence_over_threshold": ComputedFunction(silence_over_threshold, ThresholdParams),
    "infrastructure_issues": ComputedFunction(infrastructure_issues, ThresholdParams),
    "interruptions": ComputedFunction(interruptions, InterruptionParams),
    "stop_time_after_interruption": ComputedFunction(stop_time_after_interruption, OverlapParams),
    "interruption_score": ComputedFunction(interruption_score, OverlapParams),
    "tool_call_errors": ComputedFunction(tool_call_errors, needs=("tool calls",)),
    "tool_call_success": ComputedFunction(tool_call_success, needs=("tool calls",)),
    "turn_count": ComputedFunction(turn_count, TurnParams, needs=("transcript",)),
    "call_duration": ComputedFunction(call_duration, needs=("turn end times",)),
    "transcription_wer": ComputedFunction(
        transcription_wer, TranscriptionParams, needs=("recording", "transcript")
    ),
}


class UnknownFunctionError(LookupError):
    """No computed function of that name."""


def validate_params(function: str, params: Mapping[str, Any]) -> Params:
    """The function's parameters, validated; ``ValueError`` says which and why, and
    ``UnknownFunctionError`` names the known functions."""
    spec = FUNCTIONS.get(function)
    if spec is None:
        raise UnknownFunctionError(
            f"unknown computed function {function!r}; known: {', '.join(sorted(FUNCTIONS))}"
        )
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
