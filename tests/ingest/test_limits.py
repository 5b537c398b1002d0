"""Pure tier: what a request may hold. Each bad value is a 400 naming its field, raised at
intake, before anything stores, renders or sends it; never a RecursionError, a
UnicodeEncodeError or an OverflowError from somewhere later."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import prepare_call, read_request
from evaluator.ingest.limits import (
    Limits,
    check_fields,
    decode_text,
    loads_json,
    utc_timestamp,
    validate_json_value,
)


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def refused(
    definitions: Definitions, body: dict[str, Any], limits: Limits | None = None
) -> dict[str, list[str]]:
    with pytest.raises(RequestValidationError) as caught:
        read_request(body, definitions.catalogue, limits)
    return caught.value.errors


def with_turn(body: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["transcript_json"][index].update(changes)
    return body


# --- depth -------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [33, 500, 100_000])
def test_deep_metadata_is_refused_naming_the_field(
    definitions: Definitions, booking_request: dict[str, Any], levels: int
) -> None:
    errors = refused(definitions, {**booking_request, "metadata": {"a": nested(levels)}})
    assert list(errors) == ["metadata"]
    assert "nested more than 32 levels deep" in errors["metadata"][0]


def test_deep_tool_data_in_a_turn_is_refused(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    turn = booking_request["transcript_json"][6]
    body = with_turn(booking_request, 6, data={**turn["data"], "extra": nested(600)})
    errors = refused(definitions, body)
    assert (
        list(errors) == ["transcript_json"] and "at [6].data.extra" in errors["transcript_json"][0]
    )


def test_depth_up_to_the_limit_is_accepted(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    # metadata itself is the first level: 31 lists inside it make 32.
    body = {**booking_request, "metadata": {"a": nested(31)}}
    assert read_request(body, definitions.catalogue).request.metadata == {"a": nested(31)}
    assert validate_json_value(nested(8), Limits(max_depth=8)) == []
    assert validate_json_value(nested(9), Limits(max_depth=8)) != []


def test_json_text_too_deep_for_the_parser_names_the_field() -> None:
    text = '{"call_id": "a", "metadata": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    with pytest.raises(RequestValidationError) as caught:
        loads_json(text)
    assert caught.value.errors == {"metadata": ["nested too deeply to read (100002 levels)"]}
    with pytest.raises(RequestValidationError) as caught:
        loads_json("[" * 100_000 + "]" * 100_000, "transcript_json")
    assert caught.value.errors == {
        "transcript_json": ["transcript_json is nested too deeply to read (100000 levels)"]
    }


# --- lone surrogates and NUL ---------------------------------------------------------------

BAD_TEXT = [("\ud800", "lone surrogate (\\ud800)"), ("a\x00b", "NUL character")]


@pytest.mark.parametrize(("text", "said"), BAD_TEXT, ids=["surrogate", "nul"])
@pytest.mark.parametrize(
    ("field", "place"),
    [
        ("feedback", lambda b, t: b.update(feedback=t)),
        ("transcript_json", lambda b, t: b["transcript_json"][0].update(content=t)),
        ("metadata", lambda b, t: b.update(metadata={"note": t})),
        ("metadata", lambda b, t: b.update(metadata={t: 1})),
        ("dynamic_variables", lambda b, t: b.update(dynamic_variables={"today": t})),
        ("customer_number", lambda b, t: b.update(customer_number=t)),
        ("call_id", lambda b, t: b.update(call_id=t)),
        ("call_ended_reason", lambda b, t: b.update(call_ended_reason=t)),
    ],
)
def test_bad_text_anywhere_is_refused_naming_the_field(
    definitions: Definitions,
    booking_request: dict[str, Any],
    field: str,
    place: Any,
    text: str,
    said: str,
) -> None:
    body = copy.deepcopy(booking_request)
    place(body, text)
    errors = refused(definitions, body)
    assert list(errors) == [field]
    assert said in errors[field][0]
    json.dumps(errors).encode("utf-8")  # the 400 body itself can be sent


def test_a_bad_field_name_is_refused_without_echoing_it(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    errors = refused(definitions, {**booking_request, "\ud800": 1})
    assert list(errors) == ["non_field_errors"]


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf"), 10**400])
@pytest.mark.parametrize("field", ["metadata", "dynamic_variables", "transcript_json"])
def test_non_finite_numbers_anywhere_are_one_rule(
    definitions: Definitions, booking_request: dict[str, Any], number: float, field: str
) -> None:
    body = copy.deepcopy(booking_request)
    if field == "transcript_json":
        body["transcript_json"][3]["end_time"] = number
    else:
        body[field] = {"x": number}
    errors = refused(definitions, body)
    assert list(errors) == [field]
    assert "finite" in errors[field][0] or "out of range" in errors[field][0]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_json_text_with_non_finite_numbers_names_the_field(
    definitions: Definitions, booking_request: dict[str, Any], literal: str
) -> None:
    text = json.dumps(booking_request).replace('"campaign": "inbound"', f'"campaign": {literal}')
    errors = refused(definitions, loads_json(text))
    assert list(errors) == ["metadata"] and "finite" in errors["metadata"][0]


# --- times ---------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [18446744073709551616, 1e308, 86_400.5])
def test_times_beyond_a_day_are_refused(
    definitions: Definitions, booking_request: dict[str, Any], end: float
) -> None:
    errors = refused(definitions, with_turn(booking_request, 16, end_time=end))
    assert errors == {
        "transcript_json": [
            f"turn 16: end_time {float(end):g} s is beyond 86400 s, the longest call"
        ]
    }


def test_a_deepgram_word_ending_at_1e308_is_refused(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    words = [
        {"word": "hello", "start": 0.1, "end": 0.5, "speaker": 0},
        {"word": "there", "start": 0.6, "end": 1e308, "speaker": 1},
    ]
    payload = {
        "results": {"channels": [{"alternatives": [{"transcript": "hello there", "words": words}]}]}
    }
    body = {**booking_request, "transcript_type": "deepgram", "transcript_json": payload}
    errors = refused(definitions, body)
    assert list(errors) == ["transcript_json"] and "beyond 86400 s" in errors["transcript_json"][0]


def test_the_longest_call_is_a_setting(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    errors = refused(definitions, booking_request, Limits(max_call_seconds=40.0))
    assert "turn 14: end_time 42.5 s is beyond 40 s" in errors["transcript_json"][0]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_timestamps_outside_utc_range_are_refused(
    definitions: Definitions, booking_request: dict[str, Any], stamp: str
) -> None:
    errors = refused(definitions, {**booking_request, "timestamp": stamp})
    assert errors == {"timestamp": [f"{stamp} is outside the years 1-9999 in UTC"]}


def test_utc_timestamp_is_the_helper_for_list_filters() -> None:
    plus14 = timezone(timedelta(hours=14))
    assert utc_timestamp(datetime(2026, 1, 1, 14, tzinfo=plus14)) == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    assert utc_timestamp(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(RequestValidationError) as caught:
        utc_timestamp(datetime(1, 1, 1, tzinfo=plus14), "timestamp_from")
    assert list(caught.value.errors) == ["timestamp_from"]


# --- sizes ---------------------------------------------------------------------------------


def test_feedback_length_is_limited(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    errors = refused(definitions, {**booking_request, "feedback": "x" * 10_001})
    assert errors == {"feedback": ["feedback is 10001 characters; the limit is 10000"]}


@pytest.mark.parametrize("field", ["metadata", "dynamic_variables"])
def test_metadata_size_is_limited(
    definitions: Definitions, booking_request: dict[str, Any], field: str
) -> None:
    errors = refused(definitions, {**booking_request, field: {"blob": "x" * 70_000}})
    assert list(errors) == [field] and "the limit is 65536" in errors[field][0]


def test_one_turn_content_is_limited(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    errors = refused(definitions, with_turn(booking_request, 2, content="word " * 4_001))
    assert errors == {"transcript_json": ["turn 2: 20005 characters; the limit is 20000 per turn"]}


def test_transcript_sent_to_the_judge_is_limited(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    errors = refused(definitions, booking_request, Limits(max_transcript_chars=1_000))
    assert "the limit sent to the judge is 1000" in errors["transcript_json"][0]


def turns_body(booking_request: dict[str, Any], count: int) -> dict[str, Any]:
    turns = [
        {
            "role": "Main Agent" if i % 2 else "Testing Agent",
            "content": "ok",
            "start_time": i,
            "end_time": i + 0.5,
        }
        for i in range(count)
    ]
    return {**booking_request, "transcript_json": turns}


def test_turns_per_call_are_capped_by_default(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    errors = refused(definitions, turns_body(booking_request, 10_001))
    assert errors == {"transcript_json": ["10001 turns; the limit is 10000 turns per call"]}
    assert read_request(turns_body(booking_request, 1_000), definitions.catalogue)


def test_limits_come_from_settings(
    monkeypatch: pytest.MonkeyPatch, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    assert Settings().limits() == Limits()
    monkeypatch.setenv("EVALUATOR_MAX_TURNS", "10")
    limits = Settings().limits()
    assert limits.max_turns == 10
    errors = refused(definitions, booking_request, limits)
    assert errors == {"transcript_json": ["17 turns; the limit is 10 turns per call"]}


def test_prepare_call_checks_a_request_built_in_code(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    request = read_request(booking_request, definitions.catalogue).request
    bad = request.model_copy(update={"metadata": {"x": float("nan")}})
    with pytest.raises(RequestValidationError) as caught:
        prepare_call(bad, definitions.catalogue)
    assert list(caught.value.errors) == ["metadata"]


def test_check_fields_serves_an_update_too() -> None:
    with pytest.raises(RequestValidationError) as caught:
        check_fields(
            {"feedback": "fine \ud800", "metadata": {"a": nested(40)}, "status": "success"}
        )
    assert sorted(caught.value.errors) == ["feedback", "metadata"]
    check_fields({"feedback": "fine", "metadata": {"a": 1}})


# --- bytes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ('{"a": 1}'.encode("utf-16"), "UTF-16"),
        ('{"a": 1}'.encode("utf-16-le"), "UTF-16"),
        (b'{"a": "\xff"}', "not UTF-8: byte 0xff at offset 7"),
    ],
)
def test_undecodable_bytes_say_what_they_are(raw: bytes, said: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        decode_text(raw)
    assert said in caught.value.errors["non_field_errors"][0]


def test_utf8_with_a_byte_order_mark_is_read() -> None:
    assert loads_json(decode_text('\ufeff{"a": 1}'.encode())) == {"a": 1}


def test_integers_past_pythons_digit_limit_name_their_field() -> None:
    data = loads_json('{"metadata": {"a": ' + "9" * 5_000 + "}}")
    with pytest.raises(RequestValidationError) as caught:
        check_fields(data)
    assert caught.value.errors == {"metadata": ["number out of range (beyond ±1.8e308) at a"]}
