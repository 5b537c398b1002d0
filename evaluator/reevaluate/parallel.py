"""A re-evaluation run spread over worker processes, for when one process is the limit.

One Python process judges at most a few dozen calls a second: past that it is CPU-bound in
litellm, instructor and the store (``benchmarks/bench_reevaluate.py`` prints the CPU per
call). ``workers=N`` starts N processes, each judging the pending calls whose id is k
modulo N, with its share of the concurrency and of the rate limits. They share the store
and the judgment cache; every write is still the atomic, once-only ``store_result``, so a
killed run resumes the same way whatever the number of workers. The parent process opens
and closes the run and sums the workers' progress for the progress bar.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue as queues
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluator.bootstrap import load_definitions, open_judge, settle_heap
from evaluator.config import Settings
from evaluator.contract import Usage
from evaluator.judge.cache import CachingJudge
from evaluator.judge.rate_limit import InFlightLimitedJudge, RateLimitedJudge, RateLimiter
from evaluator.judge.schema import Judge
from evaluator.reevaluate.run import (
    Progress,
    ReevaluateError,
    Reevaluation,
    close_run,
    open_run,
)
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunStore

__all__ = ["Limits", "check_workers", "limited", "run_in_processes"]


@dataclass(frozen=True)
class Limits:
    """How hard a run may push: requests in flight, rate limits, worker processes."""

    concurrency: int
    rpm: float | None = None
    tpm: float | None = None
    workers: int = 1
    # The concurrency as given (``-c``), None when it is the configured default: a Celery
    # run applies only a limit it was given (see ``cli/reevaluate._on_celery``).
    explicit_concurrency: int | None = None

    @property
    def tasks(self) -> int:
        """Calls handled at once: the request slots, plus some preparing or storing calls
        around them so that no slot waits for the database (``limited`` caps requests)."""
        return self.concurrency + max(2, self.concurrency // 4)

    def share(self, index: int) -> Limits:
        """Worker ``index``'s part: the concurrency split as evenly as it goes, and an equal
        part of each rate limit (each worker throttles itself; together they keep to it)."""
        n = self.workers
        concurrency = self.concurrency // n + (1 if index < self.concurrency % n else 0)
        return Limits(
            concurrency=concurrency,
            rpm=None if self.rpm is None else self.rpm / n,
            tpm=None if self.tpm is None else self.tpm / n,
        )


def check_workers(settings: Settings, limits: Limits) -> None:
    """More than one worker needs a model server that takes concurrent requests."""
    if limits.workers > 1 and settings.model is None:
        raise ReevaluateError(
            "--workers: the offline model answers one request at a time; "
            "give --model, or use one worker"
        )
    if limits.workers > limits.concurrency:
        raise ReevaluateError(
            f"--workers: {limits.workers} workers need a --concurrency of at least "
            f"{limits.workers} (one request in flight each), got {limits.concurrency}"
        )


def limited(judge: Judge, limits: Limits) -> Judge:
    """Put the limits under the cache (a hit neither waits for the rate limiter nor takes a
    request slot): at most ``concurrency`` requests in flight, and the rate limits."""
    inner = judge.judge if isinstance(judge, CachingJudge) else judge
    if limits.rpm is not None or limits.tpm is not None:
        inner = RateLimitedJudge(inner, RateLimiter(rpm=limits.rpm, tpm=limits.tpm))
    inner = InFlightLimitedJudge(inner, limits.concurrency)
    if isinstance(judge, CachingJudge):
        judge.judge = inner
        return judge
    return inner


def run_in_processes(
    settings: Settings, run_id: str, limits: Limits,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:  # fmt: skip
    """Run (or resume) ``run_id`` with ``limits.workers`` processes; the run's counts."""
    check_workers(settings, limits)
    store = Store(settings.database_url)
    runs = RerunStore(store)
    progress = Progress()
    try:
        open_run(runs, run_id, progress)
        already = (progress.done, progress.skipped)
        context = multiprocessing.get_context("spawn")
        inbox: Any = context.Queue()
        processes = [
            context.Process(
                target=_worker_main,
                args=(settings, run_id, (k, limits.workers), limits.share(k), inbox),
                name=f"reevaluate-{run_id}-{k}",
            )
            for k in range(limits.workers)
        ]
        for process in processes:
            process.start()
        shares = _collect(processes, inbox, progress, already, on_progress)
        crashed = [f"worker {k}: {why}" for k, why in shares.items() if why]
        if crashed:
            raise ReevaluateError(
                f"run {run_id} stopped ({'; '.join(crashed)}); resume with --resume {run_id}"
            )
        close_run(runs, run_id, progress)
        return progress
    finally:
        store.close()


def _collect(
    processes: list[Any], inbox: Any, progress: Progress, already: tuple[int, int],
    on_progress: Callable[[Progress], None] | None,
) -> dict[int, str | None]:  # fmt: skip
    """Sum the workers' progress until all have exited; each worker's error (or None)."""
    latest: dict[int, dict[str, Any]] = {}
    errors: dict[int, str | None] = {}
    while True:
        try:
            kind, index, payload = inbox.get(timeout=0.2)
        except queues.Empty:
            if not any(p.is_alive() for p in processes):
                break
            continue
        if kind == "progress":
            latest[index] = payload
            _sum(progress, already, latest.values())
            if on_progress is not None:
                on_progress(progress)
        else:  # "finished" (payload None) or "crashed" (payload: why)
            errors[index] = payload
    for process in processes:
        process.join()
    for k, process in enumerate(processes):
        if k not in errors:
            errors[k] = f"exited with code {process.exitcode} before finishing"
    return errors


def _sum(progress: Progress, already: tuple[int, int], shares: Any) -> None:
    shares = list(shares)
    progress.done = already[0] + sum(s["done"] for s in shares)
    progress.skipped = already[1] + sum(s["skipped"] for s in shares)
    progress.failed = sum(s["failed"] for s in shares)
    usage = Usage()
    for share in shares:
        usage = usage.plus(Usage.model_validate(share["usage"]))
    progress.usage = usage
    progress.errors = [e for s in shares for e in s["errors"]]


def _snapshot(progress: Progress) -> dict[str, Any]:
    return {
        "done": progress.done,
        "skipped": progress.skipped,
        "failed": progress.failed,
        "usage": progress.usage.model_dump(),
        "errors": progress.errors[-20:],
    }


def _worker_main(
    settings: Settings, run_id: str, shard: tuple[int, int], limits: Limits, outbox: Any
) -> None:
    """One worker process: its share of the run, its progress sent after every call."""
    index = shard[0]
    store: Store | None = None
    try:
        definitions = load_definitions(settings)
        store = Store(settings.database_url)
        with open_judge(settings) as (judge, _notice):
            runner = Reevaluation(
                store, definitions, limited(judge, limits), limits.tasks,
                on_progress=lambda p: outbox.put(("progress", index, _snapshot(p))),
                shard=shard, limits=settings.limits(),
            )  # fmt: skip
            settle_heap(settings)
            asyncio.run(runner.judge_share(run_id))
        outbox.put(("finished", index, None))
    except BaseException as exc:  # reported to the parent, which names the worker
        outbox.put(("crashed", index, f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from None
    finally:
        if store is not None:
            store.close()
