"""Pure tier: latency at its boundaries (zero gap, overlap, no hand-off, ties, the very first
instant) and every statistic, each value worked out by hand in a comment."""

from __future__ import annotations

import pytest

from evaluator.bootstrap import Definitions
from evaluator.computed.base import Computed
from evaluator.computed.registry import handoff_latencies, percentile, run_computed
from evaluator.transcript import Transcript
from tests.computed.helpers import agent, call, caller, compute

NO_HANDOFF = "not applicable: no caller-to-agent hand-off in the call"

# Hand-offs: 1.0 -> 1.33333 (333.33 ms, kept to 333.3), 4.0 -> 4.0 (0 ms: the agent answers
# the instant the caller stops), 7.0 -> 7.75 (750 ms). Sorted: [0.0, 333.3, 750.0].
HANDOFFS = call(
    caller(0.0, 1.0), agent(1.33333, 2.0),
    caller(3.0, 4.0), agent(4.0, 5.0),
    caller(6.0, 7.0), agent(7.75, 9.0),
)  # fmt: skip


def _latency(transcript: Transcript, statistic: str) -> Computed:
    return run_computed("latency", transcript, {"statistic": statistic})


def test_zero_gap_handoff_counts_as_zero_ms(definitions: Definitions) -> None:
    result = compute(definitions, "latency_avg", call(caller(0.0, 2.0), agent(2.0, 3.0)))
    assert result == Computed(
        value=0.0,
        explanation=(
            "avg over 1 caller-to-agent hand-offs; slowest 0 ms before the agent spoke at [00:02]"
        ),
        details={"latencies_ms": [0.0]},
    )


def test_every_statistic_over_the_same_handoffs() -> None:
    assert [ms for ms, _ in handoff_latencies(list(HANDOFFS.turns))] == [333.3, 0.0, 750.0]
    # avg (333.3 + 0 + 750) / 3 = 361.1
    assert _latency(HANDOFFS, "avg").value == 361.1
    assert _latency(HANDOFFS, "min").value == 0.0
    assert _latency(HANDOFFS, "max").value == 750.0
    assert _latency(HANDOFFS, "count").value == 3.0
    # p50: rank 0.5 * 2 = 1 -> 333.3; p90: rank 1.8 -> 333.3 + 0.8 * (750 - 333.3) = 666.66 -> 666.7
    assert _latency(HANDOFFS, "p50").value == 333.3
    assert _latency(HANDOFFS, "p90").value == 666.7
    assert _latency(HANDOFFS, "p90") == Computed(
        value=666.7,
        explanation=(
            "p90 over 3 caller-to-agent hand-offs; slowest 750 ms before the agent spoke at [00:07]"
        ),
        details={"latencies_ms": [333.3, 0.0, 750.0]},
    )


@pytest.mark.parametrize(
    "transcript",
    [
        call(agent(0.0, 2.0), caller(2.5, 4.0)),  # only agent -> caller
        call(caller(0.0, 2.0), agent(1.5, 3.0)),  # the agent starts over the caller
        call(caller(1.0, 2.0), agent(1.0, 3.0)),  # both start at the same instant
        call(caller(0.0, 1.0), caller(1.5, 2.0)),  # the agent never speaks
    ],
    ids=["agent_first", "overlap", "equal_starts", "caller_only"],
)
def test_no_handoff_is_not_applicable_never_zero(
    definitions: Definitions, transcript: Transcript
) -> None:
    for metric_id in ("latency_avg", "latency_p50", "latency_p95"):
        result = compute(definitions, metric_id, transcript)
        assert result == Computed(value=None, explanation=NO_HANDOFF, not_applicable=NO_HANDOFF)


def test_equal_slowest_handoffs_name_the_first() -> None:
    # 1.0 -> 1.5 and 4.0 -> 4.5: both 500 ms; the first (at 00:01) is quoted
    transcript = call(caller(0.0, 1.0), agent(1.5, 2.0), caller(3.0, 4.0), agent(4.5, 5.0))
    assert _latency(transcript, "max").explanation == (
        "max over 2 caller-to-agent hand-offs; slowest 500 ms before the agent spoke at [00:01]"
    )


def test_handoff_at_the_first_instant_of_the_call() -> None:
    # A caller blip that starts and ends at 0.0, the agent answering at 0.0: a 0 ms hand-off.
    transcript = call(caller(0.0, 0.0, "hello?"), agent(0.0, 1.0))
    assert _latency(transcript, "avg") == Computed(
        value=0.0,
        explanation=(
            "avg over 1 caller-to-agent hand-offs; slowest 0 ms before the agent spoke at [00:00]"
        ),
        details={"latencies_ms": [0.0]},
    )


def test_percentile_interpolates_and_refuses_no_values() -> None:
    assert percentile([4.0], 95) == 4.0
    assert percentile([10.0, 20.0], 25) == 12.5  # rank 0.25 -> 10 + 0.25 * 10
    with pytest.raises(ValueError, match=r"^percentile of no values$"):
        percentile([], 50)
