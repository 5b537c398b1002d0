"""Celery workers at scale: a re-evaluation run on 1, 2 and 4 worker processes against a
loopback stand-in model with a fixed latency, under one shared requests-per-minute cap.

For each size, the same stored calls are re-judged (judgment cache off, so every call is a
request) and the script prints the throughput against the ideal, min(cap, workers x
concurrency / latency), and the stand-in's highest per-second and per-minute request counts
(never above the cap). Then the same run twice with the cache on: the second makes 0
requests. Needs PostgreSQL and Redis (a fresh schema, a unique queue and key prefix).

The workers are started, and have said they are ready, before the clock starts: the run is
timed from publishing its first chunk to seeing it finished in the store (``run_on_workers``,
what ``evaluator reevaluate --backend celery`` does), chunked as the command chunks it. Each
size also prints where the time went: the first and the last request the stand-in received
and the end, counted from the start, and the calls each worker judged.

    python benchmarks/bench_scale.py --calls 960 --latency 1.0 --concurrency 8 --rpm 1200

The default of 960 calls makes each run long enough to say something: at 4 workers it sits
at the cap for about 48 s, and at 1 worker it spans two minutes, so the per-minute count is
measured over real minutes; and the fixed costs of any run (the first request about half a
second after the clock starts, the last one's latency) are a few percent of it, as they are
of a real re-evaluation. ``--calls 240`` shows them: 91%, 87% and 94% of the ideal on a
quiet machine, against 94%, 92% and 99% at 960.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from evaluator.bootstrap import load_definitions
from evaluator.config import Settings
from evaluator.reevaluate.run import RunOptions, Selection, start_run
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunStore
from evaluator.tasks.app import Publisher
from evaluator.tasks.chunks import chunk_size, run_on_workers
from tests.conftest import ROOT, load_example, postgres_schema_url
from tests.reevaluate.conftest import add_judged_calls
from tests.reevaluate.stand_in import StandIn, serve_stand_in

EVALUATOR = str(Path(sys.executable).parent / "evaluator")


def environment(args: argparse.Namespace, url: str, stand_in: StandIn, prefix: str,
                cache: str) -> dict[str, str]:  # fmt: skip
    values = {"MODEL": "openai/stand-in", "API_BASE": stand_in.url, "API_KEY": "x",
              "STRUCTURED_MODE": "constrained_json", "DATABASE_URL": url,
              "BROKER_URL": args.redis, "TASK_QUEUE": prefix, "RATE_LIMIT_KEY": prefix,
              "AGENTS_DIRS": json.dumps([str(ROOT / "agents")]), "NUM_RETRIES": "0",
              "CONCURRENCY": str(args.concurrency), "MAX_IN_FLIGHT": "",
              "RPM": str(args.rpm), "CACHE": cache}  # fmt: skip
    return {f"EVALUATOR_{k}": v for k, v in values.items() if v}


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for k in range(count):
        log = (logs / f"worker-{k}.log").open("wb")
        processes.append(subprocess.Popen(
            [EVALUATOR, "worker", f"--concurrency={env['EVALUATOR_CONCURRENCY']}",
             f"--hostname=bench{k}-{uuid.uuid4().hex[:6]}@%h", "--loglevel=info",
             f"--queues={env['EVALUATOR_TASK_QUEUE']}.reevaluate"],
            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
    for k in range(count):
        while b" ready." not in (logs / f"worker-{k}.log").read_bytes():
            time.sleep(0.1)
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def peaks(arrivals: list[float]) -> tuple[int, int]:
    """The most requests the stand-in saw in any 1 s and any 60 s window."""
    times = sorted(arrivals)
    best = {1.0: 0, 60.0: 0}
    for width in best:
        j = 0
        for i, start in enumerate(times):
            while j < len(times) and times[j] < start + width:
                j += 1
            best[width] = max(best[width], j - i)
    return best[1.0], best[60.0]


def one_run(
    settings: Settings, store: Store, definitions: Any, chunk: int
) -> tuple[float, float, Any]:
    """One run on the workers: when it started (``time.time()``, the stand-in's clock), how
    long it took, and its counts."""
    run_id = start_run(store, RunOptions(Selection(), ("all",), False), definitions)
    publisher = Publisher(settings)
    started, clock = time.time(), time.monotonic()
    progress = run_on_workers(RerunStore(store), publisher, run_id, chunk)
    wall = time.monotonic() - clock
    publisher.close()
    return started, wall, progress


def judged_per_worker(logs: Path, count: int) -> list[int]:
    """The calls each worker judged, from its log's chunk results."""
    done = re.compile(rb"reevaluate_chunk\[\S+\] succeeded in \S+ '(\d+) judged")
    return [sum(int(n) for n in done.findall((logs / f"worker-{k}.log").read_bytes()))
            for k in range(count)]  # fmt: skip


def main(args: argparse.Namespace) -> None:
    print(f"load before: {os.getloadavg()[0]:.2f}")
    urls = postgres_schema_url()
    url = next(urls)
    logs = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    store = Store(url)
    store.upgrade()
    definitions = load_definitions(Settings(agents_dirs=[ROOT / "agents"]))
    asyncio.run(add_judged_calls(store, definitions, load_example(
        "booking_success_cekura.json"), args.calls))  # fmt: skip
    cap = args.rpm / 60
    chunk = args.chunk or chunk_size(args.concurrency)
    print(f"{args.calls} calls, {args.latency} s a request, {args.concurrency} request slots a "
          f"worker, cap {args.rpm:.0f}/min, {chunk} calls a chunk")  # fmt: skip
    try:
        with serve_stand_in(latency=args.latency) as stand_in:
            for count in args.sizes:
                prefix = f"bench-scale-{uuid.uuid4().hex[:8]}"
                env = environment(args, url, stand_in, prefix, "off")
                settings = Settings(broker_url=args.redis, task_queue=prefix)
                logs = Path(tempfile.mkdtemp(prefix=f"bench-scale-{count}-"))
                workers = start_workers(count, env, logs)
                before = len(stand_in.arrivals)
                try:
                    started, wall, progress = one_run(settings, store, definitions, chunk)
                finally:
                    stop(workers)
                arrivals = stand_in.arrivals[before:]
                ideal = min(cap, count * args.concurrency / args.latency)
                rate = progress.done / wall
                per_second, per_minute = peaks(arrivals)
                print(f"{count} worker(s): {progress.done} calls in {wall:.1f} s = {rate:.1f}/s; "
                      f"ideal {ideal:.1f}/s; {100 * rate / ideal:.0f}% of ideal; stand-in peak "
                      f"{per_second}/s, {per_minute}/min (cap {args.rpm:.0f}/min); "
                      f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
                print(f"  first request +{min(arrivals) - started:.2f} s, last +"
                      f"{max(arrivals) - started:.2f} s, end +{wall:.2f} s; calls judged per "
                      f"worker {judged_per_worker(logs, count)}")  # fmt: skip
            prefix = f"bench-scale-{uuid.uuid4().hex[:8]}"
            env = environment(args, url, stand_in, prefix, "sql")
            settings = Settings(broker_url=args.redis, task_queue=prefix)
            workers = start_workers(2, env, logs)
            try:
                one_run(settings, store, definitions, chunk)
                before = len(stand_in.arrivals)
                one_run(settings, store, definitions, chunk)
                print(
                    f"a second identical run (cache on): {len(stand_in.arrivals) - before} requests"
                )
            finally:
                stop(workers)
    finally:
        store.close()
        next(urls, None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=960)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8, help="per worker process")
    parser.add_argument("--rpm", type=float, default=1200.0, help="shared cap")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--chunk", type=int, help="calls a chunk (default: the command's)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    main(parser.parse_args())
