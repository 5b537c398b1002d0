"""Abusive bodies against a real server: does ``/health`` keep answering while each is handled?

Starts the service (uvicorn, in a child process, on loopback, SQLite, the default limits, the
scripted judge answering at once), then for each shape posts one body while a second process
asks ``GET /health`` back to back (its own process: the client parsing the polled call must
not hold up the probe). For a body that is accepted it keeps asking until the call
is evaluated (intake, redaction, computed metrics and prompts all count; the call is polled
every 0.25 s). Prints, per shape,
the answer the body got and the longest ``/health`` went unanswered.

Target (issue 14): under 100 ms for every shape within the limits, and a 400 for every shape
beyond them (a body over the size limit is refused with 413 before it is read).

    python benchmarks/bench_abuse.py [--only SUBSTRING] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_service_load import run_until_healthy  # noqa: E402
from evaluator.config import Settings  # noqa: E402
from evaluator.contract import PIICategory  # noqa: E402

KEY = "bench-key"
TARGET_MS = 100.0
LIMITS = Settings()
OBSERVE = "/observability/v1/observe/"


def serve(port: int, database_url: str) -> None:
    """Child process: the service with the scripted judge."""
    import uvicorn

    from evaluator.judge.scripted import ScriptedJudge
    from evaluator.service.app import create_app

    settings = Settings(database_url=database_url, api_keys=KEY, agents_dirs=[ROOT / "agents"],
                        poll_seconds=0.05)  # fmt: skip
    app = create_app(settings, judge=ScriptedJudge())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server(port: int, database_url: str) -> subprocess.Popen[bytes]:
    call = f"from benchmarks.bench_abuse import serve; serve({port}, {database_url!r})"
    return run_until_healthy(call, port, tries=600)


# The shapes


def base() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (ROOT / "examples/calls/booking_success_cekura.json").read_text()
    )
    return body


def turns(count: int, chars: int = 12, overlap: bool = True) -> list[dict[str, Any]]:
    """Alternating turns, each overlapping the previous one (every pair an interruption
    candidate for the overlap metrics)."""
    out = []
    for i in range(count):
        start = i * 1.0
        end = start + (1.5 if overlap else 0.9)
        role = "Main Agent" if i % 2 == 0 else "Testing Agent"
        out.append({"role": role, "content": ("word " * chars)[:chars] or "x",
                    "start_time": start, "end_time": end})  # fmt: skip
    return out


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = {"a": value}
    return value


PII_TURN = (
    "My name is Dana Whitfield, I live at 42 Harbour Street, my card is 4111 1111 1111 1111, "
    "call me on +1 415 555 0123 or dana.whitfield@example.com, SSN 123-45-6789. "
)


def redaction_heavy(kilobytes: int) -> dict[str, Any]:
    per_turn = PII_TURN * 4
    count = kilobytes * 1024 // len(per_turn) + 1
    items = turns(count, chars=1)
    for item in items:
        item["content"] = per_turn
    return {**base(), "transcript_json": items, "redact_fields": list(get_args(PIICategory))}


def raw_deep(levels: int) -> bytes:
    """A body whose metadata is nested ``levels`` deep, as text (no Python object that deep)."""
    text = json.dumps({**base(), "metadata": {"x": 0}})
    return text.replace('{"x": 0}', '{"a":' * levels + "0" + "}" * levels).encode()


Shape = tuple[str, bool, Callable[[], bytes]]


def as_body(build: Callable[[], dict[str, Any]]) -> Callable[[], bytes]:
    return lambda: json.dumps(build()).encode()


def shapes() -> list[Shape]:
    cap = LIMITS.max_turns
    meta_room = LIMITS.max_metadata_bytes - len('{"k": ""}')
    judge_text = LIMITS.max_transcript_chars
    turn_cap = LIMITS.max_turn_chars
    return [
        (f"{cap:,} turns (the cap), all overlapping", True,
         as_body(lambda: {**base(), "transcript_json": turns(cap)})),
        ("200 KB transcript, all 29 redact_fields", True, as_body(lambda: redaction_heavy(200))),
        (f"metadata nested {LIMITS.max_depth - 1} levels", True,
         as_body(lambda: {**base(), "metadata": nested(LIMITS.max_depth - 1)})),
        (f"feedback of {LIMITS.max_feedback_chars:,} chars", True,
         as_body(lambda: {**base(), "feedback": "f" * LIMITS.max_feedback_chars})),
        (f"metadata of {LIMITS.max_metadata_bytes:,} bytes", True,
         as_body(lambda: {**base(), "metadata": {"k": "m" * meta_room}})),
        (f"one turn of {turn_cap:,} chars", True,
         as_body(lambda: {**base(), "transcript_json": [
             {"role": "Main Agent", "content": "t" * turn_cap, "start_time": 0, "end_time": 5}]})),
        (f"{judge_text:,} transcript chars (the judge's cap)", True,
         as_body(lambda: {**base(), "transcript_json": [
             {**t, "content": "w" * (turn_cap - 40)}
             for t in turns(judge_text // turn_cap)]})),
        (f"{cap + 1:,} turns", False,
         as_body(lambda: {**base(), "transcript_json": turns(cap + 1)})),
        ("100,000 turns (9 MB)", False,
         as_body(lambda: {**base(), "transcript_json": turns(100_000, chars=40)})),
        ("metadata nested 100,000 levels", False, lambda: raw_deep(100_000)),
        (f"metadata nested {LIMITS.max_depth + 1} levels", False,
         as_body(lambda: {**base(), "metadata": nested(LIMITS.max_depth + 1)})),
        (f"feedback of {LIMITS.max_feedback_chars + 1:,} chars", False,
         as_body(lambda: {**base(), "feedback": "f" * (LIMITS.max_feedback_chars + 1)})),
        (f"metadata of {LIMITS.max_metadata_bytes + 1:,} bytes", False,
         as_body(lambda: {**base(), "metadata": {"k": "m" * (meta_room + 1)}})),
        (f"one turn of {turn_cap + 1:,} chars", False,
         as_body(lambda: {**base(), "transcript_json": [
             {"role": "Main Agent", "content": "t" * (turn_cap + 1), "start_time": 0,
              "end_time": 5}]})),
        (f"{judge_text + turn_cap:,} transcript chars", False,
         as_body(lambda: {**base(), "transcript_json": [
             {**t, "content": "w" * (turn_cap - 40)}
             for t in turns(judge_text // turn_cap + 2)]})),
        ("a lone surrogate in feedback", False,
         lambda: json.dumps({**base(), "feedback": "a\ud800b"}).encode()),
        ("end_time 1e308", False,
         as_body(lambda: {**base(), "transcript_json": [
             {"role": "Main Agent", "content": "hi", "start_time": 0, "end_time": 1e308}]})),
        (f"body over {LIMITS.max_body_bytes // 2**20} MB", False,
         as_body(lambda: {**base(), "padding": "p" * (LIMITS.max_body_bytes + 1)})),
    ]  # fmt: skip


# Measuring


def _probe(base_url: str, ready: Any, stopping: Any, results: Any) -> None:
    """The prober's loop, in its own process: parsing the polled megabyte-sized call in this
    (the client's) process must not hold up the probe, only the server may."""
    worst, count, failures = 0.0, 0, 0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        while not stopping.is_set():
            started = time.perf_counter()
            try:
                ok = client.get("/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            worst = max(worst, (time.perf_counter() - started) * 1000)
            count += 1
            failures += not ok
            ready.set()
            time.sleep(0.002)
    results.put((worst, count, failures))


class Prober:
    """Asks /health back to back, from a child process; ``worst`` is the longest one request
    waited (ms)."""

    def __init__(self, base_url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.stopping = context.Event()
        self.results: Any = context.Queue()
        self.ready = context.Event()
        self.process = context.Process(
            target=_probe, args=(base_url, self.ready, self.stopping, self.results), daemon=True
        )
        self.worst = 0.0
        self.count = 0
        self.failures = 0

    def start(self) -> None:
        self.process.start()
        self.ready.wait(120)  # probing before the shape is sent

    def stop(self) -> None:
        self.stopping.set()
        self.worst, self.count, self.failures = self.results.get(timeout=120)
        self.process.join()


def one(base_url: str, name: str, body: bytes, serial: int) -> dict[str, Any]:
    """Post one body (a fresh call_id) while probing; wait for its evaluation if accepted."""
    body = body.replace(b'"call_id": "', f'"call_id": "abuse-{serial}-'.encode(), 1)
    prober = Prober(base_url)
    prober.start()
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers={"X-API-Key": KEY}, timeout=600) as client:
        answer = client.post(OBSERVE, content=body, headers={"Content-Type": "application/json"})
        posted = time.perf_counter() - started
        state = ""
        if answer.status_code in (200, 201):
            pk = answer.json()["id"]
            deadline = time.time() + 600
            while time.time() < deadline:
                state = client.get(f"/observability/v1/call-logs/{pk}/").json()["evaluation_status"]
                if state in ("evaluated", "failed"):
                    break
                # Each poll renders the whole call (a megabyte at 10,000 turns): poll as a
                # client would, not so often that the polling is the load being measured.
                time.sleep(0.25)
        else:
            is_json = answer.headers.get("content-type", "").startswith("application/json")
            state = next(iter(answer.json()), "") if is_json else ""
    total = time.perf_counter() - started
    prober.stop()
    return {"shape": name, "bytes": len(body), "status": answer.status_code, "state": state,
            "post_s": posted, "total_s": total, "worst_ms": prober.worst,
            "probes": prober.count, "probe_failures": prober.failures}  # fmt: skip


def idle_baseline(base_url: str, seconds: float = 3.0) -> dict[str, Any]:
    """/health probed with no abusive request: what the machine's own load costs."""
    prober = Prober(base_url)
    prober.start()
    time.sleep(seconds)
    prober.stop()
    return {"worst_ms": prober.worst, "probes": prober.count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="shapes whose name contains this")
    parser.add_argument("--repeat", type=int, default=1, help="runs per shape (worst kept)")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="bench-abuse-")
    server = start_server(port, f"sqlite:///{folder}/abuse.db")
    base_url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        idle = idle_baseline(base_url)
        print(f"/health with nothing else to do, {idle['probes']} probes over 3 s: worst "
              f"{idle['worst_ms']:.1f} ms (the noise floor of this machine now)\n")  # fmt: skip
        serial = 0
        for name, within, build in shapes():
            if args.only not in name:
                continue
            body = build()
            runs = []
            for _ in range(args.repeat):
                serial += 1
                runs.append(one(base_url, name, body, serial))
            worst = max(runs, key=lambda r: r["worst_ms"])
            worst["within"] = within
            rows.append(worst)
            print_row(worst)
    finally:
        server.terminate()
        server.wait(timeout=30)
    missed = [r for r in rows if not met(r)]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} shapes meet the target "
          f"(/health under {TARGET_MS:.0f} ms within limits, 400 beyond)")  # fmt: skip
    sys.exit(1 if missed else 0)


def met(row: dict[str, Any]) -> bool:
    if row["within"]:
        return row["status"] == 201 and row["worst_ms"] < TARGET_MS and not row["probe_failures"]
    return row["status"] in (400, 413) and row["worst_ms"] < TARGET_MS


HEADER = False


def print_row(row: dict[str, Any]) -> None:
    global HEADER
    if not HEADER:
        print(f"{'shape':44} {'limits':7} {'body':>10} {'answer':>6} {'field/state':22} "
              f"{'post s':>7} {'total s':>7} {'/health worst ms':>16} "
              f"{'probes':>6}  ok")  # fmt: skip
        HEADER = True
    size = f"{row['bytes'] / 1024:,.0f} KB"
    print(f"{row['shape'][:44]:44} {'within' if row['within'] else 'beyond':7} {size:>10} "
          f"{row['status']:>6} {str(row['state'])[:22]:22} {row['post_s']:7.2f} "
          f"{row['total_s']:7.2f} {row['worst_ms']:16.1f} {row['probes']:6}  "
          f"{'yes' if met(row) else 'NO'}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
