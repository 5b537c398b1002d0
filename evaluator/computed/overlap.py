"""Computed metrics over who speaks when: interruptions, silences, and the agent's dead air.

All need every speech turn's start and end time; without them each is not applicable (never
0). Times are seconds from the call's start; explanations quote them as ``[MM:SS]``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from evaluator.computed.base import NO_TIMESTAMPS, Computed, Params, span, timed_speech
from evaluator.transcript import AGENT, CALLER, Role, Transcript, Turn, format_clock

__all__ = [
    "InterruptionParams",
    "Silence",
    "ThresholdParams",
    "infrastructure_issues",
    "interruption_pairs",
    "interruption_score",
    "interruptions",
    "longest_silence",
    "silence_over_threshold",
    "silence_stretches",
    "stop_time_after_interruption",
]


class InterruptionParams(Params):
    """``by``: whose interruptions are counted; ``min_overlap_seconds``: overlaps this short or
    shorter are not counted (0 counts any overlap)."""

    by: Literal["agent", "caller"] = "agent"
    min_overlap_seconds: float = Field(default=0.0, ge=0)


class OverlapParams(Params):
    min_overlap_seconds: float = Field(default=0.0, ge=0)


class ThresholdParams(Params):
    threshold_seconds: float = Field(default=10.0, gt=0)


_ROLE: dict[str, Role] = {"agent": AGENT, "caller": CALLER}


def _other(role: Role) -> Role:
    return CALLER if role == AGENT else AGENT


def interruption_pairs(
    turns: Sequence[Turn], interrupter: Role, min_overlap: float = 0.0
) -> list[tuple[Turn, Turn]]:
    """``(interrupted, interrupting)`` pairs. A turn of ``interrupter`` interrupts when it
    starts while a turn of the other party, begun strictly earlier, is still going, and the
    two overlap by more than ``min_overlap`` seconds. Each interrupting turn counts once,
    paired with the earliest-listed such turn; turns starting at the same instant interrupt
    no one; back-to-back turns (one starts exactly when the other ends) do not overlap.

    A sweep by start time, O(n log n): the other party's turns enter a tree keyed by their
    end as the sweep passes their start; each interrupting turn asks it for the first-listed
    turn that ends late enough."""
    others = [t for t in turns if t.role == _other(interrupter) and _is_timed(t)]
    other_spans = [span(o) for o in others]
    movers = [(span(t), i) for i, t in enumerate(turns) if t.role == interrupter]
    movers = sorted((m for m in movers if not math.isnan(m[0][0])), key=lambda m: m[0][0])
    ends = sorted({end for _, end in other_spans})
    rank = {end: r for r, end in enumerate(ends)}
    tree = _SuffixMin(len(ends))
    entering = sorted(range(len(others)), key=lambda k: other_spans[k][0])
    entered = 0
    matched: dict[int, int] = {}
    for (start, end), i in movers:
        while entered < len(entering) and other_spans[entering[entered]][0] < start:
            k = entering[entered]
            tree.add(rank[other_spans[k][1]], k)
            entered += 1
        # min(o_end, end) - start > min_overlap holds when both ends clear it (a NaN end
        # never wins min()); the other turn's end must also be after the start.
        if not math.isnan(end) and not end - start > min_overlap:
            continue
        found = tree.first_from(_first_end_after(ends, start, min_overlap))
        if found is not None:
            matched[i] = found
    return [(others[matched[i]], turns[i]) for i in sorted(matched)]


def _first_end_after(ends: list[float], start: float, min_overlap: float) -> int:
    """The first position of sorted ``ends`` with ``end > start`` and ``end - start >
    min_overlap``, found by bisection near ``start + min_overlap`` and then checked exactly
    (the rounding of the sum may differ from that of the difference by a neighbour)."""

    def late_enough(end: float) -> bool:
        return end > start and end - start > min_overlap

    low = bisect.bisect_right(ends, start)
    at = max(low, bisect.bisect_right(ends, start + min_overlap))
    while at > low and late_enough(ends[at - 1]):
        at -= 1
    while at < len(ends) and not late_enough(ends[at]):
        at += 1
    return at


def _is_timed(turn: Turn) -> bool:
    return not any(math.isnan(x) for x in span(turn))


class _SuffixMin:
    """Positions ``0..n-1`` holding indexes; the least index held at or after a position.
    A Fenwick tree over the reversed positions: O(log n) per update and query."""

    _EMPTY = 1 << 62

    def __init__(self, size: int) -> None:
        self._size = size
        self._tree = [self._EMPTY] * (size + 1)

    def add(self, position: int, index: int) -> None:
        tree, at = self._tree, self._size - position
        while at <= self._size:
            if index < tree[at]:
                tree[at] = index
            at += at & -at

    def first_from(self, position: int) -> int | None:
        tree, at, best = self._tree, self._size - position, self._EMPTY
        while at > 0:
            if tree[at] < best:
                best = tree[at]
            at -= at & -at
        return None if best == self._EMPTY else best


def _quote(turn: Turn) -> str:
    words = turn.content.split()
    text = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
    return f'[{format_clock(turn.start_time or 0)}] {turn.label}: "{text}"'


def interruptions(transcript: Transcript, params: InterruptionParams) -> Computed:
    """Count of turns by ``params.by`` (agent or caller) that start while the other party is
    still speaking (see ``interruption_pairs``)."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    who = _ROLE[params.by]
    pairs = interruption_pairs(turns, who, params.min_overlap_seconds)
    if not pairs:
        return Computed(
            value=0, explanation=f"the {params.by} never started while the other party was speaking"
        )
    quoted = "; ".join(_quote(t) for _, t in pairs[:5]) + (" ..." if len(pairs) > 5 else "")
    return Computed(
        value=len(pairs),
        explanation=(
            f"the {params.by} started speaking over the other party {len(pairs)} times: {quoted}"
        ),
        details={"at_seconds": [t.start_time for _, t in pairs]},
    )


def stop_time_after_interruption(transcript: Transcript, params: OverlapParams) -> Computed:
    """Mean time, in ms, the agent kept speaking after the caller cut in: for each caller
    interruption of an agent turn, the agent turn's end minus the caller turn's start."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    pairs = interruption_pairs(turns, CALLER, params.min_overlap_seconds)
    if not pairs:
        return Computed.na("not applicable: the caller never interrupted the agent")
    stops = [
        round(((agent.end_time or 0) - (caller.start_time or 0)) * 1000.0, 1)
        for agent, caller in pairs
    ]
    slowest = max(range(len(stops)), key=stops.__getitem__)
    caller_turn = pairs[slowest][1]
    return Computed(
        value=round(sum(stops) / len(stops), 1),
        explanation=(
            f"mean over {len(stops)} caller interruptions; slowest: the agent kept talking "
            f"{stops[slowest]:.0f} ms after {_quote(caller_turn)}"
        ),
        details={"stop_times_ms": stops},
    )


def interruption_score(transcript: Transcript, params: OverlapParams) -> Computed:
    """``5 * (1 - interruptions / turns)``: interruptions are agent turns that start while the
    caller is speaking, turns are the agent's speech turns (5 = never interrupts, 0 = every
    agent turn interrupts). Rounded to two decimals."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    agent_turns = sum(1 for t in turns if t.role == AGENT)
    if not agent_turns:
        return Computed.na("not applicable: the agent never speaks")
    count = len(interruption_pairs(turns, AGENT, params.min_overlap_seconds))
    return Computed(
        value=round(5.0 * (1.0 - count / agent_turns), 2),
        explanation=f"5 * (1 - {count} agent interruptions / {agent_turns} agent turns)",
        details={"interruptions": count, "agent_turns": agent_turns},
    )


@dataclass(frozen=True)
class Silence:
    """A stretch where neither party speaks, and who spoke last before it."""

    start: float
    end: float
    after: Role

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def quote(self) -> str:
        clock = f"[{format_clock(self.start)}]-[{format_clock(self.end)}]"
        return f"{clock} {self.seconds:.1f} s after the {self.after}"


def silence_stretches(turns: Sequence[Turn]) -> list[Silence]:
    """Stretches inside the call (between its first and last speech) where no one speaks."""
    ordered = sorted(turns, key=span)
    if not ordered:
        return []
    gaps: list[Silence] = []
    covered_until, last = ordered[0].end_time or 0.0, ordered[0].role
    for turn in ordered[1:]:
        start, end = span(turn)
        if start > covered_until:
            gaps.append(Silence(covered_until, start, last))
        if end >= covered_until:
            covered_until, last = end, turn.role
    return gaps


def longest_silence(transcript: Transcript, params: Params) -> Computed:
    """The longest stretch, in seconds, between the first and last speech where neither party
    speaks (0 when turns follow or overlap each other throughout)."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    gaps = silence_stretches(turns)
    if not gaps:
        return Computed(value=0.0, explanation="no silence between turns")
    longest = max(gaps, key=lambda g: g.seconds)
    return Computed(
        value=round(longest.seconds, 2),
        explanation=f"longest silence {longest.seconds:.1f} s from [{format_clock(longest.start)}]",
    )


def _count_gaps(gaps: list[Silence], threshold: float, what: str) -> Computed:
    if not gaps:
        return Computed(value=0, explanation=f"no {what} longer than {threshold:g} s")
    quoted = "; ".join(g.quote() for g in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
    return Computed(
        value=len(gaps),
        explanation=f"{len(gaps)} {what} longer than {threshold:g} s: {quoted}",
        details={"stretches": [[round(g.start, 2), round(g.end, 2)] for g in gaps]},
    )


def silence_over_threshold(transcript: Transcript, params: ThresholdParams) -> Computed:
    """Count of stretches between the first and last speech where neither party speaks for
    strictly longer than ``threshold_seconds`` (default 10)."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    long_gaps = [g for g in silence_stretches(turns) if g.seconds > params.threshold_seconds]
    return _count_gaps(long_gaps, params.threshold_seconds, "silences")


def infrastructure_issues(transcript: Transcript, params: ThresholdParams) -> Computed:
    """Count of times the agent stays silent for strictly longer than ``threshold_seconds``
    (default 10) after the caller finishes: silent stretches that begin when a caller turn
    ends, before anyone speaks again. Silence after the agent's own turn is the caller's
    pause, not counted; a caller's last words with nothing after them end the call."""
    turns = timed_speech(transcript)
    if turns is None:
        return Computed.na(NO_TIMESTAMPS)
    if not any(t.role == CALLER for t in turns):
        return Computed.na("not applicable: the caller never speaks")
    dead_air = [
        g
        for g in silence_stretches(turns)
        if g.after == CALLER and g.seconds > params.threshold_seconds
    ]
    return _count_gaps(dead_air, params.threshold_seconds, "agent silences after the caller")
