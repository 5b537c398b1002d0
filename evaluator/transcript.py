"""The canonical transcript: the one internal shape of a call, whatever provider it came from.

Roles follow the spec (transcript-formats.md): ``Main Agent`` is the voice agent,
``Testing Agent`` the other party (the customer in production), and ``Function Call`` /
``Function Call Result`` are tool use. Times are seconds from the call's start, or ``None``
where the provider gave none; timing metrics then say "not available" rather than 0.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["Main Agent", "Testing Agent", "Function Call", "Function Call Result"]
AGENT: Role = "Main Agent"
CALLER: Role = "Testing Agent"
TOOL_CALL: Role = "Function Call"
TOOL_RESULT: Role = "Function Call Result"

__all__ = [
    "AGENT",
    "CALLER",
    "TOOL_CALL",
    "TOOL_RESULT",
    "Role",
    "ToolData",
    "Transcript",
    "Turn",
    "format_clock",
    "format_duration",
]


class ToolData(BaseModel):
    """What a tool turn carries: the call's id and name, and its arguments or its result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    name: str | None = None
    arguments: str | None = None
    result: str | None = None
    is_error: bool | None = None


class Turn(BaseModel):
    """One utterance or tool event.

    ``speaker`` overrides the role's label in the text rendering for third parties that count
    on one side for timing but are not that side (Retell's ``transfer_target``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str = ""
    start_time: float | None = None
    end_time: float | None = None
    data: ToolData | None = None
    speaker: str | None = None
    interrupted: bool | None = None

    @property
    def is_speech(self) -> bool:
        return self.role in (AGENT, CALLER)

    @property
    def label(self) -> str:
        return self.speaker or self.role

    def render(self) -> str:
        """``[MM:SS] Role: content``; tool turns as ``name(arguments)`` / ``name -> result``."""
        clock = format_clock(self.start_time) if self.start_time is not None else "--:--"
        if self.role == TOOL_CALL and self.data is not None:
            body = f"{self.data.name or 'tool'}({self.data.arguments or ''})"
        elif self.role == TOOL_RESULT and self.data is not None:
            body = f"{self.data.name or 'tool'} -> {self.data.result or ''}"
        else:
            body = self.content
        return f"[{clock}] {self.label}: {body}"

    def to_object(self) -> dict[str, Any]:
        """The turn as an item of ``transcript_object``."""
        item: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }
        if self.data is not None:
            item["data"] = self.data.model_dump(exclude_none=True)
        if self.speaker is not None:
            item["speaker"] = self.speaker
        return item


class Transcript(BaseModel):
    """An ordered call. ``context`` keeps system prompts aside; ``notes`` says how it was read
    (e.g. which speaker rule assigned the agent)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turns: tuple[Turn, ...] = ()
    provider: str = "cekura"
    context: str | None = None
    notes: tuple[str, ...] = Field(default=())

    @property
    def speech_turns(self) -> tuple[Turn, ...]:
        return tuple(t for t in self.turns if t.is_speech)

    @property
    def has_timestamps(self) -> bool:
        """True when every speech turn has a start and an end time."""
        speech = self.speech_turns
        return bool(speech) and all(
            t.start_time is not None and t.end_time is not None for t in speech
        )

    @property
    def duration_seconds(self) -> float | None:
        """The last turn's end time (the call length when no audio is given)."""
        ends = [t.end_time for t in self.turns if t.end_time is not None]
        return max(ends) if ends else None

    def to_text(self) -> str:
        """The ``transcript`` field: one ``[MM:SS] Role: content`` line per turn."""
        return "\n".join(t.render() for t in self.turns)

    def to_object(self) -> list[dict[str, Any]]:
        """The ``transcript_object`` field."""
        return [t.to_object() for t in self.turns]

    def replace_turns(self, turns: list[Turn]) -> Transcript:
        return self.model_copy(update={"turns": tuple(turns)})


def _whole_seconds(seconds: float) -> int:
    """The one rounding rule of every clock and duration shown: whole seconds elapsed
    (truncated, as a clock shows them), never negative."""
    return max(0, int(seconds))


def format_clock(seconds: float) -> str:
    """A position in the call: ``MM:SS``, or ``HH:MM:SS`` from an hour on."""
    total = _whole_seconds(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def format_duration(seconds: float | None) -> str | None:
    """A call's length as call logs show it: ``MM:SS``, minutes past 59 included."""
    if seconds is None:
        return None
    total = _whole_seconds(seconds)
    return f"{total // 60:02d}:{total % 60:02d}"
