"""Text in a call shaped to speak to the judge rather than be judged: noted, never removed.

Caller-controlled text reaches the judge only between fence markers it cannot forge (the
marker's tag is a hash of the text it encloses; see ``evaluator/judge/templates.py``), so a
forged marker, a chat role marker or "ignore previous instructions" stays data. Such text is
still worth a reviewer's eye: it is named in the call's ``notes``, with where it was found
and what it looked like, never quoting it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from evaluator.contract import ObserveRequest
from evaluator.transcript import Transcript

__all__ = ["injection_notes"]

_LABELS = "transcript|metadata|dynamic_variables|agent_description|knowledge_base|call_ended_reason"
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "a prompt fence marker",
        re.compile(
            r"</?\s*[A-Za-z_][\w.-]*\s+id\s*=\s*[0-9A-Fa-f]{4,}\s*>"
            rf"|</?\s*(?:{_LABELS})\b[^<>\n]{{0,80}}>",
            re.IGNORECASE,
        ),
    ),
    (
        "a chat role marker",
        re.compile(
            r"<\|[^|<>\n]{1,40}\|>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>"
            r"|^[ \t]*(?:system|assistant|user|developer|human)[ \t]*:",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        "a transcript line",
        re.compile(
            r"\[\d{2}:\d{2}(?::\d{2})?\][ \t]*(?:Main Agent|Testing Agent|Function Call"
            r"(?: Result)?):",
        ),
    ),
    (
        "an instruction to ignore the judge's instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|"
            r"your\s+|these\s+)?(?:previous|prior|above|earlier|preceding|system|original)\s+"
            r"(?:instructions?|prompts?|rules|messages|directions)",
            re.IGNORECASE,
        ),
    ),
)


def injection_notes(request: ObserveRequest, transcript: Transcript) -> tuple[str, ...]:
    """One note per field where text shaped like a prompt injection was found."""
    found: dict[str, tuple[list[str], set[str]]] = {}
    for field, where, text in _texts(request, transcript):
        kinds = [name for name, pattern in SHAPES if pattern.search(text)]
        if kinds:
            places, seen = found.setdefault(field, ([], set()))
            if where and where not in places:
                places.append(where)
            seen.update(kinds)
    notes = []
    for field, (places, seen) in found.items():
        at = f" ({', '.join(places[:10])}{', ...' if len(places) > 10 else ''})" if places else ""
        shapes = ", ".join(name for name, _ in SHAPES if name in seen)
        notes.append(
            f"possible prompt injection in {field}{at}: text shaped like {shapes}; "
            "the judge was given it only as fenced data"
        )
    return tuple(notes)


def _texts(request: ObserveRequest, transcript: Transcript) -> Iterator[tuple[str, str, str]]:
    """``(field, where in it, text)`` for every text that reaches the judge's prompt."""
    for index, turn in enumerate(transcript.turns):
        data = turn.data
        parts = (turn.content, *((data.arguments, data.result) if data is not None else ()))
        yield "transcript_json", f"turn {index}", "\n".join(p for p in parts if p)
    if transcript.context:
        yield "transcript_json", "system context", transcript.context
    if request.call_ended_reason:
        yield "call_ended_reason", "", request.call_ended_reason
    for field in ("metadata", "dynamic_variables"):
        for text in _strings(getattr(request, field)):
            yield field, "", text


def _strings(value: Any) -> Iterator[str]:
    """Every key and string inside a JSON value, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
