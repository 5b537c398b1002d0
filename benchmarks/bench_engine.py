"""The engine's own cost per call, without the model.

Runs every example call through the whole pipeline (intake, transcript, computed metrics,
triggers, prompt rendering, schema building, answer validation, rubric) with the scripted
fake judge answering instantly, and prints:
- LLM requests per call and prompt tokens per call (counted with litellm's tokenizer for
  gpt-4o-mini, an estimate for other models' tokenizers),
- the engine's own time per call (median and p95 over many runs), i.e. everything but
  waiting for the model.

    python benchmarks/bench_engine.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from evaluator import Settings, evaluate_prepared, load_definitions, read_request
from evaluator.judge.scripted import ScriptedJudge

ROOT = Path(__file__).resolve().parent.parent


async def main(runs: int) -> None:
    definitions = load_definitions(Settings(agents_dirs=[ROOT / "agents"]))
    bodies = [
        json.loads(p.read_text()) for p in sorted((ROOT / "examples" / "calls").glob("*.json"))
    ]
    judge = ScriptedJudge()
    per_call: list[float] = []
    for _ in range(runs):
        for body in bodies:
            started = time.perf_counter()
            call = read_request(body, definitions.catalogue)
            await evaluate_prepared(call, judge=judge, renderer=definitions.renderer)
            per_call.append(time.perf_counter() - started)
    requests = judge.requests[: len(bodies) * 1]
    tokens = []
    for body in bodies:
        before = len(judge.requests)
        await evaluate_prepared(
            read_request(body, definitions.catalogue), judge=judge, renderer=definitions.renderer
        )
        made = judge.requests[before:]
        tokens.append(
            sum(litellm.token_counter(model="gpt-4o-mini", messages=r.messages) for r in made)
        )
        requests = made
    calls = len(bodies)
    print(f"example calls: {calls}, runs: {runs}")
    print(f"LLM requests per call: {len(judge.requests) / (calls * (runs + 1)):.2f}")
    print(
        f"prompt tokens per call (gpt-4o-mini tokenizer, before the schema instructor may add): "
        f"mean {statistics.mean(tokens):.0f}, min {min(tokens)}, max {max(tokens)}"
    )
    schema_tokens = litellm.token_counter(
        model="gpt-4o-mini", text=json.dumps(requests[0].response_model.model_json_schema())
    )
    print(f"response schema size: {schema_tokens} tokens")
    ordered = sorted(per_call)
    print(
        f"engine time per call (no model): median {statistics.median(ordered) * 1000:.2f} ms, "
        f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
