"""Every stored provider payload becomes its expected canonical transcript, declared or auto.

The files in ``expected/`` were saved from the parsers' own output: they catch a change, not
a parser that was wrong from the start. What each provider's format means is checked by the
expectations written by hand, from the provider's documentation, in ``test_<provider>_by_hand.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluator.ingest.transcripts import detect_format, parse_transcript
from tests.ingest.transcripts.transcript_payloads import EXPECTED, PAYLOADS, read_payload

CASES = sorted(p.name for p in PAYLOADS.glob("*.json"))


def _expected(name: str) -> dict[str, object]:
    return json.loads((EXPECTED / name).read_text(encoding="utf-8"))


def test_every_payload_has_an_expected_transcript() -> None:
    assert CASES
    assert sorted(p.name for p in EXPECTED.glob("*.json")) == CASES


@pytest.mark.parametrize("name", CASES)
def test_payload_parses_to_expected_transcript(name: str) -> None:
    expected = _expected(name)
    transcript = parse_transcript(str(expected["transcript_type"]), read_payload(name))
    assert transcript.to_object() == expected["transcript_object"]
    assert transcript.context == expected["context"]
    assert list(transcript.notes) == expected["notes"]
    assert transcript.provider == expected["transcript_type"]


@pytest.mark.parametrize("name", CASES)
def test_auto_detects_exactly_the_payloads_provider(name: str) -> None:
    declared = str(_expected(name)["transcript_type"])
    assert detect_format(read_payload(name)) == declared
    transcript = parse_transcript("auto", read_payload(name))
    assert transcript.notes[0] == f"transcript_type auto: detected {declared}"
    assert transcript.to_object() == _expected(name)["transcript_object"]


def test_existing_example_calls_are_detected_as_their_declared_type() -> None:
    examples = Path(__file__).parents[3] / "examples"
    requests = sorted(examples.glob("*/*.json"))
    assert requests
    for path in requests:
        body = json.loads(path.read_text(encoding="utf-8"))
        detected = detect_format(body["transcript_json"])
        assert body["transcript_type"] in (detected, "auto"), path.name


def test_text_rendering_of_a_retell_call() -> None:
    text = parse_transcript("retell", read_payload("retell_get_call.json")).to_text()
    lines = text.splitlines()
    assert lines[0] == "[00:00] Main Agent: Hi, thanks for calling Café Lumière, this is Ava."
    assert "[00:10] Function Call: check_availability" in lines[3]
    assert "[00:14] Testing Agent: [DTMF 1]" in lines
    assert lines[-1] == "[00:19] Transfer Target: Host stand, Mireille speaking. 你好!"
