"""Intake: the accepted transcript types come from the provider registry, so a new provider
is one module, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import evaluator.ingest.transcripts as transcripts
from evaluator.bootstrap import Definitions
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import read_request

BLAND = '''
"""A test-only provider: a list of {"speaker": "agent"|"user", "text": ...}."""
from evaluator.ingest.transcripts._common import TranscriptFormat
from evaluator.transcript import AGENT, CALLER, Transcript, Turn


def parse(payload, options):
    turns = [Turn(role=AGENT if m["speaker"] == "agent" else CALLER, content=m["text"])
             for m in payload]
    return Transcript(turns=tuple(turns), provider="bland")


FORMAT = TranscriptFormat(name="bland", parse=parse)
'''


@pytest.fixture
def bland_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A provider module dropped beside the others (here: a second folder of the package)."""
    (tmp_path / "bland.py").write_text(BLAND, encoding="utf-8")
    monkeypatch.setattr(transcripts, "__path__", [*transcripts.__path__, str(tmp_path)])
    transcripts._registry.cache_clear()
    yield
    transcripts._registry.cache_clear()


def _bland_body(booking_request: dict[str, Any]) -> dict[str, Any]:
    lines = [{"speaker": "agent", "text": "Hello"}, {"speaker": "user", "text": "Hi"}]
    return {**booking_request, "transcript_type": "bland", "transcript_json": lines}


def test_an_unknown_transcript_type_is_refused_naming_the_field_and_the_known_ones(
    definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        read_request(_bland_body(booking_request), definitions.catalogue)
    message = caught.value.errors["transcript_type"][0]
    assert "got 'bland'" in message
    assert "retell" in message and "none-mono" in message


def test_adding_a_provider_module_is_enough_to_accept_its_type(
    bland_module: None, definitions: Definitions, booking_request: dict[str, Any]
) -> None:
    call = read_request(_bland_body(booking_request), definitions.catalogue)
    assert call.transcript.provider == "bland"
    assert [t.content for t in call.transcript.turns] == ["Hello", "Hi"]
