"""What every computed metric shares: its answer (``Computed``), its parameters (``Params``),
its registry entry (``ComputedFunction``) and the helpers that read a timed transcript.

Kept apart from the metric functions so ``computed.py`` and ``computed_timing.py`` can both
build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from evaluator.transcript import Transcript, Turn

__all__ = [
    "NO_TIMESTAMPS",
    "Computed",
    "ComputedFunction",
    "NoParams",
    "Params",
    "span",
    "timed_speech",
]

NO_TIMESTAMPS = "not available: the transcript has no timestamps"


@dataclass(frozen=True)
class Computed:
    """A computed metric's answer: ``value`` or ``not_applicable`` (the reason)."""

    value: float | int | bool | None
    explanation: str
    details: dict[str, Any] | None = None
    not_applicable: str | None = None

    @classmethod
    def na(cls, reason: str) -> Computed:
        return cls(value=None, explanation=reason, not_applicable=reason)


class Params(BaseModel):
    """Parameters of a computed metric, from its YAML ``params``."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


@dataclass(frozen=True)
class ComputedFunction:
    """A computed metric's code, the type of its parameters, and what the call must have."""

    run: Callable[[Transcript, Any], Computed]
    params: type[Params] = NoParams
    needs: tuple[str, ...] = field(default=("timestamps",))


def timed_speech(transcript: Transcript) -> list[Turn] | None:
    """The speech turns when every one has a start and an end time, else ``None``."""
    if not transcript.has_timestamps:
        return None
    return list(transcript.speech_turns)


def span(turn: Turn) -> tuple[float, float]:
    """``(start, end)`` of a timed turn (callers check ``timed_speech`` first)."""
    return (turn.start_time or 0.0, turn.end_time or 0.0)


def seconds_of(turns: Sequence[Turn]) -> float:
    """Total speaking time of the turns, in seconds."""
    return sum(end - start for start, end in map(span, turns))
