"""Pure tier: talk ratio and words per minute, each value worked out by hand in a comment."""

from __future__ import annotations

from evaluator.bootstrap import Definitions
from evaluator.computed.base import NO_TIMESTAMPS, Computed, seconds_of, span
from tests.computed.helpers import agent, call, caller, compute

# agent 0.0-4.0 (4.0 s, 7 words); caller 4.5-6.0 (1.5 s, 9 words);
# agent 6.5-9.5 (3.0 s, 6 words); caller 10.0-12.0 (2.0 s, 4 words). The call lasts 12.0 s.
PACE = call(
    agent(0.0, 4.0, "Hello, thanks for calling Bright Smile Dental."),
    caller(4.5, 6.0, "Hi, I would like to book a cleaning please"),
    agent(6.5, 9.5, "How can I help you today?"),
    caller(10.0, 12.0, "A cleaning next week."),
)


def test_talk_ratio_is_the_agents_speaking_time_over_the_call(definitions: Definitions) -> None:
    # agent 4.0 + 3.0 = 7.0 s of a 12.0 s call: 7 / 12 = 0.58333 -> 0.583
    # (the caller's 1.5 + 2.0 = 3.5 s would give 0.292)
    assert compute(definitions, "talk_ratio", PACE) == Computed(
        value=0.583, explanation="the agent spoke 7.0 s of a 12.0 s call"
    )


def test_words_per_minute_counts_the_agents_words_over_its_speaking_time(
    definitions: Definitions,
) -> None:
    # 7 + 6 = 13 agent words in 7.0 s: 13 / (7.0 / 60) = 111.428... -> 111.4
    assert compute(definitions, "words_per_minute", PACE) == Computed(
        value=111.4, explanation="the agent said 13 words in 7.0 s of speech"
    )


def test_words_per_minute_under_a_second_of_speech(definitions: Definitions) -> None:
    # 2 words in 0.5 s: 2 / (0.5 / 60) = 240.0 per minute
    transcript = call(caller(0.0, 1.0), agent(1.5, 2.0, "Sure thing."))
    assert compute(definitions, "words_per_minute", transcript).value == 240.0


def test_a_zero_length_turn_at_the_start_adds_no_speaking_time(definitions: Definitions) -> None:
    # agent 0.0-0.0 (0 s) and 2.0-3.0 (1 s) of a 3.0 s call: 1 / 3 = 0.333
    transcript = call(agent(0.0, 0.0, "mm"), caller(0.5, 2.0), agent(2.0, 3.0))
    assert compute(definitions, "talk_ratio", transcript).value == 0.333
    assert span(transcript.turns[0]) == (0.0, 0.0)
    assert seconds_of(list(transcript.turns)) == 2.5  # 0 + 1.5 + 1.0


def test_pace_without_agent_speech_time_is_not_applicable(definitions: Definitions) -> None:
    only_blips = call(caller(0.0, 2.0), agent(2.5, 2.5, "uh"))  # the agent's turn lasts 0 s
    result = compute(definitions, "words_per_minute", only_blips)
    reason = "not applicable: the agent has no timed speech"
    assert result == Computed(value=None, explanation=reason, not_applicable=reason)
    # a call whose every turn lasts 0 s at 0.0 has no duration to divide by
    instant = call(agent(0.0, 0.0, "hi"), caller(0.0, 0.0, "hi"))
    ratio = compute(definitions, "talk_ratio", instant)
    assert ratio == Computed(value=None, explanation=NO_TIMESTAMPS, not_applicable=NO_TIMESTAMPS)
