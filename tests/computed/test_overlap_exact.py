"""Pure tier: interruptions and silences at their limits (an overlap of exactly the minimum,
a silence of exactly the threshold, turns ending together, zero-length turns), with the whole
answer (value, explanation, details) written out by hand."""

from __future__ import annotations

from evaluator.bootstrap import Definitions
from evaluator.computed.base import Computed
from evaluator.computed.overlap import interruption_pairs, silence_stretches
from evaluator.computed.registry import run_computed
from evaluator.transcript import CALLER, Transcript, Turn
from tests.computed.helpers import agent, call, caller, compute

# The caller cuts in at 3.5 while the agent speaks until 4.0: an overlap of exactly 0.5 s.
CALLER_CUTS_IN = call(agent(0.0, 4.0), caller(3.5, 5.0, "wait"))
# The same with the parties swapped: the agent cuts in.
AGENT_CUTS_IN = call(caller(0.0, 4.0), agent(3.5, 5.0, "right"))


def test_an_overlap_of_exactly_the_minimum_is_not_an_interruption() -> None:
    def count(transcript: Transcript, by: str, limit: float) -> object:
        params = {"by": by, "min_overlap_seconds": limit}
        return run_computed("interruptions", transcript, params).value

    assert count(CALLER_CUTS_IN, "caller", 0.5) == 0  # 0.5 s is not more than 0.5 s
    assert count(CALLER_CUTS_IN, "caller", 0.25) == 1
    assert count(AGENT_CUTS_IN, "agent", 0.5) == 0
    assert count(AGENT_CUTS_IN, "agent", 0.25) == 1
    # without a minimum, any overlap counts
    assert interruption_pairs(list(CALLER_CUTS_IN.turns), CALLER) == [
        (CALLER_CUTS_IN.turns[0], CALLER_CUTS_IN.turns[1])
    ]


def test_stop_time_and_score_honour_the_minimum_overlap() -> None:
    reason = "not applicable: the caller never interrupted the agent"
    at_limit = run_computed(
        "stop_time_after_interruption", CALLER_CUTS_IN, {"min_overlap_seconds": 0.5}
    )
    assert at_limit == Computed(value=None, explanation=reason, not_applicable=reason)
    # the agent ran on from 3.5 to 4.0: 500 ms
    any_overlap = run_computed("stop_time_after_interruption", CALLER_CUTS_IN, {})
    assert any_overlap.value == 500.0
    # one agent turn, interrupting: 5 * (1 - 1/1) = 0.0; at the limit it does not count: 5.0
    assert run_computed("interruption_score", AGENT_CUTS_IN, {}).value == 0.0
    limited = run_computed("interruption_score", AGENT_CUTS_IN, {"min_overlap_seconds": 0.5})
    assert limited.value == 5.0


def _cut_ins(count: int) -> Transcript:
    """``count`` agent turns, each cut into by the caller 4 s after it starts (1 s overlap)."""
    texts = [
        "one two three four five six seven eight nine",  # 9 words: quoted up to 8, then ...
        "one two three four five six seven eight",  # exactly 8: quoted whole
        "wait",
        "sorry",
        "hold on",
        "no",
    ]
    turns: list[Turn] = []
    for i in range(count):
        turns += [agent(10.0 * i, 10.0 * i + 5), caller(10.0 * i + 4, 10.0 * i + 6, texts[i])]
    return call(*turns)


FIVE_QUOTES = (
    '[00:04] Testing Agent: "one two three four five six seven eight ..."; '
    '[00:14] Testing Agent: "one two three four five six seven eight"; '
    '[00:24] Testing Agent: "wait"; [00:34] Testing Agent: "sorry"; '
    '[00:44] Testing Agent: "hold on"'
)


def test_interruption_explanation_quotes_the_first_five(definitions: Definitions) -> None:
    six = compute(definitions, "user_interrupting_ai", _cut_ins(6))
    assert six == Computed(
        value=6,
        explanation=f"the caller started speaking over the other party 6 times: {FIVE_QUOTES} ...",
        details={"at_seconds": [4.0, 14.0, 24.0, 34.0, 44.0, 54.0]},
    )
    five = compute(definitions, "user_interrupting_ai", _cut_ins(5))
    assert five.explanation == (
        f"the caller started speaking over the other party 5 times: {FIVE_QUOTES}"
    )
    none = compute(definitions, "ai_interrupting_user", _cut_ins(6))
    assert none == Computed(
        value=0, explanation="the agent never started while the other party was speaking"
    )


def test_stop_time_mean_and_the_slowest_stop(definitions: Definitions) -> None:
    transcript = call(
        agent(0.0, 5.0), caller(4.66666, 6.0, "wait"),  # agent runs on 0.33334 s -> 333.3 ms
        agent(7.0, 12.0), caller(11.0, 12.5, "no no"),  # 1000 ms: the first slowest
        agent(13.0, 18.0), caller(17.0, 19.0, "stop"),  # 1000 ms
    )  # fmt: skip
    # mean (333.3 + 1000 + 1000) / 3 = 777.77 -> 777.8
    assert compute(definitions, "stop_time_after_interruption", transcript) == Computed(
        value=777.8,
        explanation=(
            "mean over 3 caller interruptions; slowest: the agent kept talking 1000 ms after "
            '[00:11] Testing Agent: "no no"'
        ),
        details={"stop_times_ms": [333.3, 1000.0, 1000.0]},
    )


def test_interruption_score_rounds_to_two_decimals(definitions: Definitions) -> None:
    transcript = call(
        caller(0.0, 2.0), agent(1.5, 3.0),  # the agent cuts in at 1.5
        caller(3.5, 4.0), agent(4.5, 5.0),
        caller(5.5, 6.0), agent(6.5, 7.0),
    )  # fmt: skip
    # 5 * (1 - 1/3) = 3.333... -> 3.33
    assert compute(definitions, "interruption_score", transcript) == Computed(
        value=3.33,
        explanation="5 * (1 - 1 agent interruptions / 3 agent turns)",
        details={"interruptions": 1, "agent_turns": 3},
    )
    reason = "not applicable: the agent never speaks"
    caller_only = compute(definitions, "interruption_score", call(caller(0, 1), caller(2, 3)))
    assert caller_only == Computed(value=None, explanation=reason, not_applicable=reason)


def test_longest_silence_value_and_explanation(definitions: Definitions) -> None:
    # 1.5 -> 6.0678: 4.5678 s -> 4.57
    transcript = call(agent(0.0, 1.5), caller(6.0678, 7.0))
    assert compute(definitions, "longest_silence", transcript) == Computed(
        value=4.57, explanation="longest silence 4.6 s from [00:01]"
    )


def test_back_to_back_turns_leave_no_silence(definitions: Definitions) -> None:
    transcript = call(agent(0.0, 2.0), caller(2.0, 3.0), agent(3.0, 4.0))
    assert silence_stretches(list(transcript.turns)) == []
    assert compute(definitions, "longest_silence", transcript) == Computed(
        value=0.0, explanation="no silence between turns"
    )
    assert compute(definitions, "silence_over_threshold", transcript) == Computed(
        value=0, explanation="no silences longer than 10 s"
    )
    assert compute(definitions, "infrastructure_issues", transcript) == Computed(
        value=0, explanation="no agent silences after the caller longer than 10 s"
    )


def test_silence_after_a_zero_length_first_turn(definitions: Definitions) -> None:
    # the agent's 0.0-0.0 blip, then silence until the caller starts at 0.5
    transcript = call(agent(0.0, 0.0, "hi"), caller(0.5, 1.0))
    assert compute(definitions, "longest_silence", transcript).value == 0.5


def test_turns_ending_together_leave_the_silence_to_the_later_starter(
    definitions: Definitions,
) -> None:
    # agent 0-5 and the caller's 2-5 end together; the caller started later, so the 15 s
    # silence until 20.0 is the agent's dead air after the caller.
    transcript = call(agent(0.0, 5.0), caller(2.0, 5.0), agent(20.0, 21.0))
    gaps = silence_stretches(list(transcript.turns))
    assert [(g.start, g.end, g.after) for g in gaps] == [(5.0, 20.0, CALLER)]
    assert compute(definitions, "infrastructure_issues", transcript).value == 1


# Silences over 1 s: 1.0-2.123 (1.123 s after the agent), 3.456-4.5 (1.044 s after the
# caller), 5-6.5, 7-8.5, 9-10.5, 11-12.5 (1.5 s each, alternately after agent and caller).
GAPS = [
    agent(0.0, 1.0), caller(2.123, 3.456), agent(4.5, 5.0), caller(6.5, 7.0),
    agent(8.5, 9.0), caller(10.5, 11.0), agent(12.5, 13.0),
]  # fmt: skip
FIVE_GAPS = (
    "[00:01]-[00:02] 1.1 s after the Main Agent; [00:03]-[00:04] 1.0 s after the Testing Agent; "
    "[00:05]-[00:06] 1.5 s after the Main Agent; [00:07]-[00:08] 1.5 s after the Testing Agent; "
    "[00:09]-[00:10] 1.5 s after the Main Agent"
)


def test_silences_over_a_threshold_quote_the_first_five() -> None:
    six = run_computed("silence_over_threshold", call(*GAPS), {"threshold_seconds": 1})
    assert six == Computed(
        value=6,
        explanation=f"6 silences longer than 1 s: {FIVE_GAPS} ...",
        details={
            "stretches": [
                [1.0, 2.12], [3.46, 4.5], [5.0, 6.5], [7.0, 8.5], [9.0, 10.5], [11.0, 12.5]
            ]
        },
    )  # fmt: skip
    five = run_computed("silence_over_threshold", call(*GAPS[:-1]), {"threshold_seconds": 1})
    assert five.explanation == f"5 silences longer than 1 s: {FIVE_GAPS}"


def test_dead_air_counts_only_silences_after_the_caller() -> None:
    result = run_computed("infrastructure_issues", call(*GAPS), {"threshold_seconds": 1})
    assert result == Computed(
        value=3,
        explanation=(
            "3 agent silences after the caller longer than 1 s: "
            "[00:03]-[00:04] 1.0 s after the Testing Agent; "
            "[00:07]-[00:08] 1.5 s after the Testing Agent; "
            "[00:11]-[00:12] 1.5 s after the Testing Agent"
        ),
        details={"stretches": [[3.46, 4.5], [7.0, 8.5], [11.0, 12.5]]},
    )
    reason = "not applicable: the caller never speaks"
    agent_only = run_computed("infrastructure_issues", call(agent(0, 1), agent(20, 21)), {})
    assert agent_only == Computed(value=None, explanation=reason, not_applicable=reason)
