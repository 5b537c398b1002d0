"""A re-evaluation run on Celery workers: its pending calls published as chunks, and its
progress read back from the store (the truth, whichever workers wrote it).

Each chunk is one ``reevaluate_chunk`` task; a worker judges its calls concurrently behind the
judgment cache and the shared rate limit, storing each call's result once (the item's
pending -> done is the claim). A chunk delivered twice stores nothing twice; a run resumed
publishes only what is still pending; a cancelled run's chunks do nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from evaluator.reevaluate.run import Progress, ReevaluateError, close_run, open_run
from evaluator.store.reruns import RerunStore
from evaluator.tasks.app import Publisher, RunLimits

__all__ = ["chunk_size", "publish_run", "run_on_workers", "watch_run"]


def publish_run(
    runs: RerunStore, publisher: Publisher, run_id: str, chunk: int,
    limits: RunLimits | None = None,
) -> int:  # fmt: skip
    """Publish the run's pending calls in chunks of ``chunk`` (each with the run's own
    ``limits``); how many chunks."""
    chunks, after = 0, 0
    while pks := runs.pending_ids(run_id, after_pk=after, limit=chunk):
        if not publisher.chunk(run_id, pks, limits):
            raise ReevaluateError(
                f"the broker is unreachable; nothing lost: resume with --resume {run_id}"
            )
        chunks += 1
        after = pks[-1]
    return chunks


def chunk_size(concurrency: int) -> int:
    """Calls per chunk for workers of ``concurrency`` request slots each.

    A worker holds one chunk per task slot (prefetch multiplier 1): with the default task
    slots = request slots, chunks of ``c`` calls let the first worker to ask take ``c x c``
    calls, and at the end of a run one worker still works through its hoard while the others
    idle. Small chunks keep every worker busy to the end; two calls a chunk keep a worker's
    request slots fed while a call is prepared or stored, at one task per two calls."""
    return 1 if concurrency < 4 else 2


def watch_run(
    runs: RerunStore, run_id: str, progress: Progress,
    on_progress: Callable[[Progress], None] | None, poll_seconds: float = 0.5,
    last_seconds: float = 0.1,
) -> str:  # fmt: skip
    """Read the run's counts from the store until nothing is pending or it was cancelled;
    the run's status then. Every ``poll_seconds``, and every ``last_seconds`` once the last
    twentieth of the run is in flight (the run's end is seen soon after it happens)."""
    while True:
        info = runs.run(run_id)
        if info is None:
            raise ReevaluateError(f"no re-evaluation run {run_id!r}")
        progress.done = info.states.get("done", 0)
        progress.skipped = info.states.get("skipped", 0)
        progress.failed = info.states.get("failed", 0)
        if on_progress is not None:
            on_progress(progress)
        pending = info.states.get("pending", 0)
        if info.status == "cancelled" or not pending:
            return info.status
        time.sleep(last_seconds if pending * 20 <= progress.total else poll_seconds)


def run_on_workers(
    runs: RerunStore, publisher: Publisher, run_id: str, chunk: int,
    on_progress: Callable[[Progress], None] | None = None, limits: RunLimits | None = None,
) -> Progress:  # fmt: skip
    """Start or resume ``run_id`` on the workers and wait for it; the run's counts."""
    progress = Progress()
    open_run(runs, run_id, progress)
    runs.set_status(run_id, "running")
    publish_run(runs, publisher, run_id, chunk, limits)
    if watch_run(runs, run_id, progress, on_progress) == "cancelled":
        raise ReevaluateError(f"run {run_id} was cancelled; resume with --resume {run_id}")
    close_run(runs, run_id, progress)
    return progress
