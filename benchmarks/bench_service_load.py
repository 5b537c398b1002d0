"""Load test of the observe service: N concurrent POSTs to a real server on loopback.

Starts uvicorn (in a child process) with the scripted fake judge at a set latency, posts N
calls concurrently, waits until every one is evaluated, then checks from the database that
all N are stored and each was evaluated exactly once. With ``--kill`` it kills the server
(SIGKILL) while calls are mid-evaluation and starts it again before waiting, to show that
nothing is lost. Prints requests/s and p50/p99 latency of the POST, the time until every
call was judged, the server's (and workers') CPU time per call, and the load average.

``--database-url postgresql+psycopg://...`` runs on PostgreSQL, in a schema of its own made
for the run and dropped after it. ``--broker redis://127.0.0.1:6379/<db>`` runs the Celery
backend: the server only stores and publishes, ``--workers`` Celery worker processes (as
``evaluator worker`` runs them, with the same scripted judge) judge the calls.

    python benchmarks/bench_service_load.py --calls 500 --concurrency 50 --judge-latency 0.2
    python benchmarks/bench_service_load.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        --broker redis://127.0.0.1:6379/5 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

# The audit reads the database itself, independently of the API it checks.
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"


def _settings(database_url: str, broker: dict[str, str]) -> Any:
    from evaluator.config import Settings

    return Settings(database_url=database_url, api_keys=KEY, agents_dirs=[ROOT / "agents"],
                    poll_seconds=0.1, lease_seconds=3.0, concurrency=32,
                    **broker)  # type: ignore[arg-type]  # fmt: skip


def serve(port: int, latency: float, database_url: str, broker: dict[str, str]) -> None:
    """Child process: the service with the fake judge (with a broker: it only publishes)."""
    import uvicorn

    from evaluator.judge.scripted import ScriptedJudge
    from evaluator.service.app import create_app

    settings = _settings(database_url, broker)
    app = create_app(settings, judge=ScriptedJudge(latency_seconds=latency))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def work(latency: float, database_url: str, broker: dict[str, str], threads: int) -> None:
    """Child process: a Celery worker as ``evaluator worker`` runs one (threads pool, the
    alerts after each call), judging with the fake judge."""
    from evaluator.bootstrap import load_definitions
    from evaluator.cli.worker import alerts_after_evaluation
    from evaluator.judge.scripted import ScriptedJudge
    from evaluator.store.calls import Store
    from evaluator.tasks.app import make_app
    from evaluator.tasks.job import JobContext
    from evaluator.tasks.recordings import Recordings

    settings = _settings(database_url, broker)
    app = make_app(settings)
    store = Store(database_url, busy_timeout=settings.db_busy_timeout, pool=settings.db_pool())
    context = JobContext(store, load_definitions(settings), ScriptedJudge(latency_seconds=latency),
                         settings, Recordings(settings, store))  # fmt: skip
    app.evaluator_runtime.use(context)
    app.evaluator_runtime.after_evaluation = alerts_after_evaluation(settings)
    app.worker_main(["worker", f"--concurrency={threads}", "--pool=threads",
                     f"--queues={settings.task_queue}", "--loglevel=warning"])  # fmt: skip


def start_server(
    port: int, latency: float, database_url: str, broker: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return run_until_healthy(
        f"from benchmarks.bench_service_load import serve; "
        f"serve({port}, {latency}, {database_url!r}, {broker or {}!r})",
        port,
    )


def start_workers(
    count: int, threads: int, latency: float, database_url: str, broker: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    call = (f"from benchmarks.bench_service_load import work; "
            f"work({latency}, {database_url!r}, {broker!r}, {threads})")  # fmt: skip
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); {call}"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh_schema(url: str) -> tuple[str, Any]:
    """A PostgreSQL URL pinned to a new schema of its own, and how to drop it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}", drop


def run_until_healthy(call: str, port: int, tries: int = 300) -> subprocess.Popen[bytes]:
    """A child Python running ``call`` (from the repository root), once its ``/health`` on
    ``port`` answers 200; it is killed if it never does within ``tries`` tenths of a second."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); {call}"
    process = subprocess.Popen([sys.executable, "-c", code])
    for _ in range(tries):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


async def post_all(
    base: str, bodies: list[dict[str, Any]], concurrency: int
) -> tuple[list[float], list[int], float]:
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    ids: list[int] = []
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": KEY}, limits=limits, timeout=60
    ) as client:

        async def one(body: dict[str, Any]) -> None:
            async with limit:
                started = time.perf_counter()
                response = await client.post("/observability/v1/observe/", json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise SystemExit(f"POST answered {response.status_code}: {response.text}")
                ids.append(response.json()["id"])

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        elapsed = time.perf_counter() - started
    return latencies, ids, elapsed


def count_evaluating(database_url: str) -> int:
    from evaluator.store.tables import CallRow

    engine = create_engine(database_url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).where(CallRow.evaluation_status == "evaluating"))
    engine.dispose()
    return int(n or 0)


def wait_all_finished(database_url: str, expected: int, timeout: float) -> dict[str, int]:
    from evaluator.store.tables import CallRow

    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(CallRow.evaluation_status, func.count()).group_by(CallRow.evaluation_status)
            ).all()
        statuses = {status: int(n) for status, n in rows}
        done = statuses.get("evaluated", 0) + statuses.get("failed", 0)
        if done >= expected or time.monotonic() > deadline:
            engine.dispose()
            return statuses
        time.sleep(0.2)


def audit(database_url: str) -> tuple[int, int, int]:
    """(calls stored, distinct call_ids, calls with other than exactly one evaluation run)."""
    from evaluator.store.tables import CallRow, EvaluationRow

    engine = create_engine(database_url)
    with engine.connect() as conn:
        calls = conn.scalar(select(func.count()).select_from(CallRow)) or 0
        distinct = conn.scalar(select(func.count(func.distinct(CallRow.call_id)))) or 0
        runs = (
            select(EvaluationRow.call_pk, func.count().label("n"))
            .group_by(EvaluationRow.call_pk)
            .subquery()
        )
        with_one = conn.scalar(select(func.count()).select_from(runs).where(runs.c.n == 1)) or 0
    engine.dispose()
    return int(calls), int(distinct), int(calls) - int(with_one)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--judge-latency", type=float, default=0.2, help="seconds per judge request"
    )
    parser.add_argument(
        "--database-url", default=None,
        help="default: a fresh SQLite file; PostgreSQL: a fresh schema in that database",
    )  # fmt: skip
    parser.add_argument(
        "--kill", action="store_true", help="SIGKILL the server mid-evaluation, then restart it"
    )
    parser.add_argument("--broker", default=None, help="Celery backend: the broker's URL")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--worker-threads", type=int, default=16, help="tasks at once, each")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-service-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    drop_schema = None
    if database_url.startswith("postgresql"):
        database_url, drop_schema = fresh_schema(database_url)
    broker = {}
    if args.broker:
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        broker = {"broker_url": args.broker, "task_queue": queue, "sweep_seconds": "2"}
    template = json.loads((ROOT / "examples" / "calls" / "booking_success_cekura.json").read_text())
    bodies = [{**template, "call_id": f"bench-{n}"} for n in range(args.calls)]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    load_before = os.getloadavg()
    server = start_server(port, args.judge_latency, database_url, broker)
    workers = []
    if broker:  # started after the server, which made the schema
        workers = start_workers(args.workers, args.worker_threads, args.judge_latency,
                                database_url, broker)  # fmt: skip
    cpu: dict[str, float] = {}
    if workers:
        time.sleep(3.0)  # the workers' start-up (imports, connecting) is not the calls' cost
    # Start-up (imports, migrations) is not the calls' cost either.
    cpu_start = {"server": cpu_seconds(server.pid),
                 "workers": sum(cpu_seconds(w.pid) for w in workers)}  # fmt: skip
    try:
        started = time.perf_counter()
        latencies, ids, elapsed = asyncio.run(
            post_all(f"http://127.0.0.1:{port}", bodies, args.concurrency)
        )
        if args.kill:
            while count_evaluating(database_url) == 0:
                time.sleep(0.01)
            in_flight = count_evaluating(database_url)
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
            print(f"killed the server with {in_flight} calls evaluating; restarting")
            server = start_server(port, args.judge_latency, database_url, broker)
        statuses = wait_all_finished(database_url, args.calls, timeout=600)
        all_judged = time.perf_counter() - started
        cpu_end = {"server": cpu_seconds(server.pid),
                   "workers": sum(cpu_seconds(w.pid) for w in workers)}  # fmt: skip
        cpu = {k: cpu_end[k] - cpu_start[k] for k in cpu_end}
    finally:
        for child in [server, *workers]:
            child.terminate()
        for child in [server, *workers]:
            child.wait()
    load_after = os.getloadavg()

    calls, distinct, not_once = audit(database_url)
    if drop_schema is not None:
        drop_schema()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    backend = "embedded worker (32 runners)"
    if broker:
        backend = f"Celery ({args.workers} workers x {args.worker_threads} threads)"
    print(f"database: {database_url.split('://')[0]}, backend: {backend}, judge latency "
          f"{args.judge_latency}s, {args.calls} calls, {args.concurrency} clients")  # fmt: skip
    p50 = statistics.median(latencies)
    print(f"POST: {args.calls / elapsed:.1f} requests/s, p50 {p50 * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms; every call judged after {all_judged:.1f} s")  # fmt: skip
    per_call = {k: v / args.calls * 1000 for k, v in cpu.items() if v}
    print("CPU per call: " + ", ".join(f"{k} {v:.1f} ms" for k, v in per_call.items())
          + f"; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")  # fmt: skip
    print(f"stored: {calls} calls ({distinct} distinct call_ids, {len(set(ids))} ids returned); "
          f"statuses {statuses}; calls without exactly one evaluation run: {not_once}")  # fmt: skip
    ok = (
        calls == distinct == len(set(ids)) == args.calls
        and not_once == 0
        and statuses.get("evaluated") == args.calls
    )
    print(
        "OK: every call stored and evaluated exactly once"
        if ok
        else "FAILED: lost or duplicated calls"
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
