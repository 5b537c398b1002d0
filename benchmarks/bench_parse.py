"""How long parsing a one-hour call takes, per provider format.

A one-hour call here is about 1,000 turns (every tenth an agent tool call with its result) or,
for Deepgram, 10,000 diarized words. Each payload is built in the provider's own shape, parsed
several times, and the median is printed in milliseconds. Target: well under 50 ms.

    python benchmarks/bench_parse.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from evaluator.ingest.transcripts import parse_transcript

TURNS = 1_000
WORDS = 10_000
SECONDS = 3_600.0
EPOCH = 1_760_520_000.0
STEP = SECONDS / TURNS
SENTENCE = "Thanks, I can help with that; could you confirm the date of birth on file?"


def _tool(i: int) -> bool:
    return i % 10 == 9


def cekura() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i in range(TURNS):
        t = i * STEP
        if _tool(i):
            data = {"id": f"c{i}", "name": "lookup", "arguments": '{"q": 1}'}
            items.append({"role": "Function Call", "start_time": t, "end_time": t, "data": data})
            continue
        role = "Main Agent" if i % 2 == 0 else "Testing Agent"
        items.append({"role": role, "content": SENTENCE, "start_time": t, "end_time": t + 2})
    return items


def vapi() -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "message": "You are Riley.", "time": 0}]
    for i in range(TURNS):
        t = i * STEP
        ms = int(EPOCH * 1000 + t * 1000)
        if _tool(i):
            call = {"id": f"c{i}", "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"}}  # fmt: skip
            messages.append({"role": "tool_calls", "time": ms, "secondsFromStart": t,
                             "toolCalls": [call]})  # fmt: skip
            continue
        role = "bot" if i % 2 == 0 else "user"
        messages.append({"role": role, "message": SENTENCE, "time": ms, "endTime": ms + 2000,
                         "secondsFromStart": t, "duration": 2000})  # fmt: skip
    return {"message": {"type": "end-of-call-report", "artifact": {"messages": messages}}}


def retell() -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for i in range(TURNS):
        t = i * STEP
        if _tool(i):
            items.append({"role": "tool_call_invocation", "tool_call_id": f"c{i}",
                          "name": "lookup", "arguments": "{}"})  # fmt: skip
            continue
        words = [{"word": w, "start": t + k * 0.2, "end": t + k * 0.2 + 0.2}
                 for k, w in enumerate(SENTENCE.split())]  # fmt: skip
        role = "agent" if i % 2 == 0 else "user"
        items.append({"role": role, "content": SENTENCE, "words": words})
    return {"call_id": "bench", "transcript_with_tool_calls": items}


def elevenlabs() -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for i in range(TURNS):
        calls = [{"request_id": f"c{i}", "tool_name": "lookup", "params_as_json": "{}"}]
        items.append({"role": "agent" if i % 2 == 0 else "user",
                      "message": None if _tool(i) else SENTENCE,
                      "tool_calls": calls if _tool(i) else [], "tool_results": [],
                      "time_in_call_secs": int(i * STEP), "interrupted": False})  # fmt: skip
    return {"type": "post_call_transcription", "data": {"transcript": items}}


def livekit() -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for i in range(TURNS):
        t = EPOCH + i * STEP
        if _tool(i):
            items.append({"id": f"i{i}", "type": "function_call", "call_id": f"c{i}",
                          "name": "lookup", "arguments": "{}", "created_at": t})  # fmt: skip
            continue
        metrics = {"started_speaking_at": t, "stopped_speaking_at": t + 2}
        items.append({"id": f"i{i}", "type": "message",
                      "role": "assistant" if i % 2 == 0 else "user", "content": [SENTENCE],
                      "interrupted": False, "created_at": t, "metrics": metrics})  # fmt: skip
    return {"job_id": "AJ_bench", "chat_history": {"items": items}}


def pipecat() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i in range(TURNS):
        seconds = i * STEP
        stamp = f"2025-03-14T{9 + int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:"
        stamp += f"{seconds % 60:06.3f}+00:00"
        items.append({"role": "assistant" if i % 2 == 0 else "user", "content": SENTENCE,
                      "user_id": None, "timestamp": stamp})  # fmt: skip
    return items


def deepgram() -> dict[str, Any]:
    step = SECONDS / WORDS
    words = [{"word": "word", "start": k * step, "end": k * step + step * 0.8, "confidence": 0.98,
              "speaker": (k // 10) % 2, "speaker_confidence": 0.9, "punctuated_word": "Word."}
             for k in range(WORDS)]  # fmt: skip
    channel = {"alternatives": [{"transcript": "", "words": words}]}
    return {"metadata": {"channels": 1, "duration": SECONDS}, "results": {"channels": [channel]}}


BUILDERS: dict[str, Callable[[], Any]] = {
    "cekura": cekura,
    "vapi": vapi,
    "retell": retell,
    "elevenlabs": elevenlabs,
    "livekit": livekit,
    "pipecat": pipecat,
    "deepgram": deepgram,
}


def median_ms(name: str, payload: Any, runs: int) -> tuple[float, float, int]:
    """Median wall-clock and CPU milliseconds per parse, and the turns produced."""
    wall: list[float] = []
    cpu: list[float] = []
    turns = 0
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        transcript = parse_transcript(name, payload)
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
        turns = len(transcript.turns)
    return statistics.median(wall), statistics.median(cpu), turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="parses per format (median shown)")
    args = parser.parse_args()
    # CPU time is shown too: on a busy machine wall-clock time includes waiting for a core.
    print(f"one-hour call, median of {args.runs} parses")
    print(f"{'format':<11} {'turns':>6} {'wall ms':>9} {'cpu ms':>8}")
    for name, build in BUILDERS.items():
        payload = build()
        parse_transcript(name, payload)  # warm-up: imports and the registry
        wall, cpu, turns = median_ms(name, payload, args.runs)
        print(f"{name:<11} {turns:>6} {wall:>9.2f} {cpu:>8.2f}")


if __name__ == "__main__":
    main()
