"""The transcription-accuracy metric: how far the call's own transcript is from ours of its
recording, and whether the agent's speech-to-text misheard the caller.

A voice agent hears the caller only through its speech-to-text, and the transcript a
provider sends is that text. Ours (local Whisper, or the configured hosted model, on the
caller's channel of the recording) is the reference: the value is the word error rate of the
provider's caller turns against it, in percent, and more than ``misheard_percent`` flags the
call (``details.misheard``) with the first differences as examples. The agent's side is
reported beside it: what the agent said is its own text, so a difference there is most often
ours. Both transcripts are redacted alike when redaction was asked for (tags compare equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluator.ingest.audio.timing import AudioValue
from evaluator.ingest.audio.wer import differences, said, transcript_wer
from evaluator.transcript import AGENT, CALLER, Transcript

__all__ = ["FUNCTION", "NOT_TRANSCRIBED", "transcription_accuracy"]

FUNCTION = "transcription_wer"
NOT_TRANSCRIBED = (
    "not applicable: needs the call's recording transcribed beside its own transcript "
    "(a recording with the call, and EVALUATOR_TRANSCRIPTION_CHECK=true or redact_fields)"
)
AUDIO_ONLY = (
    "not applicable: the call came without a transcript, so ours is its transcript and "
    "there is nothing to compare it with"
)


def transcription_accuracy(
    provider: Transcript | None, heard: Transcript | None, params: Mapping[str, Any]
) -> AudioValue:
    """WER (%) of the provider's caller turns against ours. ``provider`` None: the call came
    as audio only; ``heard`` None: the recording was not transcribed."""
    if provider is None:
        return AudioValue.na("percent", AUDIO_ONLY)
    if heard is None:
        return AudioValue.na("percent", NOT_TRANSCRIBED)
    rates = transcript_wer(heard, provider)
    caller = rates[CALLER]
    if caller.wer is None:
        why = "not applicable: our transcription of the recording has no caller speech"
        return AudioValue.na("percent", why)
    threshold = float(params.get("misheard_percent", 20.0))
    percent = round(caller.wer * 100, 1)
    misheard = percent > threshold
    examples = differences(said(heard, CALLER), said(provider, CALLER))
    shown = "; ".join(f"{a or '(nothing)'!r} heard as {b or '(nothing)'!r}" for a, b in examples)
    verdict = (
        f"the agent's speech-to-text misheard the caller: {percent:g}% of the caller's words "
        f"differ from the recording (over {threshold:g}%)"
        if misheard
        else f"the agent heard the caller as the recording says, within {percent:g}% WER"
    )
    agent = rates[AGENT]
    return AudioValue(
        value=percent,
        unit="percent",
        explanation=f"{verdict}" + (f": {shown}" if shown and misheard else ""),
        details={
            "misheard": misheard,
            "caller_wer": caller.wer,
            "caller_words": caller.reference_words,
            "agent_wer": agent.wer,
            "call_wer": rates["all"].wer,
            "differences": [{"recording": a, "transcript": b} for a, b in examples],
            "reference": "our transcription of the recording",
        },
    )
