"""Which stereo channel is the agent's.

``main_agent_channel_index`` settles it when the request gives it. Otherwise two rules vote:

- first speaker: agents greet first, so the channel whose speech starts first is the
  agent's; the wider the margin between the two first onsets, the surer (a second or more is
  taken as near-certain, a tie as a coin toss);
- description (when the agent's description and both channels' text are known): the channel
  whose words share more vocabulary with the description (cosine similarity of word counts,
  common words left out) is the agent's.

When both rules speak and agree, their confidences combine; when they disagree, the surer one
wins and the note says they disagreed. Confidences are heuristic scores in [0.5, 1], not
calibrated probabilities; the note always names the rule, so a reader can judge.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evaluator.ingest.audio.vad import SpeechInterval

__all__ = ["ChannelChoice", "ChannelRule", "choose_agent_channel"]

ChannelRule = Literal["given", "only_speaker", "first_speaker", "description"]
_MARGIN_FOR_CERTAINTY = 1.0  # seconds between first onsets for full first-speaker confidence
_SIMILARITY_FOR_CERTAINTY = 0.2
_COMMON = frozenset({
    "the", "and", "you", "your", "for", "are", "was", "were", "with", "that", "this", "have",
    "has", "had", "not", "but", "can", "will", "would", "what", "when", "where", "how", "who",
    "which", "there", "their", "they", "them", "then", "than", "just", "about", "into", "from",
    "our", "out", "all", "any", "yes", "okay", "thank", "thanks", "please",
})  # fmt: skip


@dataclass(frozen=True)
class ChannelChoice:
    """The agent's channel, the rule that chose it, and how sure it is (0.5..1)."""

    agent_channel: int
    rule: ChannelRule
    confidence: float
    note: str


@dataclass(frozen=True)
class _Vote:
    channel: int
    confidence: float
    reason: str


def choose_agent_channel(
    speech: Sequence[Sequence[SpeechInterval]],
    *,
    given: int | None = None,
    texts: Sequence[str] | None = None,
    agent_description: str | None = None,
) -> ChannelChoice:
    """The agent's channel of a two-channel recording, from ``given`` (the request's
    ``main_agent_channel_index``) or detected from each channel's speech runs and, when
    known, each channel's text and the agent's description."""
    if given is not None:
        if given not in (0, 1):
            raise ValueError(f"main_agent_channel_index must be 0 or 1, got {given}")
        note = f"agent channel {given}: given by main_agent_channel_index"
        return ChannelChoice(given, "given", 1.0, note)
    onsets = [runs[0].start if runs else None for runs in speech]
    if onsets[0] is None or onsets[1] is None:
        channel = 1 if onsets[0] is None else 0
        note = (f"agent channel {channel} detected: the only channel with speech (rule: "
                "only_speaker; the other channel is silent); confidence 0.50")  # fmt: skip
        return ChannelChoice(channel, "only_speaker", 0.5, note)
    first = _first_speaker(onsets[0], onsets[1])
    described = _by_description(texts, agent_description)
    return _decide(first, described)


def _first_speaker(onset0: float, onset1: float) -> _Vote:
    channel = 0 if onset0 <= onset1 else 1
    margin = abs(onset1 - onset0)
    confidence = 0.5 + 0.5 * min(1.0, margin / _MARGIN_FOR_CERTAINTY)
    early, late = sorted((onset0, onset1))
    reason = f"channel {channel} speaks first ({early:.2f} s vs {late:.2f} s)"
    return _Vote(channel, confidence, reason)


def _by_description(texts: Sequence[str] | None, description: str | None) -> _Vote | None:
    if not texts or not description or len(texts) != 2:
        return None
    reference = _bag(description)
    scores = [_cosine(_bag(text), reference) for text in texts]
    if max(scores) <= 0 or scores[0] == scores[1]:
        return None
    channel = 0 if scores[0] > scores[1] else 1
    difference = abs(scores[0] - scores[1])
    confidence = 0.5 + 0.5 * min(1.0, difference / _SIMILARITY_FOR_CERTAINTY)
    reason = (f"channel {channel}'s words are closer to the agent description "
              f"(similarity {scores[channel]:.2f} vs {scores[1 - channel]:.2f})")  # fmt: skip
    return _Vote(channel, confidence, reason)


def _decide(first: _Vote, described: _Vote | None) -> ChannelChoice:
    if described is None:
        return _choice(first, "first_speaker", first.confidence, first.reason)
    if described.channel == first.channel:
        combined = 1.0 - (1.0 - first.confidence) * (1.0 - described.confidence)
        reason = f"{first.reason}, and {described.reason}"
        return _choice(first, "first_speaker", combined, reason)
    reason = f"rules disagree: {first.reason}; {described.reason}; the surer one wins"
    if described.confidence > first.confidence:
        return _choice(described, "description", described.confidence, reason)
    return _choice(first, "first_speaker", first.confidence, reason)


def _choice(vote: _Vote, rule: ChannelRule, confidence: float, reason: str) -> ChannelChoice:
    note = (f"agent channel {vote.channel} detected: {reason} (rule: {rule}); "
            f"confidence {confidence:.2f}")  # fmt: skip
    return ChannelChoice(vote.channel, rule, round(confidence, 2), note)


def _bag(text: str) -> Counter[str]:
    words = re.findall(r"[a-z][a-z']{2,}", text.lower())
    return Counter(w for w in words if w not in _COMMON)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[word] for word, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0
