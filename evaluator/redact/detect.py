"""Finding PII spans in text: Presidio's pattern recognizers plus our phrase recognizers.

Presidio (presidio-analyzer) brings the validated detectors: credit cards with the Luhn check,
US SSNs with the area/group rules, phone numbers through Google's libphonenumber, IBANs with
their checksum, IP addresses, URLs, e-mail addresses, dates, and ID formats (passport,
licence, Medicare MBI, NHS numbers). They are called directly, without Presidio's engine, so
no spaCy model is loaded (none is installed, and none may be downloaded at run time); a
low-confidence match counts only with one of its context words nearby, which is what
Presidio's engine would do with a model. ``pii_patterns.PHRASES`` covers what it lacks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from evaluator.redact.patterns import PHRASES

__all__ = ["CATEGORY_ORDER", "METHODS", "TAGS", "Method", "Span", "detect", "merge_spans"]

Method = Literal["validated", "pattern", "phrase"]

# Most specific first: where spans of two categories overlap, the first one names the union.
CATEGORY_ORDER: tuple[str, ...] = (
    "credit_card", "ssn", "bank_account", "email_address", "ip_address", "filename", "url",
    "passport_number", "driver_license", "healthcare_number", "vehicle_id", "account_number",
    "phone_number", "password", "username", "dob", "medical_professional", "person_name",
    "location", "origin", "money", "age", "time", "date", "gender_sexuality", "physical_attribute",
    "occupation", "event", "numerical_pii",
)  # fmt: skip

TAGS: dict[str, str] = {c: c.upper() for c in CATEGORY_ORDER} | {
    "person_name": "PERSON",
    "medical_professional": "MEDICAL_PROFESSIONAL",
}

# How each category is found, for the evaluation's notes. "validated": a checksum or a
# number-plan check (Presidio / libphonenumber) plus phrases; "pattern": the format of the
# thing itself (an e-mail, a URL, a date); "phrase": only when the caller's words around it
# introduce it (no named-entity model runs here), so recall is partial.
METHODS: dict[str, Method] = {
    "credit_card": "validated", "ssn": "validated", "bank_account": "validated",
    "phone_number": "validated", "ip_address": "validated", "email_address": "pattern",
    "url": "pattern", "date": "pattern", "time": "pattern", "money": "pattern",
    "filename": "pattern", "numerical_pii": "pattern", "healthcare_number": "validated",
    "passport_number": "phrase", "driver_license": "phrase", "vehicle_id": "phrase",
    "account_number": "phrase", "password": "phrase", "username": "phrase", "dob": "phrase",
    "medical_professional": "phrase", "person_name": "phrase", "location": "phrase",
    "origin": "phrase", "age": "phrase", "gender_sexuality": "phrase",
    "physical_attribute": "phrase", "occupation": "phrase", "event": "phrase",
}  # fmt: skip

_BEFORE, _AFTER = 60, 30
_TRAILING = ".,;:!?)]}'\""
_PHRASE_TRAILING = ".,;:!?"
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
# Three or more digits said as words ("four one five, five five five ..."): the transcriber
# wrote a number out, and every number recognizer has to see it as digits.
_SPOKEN_RUN = re.compile(
    rf"\b(?:{'|'.join(_DIGIT_WORDS)}|\d)(?:[\s,-]+(?:{'|'.join(_DIGIT_WORDS)}|\d))"
    r"{2,}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, order=True)
class Span:
    """Characters ``[start, end)`` of a text hold PII of ``category``."""

    start: int
    end: int
    category: str


@dataclass(frozen=True)
class _Recognizer:
    """A Presidio recognizer: results at or above ``min_score`` count as they are; weaker ones
    only with one of its context words (``context``, compiled) within a few words. Every
    match holds at least ``digits`` digits and a match of ``needs`` (an ``@``): a text with
    fewer is not run through the recognizer, which cannot match it."""

    recognizer: object
    min_score: float
    context: re.Pattern[str]
    digits: int
    needs: re.Pattern[str] | None

    def may_match(self, text: str, digits: int) -> bool:
        return digits >= self.digits and (self.needs is None or bool(self.needs.search(text)))


_DIGIT = re.compile(r"\d")


class _Hit(NamedTuple):
    start: int
    end: int
    score: float


class _PhoneSpans:
    """Presidio's ``PhoneRecognizer`` (its regions, leniency, score and context words)
    without its per-match re-parse, which only names the region in an explanation we never
    read: about a third of the time redaction spent on phone numbers."""

    def __init__(self, base: Any) -> None:
        self.supported_entities = base.supported_entities
        self.context = base.context
        self._regions = tuple(base.supported_regions)
        self._leniency = base.leniency
        self._score = float(base.SCORE)

    def analyze(self, text: str, entities: object, nlp_artifacts: object) -> list[_Hit]:
        import phonenumbers

        return [
            _Hit(match.start, match.end, self._score)
            for region in self._regions
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=self._leniency)
        ]


class KnownTerms:
    """``(term, category)`` pairs found elsewhere in the call (a name introduced once),
    compiled once into one pattern per category: every whole-word occurrence is a span."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        by_category: dict[str, list[str]] = {}
        for term, category in pairs:
            if term:
                by_category.setdefault(category, []).append(term)
        # A lookahead, so occurrences that overlap are all found; at each place the longest
        # term that ends at a word boundary is taken.
        self._patterns = {
            category: re.compile(rf"(?<!\w)(?=({_alternation(terms)})(?!\w))")
            for category, terms in by_category.items()
        }

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def find(self, text: str, wanted: Iterable[str]) -> list[Span]:
        spans: list[Span] = []
        for category in wanted:
            pattern = self._patterns.get(category)
            if pattern is not None:
                spans.extend(Span(m.start(1), m.end(1), category) for m in pattern.finditer(text))
        return spans


def _alternation(terms: Iterable[str]) -> str:
    """One regular expression matching any of ``terms``, longest first, grouped by first
    character (a flat alternation of many names is tried name by name at every position;
    a trie nests as deep as its longest name, which the regex compiler does not survive)."""
    by_first: dict[str, list[str]] = {}
    for term in sorted(set(terms), key=len, reverse=True):
        by_first.setdefault(term[0], []).append(re.escape(term[1:]))
    return "|".join(f"{re.escape(first)}(?:{'|'.join(rest)})" for first, rest in by_first.items())


class Detector:
    """Finds the PII of a set of categories. Each distinct text is scanned once: redacting a
    call reads every text twice (once to learn the names it introduces, once to redact them
    everywhere) and the stored request repeats the turns, so a scan is kept for the life of
    the detector (one call) and never shared beyond it."""

    def __init__(self, categories: Iterable[str]) -> None:
        asked = set(categories)
        self.wanted: tuple[str, ...] = tuple(c for c in CATEGORY_ORDER if c in asked)
        self._scans: dict[str, tuple[Span, ...]] = {}

    def spans(self, text: str, known: KnownTerms | None = None) -> list[Span]:
        """Every span in ``text``, overlaps merged into one span named by the most specific
        category among them; with ``known``, every occurrence of a known term too."""
        if not text or not self.wanted:
            return []
        raw = list(self.scan(text))
        if known:
            raw.extend(known.find(text, self.wanted))
        return merge_spans(raw)

    def scan(self, text: str) -> tuple[Span, ...]:
        """The spans every recognizer finds in ``text`` (unmerged), remembered."""
        found = self._scans.get(text)
        if found is None:
            raw = _scan(text, self.wanted)
            digits, origin = _digitize(text)
            if digits != text:
                raw.extend(
                    Span(origin[s.start][0], origin[s.end - 1][1], s.category)
                    for s in _scan(digits, self.wanted)
                )
            found = self._scans[text] = tuple(raw)
        return found


def detect(
    text: str, categories: Iterable[str], known: Iterable[tuple[str, str]] = ()
) -> list[Span]:
    """Every span of the given categories in ``text``, overlaps merged into one span named
    by the most specific category among them. ``known`` holds ``(term, category)`` pairs
    already found elsewhere in the same call (a name introduced once): every whole-word
    occurrence of a term is a span too."""
    return Detector(categories).spans(text, KnownTerms(known))


def _scan(text: str, wanted: Sequence[str]) -> list[Span]:
    raw: list[Span] = []
    recognizers = _presidio()
    digits = len(_DIGIT.findall(text))
    for category in wanted:
        for rec in recognizers.get(category, ()):
            if rec.may_match(text, digits):
                raw.extend(_run_presidio(rec, text, category))
        raw.extend(_run_phrases(text, category, digits > 0))
    return raw


def _digitize(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with each spoken run of digits written as one number, and for every
    character of the result the ``(start, end)`` it came from in ``text``."""
    out: list[str] = []
    origin: list[tuple[int, int]] = []
    cursor = 0
    for run in _SPOKEN_RUN.finditer(text):
        out.append(text[cursor : run.start()])
        origin.extend((i, i + 1) for i in range(cursor, run.start()))
        for word in re.finditer(r"[a-z]+|\d", run.group(), re.IGNORECASE):
            out.append(_DIGIT_WORDS.get(word.group().lower(), word.group()))
            origin.append((run.start() + word.start(), run.start() + word.end()))
        cursor = run.end()
    out.append(text[cursor:])
    origin.extend((i, i + 1) for i in range(cursor, len(text)))
    return "".join(out), origin


def _run_presidio(rec: _Recognizer, text: str, category: str) -> list[Span]:
    analyzer = rec.recognizer
    entities = analyzer.supported_entities  # type: ignore[attr-defined]
    spans = []
    for result in analyzer.analyze(text, entities, None):  # type: ignore[attr-defined]
        start, end = result.start, result.end
        while end > start and text[end - 1] in _TRAILING:
            end -= 1
        if category == "url" and _looks_like_file(text[start:end]):
            continue  # "results.pdf" has the shape of a domain name
        if result.score >= rec.min_score or _near(text, start, end, rec.context):
            spans.append(Span(start, end, category))
    return spans


def _run_phrases(text: str, category: str, has_digit: bool) -> list[Span]:
    spans = []
    for phrase in PHRASES.get(category, ()):
        if phrase.needs_digit and not has_digit:
            continue
        for match in phrase.pattern.finditer(text):
            group = "pii" if "pii" in phrase.pattern.groupindex else 0
            start, end = match.span(group)
            while end > start and text[end - 1] in _PHRASE_TRAILING:
                end -= 1
            if end > start:
                spans.append(Span(start, end, category))
    return spans


def _looks_like_file(candidate: str) -> bool:
    return any(p.pattern.fullmatch(candidate) for p in PHRASES["filename"])


def _near(text: str, start: int, end: int, words: re.Pattern[str]) -> bool:
    window = (text[max(0, start - _BEFORE) : start] + " " + text[end : end + _AFTER]).lower()
    return words.search(window) is not None


def merge_spans(spans: list[Span]) -> list[Span]:
    """Union of overlapping spans (never leaves a piece of one behind), named by rank."""
    rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    merged: list[Span] = []
    for span in sorted(spans):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            best = min(last.category, span.category, key=rank.__getitem__)
            merged[-1] = Span(last.start, max(last.end, span.end), best)
        else:
            merged.append(span)
    return merged


def _recognizer(
    analyzer: object,
    min_score: float,
    *extra: str,
    digits: int = 1,
    needs: re.Pattern[str] | None = None,
) -> _Recognizer:
    words = tuple(getattr(analyzer, "context", None) or ()) + extra
    context = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in dict.fromkeys(words)))
    return _Recognizer(analyzer, min_score, context, digits, needs)


@functools.cache
def _presidio() -> dict[str, tuple[_Recognizer, ...]]:
    """Built once per process (importing Presidio takes a second); they keep no call's state."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        AbaRoutingRecognizer,
        CreditCardRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkPassportRecognizer,
        UrlRecognizer,
        UsLicenseRecognizer,
        UsMbiRecognizer,
        UsPassportRecognizer,
        UsSsnRecognizer,
    )

    # tldextract fetches the public-suffix list over the network unless told not to; the
    # snapshot shipped inside the package is used instead.
    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline_tld(pattern_text.rpartition("@")[2]).suffix)

    rec = _recognizer

    # What every match holds, read off each recognizer's patterns (``digits``: the fewest
    # digits any of them can match): a text without it is not searched. A phone number has
    # at least 4 (the shortest valid national number of any region, in libphonenumber's
    # metadata); an IPv6 address may have no digit, but has a colon; a URL has a dot
    # before its top-level domain, which starts with a letter.
    return {
        "credit_card": (rec(CreditCardRecognizer(), 0.0, digits=13),),
        "ssn": (rec(UsSsnRecognizer(), 0.5, "social", "ssn", "security", digits=9),),
        "phone_number": (rec(_PhoneSpans(PhoneRecognizer()), 0.0, digits=4),),
        "email_address": (rec(OfflineEmailRecognizer(), 0.0, digits=0, needs=re.compile("@")),),
        "ip_address": (
            rec(IpRecognizer(), 0.5, "ip", "address", digits=0, needs=re.compile(r"[\d:]")),
        ),
        "url": (rec(UrlRecognizer(), 0.5, digits=0, needs=re.compile(r"\.[^\W\d_]")),),
        "date": (rec(DateRecognizer(), 0.5, "on", "date"),),
        "bank_account": (
            rec(IbanRecognizer(), 0.5, "iban", digits=2),
            rec(AbaRoutingRecognizer(), 1.0, "routing", "aba", "bank", digits=9),
        ),
        "passport_number": (
            rec(UsPassportRecognizer(), 1.0, "passport", digits=8),
            rec(UkPassportRecognizer(), 1.0, "passport", digits=7),
        ),
        "driver_license": (rec(UsLicenseRecognizer(), 1.0, "license", "licence", "dl"),),
        "healthcare_number": (
            rec(UsMbiRecognizer(), 0.5, "medicare", "mbi", "member", digits=5),
            rec(NhsRecognizer(), 1.01, "nhs", "health", digits=10),
        ),
    }
