"""Words with a party → canonical turns.

A party's words form one turn until they pause for longer than ``max_pause`` seconds, or
until the other party starts a word in the gap (then the call moved on between them). Each
party's turns are built on their own and only then put in time order, so speech that overlaps
stays two overlapping turns (an interruption the timing metrics can see) instead of being
chopped into alternating fragments.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from evaluator.transcript import AGENT, CALLER, Role, Turn

__all__ = ["TimedWord", "words_to_turns"]


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


def words_to_turns(words: Sequence[TimedWord], *, max_pause: float = 1.5) -> list[Turn]:
    """The words grouped into turns of the canonical transcript, in time order."""
    turns: list[Turn] = []
    for role in (AGENT, CALLER):
        mine = sorted((w for w in words if w.role == role), key=lambda w: w.start)
        others = sorted(w.start for w in words if w.role != role)
        for group in _groups(mine, others, max_pause):
            turns.append(
                Turn(
                    role=role,
                    content=" ".join(w.text.strip() for w in group),
                    start_time=round(group[0].start, 3),
                    end_time=round(max(w.end for w in group), 3),
                )
            )
    turns.sort(key=lambda t: (t.start_time or 0.0, t.end_time or 0.0))
    return turns


def _groups(
    mine: list[TimedWord], other_starts: list[float], max_pause: float
) -> list[list[TimedWord]]:
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
    # Did the other party start a word strictly inside the gap? (bisect: O(log n))
    at = bisect.bisect_right(other_starts, prev.end)
    return at < len(other_starts) and other_starts[at] < word.start
