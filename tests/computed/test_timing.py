"""Pure tier: the timing metrics on hand-built transcripts, each answer worked out by hand."""

from __future__ import annotations

import pytest

from evaluator.bootstrap import Definitions
from evaluator.computed.base import NO_TIMESTAMPS
from evaluator.computed.overlap import silence_stretches
from evaluator.computed.registry import run_computed
from evaluator.transcript import AGENT, CALLER
from tests.computed.helpers import agent, call, caller, compute

# 0.0-4.0 agent; 4.0-7.0 caller (back-to-back: no interruption); 7.5-12.0 agent;
# 10.0-13.0 caller cuts in (user interrupts AI; the agent stops 2.0 s later, at 12.0);
# 12.5-14.0 agent starts over the caller (0.5 s overlap); 16.0-18.0 caller;
# 17.9-20.0 agent starts over the caller (0.1 s overlap); 20.0-21.0 caller; 21.0-25.0 agent.
OVERLAPS = call(
    agent(0.0, 4.0),
    caller(4.0, 7.0),
    agent(7.5, 12.0),
    caller(10.0, 13.0, "wait, I meant Tuesday"),
    agent(12.5, 14.0, "sorry, Tuesday then"),
    caller(16.0, 18.0),
    agent(17.9, 20.0),
    caller(20.0, 21.0),
    agent(21.0, 25.0),
)


def test_agent_and_caller_interruptions_are_counted_by_overlap(definitions: Definitions) -> None:
    ai = compute(definitions, "ai_interrupting_user", OVERLAPS)
    user = compute(definitions, "user_interrupting_ai", OVERLAPS)
    assert ai.value == 2  # at 12.5 and 17.9; back-to-back 4.0/20.0/21.0 are not overlaps
    assert ai.details == {"at_seconds": [12.5, 17.9]}
    assert "[00:12]" in ai.explanation and "sorry, Tuesday then" in ai.explanation
    assert user.value == 1  # at 10.0
    assert '[00:10] Testing Agent: "wait, I meant Tuesday"' in user.explanation


def test_min_overlap_parameter_ignores_short_overlaps() -> None:
    # The 0.1 s overlap at 17.9 is not more than 0.2 s; the 0.5 s one at 12.5 is.
    result = run_computed("interruptions", OVERLAPS, {"by": "agent", "min_overlap_seconds": 0.2})
    assert result.value == 1


def test_stop_time_is_agent_end_minus_caller_start(definitions: Definitions) -> None:
    result = compute(definitions, "stop_time_after_interruption", OVERLAPS)
    assert result.value == 2000.0  # agent turn ends 12.0, caller cut in at 10.0
    two = call(
        agent(0.0, 10.0),
        caller(3.0, 3.5, "uh-huh"),
        caller(11.0, 12.0),
        agent(12.5, 16.0),
        caller(14.0, 15.0),
    )
    # backchannel at 3.0 -> agent ran on 7.0 s; cut-in at 14.0 -> 2.0 s; mean 4500 ms
    assert compute(definitions, "stop_time_after_interruption", two).value == 4500.0


def test_stop_time_not_applicable_without_caller_interruptions(definitions: Definitions) -> None:
    result = compute(definitions, "stop_time_after_interruption", call(agent(0, 2), caller(2.5, 4)))
    assert result.value is None and result.not_applicable is not None
    assert "never interrupted" in result.not_applicable


def test_interruption_score_formula(definitions: Definitions) -> None:
    result = compute(definitions, "interruption_score", OVERLAPS)
    assert result.value == 3.0  # 5 * (1 - 2 interruptions / 5 agent turns)
    assert result.details == {"interruptions": 2, "agent_turns": 5}
    clean = call(agent(0, 2), caller(2.5, 4), agent(4.5, 6))
    assert compute(definitions, "interruption_score", clean).value == 5.0


def test_same_instant_starts_and_back_to_back_turns_are_not_interruptions(
    definitions: Definitions,
) -> None:
    transcript = call(agent(0.0, 2.0), caller(0.0, 1.0), caller(2.0, 3.0), agent(3.0, 4.0))
    assert compute(definitions, "ai_interrupting_user", transcript).value == 0
    assert compute(definitions, "user_interrupting_ai", transcript).value == 0


# 0-3 agent; 4-6 caller; 6->17 dead air after the caller (11 s); 17-20 agent;
# 20->32 silence after the agent (12 s: the caller's pause); 32-33 caller; 33.5-35 agent;
# 35-36 caller; 36->46 exactly 10 s after the caller (not more than 10); 46-48 agent.
SILENCES = call(
    agent(0, 3),
    caller(4, 6),
    agent(17, 20),
    caller(32, 33),
    agent(33.5, 35),
    caller(35, 36),
    agent(46, 48),
)


def test_silence_over_threshold_counts_strictly_longer_stretches(definitions: Definitions) -> None:
    result = compute(definitions, "silence_over_threshold", SILENCES)
    assert result.value == 2  # 6-17 and 20-32; 36-46 is exactly 10 s
    assert result.details == {"stretches": [[6, 17], [20, 32]]}
    assert "[00:06]-[00:17]" in result.explanation
    assert run_computed("silence_over_threshold", SILENCES, {"threshold_seconds": 5}).value == 3


def test_infrastructure_issues_count_only_dead_air_after_the_caller(
    definitions: Definitions,
) -> None:
    result = compute(definitions, "infrastructure_issues", SILENCES)
    assert result.value == 1  # 6-17; 20-32 follows the agent's own turn
    assert result.details == {"stretches": [[6, 17]]}
    assert run_computed("infrastructure_issues", SILENCES, {"threshold_seconds": 5}).value == 2
    assert compute(definitions, "longest_silence", SILENCES).value == 12.0


def test_caller_last_words_are_not_dead_air(definitions: Definitions) -> None:
    assert (
        compute(definitions, "infrastructure_issues", call(agent(0, 2), caller(30, 31))).value == 0
    )
    only_agent = compute(definitions, "infrastructure_issues", call(agent(0, 2), agent(20, 22)))
    assert only_agent.value is None and "never speaks" in (only_agent.not_applicable or "")


def test_silence_after_an_enclosing_turn_belongs_to_its_speaker() -> None:
    # The caller's 2-3 backchannel starts later but ends inside the agent's 0-10 turn, so
    # the 10->15 silence follows the agent.
    gaps = silence_stretches(list(call(agent(0, 10), caller(2, 3), caller(15, 16)).turns))
    assert [(g.start, g.end, g.after) for g in gaps] == [(10, 15, AGENT)]
    gaps = silence_stretches(list(call(agent(0, 2), caller(1, 5), agent(8, 9)).turns))
    assert [(g.start, g.end, g.after) for g in gaps] == [(5, 8, CALLER)]


TIMING_METRICS = [
    "ai_interrupting_user",
    "user_interrupting_ai",
    "stop_time_after_interruption",
    "interruption_score",
    "silence_over_threshold",
    "infrastructure_issues",
    "longest_silence",
    "latency_p95",
    "talk_ratio",
    "words_per_minute",
]


@pytest.mark.parametrize("metric_id", TIMING_METRICS)
def test_missing_times_make_timing_metrics_not_applicable(
    definitions: Definitions, metric_id: str
) -> None:
    transcript = call(agent(0, 2), caller(3, None), agent(5, 6))
    result = compute(definitions, metric_id, transcript)
    assert result.value is None
    assert result.not_applicable == NO_TIMESTAMPS
