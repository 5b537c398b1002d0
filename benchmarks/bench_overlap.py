"""How long the interruption metrics take as calls grow: the sweep against all pairs.

Calls of 1k, 8k and 100k speech turns, the two parties alternating with a pause between
turns and every fifth turn starting over the other party. Runs the three interruption
metrics (agent and caller interruptions, stop time, interruption score) with the sweep in
``evaluator/computed/overlap.py``, and the same pairing by comparing every turn with every
other (the implementation before the sweep) up to ``--pairwise-max`` turns, since at 100k
turns it would take about half an hour. Prints CPU seconds per call (CPU time, so other
processes do not skew it).

    python benchmarks/bench_overlap.py [--sizes 1000 8000 100000] [--pairwise-max 8000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from evaluator.computed import overlap
from evaluator.computed.registry import run_computed
from evaluator.transcript import AGENT, CALLER, Role, Transcript, Turn
from tests.computed.test_overlap_sweep import reference_pairs

METRICS = (
    ("interruptions", {"by": "agent"}),
    ("interruptions", {"by": "caller"}),
    ("stop_time_after_interruption", {}),
    ("interruption_score", {}),
)

Pairing = Callable[[Sequence[Turn], Role, float], list[tuple[Turn, Turn]]]


# Every turn against every other: the definition the sweep replaced, as the tests hold it.
pairwise = reference_pairs


def build(n: int) -> Transcript:
    turns = []
    for i in range(n):
        start = i * 3.0 - (1.5 if i % 5 == 4 else 0.0)
        role = AGENT if i % 2 else CALLER
        turns.append(Turn(role=role, content="some words", start_time=start, end_time=start + 2.5))
    return Transcript(turns=tuple(turns))


def run_all(transcript: Transcript, pairing: Pairing) -> tuple[object, ...]:
    original = overlap.interruption_pairs
    overlap.interruption_pairs = pairing  # type: ignore[assignment]
    try:
        return tuple(run_computed(name, transcript, params).value for name, params in METRICS)
    finally:
        overlap.interruption_pairs = original


def seconds(transcript: Transcript, pairing: Pairing) -> tuple[float, tuple[object, ...]]:
    started = time.process_time()
    values = run_all(transcript, pairing)
    return time.process_time() - started, values


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 8_000, 100_000])
    parser.add_argument("--pairwise-max", type=int, default=8_000)
    args = parser.parse_args()
    sweep_pairing = overlap.interruption_pairs
    for n in args.sizes:
        transcript = build(n)
        sweep, values = seconds(transcript, sweep_pairing)
        line = f"{n:7d} turns: sweep {sweep:8.3f} s"
        if n <= args.pairwise_max:
            slow, expected = seconds(transcript, pairwise)
            same = "same values" if values == expected else f"DIFFERENT: {values} vs {expected}"
            line += f", all pairs {slow:8.3f} s ({slow / sweep:5.0f}x), {same}"
        else:
            line += ", all pairs skipped (quadratic)"
        print(line)


if __name__ == "__main__":
    main()
