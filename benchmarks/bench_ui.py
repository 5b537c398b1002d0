"""Server time of the review UI over many stored calls, on SQLite and PostgreSQL.

Seeds N calls (default 10,000) of the example agent, each with a current evaluation of every
metric (values varied: 5% hallucinate, latency_p95 spread over 500..3500 ms, 1% of
transcripts mention "refund"), then times, median of ``--repeat`` runs:

- the calls list (page 1 of 25, with its count) filtered by metric conditions
  ``no_hallucination = false`` and ``latency_p95 > 2000`` and by success;
- the same with an all-time transcript search ("refund");
- that search alone, and a search every call matches ("check-up": the index cannot narrow it,
  the worst case for the count);
- the call page: one call read with its votes (``Store.get_call``, ``VoteStore.of_call``);
- both pages through HTTP (the app in process: routing, session, rendering included).

    python benchmarks/bench_ui.py [--calls 10000] [--repeat 15] [--postgres URL]

PostgreSQL runs in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
from sqlalchemy import create_engine, insert, text, update

from evaluator.bootstrap import load_definitions
from evaluator.config import Settings
from evaluator.engine import evaluate_prepared
from evaluator.ingest.intake import read_request
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.app import create_app
from evaluator.store.browse import BrowseQuery, browse_calls
from evaluator.store.calls import Store
from evaluator.store.db import now
from evaluator.store.rows import evaluation_values
from evaluator.store.tables import CallRow, EvaluationRow, MetricResultRow
from evaluator.store.types import CallFilter, MetricCondition
from evaluator.store.votes import VoteStore

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
WHERE = CallFilter(
    success=False,
    metrics=(MetricCondition("no_hallucination", "eq", False),
             MetricCondition("latency_p95", "gt", 2000.0)),
)  # fmt: skip
UI_FILTER = {"success": "false", "metric": ["no_hallucination = false", "latency_p95 > 2000"]}


def _template() -> tuple[dict[str, Any], Any, Any]:
    settings = Settings(agents_dirs=[ROOT / "agents"])
    definitions = load_definitions(settings)
    body = json.loads((ROOT / "examples/calls/booking_success_cekura.json").read_text())
    prepared = read_request(body, definitions.catalogue)
    result = asyncio.run(
        evaluate_prepared(prepared, judge=ScriptedJudge(), renderer=definitions.renderer)
    )
    return body, prepared, result


def seed(url: str, count: int) -> None:
    """``count`` calls with current evaluations, written in batches."""
    body, prepared, result = _template()
    store = Store(url)
    store.upgrade()
    store.close()
    engine = create_engine(url)
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=30)
    transcript = prepared.transcript.to_object()
    text_base = "\n".join(t.render() for t in prepared.transcript.turns)
    batch = 1000
    with engine.begin() as conn:
        for first in range(0, count, batch):
            calls = []
            for i in range(first, min(first + batch, count)):
                extra = " I would like a refund." if rng.random() < 0.01 else ""
                calls.append({
                    "call_id": f"bench-{i}", "agent_id": 1, "agent_name": "Bright Smile",
                    "trace_id": None, "body": "{}", "body_hash": f"{i:064d}", "request": body,
                    "dedupe_key": f"1:bench-{i}", "overrides": {},
                    "occurred_at": start + timedelta(seconds=i * 30 * 86400 / count),
                    "duration": "01:00", "transcript_text": text_base + extra,
                    "transcript_object": transcript, "evaluation_status": "evaluated",
                    "attempts": 1, "next_attempt_at": now(), "job_scope": "request",
                    "created_at": now(), "updated_at": now(),
                })  # fmt: skip
            ids = conn.execute(insert(CallRow).returning(CallRow.id), calls).scalars().all()
            runs, metric_rows = [], []
            for pk in ids:
                run, metrics = evaluation_values(pk, result, result.metrics, "bench", now())
                run["success"] = rng.random() < 0.7
                runs.append(run)
                metric_rows.append(metrics)
            run_ids = (
                conn.execute(insert(EvaluationRow).returning(EvaluationRow.id), runs)
                .scalars()
                .all()
            )
            values = []
            for run_id, metrics in zip(run_ids, metric_rows, strict=True):
                for m in metrics:
                    m = {**m, "evaluation_id": run_id}
                    if m["metric_id"] == "no_hallucination":
                        m["score"] = rng.random() >= 0.05
                        m["number_value"] = 1.0 if m["score"] else 0.0
                    if m["metric_id"] == "latency_p95":
                        m["score"] = m["number_value"] = rng.uniform(500, 3500)
                    values.append(m)
            conn.execute(insert(MetricResultRow), values)
            for pk, run_id in zip(ids, run_ids, strict=True):
                conn.execute(update(CallRow).where(CallRow.id == pk)
                             .values(current_evaluation_id=run_id))  # fmt: skip
    engine.dispose()
    # Fresh statistics and visibility, as autovacuum (PostgreSQL) or a periodic ANALYZE would
    # leave them: without them the planner guesses and the figures say nothing of production.
    tidy = create_engine(url, isolation_level="AUTOCOMMIT")
    with tidy.connect() as conn:
        conn.execute(text("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE"))
    tidy.dispose()


def median_ms(fn: Any, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def store_figures(url: str, repeat: int) -> dict[str, float]:
    store = Store(url)
    votes = VoteStore(store)
    try:
        found = browse_calls(store, BrowseQuery(WHERE))
        pk = found.calls[0].id or 1
        return {
            "list, metric conditions": median_ms(
                lambda: browse_calls(store, BrowseQuery(WHERE)), repeat),
            "list, conditions + search": median_ms(
                lambda: browse_calls(store, BrowseQuery(WHERE, search="refund")), repeat),
            "list, search only": median_ms(
                lambda: browse_calls(store, BrowseQuery(search="refund")), repeat),
            "list, search matching every call": median_ms(
                lambda: browse_calls(store, BrowseQuery(search="check-up")), repeat),
            "call read + votes": median_ms(lambda: (store.get_call(pk), votes.of_call(pk)), repeat),
            "matches": float(found.total),
        }  # fmt: skip
    finally:
        store.close()


async def http_figures(url: str, repeat: int) -> dict[str, float]:
    settings = Settings(database_url=url, api_keys=KEY, agents_dirs=[ROOT / "agents"])
    app = create_app(settings, judge=ScriptedJudge())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            form = await client.get("/ui/login")
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
            assert token
            await client.post("/ui/login", data={"api_key": KEY, "csrf_token": token.group(1)})
            listed = await client.get("/ui/calls", params={**UI_FILTER, "q": "refund"})
            assert listed.status_code == 200, listed.text[:300]
            pk = re.search(r'href="/ui/calls/(\d+)"', listed.text)
            assert pk, "no call matched"
            results = {}
            for name, path, params in (
                ("HTTP calls list, conditions + search", "/ui/calls", {**UI_FILTER, "q": "refund"}),
                ("HTTP calls list, conditions", "/ui/calls", UI_FILTER),
                ("HTTP call page", f"/ui/calls/{pk.group(1)}", {}),
            ):
                times = []
                for _ in range(repeat + 1):
                    began = time.perf_counter()
                    answer = await client.get(path, params=params)
                    times.append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200
                results[name] = statistics.median(times[1:])
            return results


def run(name: str, url: str, calls: int, repeat: int) -> None:
    began = time.perf_counter()
    seed(url, calls)
    print(f"\n{name}: {calls} calls seeded in {time.perf_counter() - began:.1f} s")
    figures = store_figures(url, repeat)
    figures.update(asyncio.run(http_figures(url, repeat)))
    for label, value in figures.items():
        unit = "" if label == "matches" else " ms (median)"
        print(f"  {label:40s} {value:8.1f}{unit}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}", args.calls, args.repeat)
    if args.skip_postgres:
        return 0
    schema = f"bench_ui_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        run(
            "PostgreSQL",
            f"{args.postgres}?options=-csearch_path%3D{schema}",
            args.calls,
            args.repeat,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
