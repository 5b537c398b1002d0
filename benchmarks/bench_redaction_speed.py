"""How long redaction takes per KB of transcript, with every PII category requested.

Two transcripts of about ``--kb`` KB each: "dense" repeats the hand-labelled utterances of
tests/redact/labelled_pii.jsonl (PII in nearly every turn, the worst case), "speech" is an
ordinary call (a name, a phone number and a date now and then). Each is redacted as intake
does it: ``redact_transcript`` on the parsed turns and ``redact_json`` on the stored
``transcript_json``. Prints ms per KB (median of ``--runs``) for each.

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

from evaluator.contract import PII_CATEGORIES
from evaluator.redact.mask import redact_json, redact_transcript
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


def dense_texts() -> list[str]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [row["text"] for row in rows]


def build(texts: tuple[str, ...] | list[str], kb: int) -> Transcript:
    turns: list[Turn] = []
    size = 0
    while size < kb * 1000:
        text = texts[len(turns) % len(texts)]
        at = float(len(turns) * 4)
        role = AGENT if len(turns) % 2 == 0 else CALLER
        turns.append(Turn(role=role, content=text, start_time=at, end_time=at + 3.5))
        size += len(text)
    return Transcript(turns=tuple(turns))


def median_seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    redact_transcript(build(["warm up: my name is Ann Lee"], 1), PII_CATEGORIES)
    print(f"all {len(PII_CATEGORIES)} categories; median of {args.runs} runs")
    for name, texts in (("dense", dense_texts()), ("speech", list(SPEECH))):
        transcript = build(texts, args.kb)
        chars = sum(len(t.content) for t in transcript.turns)
        body = transcript.to_object()
        on_turns = median_seconds(partial(redact_transcript, transcript, PII_CATEGORIES), args.runs)
        on_json = median_seconds(partial(redact_json, body, PII_CATEGORIES), args.runs)
        kb = chars / 1000
        print(
            f"{name:6} {kb:6.0f} KB {len(transcript.turns):5d} turns: "
            f"redact_transcript {on_turns * 1000 / kb:7.1f} ms/KB ({on_turns:6.2f} s), "
            f"redact_json {on_json * 1000 / kb:7.1f} ms/KB ({on_json:6.2f} s)"
        )


if __name__ == "__main__":
    main()
