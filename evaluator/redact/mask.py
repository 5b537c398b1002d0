"""Redaction: PII removed from a call before it is stored or shown to the judge.

request → transcripts/<provider> → Transcript → **redact** → computed metrics → prompts → judge

``redact_transcript`` rewrites every turn's content and every tool call's arguments and
result; ``redact_json`` rewrites the stored request body (``transcript_json``). Each span
becomes a tag naming its category (``<PERSON>``, ``<PHONE_NUMBER>``, ``<CREDIT_CARD>``), so a
sentence still reads for the judge. JSON is redacted value by value: a value under a key that
names PII (``email``, ``date_of_birth``, ``card_number``) is replaced whole, other strings are
scanned like speech. The report counts what was replaced and never holds the PII itself;
its ``notes()`` say how each requested category was found, because several are found only
when the caller's own words introduce them (see ``pii_detect.METHODS``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evaluator.contract import PII_CATEGORIES, ObserveRequest
from evaluator.errors import RequestValidationError
from evaluator.redact.detect import (
    CATEGORY_ORDER,
    METHODS,
    TAGS,
    Detector,
    KnownTerms,
    Span,
    merge_spans,
)
from evaluator.transcript import Transcript, Turn

__all__ = [
    "RedactionReport",
    "redact_call",
    "redact_json",
    "redact_request",
    "redact_text",
    "redact_transcript",
]

# JSON keys (lower-case, letters and digits only) whose whole value is PII of a category.
_KEYS: dict[str, frozenset[str]] = {
    "person_name": frozenset({"firstname", "lastname", "fullname", "middlename", "customername",
                              "callername", "patientname", "contactname", "name"}),
    "phone_number": frozenset({"phone", "phonenumber", "mobile", "cell", "telephone",
                               "customernumber", "callernumber", "callbacknumber"}),
    "email_address": frozenset({"email", "emailaddress"}),
    "dob": frozenset({"dob", "dateofbirth", "birthdate", "birthday"}),
    "location": frozenset({"address", "streetaddress", "street", "addressline1",
                           "addressline2", "city", "zip", "zipcode", "postalcode"}),
    "ssn": frozenset({"ssn", "socialsecuritynumber", "socialsecurity"}),
    "credit_card": frozenset({"cardnumber", "creditcard", "creditcardnumber", "ccnumber",
                              "cvv", "cvc", "cardexpiry", "expirationdate"}),
    "password": frozenset({"password", "passcode", "pin"}),
    "username": frozenset({"username", "login"}),
    "account_number": frozenset({"accountnumber", "accountno"}),
    "bank_account": frozenset({"routingnumber", "iban", "bankaccount", "bankaccountnumber"}),
    "passport_number": frozenset({"passport", "passportnumber"}),
    "driver_license": frozenset({"driverslicense", "driverlicense", "licensenumber"}),
    "healthcare_number": frozenset({"memberid", "medicarenumber", "medicaidnumber",
                                    "insuranceid", "policynumber", "mrn"}),
    "ip_address": frozenset({"ip", "ipaddress"}),
    "age": frozenset({"age"}),
    "gender_sexuality": frozenset({"gender", "sex"}),
    "occupation": frozenset({"occupation", "jobtitle"}),
}  # fmt: skip
# "name" also names tools and functions; only a value shaped like a person's name counts.
_PERSON_VALUE = re.compile(r"[A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){0,3}")
# A call's own timestamps (createdAt, startTime) are not the caller's data, and the stored
# body must still parse: they are kept.
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_STRUCTURAL_KEYS = frozenset({"role", "type"})
# Found once, redacted wherever they recur in the call.
_DOB_QUESTION = re.compile(r"date\s+of\s+birth|birth\s*date|birthday|\bdob\b|born", re.I)
_TAG = re.compile(r"<[A-Z_]+>")
_LEARNABLE = frozenset({"person_name", "medical_professional", "location"})
# JSON held in a string (a tool's arguments) is walked value by value up to this depth.
_MAX_INNER_DEPTH = 64
_TITLES = frozenset({"Doctor", "Nurse", "Mister", "Miss", "Street", "Avenue", "Road", "Apt"})


@dataclass(frozen=True)
class RedactionReport:
    """What redaction replaced: a count per requested category, never the text itself."""

    categories: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def notes(self) -> tuple[str, ...]:
        """Lines for the evaluation's ``notes``: what was redacted, and how each requested
        category is found (so a category that relies on phrases is never mistaken for a
        guarantee)."""
        if not self.categories:
            return ()
        found = ", ".join(f"{n} {c}" for c, n in self.counts.items() if n) or "nothing found"
        lines = [f"PII redacted before storage and judging ({found}); requested: "
                 f"{', '.join(self.categories)}"]  # fmt: skip
        by_method = {m: [c for c in self.categories if METHODS[c] == m] for m in
                     ("validated", "pattern", "phrase")}  # fmt: skip
        wording = {
            "validated": "checked patterns (Presidio recognizers: Luhn, SSN rules, "
            "libphonenumber, IBAN/ABA checksums) plus context phrases",
            "pattern": "format patterns",
            "phrase": "context phrases only (no NER model runs: e.g. a name said without "
            "'my name is' is not found)",
        }
        lines.extend(f"redaction method for {', '.join(cats)}: {wording[m]}"
                     for m, cats in by_method.items() if cats)  # fmt: skip
        return tuple(lines)


def _check(categories: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(categories))
    unknown = [c for c in wanted if c not in PII_CATEGORIES]
    if unknown:
        raise RequestValidationError(
            {"redact_fields": [f"unknown PII category {c!r}" for c in unknown]}
        )
    return tuple(c for c in CATEGORY_ORDER if c in wanted)


def redact_text(text: str, categories: Iterable[str]) -> tuple[str, Counter[str]]:
    """``text`` with every span of the categories replaced by its tag, and the counts."""
    redactor = _Redactor(Detector(_check(categories)))
    return redactor.text(text), redactor.counts


def redact_json(value: Any, categories: Iterable[str]) -> tuple[Any, Counter[str]]:
    """A JSON value with PII replaced wherever it sits: strings scanned, values under keys
    that name PII replaced whole, JSON held inside strings (tool arguments) redacted inside."""
    redactor = _Redactor(Detector(_check(categories)))
    if not redactor.wanted:
        return value, redactor.counts
    return redactor.json(value, None), redactor.counts


@dataclass
class _Redactor:
    """One call's redaction: ``known`` terms (names found anywhere in the call) are redacted
    everywhere; what is found is collected into ``learned``."""

    detector: Detector
    known: KnownTerms | None = None
    learned: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    dob_asked: bool = False
    dates: Detector = field(default_factory=lambda: Detector(("date",)))

    @property
    def wanted(self) -> tuple[str, ...]:
        return self.detector.wanted

    def text(self, text: str) -> str:
        spans = self.detector.spans(text, self.known)
        if self.dob_asked and "dob" in self.wanted:
            # The previous turn asked for a date of birth: a date in this one answers it.
            answer = self.dates.spans(text)
            spans = merge_spans([*spans, *(Span(a.start, a.end, "dob") for a in answer)])
        out: list[str] = []
        cursor = 0
        for span in spans:
            self._learn(text[span.start : span.end], span.category)
            out.append(text[cursor : span.start])
            out.append(f"<{TAGS[span.category]}>")
            self.counts[span.category] += 1
            cursor = span.end
        out.append(text[cursor:])
        return "".join(out)

    def string(self, value: str) -> str:
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                inner = json.loads(stripped)
            except (ValueError, RecursionError):
                pass
            else:
                # JSON nested deeper than any tool's arguments is read as text, not walked.
                if not _deeper_than(inner, _MAX_INNER_DEPTH):
                    return json.dumps(self.json(inner, None), ensure_ascii=False)
        return self.text(value)

    def json(self, value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: self.json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, key) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        keyed = _key_category(key, value, self.wanted)
        if keyed is not None:
            self._learn(str(value), keyed)
            self.counts[keyed] += 1
            return f"<{TAGS[keyed]}>"
        if isinstance(value, int) and abs(value) >= 1_000_000:
            # A long number (a phone number or card sent as a JSON number) is scanned as text.
            text = self.text(str(value))
            return value if text == str(value) else text
        if not isinstance(value, str) or _keep_as_is(key, value):
            return value
        return self.string(value)

    def _learn(self, found: str, category: str) -> None:
        if category not in _LEARNABLE or _TAG.fullmatch(found):
            return
        self.learned.setdefault(found.strip(), category)
        # "Maria Lopez" once introduced is "Maria" and "Lopez" later in the call.
        for token in re.findall(r"[A-Z][a-z'’-]{2,}", found):
            if token not in _TITLES:
                self.learned.setdefault(token, category)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _key_category(key: str | None, value: Any, wanted: tuple[str, ...]) -> str | None:
    if key is None or value in ("", None) or (isinstance(value, str) and _TAG.fullmatch(value)):
        return None  # empty, or redacted already
    norm = re.sub(r"[^a-z0-9]", "", key.lower())
    for category in wanted:
        if norm in _KEYS.get(category, ()):
            if norm == "name" and not (isinstance(value, str) and _PERSON_VALUE.fullmatch(value)):
                return None
            return category
    return None


def _keep_as_is(key: str | None, value: str) -> bool:
    if key in _STRUCTURAL_KEYS:
        return True
    norm = (key or "").lower().replace("_", "")
    timing_key = norm.endswith(("at", "time", "timestamp"))
    return timing_key and _TIMESTAMP.fullmatch(value.strip()) is not None


def redact_call(
    request: ObserveRequest, transcript: Transcript
) -> tuple[ObserveRequest, Transcript, RedactionReport]:
    """``redact_request`` and ``redact_transcript`` for one call, as its ``redact_fields``
    asks, scanning each distinct text once (the stored request repeats the turns). The
    names the transcript introduces are redacted in the stored request too."""
    wanted = _check(request.redact_fields)
    if not wanted:
        return request, transcript, RedactionReport(categories=())
    detector = Detector(wanted)
    known = _learn(transcript, detector)
    redacted, report = _redact_known(transcript, detector, known)
    return _redact_fields(request, _Redactor(detector, known=known)), redacted, report


def redact_transcript(
    transcript: Transcript, categories: Iterable[str]
) -> tuple[Transcript, RedactionReport]:
    """The transcript with PII replaced in every turn's content, tool arguments and results,
    and the system context; the returned transcript's ``notes`` gain the report's notes.

    Two passes: the first finds what the call itself introduces (a name said after "my name
    is", a name in a tool's arguments), the second redacts it wherever it recurs. Each text
    is scanned once; the second pass adds only the names learned in the first."""
    wanted = _check(categories)
    if not wanted:
        return transcript, RedactionReport(categories=())
    detector = Detector(wanted)
    return _redact_known(transcript, detector, _learn(transcript, detector))


def _learn(transcript: Transcript, detector: Detector) -> KnownTerms:
    first = _Redactor(detector)
    _redact_all(transcript, first)
    return KnownTerms(first.learned.items())


def _redact_known(
    transcript: Transcript, detector: Detector, known: KnownTerms
) -> tuple[Transcript, RedactionReport]:
    redactor = _Redactor(detector, known=known)
    turns, context = _redact_all(transcript, redactor)
    counts = redactor.counts
    wanted = detector.wanted
    report = RedactionReport(wanted, {c: counts[c] for c in wanted if counts[c]})
    notes = (*transcript.notes, *report.notes())
    update = {"turns": turns, "context": context, "notes": notes}
    return transcript.model_copy(update=update), report


def _redact_all(transcript: Transcript, redactor: _Redactor) -> tuple[tuple[Turn, ...], str | None]:
    turns = []
    for turn in transcript.turns:
        turns.append(_redact_turn(turn, redactor))
        if turn.is_speech:
            redactor.dob_asked = _DOB_QUESTION.search(turn.content) is not None
    redactor.dob_asked = False
    context = None if transcript.context is None else redactor.string(transcript.context)
    return tuple(turns), context


def _redact_turn(turn: Turn, redactor: _Redactor) -> Turn:
    content = redactor.string(turn.content) if turn.content else turn.content
    data = turn.data
    if data is not None:
        data = data.model_copy(
            update={
                "arguments": None if data.arguments is None else redactor.string(data.arguments),
                "result": None if data.result is None else redactor.string(data.result),
            }
        )
    return turn.model_copy(update={"content": content, "data": data})


def redact_request(request: ObserveRequest) -> ObserveRequest:
    """The request with ``transcript_json``, ``metadata`` and ``dynamic_variables`` redacted
    as its ``redact_fields`` asks: metadata and variables reach the judge's prompt, and the
    request is what gets stored (its transcript_json still parses, so a stored call can be
    evaluated again)."""
    wanted = _check(request.redact_fields)
    if not wanted:
        return request
    return _redact_fields(request, _Redactor(Detector(wanted)))


def _redact_fields(request: ObserveRequest, redactor: _Redactor) -> ObserveRequest:
    update = {
        name: redactor.json(getattr(request, name), None)
        for name in ("transcript_json", "metadata", "dynamic_variables")
    }
    return request.model_copy(update=update)
