"""How many PostgreSQL connections the service takes, and what happens past the server's limit.

Makes a database of its own with ``CONNECTION LIMIT`` (standing in for the server's
``max_connections``, without touching a server others share), starts ``--web`` service
processes and ``--workers`` Celery worker processes (``bench_service_load``'s, with the
scripted judge) with ``EVALUATOR_DB_POOL_SIZE`` / ``_DB_MAX_OVERFLOW``, posts calls to the web
processes in turn with concurrent clients, and samples ``pg_stat_activity`` meanwhile. A client
that gets a 503 waits its ``Retry-After`` (capped) and posts again, as a client should.

Prints the peak connections against the bound (processes x (size + overflow)) and the
limit, the answers by status (a 500 would be a bug: a refused connection is a 503 with
Retry-After), and whether every call was stored and judged once all the same.

    python benchmarks/bench_connections.py                 # the defaults: 5 + 10 per process
    python benchmarks/bench_connections.py --limit 100 --workers 3 --pool-size 20 --max-overflow 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_service_load import (
    KEY,
    ROOT,
    audit,
    start_server,
    start_workers,
    wait_all_finished,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def post_everywhere(
    bases: list[str], bodies: list[dict[str, Any]], concurrency: int
) -> collections.Counter[int]:
    """Post each body (to the web processes in turn) until it is stored; every answer
    counted by status."""
    answers: collections.Counter[int] = collections.Counter()
    limit = asyncio.Semaphore(concurrency)
    clients = [httpx.AsyncClient(base_url=b, headers={"X-API-Key": KEY}, timeout=60) for b in bases]

    async def one(n: int, body: dict[str, Any]) -> None:
        client = clients[n % len(clients)]
        async with limit:
            for _ in range(50):
                response = await client.post("/observability/v1/observe/", json=body)
                answers[response.status_code] += 1
                if response.status_code in (200, 201):
                    return
                if response.status_code != 503:
                    raise SystemExit(f"POST answered {response.status_code}: {response.text}")
                await asyncio.sleep(min(float(response.headers.get("retry-after", 1)), 1.0))
            raise SystemExit("a call was refused 50 times")

    try:
        await asyncio.gather(*(one(n, b) for n, b in enumerate(bodies)))
    finally:
        for client in clients:
            await client.aclose()
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="a server to make the benchmark's own database on",
    )  # fmt: skip
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--limit", type=int, default=40, help="the database's CONNECTION LIMIT")
    parser.add_argument("--web", type=int, default=2, help="web processes")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--worker-threads", type=int, default=16)
    parser.add_argument("--pool-size", type=int, default=5, help="EVALUATOR_DB_POOL_SIZE")
    parser.add_argument("--max-overflow", type=int, default=10, help="EVALUATOR_DB_MAX_OVERFLOW")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for judging")
    args = parser.parse_args()

    server_url = make_url(args.database_url)
    name = f"bench_conn_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    # A role of its own that owns the database: a superuser is not held to CONNECTION LIMIT.
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{name}" CONNECTION LIMIT {args.limit}'))
    url = server_url.set(database=name, username=name).render_as_string(hide_password=False)
    # The benchmark's own reads (waiting, the audit) as the superuser: not counted.
    own = server_url.set(database=name).render_as_string(hide_password=False)
    os.environ["EVALUATOR_DB_POOL_SIZE"] = str(args.pool_size)
    os.environ["EVALUATOR_DB_MAX_OVERFLOW"] = str(args.max_overflow)
    broker = {"broker_url": args.broker, "task_queue": f"bench-{name}", "sweep_seconds": "2"}
    template = json.loads((ROOT / "examples" / "calls" / "booking_success_cekura.json").read_text())
    bodies = [{**template, "call_id": f"conn-{n}"} for n in range(args.calls)]

    peak, stop = [0], threading.Event()

    def sample() -> None:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name")
        while not stop.wait(0.05):
            with admin.connect() as conn:  # connected to another database: not counted
                peak[0] = max(peak[0], int(conn.scalar(query, {"name": name}) or 0))

    load_before = os.getloadavg()
    ports = [_free_port() for _ in range(args.web)]
    children = [start_server(ports[0], 0.2, url, broker)]  # the first one migrates
    children += [start_server(p, 0.2, url, broker) for p in ports[1:]]
    children += start_workers(args.workers, args.worker_threads, 0.2, url, broker)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        started = time.perf_counter()
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        answers = asyncio.run(post_everywhere(bases, bodies, args.concurrency))
        posted = time.perf_counter() - started
        statuses = wait_all_finished(own, args.calls, timeout=args.timeout)
        judged = time.perf_counter() - started
        calls, distinct, not_once = audit(own)
    finally:
        stop.set()
        for child in children:
            child.terminate()
        for child in children:
            child.wait()
        with admin.connect() as conn:  # nothing left behind, whatever happened
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE "{name}"'))
        admin.dispose()

    processes = args.web + args.workers
    bound = processes * (args.pool_size + args.max_overflow)
    print(f"{args.web} web + {args.workers} worker processes ({args.worker_threads} threads), "
          f"pool {args.pool_size} + {args.max_overflow} overflow each: at most {bound} "
          f"connections; the database's limit {args.limit}")  # fmt: skip
    print(f"peak connections seen: {peak[0]}; answers by status: {dict(sorted(answers.items()))}; "
          f"all posted after {posted:.1f} s, all judged after {judged:.1f} s")  # fmt: skip
    print(f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    ok = calls == distinct == args.calls and not_once == 0
    ok = ok and statuses.get("evaluated") == args.calls and 500 not in answers
    print(f"stored {calls} calls, statuses {statuses}, not evaluated exactly once: {not_once}")
    print("OK: nothing lost, no 500" if ok else "FAILED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
