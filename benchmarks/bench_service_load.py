"""Load test of the observe service: N concurrent POSTs to a real server on loopback.

Starts uvicorn (in a child process) with the scripted fake judge at a set latency, posts N
calls concurrently, waits until every one is evaluated, then checks from the database that
all N are stored and each was evaluated exactly once. With ``--kill`` it kills the server
(SIGKILL) while calls are mid-evaluation and starts it again before waiting, to show that
nothing is lost. Prints requests/s and p50/p99 latency of the POST.

    python benchmarks/bench_service_load.py --calls 500 --concurrency 50 --judge-latency 0.2
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
from pathlib import Path
from typing import Any

import httpx

# The audit reads the database itself, independently of the API it checks.
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"


def serve(port: int, latency: float, database_url: str) -> None:
    """Child process: the service with the fake judge."""
    import uvicorn

    from evaluator.config import Settings
    from evaluator.judge.scripted import ScriptedJudge
    from evaluator.service.app import create_app

    settings = Settings(database_url=database_url, api_keys=KEY, agents_dirs=[ROOT / "agents"],
                        poll_seconds=0.1, lease_seconds=3.0, concurrency=32)  # fmt: skip
    app = create_app(settings, judge=ScriptedJudge(latency_seconds=latency))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server(port: int, latency: float, database_url: str) -> subprocess.Popen[bytes]:
    return run_until_healthy(
        f"from benchmarks.bench_service_load import serve; "
        f"serve({port}, {latency}, {database_url!r})",
        port,
    )


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
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--kill", action="store_true", help="SIGKILL the server mid-evaluation, then restart it"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-service-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    template = json.loads((ROOT / "examples" / "calls" / "booking_success_cekura.json").read_text())
    bodies = [{**template, "call_id": f"bench-{n}"} for n in range(args.calls)]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = start_server(port, args.judge_latency, database_url)
    try:
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
            server = start_server(port, args.judge_latency, database_url)
        statuses = wait_all_finished(database_url, args.calls, timeout=600)
    finally:
        server.terminate()
        server.wait()

    calls, distinct, not_once = audit(database_url)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"database: {database_url.split('://')[0]}, judge latency {args.judge_latency}s, "
          f"{args.calls} calls, {args.concurrency} concurrent clients")  # fmt: skip
    p50 = statistics.median(latencies)
    print(f"POST: {args.calls / elapsed:.1f} requests/s, p50 {p50 * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms")  # fmt: skip
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
