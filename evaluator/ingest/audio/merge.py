"""Words with a party → canonical turns.

A party's words form one turn until they pause for longer than ``max_pause`` seconds, or
until the other party begins speaking inside one of their pauses (the call moved on between
them). "Begins" means the first word after the other party's own pause: words the other party
was already in the middle of, talking over this one, do not cut this turn. Each party's turns
are built on their own and only then put in time order, so speech that overlaps stays two
overlapping turns (an interruption the timing metrics can see) instead of being chopped into
alternating fragments.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from evaluator.transcript import AGENT, CALLER, Role, Turn

__all__ = ["TimedWord", "group_words", "spell", "turn_of", "words_to_turns"]


@dataclass(frozen=True)
class TimedWord:
    """A recognized word, attributed to a party. ``channel`` is its stereo channel (None
    for a mono recording)."""

    role: Role
    text: str
    start: float
    end: float
    channel: int | None = None
    probability: float | None = None

    def to_object(self) -> dict[str, object]:
        """The word as JSON: ``{role, word, start, end, channel, probability}``."""
        return {
            "role": self.role,
            "word": self.text.strip(),
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "channel": self.channel,
            "probability": None if self.probability is None else round(self.probability, 3),
        }


def group_words(
    words: Sequence[TimedWord], *, max_pause: float = 1.5
) -> list[tuple[TimedWord, ...]]:
    """The words grouped into turns (each group one party's), in time order."""
    by_pause = {
        role: _split(sorted((w for w in words if w.role == role), key=lambda w: w.start),
                     [], max_pause)
        for role in (AGENT, CALLER)
    }  # fmt: skip
    groups: list[tuple[TimedWord, ...]] = []
    for role, other in ((AGENT, CALLER), (CALLER, AGENT)):
        other_starts = [g[0].start for g in by_pause[other]]
        mine = [w for g in by_pause[role] for w in g]
        groups.extend(tuple(g) for g in _split(mine, other_starts, max_pause))
    groups.sort(key=lambda g: (g[0].start, max(w.end for w in g)))
    return groups


def spell(words: Sequence[TimedWord]) -> tuple[str, list[tuple[int, int]]]:
    """The text the words make, and each word's ``[start, end)`` in it. Words are joined as
    the model wrote them: Whisper starts a word with a space, and leaves it out where a
    token continues the previous one (``415`` ``-555``), so the text keeps ``415-555``."""
    text = ""
    spans: list[tuple[int, int]] = []
    for word in words:
        piece = word.text if text else word.text.lstrip()
        start = len(text) + len(piece) - len(piece.lstrip())
        text += piece.rstrip()
        spans.append((start, len(text)))
    return text, spans


def turn_of(group: Sequence[TimedWord]) -> Turn:
    """One group of words as a canonical turn (the text ``spell`` gives)."""
    return Turn(
        role=group[0].role,
        content=spell(group)[0],
        start_time=round(group[0].start, 3),
        end_time=round(max(w.end for w in group), 3),
    )


def words_to_turns(words: Sequence[TimedWord], *, max_pause: float = 1.5) -> list[Turn]:
    """The words grouped into turns of the canonical transcript, in time order."""
    return [turn_of(g) for g in group_words(words, max_pause=max_pause)]


def _split(
    mine: list[TimedWord], other_starts: list[float], max_pause: float
) -> list[list[TimedWord]]:
    """``mine`` (sorted) cut at pauses over ``max_pause`` and at pauses holding one of
    ``other_starts`` (sorted)."""
    groups: list[list[TimedWord]] = []
    for word in mine:
        if groups and not _breaks(groups[-1][-1], word, other_starts, max_pause):
            groups[-1].append(word)
        else:
            groups.append([word])
    return groups


def _breaks(prev: TimedWord, word: TimedWord, other_starts: list[float], max_pause: float) -> bool:
    if word.start - prev.end > max_pause:
        return True
    # Did the other party begin speaking strictly inside the gap? (bisect: O(log n))
    at = bisect.bisect_right(other_starts, prev.end)
    return at < len(other_starts) and other_starts[at] < word.start
