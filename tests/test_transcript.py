"""Pure tier: the canonical transcript's renderings."""

from __future__ import annotations

from evaluator.transcript import ToolData, Transcript, Turn, format_clock


def test_clock_pads_and_switches_to_hours() -> None:
    assert format_clock(2.9) == "00:02"
    assert format_clock(61) == "01:01"
    assert format_clock(3599.9) == "59:59"
    assert format_clock(3600) == "01:00:00"
    assert format_clock(-3) == "00:00"


def test_text_rendering_of_speech_and_tools() -> None:
    transcript = Transcript(
        turns=(
            Turn(role="Main Agent", content="Hello, how can I help you today?", start_time=2.3, end_time=4.0),
            Turn(role="Function Call", start_time=23.16, data=ToolData(id="c1", name="book", arguments='{"name": "John"}')),
            Turn(role="Function Call Result", start_time=24.6, data=ToolData(id="c1", name="book", result="No result returned.")),
            Turn(role="Testing Agent", content="Thanks", speaker="Transfer Target"),
        )
    )  # fmt: skip
    assert transcript.to_text().splitlines() == [
        "[00:02] Main Agent: Hello, how can I help you today?",
        '[00:23] Function Call: book({"name": "John"})',
        "[00:24] Function Call Result: book -> No result returned.",
        "[--:--] Transfer Target: Thanks",
    ]


def test_object_rendering_keeps_times_and_tool_data() -> None:
    turn = Turn(
        role="Function Call", start_time=1.0, end_time=1.0, data=ToolData(id="c1", name="x")
    )
    assert turn.to_object() == {
        "role": "Function Call",
        "content": "",
        "start_time": 1.0,
        "end_time": 1.0,
        "data": {"id": "c1", "name": "x"},
    }


def test_timestamps_and_duration() -> None:
    timed = Transcript(turns=(Turn(role="Main Agent", content="a", start_time=0.5, end_time=3.0),))
    untimed = Transcript(turns=(Turn(role="Main Agent", content="a"),))
    assert timed.has_timestamps and timed.duration_seconds == 3.0
    assert not untimed.has_timestamps and untimed.duration_seconds is None
    assert not Transcript().has_timestamps


def test_clock_and_duration_round_the_same_way() -> None:
    # One rule for every time shown: whole seconds elapsed. 59.6 s is still in second 59,
    # so a call of 59.6 s lasts "00:59" and its last word is stamped [00:59].
    from evaluator.transcript import format_duration

    assert format_clock(59.6) == "00:59"
    assert format_duration(59.6) == "00:59"
    assert format_duration(3725.9) == "62:05"  # minutes go past 59 in call logs
    assert format_duration(None) is None
