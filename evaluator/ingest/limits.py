"""What a request may hold, checked at intake before anything else reads it.

One walk over every value of a body (iterative: a value nested 100,000 levels deep costs a
loop, not the stack) refuses what would fail later, far from the field that caused it:
nesting deeper than ``max_depth`` (serializers give up at a few hundred levels), a lone
surrogate (``"\\ud800"``: not Unicode, so it cannot be encoded as UTF-8 to store or send),
the NUL character (PostgreSQL cannot store it), non-finite numbers (``NaN``, ``Infinity``,
``1e999``: not JSON) and strings longer than ``max_string_chars``. Every error is keyed by the
top-level field that holds the value, as the contract's 400 body is.

The limits are settings (``EVALUATOR_MAX_*``, read by ``Settings.limits()``), passed in: no
module holds them.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evaluator.contract import to_utc
from evaluator.errors import RequestValidationError
from evaluator.transcript import Transcript

__all__ = [
    "Limits",
    "check_fields",
    "check_transcript",
    "decode_text",
    "loads_json",
    "utc_timestamp",
    "validate_json_value",
]


@dataclass(frozen=True)
class Limits:
    """Bounds on one call; the defaults are the settings' defaults (``Settings.limits()``)."""

    max_depth: int = 32
    max_string_chars: int = 1_000_000
    max_turns: int = 10_000
    max_call_seconds: float = 24 * 3600.0
    max_feedback_chars: int = 10_000
    max_metadata_bytes: int = 64 * 1024
    max_turn_chars: int = 20_000
    max_transcript_chars: int = 400_000
    max_call_tokens: int = 500_000


# One search finds both: NUL, and any code point of the surrogate range (a valid pair
# decodes to one astral character, so a surrogate left in a str is always a lone one).
_BAD_CHAR = re.compile(r"[\x00\ud800-\udfff]")
_MAX_ERRORS = 5
# The largest int a float can hold; beyond it a number is infinite to every reader.
_FLOAT_LIMIT = 2**1024


def validate_json_value(value: Any, limits: Limits | None = None) -> list[str]:
    """What is wrong with one field's JSON value (empty: nothing), each message saying where
    inside it (``at a.b[2]``; the caller keys them by the field). Checks depth, lone
    surrogates, NUL, non-finite numbers and string length, keys included, in one walk
    without recursion; stops after a few problems."""
    limits = limits or Limits()
    problems: list[str] = []
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack and len(problems) < _MAX_ERRORS:
        item, depth, path = stack.pop()
        where = f" at {_short(path)}" if path else ""
        if isinstance(item, dict | list):
            if depth >= limits.max_depth:
                problems.append(f"nested more than {limits.max_depth} levels deep{where}")
                continue
            stack.extend(reversed(list(_children(item, depth, path, problems, limits))))
        elif isinstance(item, str):
            problems.extend(_string_problems(item, limits, where))
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append(f"numbers must be finite; got {item}{where}")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= _FLOAT_LIMIT:
            problems.append(f"number out of range (beyond ±1.8e308){where}")
    return problems[:_MAX_ERRORS]


def _children(
    item: dict[Any, Any] | list[Any], depth: int, path: str, problems: list[str], limits: Limits
) -> Iterator[tuple[Any, int, str]]:
    if isinstance(item, list):
        for index, child in enumerate(item):
            yield child, depth + 1, f"{path}[{index}]"
        return
    for key, child in item.items():
        if not isinstance(key, str):
            yield child, depth + 1, f"{path}.{key}" if path else str(key)
            continue
        bad = _string_problems(key, limits, f" in a key{' at ' + path if path else ''}")
        if bad:
            problems.extend(bad)
            continue
        yield child, depth + 1, f"{path}.{_shown(key)}" if path else _shown(key)


def _string_problems(text: str, limits: Limits, where: str) -> list[str]:
    problems = []
    if len(text) > limits.max_string_chars:
        problems.append(f"text longer than {limits.max_string_chars} characters{where}")
    bad = _BAD_CHAR.search(text)
    if bad is not None:
        if bad.group() == "\x00":
            problems.append(f"text may not contain the NUL character (\\u0000){where}")
        else:
            code = f"\\u{ord(bad.group()):04x}"
            problems.append(f"text holds a lone surrogate ({code}), which is not Unicode{where}")
    return problems


def _short(path: str) -> str:
    return path if len(path) <= 80 else f"{path[:50]}...{path[-27:]}"


def _shown(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."


def check_fields(data: Mapping[str, Any], limits: Limits | None = None) -> None:
    """Every field of a request body (POST) or of an update (PATCH) through
    ``validate_json_value``, and the per-field sizes: ``feedback`` characters, ``metadata``
    and ``dynamic_variables`` serialized bytes. Raises one field-keyed
    ``RequestValidationError`` with every problem."""
    limits = limits or Limits()
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        field = key if isinstance(key, str) and not _BAD_CHAR.search(key) else None
        if field is None:
            errors.setdefault("non_field_errors", []).append(
                "a field name holds the NUL character or a lone surrogate"
            )
            continue
        problems = validate_json_value(value, limits)
        if not problems:
            problems = _size_problems(field, value, limits)
        if problems:
            errors[field] = problems
    if errors:
        raise RequestValidationError(errors)


def _size_problems(field: str, value: Any, limits: Limits) -> list[str]:
    if field == "feedback" and isinstance(value, str) and len(value) > limits.max_feedback_chars:
        return [f"feedback is {len(value)} characters; the limit is {limits.max_feedback_chars}"]
    if field in ("metadata", "dynamic_variables") and value is not None:
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > limits.max_metadata_bytes:
            return [f"{field} is {size} bytes as JSON; the limit is {limits.max_metadata_bytes}"]
    return []


def check_transcript(transcript: Transcript, limits: Limits | None = None) -> list[str]:
    """What makes a parsed transcript too big to evaluate (errors for ``transcript_json``):
    too many turns, a turn too long, times beyond ``max_call_seconds``, or more text than
    ``max_transcript_chars`` for the judge."""
    limits = limits or Limits()
    turns = transcript.turns
    if len(turns) > limits.max_turns:
        return [f"{len(turns)} turns; the limit is {limits.max_turns} turns per call"]
    problems: list[str] = []
    bound = limits.max_call_seconds
    for index, turn in enumerate(turns):
        if len(turn.content) > limits.max_turn_chars:
            problems.append(
                f"turn {index}: {len(turn.content)} characters; the limit is "
                f"{limits.max_turn_chars} per turn"
            )
        for name in ("start_time", "end_time"):
            at = getattr(turn, name)
            if at is not None and not -bound <= at <= bound:
                problems.append(
                    f"turn {index}: {name} {at:g} s is beyond {bound:g} s, the longest call"
                )
        if len(problems) >= _MAX_ERRORS:
            return problems
    if not problems:
        size = sum(len(line) + 1 for line in (t.render() for t in turns))
        if size > limits.max_transcript_chars:
            problems.append(
                f"the transcript is {size} characters; the limit sent to the judge is "
                f"{limits.max_transcript_chars}"
            )
    return problems


def utc_timestamp(value: datetime, field: str = "timestamp") -> datetime:
    """``value`` in UTC (naive values are taken as UTC), or a ``RequestValidationError``
    naming ``field`` when it cannot be: ``0001-01-01T00:00:00+14:00`` is before year 1 in
    UTC. For the observe request and the call-log list filters alike."""
    try:
        return to_utc(value)
    except ValueError as exc:
        raise RequestValidationError({field: [str(exc)]}) from None


def _keep_constant(name: str) -> float:
    # NaN and Infinity become floats here, so the walk names the field that holds them.
    return float(name.lower().replace("infinity", "inf"))


def _read_int(digits: str) -> int:
    # Past Python's limit on digits (4,300 by default) int() raises; such a number is far
    # beyond any float, so it stands in as one the walk refuses, naming its field.
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        return -_FLOAT_LIMIT if digits.startswith("-") else _FLOAT_LIMIT
    return int(digits)


def loads_json(text: str, field: str = "non_field_errors", what: str | None = None) -> Any:
    """JSON text parsed, or a ``RequestValidationError`` keyed by ``field`` saying why not:
    invalid JSON (with line and column) or nesting too deep for the parser. ``NaN``,
    ``Infinity`` and integers too long for Python parse, as numbers the walk refuses naming
    their field. ``what`` names the text in messages (default: the field, or "the body")."""
    what = what or ("the body" if field == "non_field_errors" else field)
    try:
        return json.loads(text, parse_constant=_keep_constant, parse_int=_read_int)
    except json.JSONDecodeError as exc:
        message = f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        deepest, levels = _deepest_key(text)
        if deepest is not None and field == "non_field_errors":
            field, message = deepest, f"nested too deeply to read ({levels} levels)"
        else:
            message = f"{what} is nested too deeply to read ({levels} levels)"
    raise RequestValidationError({field: [message]})


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:]')


def _deepest_key(text: str) -> tuple[str | None, int]:
    """The top-level key whose value nests deepest in JSON text too deep for the parser,
    and how deep: found by scanning strings and brackets, not by parsing."""
    depth = deepest = 0
    last: str | None = None
    key = deepest_key = None
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
            if depth > deepest:
                deepest, deepest_key = depth, key
        elif mark in ("]", "}"):
            depth -= 1
        elif mark == ":" and depth == 1:
            key = last
        else:
            last = mark
    if deepest_key is None:
        return None, deepest
    try:
        name = json.loads(deepest_key)
    except ValueError:
        return None, deepest
    return (name if isinstance(name, str) and not _BAD_CHAR.search(name) else None), deepest


_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def decode_text(raw: bytes, field: str = "non_field_errors", what: str | None = None) -> str:
    """Bytes of JSON as text: UTF-8 (a leading byte-order mark is dropped), or a
    ``RequestValidationError`` keyed by ``field`` saying what the bytes are instead. JSON
    text never holds a NUL byte: one in the first four is UTF-16 or UTF-32 (RFC 8259 8.1)."""
    what = what or ("the body" if field == "non_field_errors" else field)
    if raw.startswith(_UTF16) or b"\x00" in raw[:4]:
        message = f"{what} is UTF-16 (or UTF-32) text; JSON must be sent as UTF-8"
    else:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start : exc.start + 1].hex()
            message = f"{what} is not UTF-8: byte 0x{byte} at offset {exc.start} ({exc.reason})"
    raise RequestValidationError({field: [message]})
