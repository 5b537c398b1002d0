"""Pure tier: the observe contract's validation, errors keyed by field as the spec's 400 body."""

from __future__ import annotations

from typing import Any

import pytest

from evaluator.bootstrap import Definitions
from evaluator.contract import CallEvaluation, ObserveRequest, parse_request
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import read_request


def errors_of(body: Any) -> dict[str, list[str]]:
    with pytest.raises(RequestValidationError) as caught:
        parse_request(body)
    return caught.value.errors


def test_minimal_request_parses(booking_request: dict[str, Any]) -> None:
    request = parse_request(booking_request)
    assert request.call_id == "example-booking-success"
    assert request.transcript_type == "cekura"
    assert request.metric_ids is None


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"call_id": ""}, "call_id", "at least 1 character"),
        ({"call_id": "x" * 101}, "call_id", "at most 100 characters"),
        ({"redact_fields": ["phone_number", "shoe_size"]}, "redact_fields", "shoe_size"),
        ({"main_agent_channel_index": 2}, "main_agent_channel_index", "0 or 1"),
        ({"trace_id": "t" * 33}, "trace_id", "at most 32"),
        ({"call_ended_reason": "r" * 101}, "call_ended_reason", "at most 100"),
        ({"metric_ids": "118,,119"}, "metric_ids", "non-empty"),
        ({"metric_ids": {"a": 1}}, "metric_ids", "comma-separated"),
        ({"timestamp": "yesterday"}, "timestamp", "datetime"),
        ({"dynamic_variables": {"bad name": 1}}, "dynamic_variables", "letters, digits"),
    ],
)
def test_bad_fields_are_reported_by_name(
    booking_request: dict[str, Any], change: dict[str, Any], field: str, fragment: str
) -> None:
    errors = errors_of({**booking_request, **change})
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]


def test_agent_or_assistant_required(booking_request: dict[str, Any]) -> None:
    body = {k: v for k, v in booking_request.items() if k != "agent"}
    assert "one of agent or assistant_id is required" in errors_of(body)["agent"][0]


def test_transcript_required_unless_audio(booking_request: dict[str, Any]) -> None:
    body = {k: v for k, v in booking_request.items() if k != "transcript_json"}
    assert "needs a transcript" in errors_of(body)["transcript_json"][0]


def test_none_mono_without_audio_is_refused(booking_request: dict[str, Any]) -> None:
    errors = errors_of({**booking_request, "transcript_type": "none-mono"})
    assert "needs audio" in errors["transcript_type"][0]


def test_metric_ids_parse_from_comma_string(booking_request: dict[str, Any]) -> None:
    request = parse_request({**booking_request, "metric_ids": " sentiment, verbosity ,sentiment"})
    assert request.metric_ids == ["sentiment", "verbosity"]


def test_non_object_body() -> None:
    assert errors_of([1, 2]) == {"non_field_errors": ["expected a JSON object"]}


def test_cekura_roles_error_keyed_under_transcript_json(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    body = dict(booking_request)
    body["transcript_json"] = [
        {"role": "Main Agent", "content": "Hi", "start_time": 0, "end_time": 1},
        {"role": "Testing Agent", "content": "Hello", "start_time": 1, "end_time": 2},
        {"role": "agent", "content": "How can I help?", "start_time": 2, "end_time": 3},
    ]
    with pytest.raises(RequestValidationError) as caught:
        read_request(body, definitions.catalogue)
    assert caught.value.errors == {
        "transcript_json": [
            "turn 2: role 'agent' is not valid for transcript_type cekura; valid roles are "
            "Testing Agent and Main Agent (and Function Call / Function Call Result for tools)"
        ]
    }


def test_unknown_agent_and_metric_are_named(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        read_request({**booking_request, "agent": 99}, definitions.catalogue)
    assert caught.value.errors["agent"] == ["unknown agent '99' (known: 1)"]
    with pytest.raises(RequestValidationError) as caught:
        read_request({**booking_request, "metric_ids": "sentimnt"}, definitions.catalogue)
    assert "did you mean 'sentiment'" in caught.value.errors["metric_ids"][0]


def test_assistant_id_resolves_and_must_agree(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    body = {k: v for k, v in booking_request.items() if k != "agent"}
    prepared = read_request({**body, "assistant_id": "asst_bright_smile_01"}, definitions.catalogue)
    assert prepared.agent.id == 1
    with pytest.raises(RequestValidationError) as caught:
        read_request({**body, "assistant_id": "asst_other"}, definitions.catalogue)
    assert "assistant_id" in caught.value.errors


def test_response_model_round_trips() -> None:
    evaluation = CallEvaluation(call_id="c1", agent=1, agent_name="A")
    assert CallEvaluation.model_validate_json(evaluation.model_dump_json()) == evaluation
    assert ObserveRequest.model_fields["call_id"].metadata  # limits are declared, not implied


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_timestamp_must_convert_to_utc(booking_request: dict[str, Any], stamp: str) -> None:
    assert errors_of({**booking_request, "timestamp": stamp}) == {
        "timestamp": [f"{stamp} is outside the years 1-9999 in UTC"]
    }
    # The offset is fine where the instant stays inside the calendar.
    assert parse_request({**booking_request, "timestamp": "0001-01-01T00:00:00-14:00"}).timestamp


def test_intake_is_lenient_where_cekuras_server_is(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    """Unknown fields are ignored and named in notes; null is absent; text is coerced."""
    body = {
        **booking_request,
        "transcirpt_json": [],
        "assistant_id": None,
        "metadata": None,
        "dynamic_variables": None,
        "redact_fields": None,
        "transcript_type": None,
        "voice_recording": None,
        "main_agent_channel_index": "1",
        "metric_ids": 5,
    }
    prepared = read_request(body, definitions.catalogue)
    assert prepared.notes == ("ignored unknown field 'transcirpt_json'",)
    request = prepared.request
    assert (request.metadata, request.transcript_type, request.main_agent_channel_index) == (
        {},
        "cekura",
        1,
    )
    assert request.metric_ids == ["5"]
    assert prepared.metrics[0].id == definitions.catalogue.metric(5).id
    assert "transcirpt_json" not in request.model_dump()
