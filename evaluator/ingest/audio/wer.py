"""Word error rate: how far our transcription is from a reference (the provider's transcript,
or a hand-checked one), per party. The transcription-accuracy metric.

Both texts are normalized first so that formatting is not counted as error: lower case,
punctuation dropped (apostrophes inside words kept), hyphens and slashes read as spaces, and
numbers compared digit by digit: "zero" to "twenty" and the tens become numerals, and every
numeral is read as its digits, so "ten" and "10", or a phone number spoken digit by digit
("four one five") and written ("415"), compare equal. A compound ("twenty one" against
"21") still counts as an error. The alignment itself is jiwer's (Levenshtein over words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jiwer

from evaluator.transcript import AGENT, CALLER, Transcript

__all__ = [
    "WordErrorRate",
    "differences",
    "normalize_words",
    "transcript_wer",
    "word_error_rate",
]

_SPACE_LIKE = re.compile(r"[-/_]+")
_DROP = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")
_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)  # fmt: skip
_TENS = ("thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBERS = {word: str(value) for value, word in enumerate(_UNITS)} | {
    word: str(10 * tens) for tens, word in enumerate(_TENS, start=3)
}


@dataclass(frozen=True)
class WordErrorRate:
    """``(substitutions + deletions + insertions) / reference_words``; ``wer`` is None when
    the reference has no words (the rate is undefined: any word heard is an insertion)."""

    wer: float | None
    reference_words: int
    hypothesis_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` as WER compares them (numbers as their digits)."""
    words: list[str] = []
    for word in _DROP.sub(" ", _SPACE_LIKE.sub(" ", text.lower())).split():
        word = _NUMBERS.get(word, word)
        words.extend(word if word.isdecimal() and word.isascii() else (word,))
    return words


def word_error_rate(reference: str, hypothesis: str) -> WordErrorRate:
    """WER of ``hypothesis`` against ``reference`` after normalization."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return WordErrorRate(None, 0, len(hyp), 0, 0, len(hyp))
    if not hyp:
        return WordErrorRate(1.0, len(ref), 0, 0, len(ref), 0)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return WordErrorRate(
        wer=round(float(out.wer), 4),
        reference_words=len(ref),
        hypothesis_words=len(hyp),
        substitutions=out.substitutions,
        deletions=out.deletions,
        insertions=out.insertions,
    )


def differences(reference: str, hypothesis: str, limit: int = 5) -> list[tuple[str, str]]:
    """Up to ``limit`` places where the texts differ, as (reference words, hypothesis words)
    after normalization; an empty side is a word missing from it."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref or not hyp:
        return [(" ".join(ref), " ".join(hyp))][:limit] if ref or hyp else []
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    found = []
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            continue
        said = " ".join(ref[chunk.ref_start_idx : chunk.ref_end_idx])
        heard = " ".join(hyp[chunk.hyp_start_idx : chunk.hyp_end_idx])
        found.append((said, heard))
        if len(found) == limit:
            break
    return found


def said(transcript: Transcript, role: str | None) -> str:
    """What ``role`` (None: everyone) said in the call, speech turns in time order."""
    turns = sorted(
        (t for t in transcript.speech_turns if role is None or t.role == role),
        key=lambda t: t.start_time if t.start_time is not None else 0.0,
    )
    return " ".join(t.content for t in turns)


def transcript_wer(reference: Transcript, hypothesis: Transcript) -> dict[str, WordErrorRate]:
    """WER per party (``Main Agent``, ``Testing Agent``) and over the whole call (``all``):
    each side's speech turns joined in time order, tool turns left out."""
    return {
        key: word_error_rate(said(reference, role), said(hypothesis, role))
        for key, role in ((AGENT, AGENT), (CALLER, CALLER), ("all", None))
    }
