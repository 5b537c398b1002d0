"""Engine tier: with redact_fields, the judge never sees the PII, nor does the result or the
stored request; without it, nothing changes."""

from __future__ import annotations

import json
from typing import Any

from evaluator.bootstrap import Definitions
from evaluator.contract import parse_request
from evaluator.engine import evaluate_call
from evaluator.ingest.intake import read_request
from evaluator.judge.scripted import ScriptedJudge

SECRETS = ("Maria Lopez", "4111 1111 1111 1111", "maria@example.com", "(415) 555-2671")


def pii_request(booking_request: dict[str, Any], redact: list[str]) -> dict[str, Any]:
    turns = [
        {"role": "Main Agent", "content": "Hello, who am I speaking with?", "start_time": 0.5, "end_time": 2.0},
        {"role": "Testing Agent", "content": "My name is Maria Lopez, email maria@example.com.", "start_time": 2.5, "end_time": 6.0},
        {"role": "Testing Agent", "content": "Card 4111 1111 1111 1111, phone (415) 555-2671.", "start_time": 6.5, "end_time": 9.0},
        {"role": "Function Call", "content": "", "start_time": 9.5, "end_time": 9.5, "data": {"id": "c1", "name": "charge", "arguments": "{\"card\": \"4111 1111 1111 1111\"}"}},
        {"role": "Main Agent", "content": "Thanks Maria, all done.", "start_time": 10.0, "end_time": 12.0},
    ]  # fmt: skip
    return {**booking_request, "transcript_json": turns, "redact_fields": redact,
            "dynamic_variables": {**booking_request.get("dynamic_variables", {}),
                                  "customer_name": "Maria Lopez"}}  # fmt: skip


async def test_judge_and_result_never_see_the_pii(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    categories = ["person_name", "credit_card", "email_address", "phone_number"]
    request = parse_request(pii_request(booking_request, categories))
    judge = ScriptedJudge()
    result = await evaluate_call(
        request, catalogue=definitions.catalogue, judge=judge, renderer=definitions.renderer
    )
    assert judge.requests
    seen = json.dumps([r.messages for r in judge.requests])
    shown = result.transcript + json.dumps(result.transcript_object)
    for secret in SECRETS:
        assert secret not in seen and secret not in shown
    assert "<CREDIT_CARD>" in seen and "<PERSON>" in seen
    assert any("PII redacted" in note for note in result.notes)


def test_stored_request_is_redacted_and_parses_again(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    prepared = read_request(
        pii_request(booking_request, ["person_name", "credit_card"]), definitions.catalogue
    )
    stored = prepared.stored_request()
    text = json.dumps(stored)
    assert "Maria Lopez" not in text and "4111 1111 1111 1111" not in text
    again = read_request(stored, definitions.catalogue)
    assert again.transcript.turns == prepared.transcript.turns


async def test_without_redact_fields_nothing_is_redacted(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    request = parse_request(pii_request(booking_request, []))
    judge = ScriptedJudge()
    result = await evaluate_call(
        request, catalogue=definitions.catalogue, judge=judge, renderer=definitions.renderer
    )
    seen = json.dumps([r.messages for r in judge.requests])
    assert "Maria Lopez" in seen and "4111 1111 1111 1111" in result.transcript
    assert not any("PII redacted" in note for note in result.notes)
