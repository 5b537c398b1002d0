"""Property: whatever JSON a parser is given, it returns a transcript or raises
TranscriptFormatError, never anything else (no KeyError, TypeError, OverflowError...)."""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts import (
    ParseOptions,
    detect_format,
    known_formats,
    parse_transcript,
)
from evaluator.transcript import Transcript
from tests.ingest.transcripts.transcript_payloads import PAYLOADS, read_payload

FORMATS = [*(n for n in known_formats() if n != "vocera"), "auto"]  # vocera is cekura
Path = tuple[str | int, ...]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["agent", "user", "assistant", "bot", "message", "2025-03-14T09:26:53Z"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.one_of(
                st.text(max_size=8),
                st.sampled_from(
                    [
                        "role",
                        "content",
                        "words",
                        "start",
                        "end",
                        "items",
                        "type",
                        "transcript",
                        "data",
                        "timestamp",
                        "speaker",
                        "results",
                    ]
                ),
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)
options = st.builds(ParseOptions, main_agent_channel_index=st.sampled_from([None, 0, 1]))
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each provider has two or three stored payloads: 100 mutations each is 200-300 per parser.
MUTATIONS = settings(PROPERTY, max_examples=100)


def _parses_or_format_error(name: str, payload: Any, opts: ParseOptions) -> None:
    try:
        result = parse_transcript(name, payload, opts)
    except TranscriptFormatError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Transcript)
        assert result.turns


@pytest.mark.parametrize("name", FORMATS)
@PROPERTY
@given(payload=json_values, opts=options)
def test_any_json_parses_or_is_a_format_error(name: str, payload: Any, opts: ParseOptions) -> None:
    _parses_or_format_error(name, payload, opts)


@cache
def _paths_of(fixture: str) -> list[Path]:
    return _paths(read_payload(fixture))


def _paths(node: Any, prefix: Path = ()) -> list[Path]:
    found: list[Path] = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _mutated(payload: Any, path: Path, value: Any, delete: bool) -> Any:
    if not path:
        return value
    node = payload
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


FIXTURES = sorted(p.name for p in PAYLOADS.glob("*.json"))


@pytest.mark.parametrize("fixture", FIXTURES)
@MUTATIONS
@given(data=st.data(), value=json_values, delete=st.booleans(), opts=options)
def test_real_payload_with_one_node_changed_parses_or_is_a_format_error(
    fixture: str, data: st.DataObject, value: Any, delete: bool, opts: ParseOptions
) -> None:
    path = data.draw(st.sampled_from(_paths_of(fixture)))
    changed = _mutated(read_payload(fixture), path, value, delete)
    _parses_or_format_error(fixture.split("_")[0], changed, opts)
    _parses_or_format_error("auto", changed, opts)


@PROPERTY
@given(payload=json_values)
def test_detection_never_raises_anything_but_a_format_error(payload: Any) -> None:
    with contextlib.suppress(TranscriptFormatError):
        assert detect_format(payload) in known_formats()
