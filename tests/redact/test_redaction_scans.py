"""Pure tier: redaction reads each text once per call, and its shortcuts change nothing.

Speed is the benchmark's business (benchmarks/bench_redaction_speed.py); these tests count
work and compare results: the number of scans per text, and that skipping a recognizer for
a text that cannot hold its matches (no digit, no ``@``) finds exactly what running it finds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluator.bootstrap import Definitions
from evaluator.contract import PII_CATEGORIES
from evaluator.ingest.intake import read_request
from evaluator.redact import detect
from evaluator.redact.detect import CATEGORY_ORDER, Detector, KnownTerms, Span, merge_spans
from evaluator.redact.mask import redact_transcript
from evaluator.redact.patterns import PHRASES
from evaluator.transcript import AGENT, CALLER, TOOL_CALL, ToolData, Transcript, Turn

TURNS = [
    "Hi, my name is Maria Lopez and I'm calling about my bill.",
    "Thanks Maria. Can I have your card number?",
    "Sure, it's 4111 1111 1111 1111, and my phone is (415) 555-2671.",
    "Maria Lopez, got it. Your email on file is maria@example.com?",
]


def test_each_text_of_a_call_is_scanned_once(
    monkeypatch: pytest.MonkeyPatch, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    # Intake reads every text three times: to learn the names a call introduces, to redact
    # them, and again in the stored request. One scan per text serves all three.
    scanned: list[str] = []
    real = detect._scan

    def counting(text: str, wanted: Any) -> list[Span]:
        scanned.append(text)
        return real(text, wanted)

    monkeypatch.setattr(detect, "_scan", counting)
    turns = [
        {"role": AGENT if i % 2 else CALLER, "content": text, "start_time": i, "end_time": i + 1}
        for i, text in enumerate(TURNS)
    ]
    body = {**booking_request, "transcript_json": turns, "redact_fields": list(PII_CATEGORIES)}
    prepared = read_request(body, definitions.catalogue)
    assert "Maria" not in json.dumps(prepared.stored_request())
    assert sorted(scanned) == sorted(set(scanned))
    assert set(TURNS) <= set(scanned)


def _unguarded(text: str) -> list[Span]:
    """Every recognizer and phrase run on ``text``, whatever it holds."""
    raw: list[Span] = []
    for category in CATEGORY_ORDER:
        for rec in detect._presidio().get(category, ()):
            raw.extend(detect._run_presidio(rec, text, category))
        raw.extend(detect._run_phrases(text, category, True))
    return raw


# Pieces that trip every kind of recognizer, joined at random: numbers of every length,
# separators, e-mail and URL shapes, the words phrases look for.
_PIECES = [
    " ", ", ", ".", ":", "@", "-", "/", "4111", "1111", "555", "2671", "12", "7", "021000021",
    "219-09-9999", "my card number is", "social", "phone", "call me at", "acme.io", "www",
    "fe80::1", "192.168.1.20", "DE89", "3704", "Sarah", "my name is", "$", "dollars", "age",
    "I'm", "years old", "zip code", "passport", "license", "D123", "at", "pm", "March",
    "١٢٣", "٤٥٦٧",
]  # fmt: skip
PIECES = st.sampled_from(_PIECES)


@given(st.lists(PIECES, max_size=14).map("".join))
def test_skipping_recognizers_that_cannot_match_finds_the_same(text: str) -> None:
    assert merge_spans(list(Detector(PII_CATEGORIES).scan(text))) == merge_spans(_unguarded(text))


def test_phrases_said_to_need_a_digit_have_one_in_every_match() -> None:
    for phrases in PHRASES.values():
        for phrase in phrases:
            if phrase.needs_digit:
                source = phrase.pattern.pattern
                assert r"\d" in source, phrase.name


WORDS = st.sampled_from(["Ann", "Lee", "Bo", "Annette", "Leeds", "and", "Ann Lee", "x"])


@given(
    st.lists(st.sampled_from(["Ann", "Lee", "Annette", "Bo"]), max_size=4),
    st.lists(WORDS, max_size=12).map(" ".join),
)
def test_known_terms_in_one_pattern_find_what_one_search_per_term_finds(
    terms: list[str], text: str
) -> None:
    want: list[Span] = []
    for term in terms:
        found = re.finditer(rf"(?<!\w){re.escape(term)}(?!\w)", text)
        want.extend(Span(*m.span(), "person_name") for m in found)
    got = KnownTerms((t, "person_name") for t in terms).find(text, ["person_name"])
    assert merge_spans(got) == merge_spans(want)


def test_deeply_nested_json_in_a_tool_argument_is_redacted_as_text() -> None:
    nested = "[" * 5_000 + '"call 415-555-2671"' + "]" * 5_000
    turn = Turn(role=TOOL_CALL, data=ToolData(id="c1", name="lookup", arguments=nested))
    redacted, _ = redact_transcript(Transcript(turns=(turn,)), ["phone_number"])
    arguments = redacted.turns[0].data.arguments if redacted.turns[0].data else ""
    assert arguments is not None and "415-555-2671" not in arguments
