"""How long redaction takes per KB of transcript, with every PII category requested.

Two transcripts of about ``--kb`` KB each: "dense" repeats the hand-labelled utterances of
tests/redact/labelled_pii.jsonl (PII in nearly every turn, the worst case), "speech" is an
ordinary call (a name, a phone number and a date now and then). Each turn starts with a
different few filler words, so no two turns are the same text (a real call rarely repeats
itself; repeated texts would be found in a cache). Each is redacted three ways:
``redact_transcript`` on the parsed turns, ``redact_json`` on the stored ``transcript_json``,
and ``redact_call``: both, as intake does them (before it, intake ran the first two).
Prints CPU ms per KB (median of ``--runs``; CPU time, so other processes do not skew it).

    python benchmarks/bench_redaction_speed.py [--kb 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from evaluator.contract import PII_CATEGORIES, ObserveRequest
from evaluator.redact.mask import redact_call, redact_json, redact_transcript
from evaluator.transcript import AGENT, CALLER, Transcript, Turn

DATA = Path(__file__).resolve().parent.parent / "tests" / "redact" / "labelled_pii.jsonl"
SPEECH = (
    "Thanks for calling, how can I help you today?",
    "Hi, I wanted to check on the status of my appointment next week.",
    "Sure, I can look that up for you. Could you confirm the name on the booking?",
    "Yes, it's under Daniel Okafor, and my number is 415-555-2671.",
    "Thank you. I see the appointment on March 14th at 3:30 pm with the hygienist.",
    "Great, could we move it to the afternoon instead, maybe later that week?",
    "Let me see what we have open. Please hold on for just a moment while I check.",
    "No problem, take your time, I'm not in a hurry at all.",
)
# 7 x 11 x 13 = 1001 different openings.
FILLERS = (
    ("Well", "So", "Okay", "Right", "Alright", "Yes", "Hmm"),
    ("then", "now", "anyway", "listen", "see", "look", "honestly", "basically", "actually",
     "really", "again"),
    ("um", "uh", "like", "you know", "I mean", "I guess", "I think", "sure", "of course",
     "fine", "good", "great", "perfect"),
)  # fmt: skip


def opening(i: int) -> str:
    return " ".join(words[i % len(words)] for words in FILLERS) + ", "


def dense_texts() -> list[str]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [row["text"] for row in rows]


def build(texts: tuple[str, ...] | list[str], kb: int) -> Transcript:
    turns: list[Turn] = []
    size = 0
    while size < kb * 1000:
        text = opening(len(turns)) + texts[len(turns) % len(texts)]
        at = float(len(turns) * 4)
        role = AGENT if len(turns) % 2 == 0 else CALLER
        turns.append(Turn(role=role, content=text, start_time=at, end_time=at + 3.5))
        size += len(text)
    return Transcript(turns=tuple(turns))


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # Every recognizer compiles its patterns on first use: once per process, not per call.
    redact_transcript(build(dense_texts(), 10), PII_CATEGORIES)
    print(f"all {len(PII_CATEGORIES)} categories; CPU ms per KB, median of {args.runs} runs")
    for name, texts in (("dense", dense_texts()), ("speech", list(SPEECH))):
        transcript = build(texts, args.kb)
        kb = sum(len(t.content) for t in transcript.turns) / 1000
        body = transcript.to_object()
        request = ObserveRequest(
            call_id="bench", agent=1, transcript_json=body, redact_fields=list(PII_CATEGORIES)
        )
        figures = {
            "transcript": partial(redact_transcript, transcript, PII_CATEGORIES),
            "json": partial(redact_json, body, PII_CATEGORIES),
            # What intake does: both, the request's texts read from the same scans.
            "call": partial(redact_call, request, transcript),
        }
        shown = ", ".join(
            f"{what} {median_seconds(run, args.runs) * 1000 / kb:6.1f}"
            for what, run in figures.items()
        )
        print(f"{name:6} {kb:4.0f} KB {len(transcript.turns):5d} turns: {shown}")


if __name__ == "__main__":
    main()
