"""Pure tier: a whole transcript redacted (content, tool arguments and results, context)."""

from __future__ import annotations

import json

from evaluator.redact.mask import redact_transcript
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, TOOL_RESULT, ToolData, Transcript, Turn

CALL = Transcript(
    context="Customer on file: Maria Lopez, maria.lopez@example.com",
    turns=(
        Turn(role=AGENT, content="May I have your full name and date of birth?"),
        Turn(role=CALLER, content="Maria Lopez, fourteenth of March 1988."),
        Turn(role=AGENT, content="Thanks. And a phone number?"),
        Turn(role=CALLER, content="It's 646-555-0198."),
        Turn(
            role=TOOL_CALL,
            data=ToolData(
                id="t1",
                name="lookup",
                arguments=json.dumps({"full_name": "Maria Lopez", "phone": "646-555-0198"}),
            ),
        ),
        Turn(
            role=TOOL_RESULT,
            data=ToolData(id="t1", name="lookup", result="Found Maria Lopez, card ending 4242"),
        ),
        Turn(role=AGENT, content="Thank you Maria, you're all set."),
    ),
)
SECRETS = ("Maria", "Lopez", "646-555-0198", "fourteenth of March 1988", "maria.lopez@example.com")
CATEGORIES = ["person_name", "dob", "phone_number", "email_address"]


def everything(transcript: Transcript) -> str:
    return json.dumps(transcript.to_object()) + transcript.to_text() + (transcript.context or "")


def test_no_secret_survives_anywhere_in_the_transcript() -> None:
    redacted, report = redact_transcript(CALL, CATEGORIES)
    text = everything(redacted)
    for secret in SECRETS:
        assert secret not in text
    assert report.counts["person_name"] >= 4 and report.counts["dob"] == 1


def test_tags_sit_where_the_pii_was_and_tool_payloads_stay_json() -> None:
    redacted, _ = redact_transcript(CALL, CATEGORIES)
    assert redacted.turns[1].content == "<PERSON>, <DOB>."
    assert redacted.turns[3].content == "It's <PHONE_NUMBER>."
    args = redacted.turns[4].data.arguments if redacted.turns[4].data else None
    assert json.loads(args or "") == {"full_name": "<PERSON>", "phone": "<PHONE_NUMBER>"}
    result = redacted.turns[5].data.result if redacted.turns[5].data else None
    assert result == "Found <PERSON>, card ending 4242"  # credit_card was not requested
    assert redacted.turns[6].content == "Thank you <PERSON>, you're all set."


def test_notes_say_what_was_redacted_and_by_which_method_without_the_pii() -> None:
    redacted, report = redact_transcript(CALL, CATEGORIES)
    notes = " ".join(redacted.notes)
    assert notes == " ".join(report.notes())
    assert "person_name" in notes and "dob" in notes and "phone_number" in notes
    assert "context phrases only" in notes  # names: no NER model, said plainly
    assert "libphonenumber" in notes
    for secret in SECRETS:
        assert secret not in notes


def test_empty_request_redacts_nothing() -> None:
    same, report = redact_transcript(CALL, [])
    assert same == CALL
    assert report.notes() == () and report.total == 0


def test_redacting_twice_changes_nothing_more() -> None:
    once, _ = redact_transcript(CALL, CATEGORIES)
    twice, report = redact_transcript(once, CATEGORIES)
    assert twice.turns == once.turns and report.total == 0
