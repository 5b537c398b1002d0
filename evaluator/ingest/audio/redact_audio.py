"""Redaction of the recording: the time spans of redacted words silenced.

The transcript is redacted as text (``evaluator.redact``); this module finds which recognized
words that redaction removed and zeroes their time spans, plus a pad on each side because
word timestamps are approximate (Whisper's are good to a tenth of a second or two). Every
channel is silenced over each span: on a stereo call one party's words bleed into the other's
microphone. Decoding, silencing and encoding all happen in memory, so the unredacted audio
is never written to disk by this module.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.decode import SAMPLE_RATE, AudioLimits, decode_audio
from evaluator.ingest.audio.encode import AudioFormat, encode_audio
from evaluator.ingest.audio.merge import TimedWord, spell
from evaluator.redact.detect import detect

__all__ = [
    "DEFAULT_PAD_SECONDS",
    "pii_words",
    "redact_recording",
    "redacted_words",
    "silence_spans",
    "words_in_char_spans",
]

DEFAULT_PAD_SECONDS = 0.25


def redacted_words(turn_words: Sequence[TimedWord], redacted_content: str) -> list[TimedWord]:
    """The words of one turn that its redacted text no longer holds. ``turn_words`` are the
    words the turn was built from (its content is ``spell(turn_words)``); whatever
    redaction replaced or removed among them is returned, whichever rule removed it. The two
    texts are compared token by token (whitespace-separated), and a changed token takes
    every word it was spelled from."""
    text, _ = spell(turn_words)
    tokens = [m.span() for m in re.finditer(r"\S+", text)]
    matcher = difflib.SequenceMatcher(
        a=[text[a:b] for a, b in tokens], b=redacted_content.split(), autojunk=False
    )
    changed = [
        tokens[i]
        for tag, i1, i2, _, _ in matcher.get_opcodes()
        if tag in ("replace", "delete")
        for i in range(i1, i2)
    ]
    return words_in_char_spans(turn_words, changed)


def words_in_char_spans(
    words: Sequence[TimedWord], spans: Iterable[tuple[int, int]]
) -> list[TimedWord]:
    """The words touched by character spans ``[start, end)`` of ``spell(words)``'s text."""
    _, offsets = spell(words)
    starts = [a for a, _ in offsets]
    hit: set[int] = set()
    for start, end in spans:
        # Words are in text order: bisect to the first that can overlap, walk while they do.
        at = max(0, bisect.bisect_right(starts, start) - 1)
        while at < len(offsets) and offsets[at][0] < end:
            if start < offsets[at][1]:
                hit.add(at)
            at += 1
    return [words[i] for i in sorted(hit)]


def pii_words(turn_words: Sequence[TimedWord], categories: Iterable[str]) -> list[TimedWord]:
    """The words of one turn that hold PII of ``categories``, found with the text
    redaction's own detector. Use ``redacted_words`` instead when the transcript has been
    redacted already: it follows that redaction exactly (names learned across the call)."""
    text, _ = spell(turn_words)
    return words_in_char_spans(turn_words, ((s.start, s.end) for s in detect(text, categories)))


def silence_spans(
    channels: Sequence[NDArray[np.float32]],
    spans: Iterable[tuple[float, float]],
    *,
    pad: float = DEFAULT_PAD_SECONDS,
) -> tuple[NDArray[np.float32], ...]:
    """Copies of ``channels`` (16 kHz) with every ``(start, end)`` span, widened by ``pad``
    seconds on each side, set to zero on every channel."""
    out = tuple(np.array(c, dtype=np.float32, copy=True) for c in channels)
    for start, end in spans:
        first = max(0, int((start - pad) * SAMPLE_RATE))
        last = int(np.ceil((end + pad) * SAMPLE_RATE))
        for channel in out:
            channel[first:last] = 0.0
    return out


def redact_recording(
    audio: bytes,
    words: Iterable[TimedWord],
    *,
    limits: AudioLimits | None = None,
    fmt: AudioFormat = "flac",
    pad: float = DEFAULT_PAD_SECONDS,
) -> bytes:
    """The recording with the spans of ``words`` silenced, as ``fmt`` bytes at 16 kHz
    (mono or stereo as the original). Raises what ``decode_audio`` raises."""
    decoded = decode_audio(audio, limits)
    spans = [(w.start, w.end) for w in words]
    return encode_audio(silence_spans(decoded.channels, spans, pad=pad), fmt)
