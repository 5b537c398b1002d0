"""Synthetic calls whose timing is known by construction: espeak-ng speaks each line, sox trims
its silence and resamples it, and the line is placed at a chosen offset on its party's channel.

The truth of a call is the list of placed lines: who, what, from when to when (the trimmed
clip's first and last sample above -60 dBFS). The benchmark builds its calls from here too.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Party = Literal["agent", "caller"]
RATE = 16_000
AGENT_VOICE = "en-us+m3"
CALLER_VOICE = "en-us+f3"


@dataclass(frozen=True)
class Line:
    """One line of a script: ``gap`` seconds after the previous line ends (negative: it starts
    before the previous line ends, an interruption)."""

    party: Party
    text: str
    gap: float


@dataclass(frozen=True)
class Placed:
    party: Party
    text: str
    start: float
    end: float


@dataclass(frozen=True, eq=False)
class SyntheticCall:
    """``agent`` and ``caller`` are the parties' channels (equal length, 16 kHz float32)."""

    agent: NDArray[np.float32]
    caller: NDArray[np.float32]
    lines: tuple[Placed, ...]

    @property
    def duration(self) -> float:
        return len(self.agent) / RATE

    def stereo(self, agent_channel: int = 0) -> NDArray[np.float32]:
        """Shape (2, n): the agent on ``agent_channel``, the caller on the other."""
        pair = (self.agent, self.caller) if agent_channel == 0 else (self.caller, self.agent)
        return np.stack(pair)

    def mono(self) -> NDArray[np.float32]:
        return np.clip(self.agent + self.caller, -1.0, 1.0)


def tools_missing() -> list[str]:
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


@functools.cache
def speak(text: str, voice: str, speed: int = 170) -> NDArray[np.float32]:
    """``text`` spoken by espeak-ng, leading and trailing silence trimmed, at 16 kHz."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    # silence 1 0 -60d: drop everything before the first sample above -60 dBFS; the reverse
    # trick does the same at the end.
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
         "-r", str(RATE), "-", "silence", "1", "0", "-60d", "reverse", "silence", "1", "0",
         "-60d", "reverse"],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32).copy()


def build_call(
    script: Sequence[Line],
    *,
    lead: float = 0.5,
    tail: float = 0.7,
    voices: tuple[str, str] = (AGENT_VOICE, CALLER_VOICE),
) -> SyntheticCall:
    """Place each line of ``script`` after the previous one by its gap; ``lead`` seconds of
    silence open the call and ``tail`` close it."""
    clips = [speak(line.text, voices[0] if line.party == "agent" else voices[1]) for line in script]
    placed: list[Placed] = []
    cursor = lead
    for line, clip in zip(script, clips, strict=True):
        start = cursor if not placed else max(0.0, placed[-1].end + line.gap)
        start = round(start * RATE) / RATE
        placed.append(Placed(line.party, line.text, start, start + len(clip) / RATE))
        cursor = start
    length = round((max(p.end for p in placed) + tail) * RATE)
    channels = {"agent": np.zeros(length, np.float32), "caller": np.zeros(length, np.float32)}
    for where, clip in zip(placed, clips, strict=True):
        at = round(where.start * RATE)
        channels[where.party][at : at + len(clip)] += clip
    return SyntheticCall(channels["agent"], channels["caller"], tuple(placed))


def write_audio(
    path: Path,
    channels: NDArray[np.float32],
    *,
    rate: int = RATE,
    encoding: Sequence[str] = ("-e", "signed-integer", "-b", "16"),
) -> Path:
    """Write (channels, n) or (n,) float32 samples through sox; the format follows the
    suffix of ``path`` (.wav, .mp3, .flac) and ``encoding`` (e.g. ``-e u-law`` at 8 kHz)."""
    planes = channels if channels.ndim == 2 else channels[np.newaxis, :]
    interleaved = np.ascontiguousarray(planes.T).astype(np.float32).tobytes()
    subprocess.run(
        # -D: no dither, so the same samples always encode to the same bytes.
        ["sox", "-D", "-t", "raw", "-e", "floating-point", "-b", "32", "-c",
         str(planes.shape[0]), "-r", str(RATE), "-", "-r", str(rate), *encoding, str(path)],
        input=interleaved,
        check=True,
        capture_output=True,
    )  # fmt: skip
    return path


def tone_wav(seconds: float = 0.5, channels: int = 2, rate: int = 8000) -> bytes:
    """A 440 Hz tone as 16-bit WAV, made in memory with no outside tool: audio that passes
    intake's checks (it decodes, it is not silent) for tests that need a valid upload but no
    speech in it."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.repeat(tone, channels).tobytes())
    return out.getvalue()


def truth_runs(call: SyntheticCall, party: Party, min_silence: float) -> list[tuple[float, float]]:
    """The party's lines as runs of speech, lines closer than ``min_silence`` joined (as voice
    activity joins them)."""
    runs: list[tuple[float, float]] = []
    for line in sorted((p for p in call.lines if p.party == party), key=lambda p: p.start):
        if runs and line.start - runs[-1][1] < min_silence:
            runs[-1] = (runs[-1][0], max(runs[-1][1], line.end))
        else:
            runs.append((line.start, line.end))
    return runs


# A short support call: hand-offs from 0.3 s to 2.4 s, one agent interruption (the agent
# starts 0.6 s before the caller ends), one caller interruption, a long silence of 3.2 s.
SHORT_SCRIPT: tuple[Line, ...] = (
    Line("agent", "Thank you for calling Acme Dental. How can I help you today?", 0.0),
    Line("caller", "Hi, I would like to book a cleaning for next week.", 0.8),
    Line("agent", "Sure. Can I have your phone number please?", 1.2),
    Line("caller", "My phone number is four one five, five five five, two six seven one.", 0.4),
    Line("agent", "Thanks. I have Tuesday at ten in the morning.", -0.6),
    Line("caller", "Tuesday works.", 2.4),
    Line("agent", "Great, you are booked for Tuesday at ten. Anything else I can do?", 0.3),
    Line("caller", "No, that is all.", -0.8),
    Line("agent", "Goodbye.", 3.2),
)

# A mono call: the same parties taking turns without overlapping (one mixed signal cannot
# separate overlapping voices), pauses from 0.3 s to 1 s.
MONO_SCRIPT: tuple[Line, ...] = (
    Line("agent", "Good morning, you have reached City Bank. How may I help?", 0.0),
    Line("caller", "Hello. I lost my debit card yesterday.", 0.6),
    Line("agent", "I am sorry to hear that. I can block it for you right now.", 0.4),
    Line("caller", "Yes please, block it.", 1.0),
    Line("agent", "Done. A new card will arrive within five days.", 0.3),
    Line("caller", "Thank you very much.", 0.5),
    Line("agent", "You are welcome. Have a nice day.", 0.7),
)
