"""Pure tier: on the hand-labelled utterances, no card, SSN, e-mail or phone number leaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluator.redact.mask import redact_text

DATA = Path(__file__).with_name("labelled_pii.jsonl")
MUST_NOT_LEAK = ("credit_card", "ssn", "email_address", "phone_number")


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def test_the_labelled_set_is_well_formed_and_large_enough() -> None:
    data = rows()
    assert len(data) >= 60
    for row in data:
        for span in row["spans"]:
            assert row["text"][span["start"] : span["end"]] == span["text"]
    counts = {c: sum(s["category"] == c for r in data for s in r["spans"]) for c in MUST_NOT_LEAK}
    assert all(n >= 4 for n in counts.values()), counts


@pytest.mark.parametrize("category", MUST_NOT_LEAK)
def test_recall_is_one_for_numbers_that_must_not_leak(category: str) -> None:
    missed = []
    for row in rows():
        redacted, _ = redact_text(row["text"], [category])
        for span in row["spans"]:
            if span["category"] == category and span["text"] in redacted:
                missed.append(span["text"])
    assert missed == []
