"""Recorded answers: the judge's HTTP exchanges as VCR cassettes, one per golden call.

``record`` sends every request to the real server and saves the exchanges (Authorization
and API-key headers stripped); ``replay`` answers only from the cassettes and never touches
the network. Requests match on method, URI and body, so a changed prompt is a miss, not a
silent replay; a miss is diagnosed by comparing the unmatched request with the recorded
ones, section by section, to name the metric whose text changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import vcr
from vcr.request import Request as VcrRequest

__all__ = [
    "CassetteMode",
    "CassetteSession",
    "Diagnosis",
    "Exchange",
    "cassette_session",
    "diagnose",
]

CassetteMode = Literal["record", "replay"]
_SECRET_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization", "cookie"]
_SECTION = re.compile(r"^### (?P<key>[^\s:]+)(?::|$)", re.MULTILINE)


@dataclass(frozen=True)
class Exchange:
    """One request as the matcher sees it: method, URI and the parsed JSON body."""

    method: str
    uri: str
    body: Any

    @property
    def key(self) -> str:
        return json.dumps([self.method, self.uri, self.body], sort_keys=True, default=str)

    @classmethod
    def of(cls, request: VcrRequest) -> Exchange:
        raw = request.body or b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        try:
            body: Any = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = text
        return cls(method=str(request.method), uri=str(request.uri), body=body)


@dataclass
class CassetteSession:
    """What one call's cassette held and what the run asked of it."""

    path: Path
    mode: CassetteMode
    recorded: list[Exchange] = field(default_factory=list)
    seen: dict[str, Exchange] = field(default_factory=dict)
    armed: bool = False

    def _hook(self, request: VcrRequest) -> VcrRequest:
        if self.armed:
            exchange = Exchange.of(request)
            self.seen.setdefault(exchange.key, exchange)
        return request

    def misses(self) -> list[Exchange]:
        """Requests this run made that the cassette has no recording of (replay only)."""
        if self.mode != "replay":
            return []
        recorded = {e.key for e in self.recorded}
        return [e for key, e in self.seen.items() if key not in recorded]


@contextlib.contextmanager
def cassette_session(path: Path, mode: CassetteMode) -> Iterator[CassetteSession]:
    """Patch HTTP for the duration of one call: record to, or replay only from, ``path``."""
    # litellm's default aiohttp transport is invisible to VCR; its httpx transport is not.
    os.environ["DISABLE_AIOHTTP_TRANSPORT"] = "True"
    session = CassetteSession(path=path, mode=mode)
    if mode == "record":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    recorder = vcr.VCR(
        serializer="yaml",
        record_mode="all" if mode == "record" else "none",
        match_on=("method", "uri", "body"),
        filter_headers=_SECRET_HEADERS,
        before_record_request=session._hook,
        decode_compressed_response=True,
    )
    with recorder.use_cassette(str(path), allow_playback_repeats=False) as cassette:
        session.recorded = [Exchange.of(r) for r in cassette.requests]
        session.armed = True
        yield session


@dataclass(frozen=True)
class Diagnosis:
    """Why a request has no recording: the metrics whose text changed, and every difference."""

    metrics: tuple[str, ...]
    reasons: tuple[str, ...]


def diagnose(missed: Exchange, recorded: list[Exchange]) -> Diagnosis:
    """Compare an unmatched request with the closest recorded one and say what differs."""
    if not recorded:
        return Diagnosis((), ("the cassette holds no recordings",))
    closest = min(recorded, key=lambda r: _distance(missed, r))
    reasons: list[str] = []
    metrics: list[str] = []
    if missed.uri != closest.uri or missed.method != closest.method:
        reasons.append(f"the judge's address changed: recorded {closest.uri}, now {missed.uri}")
    new, old = _as_dict(missed.body), _as_dict(closest.body)
    for key in sorted(set(new) | set(old) - {"messages", "response_format"}):
        if key not in ("messages", "response_format") and new.get(key) != old.get(key):
            reasons.append(
                f"setting {key!r} changed: recorded {old.get(key)!r}, now {new.get(key)!r}"
            )
    _compare_messages(new.get("messages"), old.get("messages"), metrics, reasons)
    _compare_schema(new.get("response_format"), old.get("response_format"), metrics, reasons)
    if not reasons:
        reasons.append(
            "the request equals a recorded one that was already played: the run made it more "
            "often than the recording did (a larger --repeat, or a changed answer)"
        )
    return Diagnosis(tuple(dict.fromkeys(metrics)), tuple(dict.fromkeys(reasons)))


def _as_dict(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {"body": body}


def _distance(a: Exchange, b: Exchange) -> int:
    """How different two requests are: differing top-level fields plus differing messages."""
    da, db = _as_dict(a.body), _as_dict(b.body)
    fields = sum(1 for k in set(da) | set(db) if da.get(k) != db.get(k))
    ma, mb = da.get("messages") or [], db.get("messages") or []
    messages = abs(len(ma) - len(mb)) + sum(1 for x, y in zip(ma, mb, strict=False) if x != y)
    return fields + messages + (0 if a.uri == b.uri else 1)


def _sections(text: str) -> dict[str, str]:
    """A system prompt cut at its ``### <key>`` headings; the text before them is ``""``."""
    out: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    out[""] = text[: matches[0].start()] if matches else text
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out[match.group("key")] = text[match.start() : end]
    return out


def _content(messages: Any, index: int) -> str | None:
    if not isinstance(messages, list) or index >= len(messages):
        return None
    message = messages[index]
    return str(message.get("content", "")) if isinstance(message, dict) else str(message)


def _split_schema(system: str) -> tuple[str, Any]:
    """The prompt and the JSON schema instructor appends to it in JSON mode (if any)."""
    marker = system.find("json_schema:")
    if marker == -1:
        return system, None
    start = system.rfind("\n\n", 0, marker)
    tail = system[marker:]
    try:
        schema = json.loads(tail[tail.find("{") : tail.rfind("}") + 1])
    except ValueError:
        schema = tail
    return system[: start if start != -1 else marker], {"schema": schema}


def _compare_messages(new: Any, old: Any, metrics: list[str], reasons: list[str]) -> None:
    new_system, new_schema = _split_schema(_content(new, 0) or "")
    old_system, old_schema = _split_schema(_content(old, 0) or "")
    if new_system != old_system:
        a, b = _sections(new_system), _sections(old_system)
        if list(a) != list(b) and set(a) == set(b):
            reasons.append("the same questions are asked in a different order")
        for key in dict.fromkeys([*b, *a]):
            if a.get(key) == b.get(key):
                continue
            if key == "":
                reasons.append("the judge's instructions changed (prompts/judge_system.j2)")
            elif key in ("topic", "dropoff_point", "evaluation"):
                reasons.append(f"the {key} question changed")
            elif key not in b:
                metrics.append(key)
                reasons.append(f"metric {key!r} is asked now but was not when recorded")
            elif key not in a:
                metrics.append(key)
                reasons.append(f"metric {key!r} was asked when recorded but is not now")
            else:
                metrics.append(key)
                reasons.append(f"metric {key!r}: its text in the judge's prompt changed")
    if _content(new, 1) != _content(old, 1):
        reasons.append(
            "the call's message changed (the transcript, its facts or prompts/judge_call.j2)"
        )
    new_len = len(new) if isinstance(new, list) else 0
    old_len = len(old) if isinstance(old, list) else 0
    if new_len != old_len or any(_content(new, i) != _content(old, i) for i in range(2, new_len)):
        reasons.append("the re-ask conversation differs (an earlier answer of the judge changed)")
    _compare_schema(new_schema, old_schema, metrics, reasons)


def _compare_schema(new: Any, old: Any, metrics: list[str], reasons: list[str]) -> None:
    if new == old:
        return
    new_props = _properties(new)
    old_props = _properties(old)
    keys = dict.fromkeys([*old_props, *new_props])
    changed = [k for k in keys if new_props.get(k) != old_props.get(k) and k not in metrics]
    for key in changed:
        if key in ("topic", "dropoff_point", "evaluation"):
            reasons.append(f"the answer schema of {key} changed")
        else:
            metrics.append(key)
            reasons.append(f"metric {key!r}: its answer schema changed")
    if not changed and not metrics:
        reasons.append("the response_format changed (structured mode or schema settings)")


def _properties(response_format: Any) -> dict[str, Any]:
    if not isinstance(response_format, dict):
        return {}
    schema = (
        response_format.get("schema") or response_format.get("json_schema", {}).get("schema") or {}
    )
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    out: dict[str, Any] = {}
    for key, value in props.items():
        ref = value.get("$ref", "") if isinstance(value, dict) else ""
        out[key] = defs.get(ref.rsplit("/", 1)[-1], value) if ref else value
    return out
