"""Pure tier: the interruption sweep gives exactly what the plain all-pairs definition gives,
and its work grows as n log n, not n² (counted in comparisons of times, never timed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from evaluator.computed.base import span
from evaluator.computed.overlap import interruption_pairs
from evaluator.computed.registry import run_computed
from evaluator.transcript import AGENT, CALLER, Role, Turn
from tests.computed.helpers import agent, call, caller


def reference_pairs(
    turns: Sequence[Turn], interrupter: Role, min_overlap: float = 0.0
) -> list[tuple[Turn, Turn]]:
    """The definition, compared pair by pair (the implementation before the sweep)."""
    other_role = CALLER if interrupter == AGENT else AGENT
    found: list[tuple[Turn, Turn]] = []
    others = [t for t in turns if t.role == other_role]
    for turn in (t for t in turns if t.role == interrupter):
        start, end = span(turn)
        for other in others:
            o_start, o_end = span(other)
            if o_start < start < o_end and min(o_end, end) - start > min_overlap:
                found.append((other, turn))
                break
    return found


# Times on a coarse grid, so equal starts, equal ends and back-to-back turns are common.
_TIME = st.integers(min_value=0, max_value=24).map(lambda x: x / 2)


@st.composite
def timed_turns(draw: st.DrawFn) -> list[Turn]:
    turns = []
    for _ in range(draw(st.integers(min_value=0, max_value=14))):
        start = draw(_TIME)
        end = start + draw(_TIME)
        role = draw(st.sampled_from([AGENT, CALLER]))
        turns.append(Turn(role=role, content="x", start_time=start, end_time=end))
    return turns


@given(
    timed_turns(),
    st.sampled_from([AGENT, CALLER]),
    st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5]),
)
def test_sweep_matches_the_pairwise_definition(
    turns: list[Turn], interrupter: Role, min_overlap: float
) -> None:
    got = interruption_pairs(turns, interrupter, min_overlap)
    want = reference_pairs(turns, interrupter, min_overlap)
    assert [(id(a), id(b)) for a, b in got] == [(id(a), id(b)) for a, b in want]


def test_the_interrupted_turn_is_the_first_listed_one_still_speaking() -> None:
    # Both agent turns are speaking at 5.0; the first listed is paired, so the agent "kept
    # talking" until 9.0 (4000 ms), not until 6.0.
    transcript = call(agent(0.0, 9.0), agent(4.0, 6.0), caller(5.0, 7.0))
    result = run_computed("stop_time_after_interruption", transcript, {})
    assert result.value == 4000.0
    pairs = interruption_pairs(transcript.turns, CALLER)
    assert [(p[0].start_time, p[1].start_time) for p in pairs] == [(0.0, 5.0)]


def test_min_overlap_is_checked_against_the_earlier_end() -> None:
    # The caller's turn ends 0.3 s after the agent starts, the agent's own 2 s after: the
    # overlap is 0.3 s, counted with min_overlap 0.2 and not with 0.5.
    transcript = call(caller(0.0, 2.3), agent(2.0, 4.0))
    assert run_computed("interruptions", transcript, {"min_overlap_seconds": 0.2}).value == 1
    assert run_computed("interruptions", transcript, {"min_overlap_seconds": 0.5}).value == 0
    # The agent's own short turn limits the overlap just the same.
    short = call(caller(0.0, 5.0), agent(2.0, 2.3))
    assert run_computed("interruptions", short, {"min_overlap_seconds": 0.5}).value == 0


class CountedTime(float):
    """A time that counts the order comparisons made with it."""

    made = 0

    def _count(self, other: Any, op: str) -> bool:
        CountedTime.made += 1
        result: bool = getattr(float(self), op)(float(other))
        return result

    def __lt__(self, other: Any) -> bool:
        return self._count(other, "__lt__")

    def __gt__(self, other: Any) -> bool:
        return self._count(other, "__gt__")

    def __le__(self, other: Any) -> bool:
        return self._count(other, "__le__")

    def __ge__(self, other: Any) -> bool:
        return self._count(other, "__ge__")


def test_work_grows_as_n_log_n_not_n_squared() -> None:
    # 4,000 alternating turns with a pause between each: nobody interrupts, the worst case
    # for comparing every turn with every other (4 million comparisons).
    n = 4_000
    turns = [
        Turn.model_construct(
            role=AGENT if i % 2 else CALLER,
            content="x",
            start_time=CountedTime(i * 3.0),
            end_time=CountedTime(i * 3.0 + 2.0),
        )
        for i in range(n)
    ]
    CountedTime.made = 0
    assert interruption_pairs(turns, AGENT) == []
    assert CountedTime.made < 60 * n
