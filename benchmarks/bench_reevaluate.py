"""Re-evaluating stored calls at scale, through the real judge, against a local stand-in.

A tiny OpenAI-compatible server on loopback (uvicorn, raw ASGI) answers every chat
completion with a schema-valid answer built from the request's ``response_format`` schema
after a set latency, optionally refusing with 429 + Retry-After above a requests-per-minute
limit. N calls are stored in a fresh SQLite store; every call is judged on 10 LLM metrics
(a metrics folder of 10) by ``LiteLLMJudge`` behind the judgment cache, at a concurrency.
Prints:
- wall time against the ideal (calls x requests per call x latency / concurrency, or the
  rate limit), and the share of the ideal throughput reached,
- LLM requests per call, prompt tokens per call against one request per metric,
- peak memory (max RSS), the second identical run's requests (should be 0),
- the engine's own time and CPU per call (scripted judge answering instantly), and the CPU
  per call of the whole run (the engine's processes, and the stand-in's apart): process CPU
  time, which other processes' load on the machine does not inflate,
- the load average around the run (the throughput does depend on it).
``--workers N`` runs the re-evaluation in N processes (``evaluator reevaluate --workers``).
``--judge-only N`` instead sends N requests of one call through ``LiteLLMJudge`` alone (no
store, no cache) at ``--concurrency`` against the stand-in at ``--latency`` (0 for the judge's
own CPU per request); ``--profile FILE`` writes a cProfile of it. ``--price IN,OUT``
declares the stand-in model's price (USD per million tokens, as
``EVALUATOR_INPUT/OUTPUT_COST_PER_MTOK``); without it the model is one litellm has no price
for.

    python benchmarks/bench_reevaluate.py --calls 10000 --latency 1.0 --concurrency 64
    python benchmarks/bench_reevaluate.py --calls 10000 --latency 1.0 --concurrency 64 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import gc
import json
import multiprocessing
import os
import resource
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from evaluator.bootstrap import Definitions, load_definitions, settle_heap
from evaluator.config import Settings
from evaluator.engine import dry_run_requests, evaluate_prepared
from evaluator.ingest.intake import read_request
from evaluator.judge.cache import CachingJudge
from evaluator.judge.litellm_judge import JudgeSettings, LiteLLMJudge
from evaluator.judge.scripted import ScriptedJudge
from evaluator.reevaluate.parallel import Limits, limited, run_in_processes
from evaluator.reevaluate.run import Progress, Reevaluation, RunOptions, Selection, start_run
from evaluator.store.calls import Store
from evaluator.store.judgments import SqlBackend
from tests.reevaluate.conftest import add_judged_calls
from tests.reevaluate.stand_in import example_of

ROOT = Path(__file__).resolve().parent.parent
METRICS = ["call_goal_achieved", "csat", "expected_outcome", "hallucination",
           "instruction_following", "relevancy", "response_consistency", "sentiment",
           "unnecessary_repetition", "verbosity"]  # fmt: skip


# The stand-in server (runs in its own process).


def _serve(port: int, latency: float, rpm: float | None) -> None:
    import uvicorn

    state = {"requests": 0, "refused": 0, "window": time.monotonic(), "in_window": 0,
             "in_flight": 0, "most_in_flight": 0}  # fmt: skip

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"].endswith("/stats"):
            return await _reply(send, 200, {**state, "cpu_seconds": time.process_time()})
        now = time.monotonic()
        if now - state["window"] >= 1.0:
            state["window"], state["in_window"] = now, 0
        if rpm is not None and state["in_window"] >= rpm / 60:
            state["refused"] += 1
            return await _reply(send, 429, {"error": {"message": "rate limited"}}, retry="1")
        state["in_window"] += 1
        state["requests"] += 1
        state["in_flight"] += 1
        state["most_in_flight"] = max(state["most_in_flight"], state["in_flight"])
        request = json.loads(body)
        schema = request["response_format"]["schema"]
        answer = json.dumps(example_of(schema, schema.get("$defs", {})))
        prompt = sum(len(m.get("content") or "") for m in request["messages"]) // 4
        await asyncio.sleep(latency)
        state["in_flight"] -= 1
        await _reply(send, 200, {
            "id": "bench", "object": "chat.completion", "created": 0, "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(answer) // 4,
                      "total_tokens": prompt + len(answer) // 4},
        })  # fmt: skip

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096)


async def _reply(send: Any, status: int, data: Any, retry: str | None = None) -> None:
    headers = [(b"content-type", b"application/json")]
    if retry:
        headers.append((b"retry-after", retry.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stats(port: int) -> dict[str, Any]:
    import httpx

    return dict(httpx.post(f"http://127.0.0.1:{port}/stats").json())


# The benchmark.


def _definitions(folder: Path) -> Definitions:
    metrics, agents = folder / "metrics", folder / "agents"
    metrics.mkdir()
    agents.mkdir()
    for name in METRICS:
        shutil.copy(ROOT / "metrics" / f"{name}.yaml", metrics / f"{name}.yaml")
    agent = yaml.safe_load((ROOT / "agents" / "bright_smile_dental.yaml").read_text())
    agent.update(
        metrics="all", success=[{"metric": "call_goal_achieved", "op": "eq", "value": True}]
    )
    (agents / "agent.yaml").write_text(yaml.safe_dump(agent))
    return Settings(metrics_dirs=[metrics], agents_dirs=[agents])


async def _prompt_tokens(definitions: Definitions, body: dict[str, Any]) -> tuple[int, int, int]:
    """Requests per call, and prompt tokens per call batched vs one request per metric."""
    call = read_request(body, definitions.catalogue)
    batched = dry_run_requests(call, definitions.renderer)
    catalogue = copy.copy(definitions.catalogue)
    catalogue.metrics = {
        k: m.model_copy(update={"isolated": m.is_llm}) for k, m in catalogue.metrics.items()
    }
    single = dry_run_requests(read_request(body, catalogue), definitions.renderer)

    def tokens(requests: list[Any]) -> int:
        return sum(sum(len(m["content"]) for m in r.messages) for r in requests) // 4

    return len(batched), tokens(batched), tokens(single)


async def _engine_ms(
    definitions: Definitions, body: dict[str, Any], runs: int = 200
) -> tuple[float, float]:
    """Median wall time and median CPU time (this process, all its threads) of one call."""
    judge = ScriptedJudge()
    times, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        call = read_request(body, definitions.catalogue)
        await evaluate_prepared(call, judge=judge, renderer=definitions.renderer)
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(times) * 1000, statistics.median(cpus) * 1000


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Start VmHWM again from the current RSS, so a phase's own peak can be read."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def _run(
    store: Store, settings: Settings, args: argparse.Namespace, backend: SqlBackend
) -> tuple[float, Progress]:
    definitions = load_definitions(settings)
    run_id = start_run(store, RunOptions(Selection(), ("all",)), definitions)
    limits = Limits(args.concurrency, args.rpm, None, args.workers)
    started, cpu = time.perf_counter(), _cpu()
    if args.workers > 1:
        progress = await asyncio.to_thread(run_in_processes, settings, run_id, limits)
    else:
        judge = limited(CachingJudge(_judge(settings), backend), limits)
        settle_heap(settings)  # as ``evaluator reevaluate`` does before its run
        progress = await Reevaluation(store, definitions, judge, limits.tasks).run(run_id)
    progress.cpu_seconds = _cpu() - cpu  # type: ignore[attr-defined]
    return time.perf_counter() - started, progress


def _judge(settings: Settings) -> LiteLLMJudge:
    assert settings.model is not None
    return LiteLLMJudge(
        JudgeSettings(
            model=settings.model, api_base=settings.api_base, api_key=settings.api_key,
            structured_mode=settings.structured_mode, num_retries=settings.num_retries,
            price=settings.judge_price(),
        )
    )  # fmt: skip


def _print(
    args: argparse.Namespace, wall: float, ideal: float, progress: Any, first: dict[str, Any],
    second: dict[str, Any], wall2: float, progress2: Any,
) -> None:  # fmt: skip
    print(f"calls {args.calls}, 10 LLM metrics each, latency {args.latency} s, "
          f"concurrency {args.concurrency}, rpm {args.rpm}, workers {args.workers}, "
          f"price {args.price or 'none (a model litellm does not know)'}")  # fmt: skip
    print(f"first run: wall {wall:.1f} s, ideal {ideal:.1f} s: {ideal / wall:.0%} of ideal "
          f"({args.calls / wall:.1f} calls/s; load average before it {first['load']})")  # fmt: skip
    print(f"  {progress.done} judged, {progress.failed} failed, {first['refused']} refused (429)")
    print(f"  CPU per call: {1000 * progress.cpu_seconds / args.calls:.1f} ms in the engine "
          f"(process CPU time of all threads and workers), "
          f"{1000 * first['server_cpu'] / args.calls:.1f} ms in the stand-in; load average "
          f"after the run {first['load_after']}")  # fmt: skip
    print(f"LLM requests per call: {first['requests'] / args.calls:.2f}; most in flight at "
          f"once at the stand-in: {first['most_in_flight']}")  # fmt: skip
    print(f"second identical run: {second['requests'] - first['requests']} LLM requests, "
          f"{progress2.usage.cache_hits} cache hits, wall {wall2:.1f} s")  # fmt: skip


async def judge_only(args: argparse.Namespace) -> None:
    """The judge's own CPU per request: one call's requests sent over and over."""
    folder = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    port = _free_port()
    settings = _definitions(folder)
    definitions = load_definitions(settings)
    body = json.loads((ROOT / "examples" / "calls" / "booking_success_cekura.json").read_text())
    requests = dry_run_requests(read_request(body, definitions.catalogue), definitions.renderer)
    server = multiprocessing.Process(target=_serve, args=(port, args.latency, None), daemon=True)
    server.start()
    time.sleep(2.0)
    judge = LiteLLMJudge(
        JudgeSettings(model="openai/bench-model", api_base=f"http://127.0.0.1:{port}/v1",
                      api_key="sk-bench", structured_mode="constrained_json", num_retries=0,
                      price=_price(args))
    )  # fmt: skip
    slots = asyncio.Semaphore(args.concurrency)

    async def one(index: int) -> None:
        async with slots:
            answer = await judge.answer(requests[index % len(requests)])
            assert not answer.errors, answer.errors

    try:
        await asyncio.gather(*(one(i) for i in range(20)))  # warm: connections, schemas
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        load, started, cpu = _load(), time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(args.judge_only)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    finally:
        server.terminate()
        server.join()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"judge only: {args.judge_only} requests, latency {args.latency} s, price "
          f"{args.price or 'none'}, concurrency "
          f"{args.concurrency}: {1000 * cpu / args.judge_only:.2f} ms CPU per request "
          f"(process CPU time), wall {wall:.1f} s; load average before {load}, "
          f"after {_load()}")  # fmt: skip


def _price_settings(args: argparse.Namespace) -> dict[str, float]:
    if not args.price:
        return {}
    rates = [float(part) for part in args.price.split(",")]
    return {"input_cost_per_mtok": rates[0], "output_cost_per_mtok": rates[1]}


def _price(args: argparse.Namespace) -> tuple[float, float] | None:
    return Settings(**_price_settings(args)).judge_price()  # type: ignore[arg-type]


async def main(args: argparse.Namespace) -> None:
    if args.judge_only:
        return await judge_only(args)
    folder = Path(tempfile.mkdtemp(prefix="bench-reevaluate-"))
    port = _free_port()
    settings = _definitions(folder).model_copy(
        update={
            "model": "openai/bench-model",
            "api_base": f"http://127.0.0.1:{port}/v1",
            "api_key": "sk-bench",
            "structured_mode": "constrained_json",
            "num_retries": 0,
            "database_url": f"sqlite:///{folder / 'evaluator.db'}",
            "cache": "sql",
            **_price_settings(args),
        }
    )
    definitions = load_definitions(settings)
    body = json.loads((ROOT / "examples" / "calls" / "booking_success_cekura.json").read_text())
    store = Store(settings.database_url)
    store.upgrade()
    started = time.perf_counter()
    await add_judged_calls(store, definitions, body, args.calls)
    print(f"stored {args.calls} judged calls in {time.perf_counter() - started:.1f} s")
    server = multiprocessing.Process(
        target=_serve, args=(port, args.latency, args.rpm), daemon=True
    )
    server.start()
    time.sleep(2.0)
    backend = SqlBackend(store.url)
    try:
        idle = _stats(port)
        gc.collect()
        _reset_peak()
        memory = (_rss_mb(), 0.0)
        load = _load()
        wall, progress = await _run(store, settings, args, backend)
        load_after = _load()
        memory = (memory[0], _rss_mb("VmHWM"))
        first = _stats(port)
        first["server_cpu"] = first["cpu_seconds"] - idle["cpu_seconds"]
        first["load"], first["load_after"] = load, load_after
        wall2, progress2 = await _run(store, settings, args, backend)
        second = _stats(port)
    finally:
        server.terminate()
        server.join()
    per_call, batched_tokens, single_tokens = await _prompt_tokens(definitions, body)
    ideal = args.calls * per_call * args.latency / args.concurrency
    if args.rpm:
        ideal = max(ideal, args.calls * per_call / (args.rpm / 60))
    _print(args, wall, ideal, progress, first, second, wall2, progress2)
    print(
        f"prompt tokens per call: {batched_tokens} batched, {single_tokens} one request per metric"
    )
    print(f"memory of the first run: {memory[0]:.0f} MB before, peak {memory[1]:.0f} MB "
          "(this process)")  # fmt: skip
    if args.workers > 1:
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  largest worker process or the stand-in: {workers:.0f} MB max RSS")
    engine, engine_cpu = await _engine_ms(definitions, body)
    print(f"engine's own time per call (scripted judge, median): {engine:.1f} ms wall, "
          f"{engine_cpu:.1f} ms CPU")  # fmt: skip
    print(f"load average at the end: {_load()}")
    backend.close()
    store.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rpm", type=float, default=None)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--judge-only", type=int, default=0, metavar="N",
                        help="send N judge requests alone (no store): the judge's CPU")  # fmt: skip
    parser.add_argument("--profile", default=None, help="cProfile output of --judge-only")
    parser.add_argument("--price", default=None, metavar="IN,OUT",
                        help="the stand-in model's price, USD per million tokens")  # fmt: skip
    asyncio.run(main(parser.parse_args()))
