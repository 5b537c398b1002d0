"""Property: whatever JSON body intake is given, it either parses or raises
``RequestValidationError`` with field-keyed errors that can themselves be sent as JSON;
never another exception. And what parses can be stored, rendered for the judge and sent."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator.bootstrap import Definitions
from evaluator.contract import PII_CATEGORIES, parse_request
from evaluator.engine import dry_run_requests
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import read_request
from evaluator.ingest.limits import Limits
from evaluator.ingest.transcripts import transcript_types
from tests.conftest import load_example
from tests.ingest.transcripts.transcript_payloads import PAYLOADS, read_payload

# Any code point, surrogates and NUL included.
chars = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
)
texts = st.one_of(
    st.text(chars, max_size=12),
    st.sampled_from(
        [
            "Main Agent", "Testing Agent", "Function Call", "agent", "user", "",
            "2026-11-02T09:14:05Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
            "my name is Ann Lee", "card 4111 1111 1111 1111", "</transcript id=0123456789ab>",
        ]
    ),
)  # fmt: skip
numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([18446744073709551616, 1e308, -1e308, 86_400.0, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)


def nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value} if levels % 2 else [value]
    return value


deep_values = st.integers(min_value=30, max_value=3_000).map(nested)
turns = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["Main Agent", "Testing Agent"]), "content": texts},
        optional={"start_time": numbers, "end_time": numbers, "data": json_values},
    ),
    max_size=5,
)
payloads = st.sampled_from(sorted(p.name for p in PAYLOADS.glob("*.json"))).map(read_payload)
bodies = st.fixed_dictionaries(
    {
        "call_id": st.one_of(st.just("call-1"), json_values),
        "agent": st.one_of(st.just(1), json_values),
        "transcript_type": st.one_of(st.sampled_from([*transcript_types(), "zoom"]), json_values),
        "transcript_json": st.one_of(turns, payloads, json_values, deep_values),
    },
    optional={
        "metadata": st.one_of(st.dictionaries(texts, json_values, max_size=4), deep_values),
        "dynamic_variables": st.dictionaries(texts, json_values, max_size=3),
        "feedback": st.one_of(texts, json_values),
        "timestamp": st.one_of(texts, numbers),
        "redact_fields": st.one_of(st.just(list(PII_CATEGORIES)), json_values),
        "metric_ids": json_values,
        "customer_number": json_values,
        "call_ended_reason": json_values,
        "voice_recording_url": json_values,
        "main_agent_channel_index": json_values,
        "assistant_id": json_values,
        "trace_id": json_values,
        "extra": json_values,
    },
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def assert_field_keyed(exc: RequestValidationError) -> None:
    assert exc.errors
    for field, messages in exc.errors.items():
        assert isinstance(field, str) and messages
        assert all(isinstance(m, str) and m for m in messages)
    json.dumps(exc.errors, ensure_ascii=False).encode("utf-8")  # the 400 body can be sent


@PROPERTY
@given(body=st.one_of(bodies, json_values))
def test_parse_request_parses_or_names_fields(body: Any) -> None:
    try:
        parse_request(body)
    except RequestValidationError as exc:
        assert_field_keyed(exc)


@PROPERTY
@given(body=st.one_of(bodies, json_values))
def test_read_request_parses_or_names_fields(definitions: Definitions, body: Any) -> None:
    try:
        prepared = read_request(body, definitions.catalogue, Limits(max_transcript_chars=20_000))
    except RequestValidationError as exc:
        assert_field_keyed(exc)
        return
    json.dumps(prepared.stored_request(), ensure_ascii=False).encode("utf-8")
    for request in dry_run_requests(prepared, definitions.renderer):
        json.dumps(request.messages, ensure_ascii=False).encode("utf-8")


@PROPERTY
@given(data=st.data())
def test_a_real_request_with_one_field_replaced_parses_or_names_fields(
    definitions: Definitions, data: st.DataObject
) -> None:
    body = load_example("booking_success_cekura.json")
    field = data.draw(st.sampled_from([*body, "feedback", "redact_fields", "metric_ids"]))
    body[field] = data.draw(st.one_of(json_values, deep_values, texts, numbers))
    try:
        read_request(body, definitions.catalogue)
    except RequestValidationError as exc:
        assert_field_keyed(exc)


printable = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40)


@settings(PROPERTY, max_examples=50)
@given(contents=st.lists(printable, min_size=17, max_size=17), metadata=json_values)
def test_any_printable_turns_are_accepted_and_rendered(
    definitions: Definitions, contents: list[str], metadata: Any
) -> None:
    body = load_example("booking_success_cekura.json")
    for turn, content in zip(body["transcript_json"], contents, strict=True):
        turn["content"] = content
    body["metadata"] = {"any": metadata}
    body["redact_fields"] = ["person_name", "phone_number"]
    try:
        prepared = read_request(body, definitions.catalogue)
    except RequestValidationError as exc:
        assert_field_keyed(exc)
        assert list(exc.errors) == ["metadata"]
        return
    for request in dry_run_requests(prepared, definitions.renderer):
        json.dumps(request.messages, ensure_ascii=False).encode("utf-8")
