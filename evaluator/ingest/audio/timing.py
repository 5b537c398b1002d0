"""Timing measured on the signal: who speaks when, from voice activity per party.

The names, units and definitions follow the transcript-based computed metrics
(``evaluator/computed.py``, ``computed_timing.py``) so a value here can stand in for one there:
latency in ms from the caller's end to the agent's start, interruptions as starts while the
other party is still speaking, silences in seconds between the first and the last speech.
One definition differs on purpose: a hand-off is the agent starting after a silence that
followed the caller's speech, whatever speech came before; the transcript version pairs
neighbouring turns, which a short sound from the agent between them (a backchannel) would
hide. Every value carries ``source="audio"``.

Everything is a sweep over intervals sorted by time (O(n log n)), never all pairs.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from evaluator.ingest.audio.vad import SpeechInterval
from evaluator.transcript import AGENT, CALLER, Role, format_clock

__all__ = [
    "AudioTiming",
    "AudioValue",
    "Gap",
    "Handoff",
    "Overlap",
    "measure_timing",
]

Unit = Literal["ms", "s", "count", "ratio", "percent"]
_STATISTICS = ("avg", "p50", "p90", "p95", "p99")


@dataclass(frozen=True)
class AudioValue:
    """One measured value, shaped like a computed metric's answer, with its unit and source.
    ``value`` is None exactly when ``not_applicable`` says why."""

    value: float | int | None
    unit: Unit
    explanation: str
    details: dict[str, Any] | None = None
    not_applicable: str | None = None
    source: Literal["audio"] = "audio"

    @classmethod
    def na(cls, unit: Unit, reason: str) -> AudioValue:
        return cls(value=None, unit=unit, explanation=reason, not_applicable=reason)


@dataclass(frozen=True)
class Handoff:
    """The caller stopped at ``caller_end``; after silence, the agent started."""

    caller_end: float
    agent_start: float

    @property
    def ms(self) -> float:
        return round((self.agent_start - self.caller_end) * 1000.0, 1)


@dataclass(frozen=True)
class Overlap:
    """``by`` started at ``start`` while ``interrupted`` was speaking until ``interrupted_end``;
    ``seconds`` is how long both spoke."""

    by: Role
    start: float
    end: float
    interrupted_end: float

    @property
    def seconds(self) -> float:
        return min(self.end, self.interrupted_end) - self.start

    @property
    def interrupted(self) -> Role:
        return CALLER if self.by == AGENT else AGENT


@dataclass(frozen=True)
class Gap:
    """A stretch where no one speaks, and who spoke last before it."""

    start: float
    end: float
    after: Role

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class AudioTiming:
    """What the recording says about timing. ``metric`` answers a computed metric by its
    function name and parameters; ``summary`` lists the headline values."""

    duration: float
    agent: tuple[SpeechInterval, ...]
    caller: tuple[SpeechInterval, ...]
    handoffs: tuple[Handoff, ...]
    overlaps: tuple[Overlap, ...]
    silences: tuple[Gap, ...]
    source: Literal["audio"] = "audio"

    @staticmethod
    def measures(function: str) -> bool:
        """Whether the recording can answer computed metric ``function``."""
        return function in _MEASURES

    def metric(self, function: str, params: Mapping[str, Any] | None = None) -> AudioValue:
        """The value of computed metric ``function`` (``latency``, ``interruptions``,
        ``stop_time_after_interruption``, ``longest_silence``, ``silence_over_threshold``,
        ``infrastructure_issues``, ``talk_ratio``, ``call_duration``) with the same
        parameters the YAML definitions give it."""
        measure = _MEASURES.get(function)
        if measure is None:
            known = ", ".join(sorted(_MEASURES))
            raise ValueError(f"no audio measure for {function!r}; known: {known}")
        return measure(self, dict(params or {}))

    def summary(self, silence_threshold_seconds: float = 10.0) -> dict[str, AudioValue]:
        """The headline values: latency avg/p50/p90/p95/p99 (ms), interruptions each way,
        stop time after an interruption (ms), longest silence (s), silences over the
        threshold, talk ratio, the agent's share of all speech, and the duration (s)."""
        values = {f"latency_{s}": self.metric("latency", {"statistic": s}) for s in _STATISTICS}
        values["ai_interrupting_user"] = self.metric("interruptions", {"by": "agent"})
        values["user_interrupting_ai"] = self.metric("interruptions", {"by": "caller"})
        values["stop_time_after_interruption"] = self.metric("stop_time_after_interruption")
        values["longest_silence"] = self.metric("longest_silence")
        values["silence_over_threshold"] = self.metric(
            "silence_over_threshold", {"threshold_seconds": silence_threshold_seconds}
        )
        values["talk_ratio"] = self.metric("talk_ratio")
        values["agent_speech_share"] = _speech_share(self)
        values["call_duration"] = self.metric("call_duration")
        return values


def measure_timing(
    agent: Sequence[SpeechInterval], caller: Sequence[SpeechInterval], duration: float
) -> AudioTiming:
    """Timing from each party's runs of speech (each party's runs must not overlap each
    other, as ``speech_intervals`` gives them) over a recording of ``duration`` seconds."""
    agent_runs, caller_runs = tuple(sorted(agent)), tuple(sorted(caller))
    runs = sorted([(r, AGENT) for r in agent_runs] + [(r, CALLER) for r in caller_runs])
    handoffs: list[Handoff] = []
    silences: list[Gap] = []
    covered_until: float | None = None
    last: Role = AGENT
    for run, role in runs:
        if covered_until is not None and run.start >= covered_until:
            if run.start > covered_until:
                silences.append(Gap(covered_until, run.start, last))
            if role == AGENT and last == CALLER:
                handoffs.append(Handoff(covered_until, run.start))
        if covered_until is None or run.end >= covered_until:
            covered_until, last = run.end, role
    overlaps = sorted(
        _overlaps(agent_runs, caller_runs, AGENT) + _overlaps(caller_runs, agent_runs, CALLER),
        key=lambda o: o.start,
    )
    return AudioTiming(
        duration=duration,
        agent=agent_runs,
        caller=caller_runs,
        handoffs=tuple(handoffs),
        overlaps=tuple(overlaps),
        silences=tuple(silences),
    )


def _overlaps(
    mine: Sequence[SpeechInterval], others: Sequence[SpeechInterval], by: Role
) -> list[Overlap]:
    """Runs of ``mine`` that start strictly inside a run of ``others`` (found by bisection:
    the other party's runs are sorted and disjoint, so only the last one begun can hold it)."""
    starts = [o.start for o in others]
    found = []
    for run in mine:
        at = bisect.bisect_left(starts, run.start) - 1
        if at >= 0 and others[at].start < run.start < others[at].end:
            found.append(Overlap(by, run.start, run.end, others[at].end))
    return found


def _latency(timing: AudioTiming, params: dict[str, Any]) -> AudioValue:
    statistic = str(params.get("statistic", "avg"))
    if not timing.handoffs:
        return AudioValue.na("ms", "not applicable: no caller-to-agent hand-off in the recording")
    values = [h.ms for h in timing.handoffs]
    if statistic in ("avg", "min", "max", "count"):
        reduce: dict[str, Callable[[list[float]], float]] = {
            "avg": lambda v: sum(v) / len(v), "min": min, "max": max, "count": len}  # fmt: skip
        value = float(reduce[statistic](values))
    elif statistic.startswith("p") and statistic[1:].isdigit():
        # numpy's default is linear interpolation between closest ranks, as computed.percentile
        value = float(np.percentile(values, float(statistic[1:])))
    else:
        raise ValueError(f"latency statistic {statistic!r}: expected avg, min, max, count or pNN")
    slowest = max(timing.handoffs, key=lambda h: h.ms)
    return AudioValue(
        value=round(value, 1),
        unit="count" if statistic == "count" else "ms",
        explanation=(
            f"{statistic} over {len(values)} caller-to-agent hand-offs in the recording; "
            f"slowest {slowest.ms:.0f} ms before the agent spoke at "
            f"[{format_clock(slowest.agent_start)}]"
        ),
        details={"latencies_ms": values},
    )


def _interruptions(timing: AudioTiming, params: dict[str, Any]) -> AudioValue:
    by = str(params.get("by", "agent"))
    if by not in ("agent", "caller"):
        raise ValueError(f"interruptions by {by!r}: expected agent or caller")
    role = AGENT if by == "agent" else CALLER
    found = _counted(timing, role, params)
    return AudioValue(
        value=len(found),
        unit="count",
        explanation=f"the {by} started speaking over the other party {len(found)} times"
        + (": at " + ", ".join(f"[{format_clock(o.start)}]" for o in found[:5]) if found else ""),
        details={"at_seconds": [round(o.start, 2) for o in found]},
    )


def _counted(timing: AudioTiming, by: Role, params: dict[str, Any]) -> list[Overlap]:
    least = float(params.get("min_overlap_seconds", 0.0))
    return [o for o in timing.overlaps if o.by == by and o.seconds > least]


def _stop_time(timing: AudioTiming, params: dict[str, Any]) -> AudioValue:
    found = _counted(timing, CALLER, params)
    if not found:
        return AudioValue.na("ms", "not applicable: the caller never interrupted the agent")
    stops = [round((o.interrupted_end - o.start) * 1000.0, 1) for o in found]
    return AudioValue(
        value=round(sum(stops) / len(stops), 1),
        unit="ms",
        explanation=f"mean over {len(stops)} caller interruptions; slowest {max(stops):.0f} ms",
        details={"stop_times_ms": stops},
    )


def _no_speech(timing: AudioTiming) -> bool:
    return not timing.agent and not timing.caller


def _longest_silence(timing: AudioTiming, params: dict[str, Any]) -> AudioValue:
    if _no_speech(timing):
        return AudioValue.na("s", "not applicable: no speech in the recording")
    if not timing.silences:
        return AudioValue(value=0.0, unit="s", explanation="no silence between speech")
    longest = max(timing.silences, key=lambda g: g.seconds)
    return AudioValue(
        value=round(longest.seconds, 2),
        unit="s",
        explanation=f"longest silence {longest.seconds:.1f} s from [{format_clock(longest.start)}]",
    )


def _silences_over(
    timing: AudioTiming, params: dict[str, Any], after: Role | None, what: str
) -> AudioValue:
    threshold = float(params.get("threshold_seconds", 10.0))
    if _no_speech(timing):
        return AudioValue.na("count", "not applicable: no speech in the recording")
    gaps = [g for g in timing.silences
            if g.seconds > threshold and (after is None or g.after == after)]  # fmt: skip
    return AudioValue(
        value=len(gaps),
        unit="count",
        explanation=f"{len(gaps)} {what} longer than {threshold:g} s",
        details={"stretches": [[round(g.start, 2), round(g.end, 2)] for g in gaps]},
    )


def _seconds(runs: Sequence[SpeechInterval]) -> float:
    return sum(r.seconds for r in runs)


def _talk_ratio(timing: AudioTiming, params: dict[str, Any]) -> AudioValue:
    if timing.duration <= 0:
        return AudioValue.na("ratio", "not applicable: the recording is empty")
    agent = _seconds(timing.agent)
    return AudioValue(
        value=round(agent / timing.duration, 3),
        unit="ratio",
        explanation=f"the agent spoke {agent:.1f} s of a {timing.duration:.1f} s recording",
    )


def _speech_share(timing: AudioTiming) -> AudioValue:
    agent, caller = _seconds(timing.agent), _seconds(timing.caller)
    if agent + caller <= 0:
        return AudioValue.na("ratio", "not applicable: no speech in the recording")
    return AudioValue(
        value=round(agent / (agent + caller), 3),
        unit="ratio",
        explanation=f"the agent spoke {agent:.1f} s of {agent + caller:.1f} s of speech",
    )


def _duration(timing: AudioTiming, params: dict[str, Any]) -> AudioValue:
    return AudioValue(
        value=round(timing.duration, 2),
        unit="s",
        explanation=f"the recording lasts [{format_clock(timing.duration)}]",
    )


_MEASURES: dict[str, Callable[[AudioTiming, dict[str, Any]], AudioValue]] = {
    "latency": _latency,
    "interruptions": _interruptions,
    "stop_time_after_interruption": _stop_time,
    "longest_silence": _longest_silence,
    "silence_over_threshold": lambda t, p: _silences_over(t, p, None, "silences"),
    "infrastructure_issues": lambda t, p: _silences_over(
        t, p, CALLER, "agent silences after the caller"
    ),
    "talk_ratio": _talk_ratio,
    "call_duration": _duration,
}
