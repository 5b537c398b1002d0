"""Re-evaluating stored calls: select calls and metrics, judge them concurrently, resume.

A run is materialized first: the selected call ids become items of a stored run (streamed
from the store in pages, so memory stays flat). Workers then take pending items page by
page, judge them with the configured judge (behind the judgment cache and the shared rate
limiter), and write each call's new results and its item's ``done`` in one transaction.
``--resume RUN`` only takes what is still pending (or failed). New results are stored as a
separate run (``source: reevaluate:<id>``); ``apply`` also makes them the call's current
results. Human reviews live apart and are never touched.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from evaluator.bootstrap import Definitions
from evaluator.contract import CallEvaluation, MetricResult, Usage, merged_results
from evaluator.engine import evaluate_prepared
from evaluator.errors import RequestValidationError
from evaluator.ingest.limits import Limits
from evaluator.judge.schema import Judge
from evaluator.reevaluate.selection import (
    PAGE,
    ReevaluateError,
    RunOptions,
    Selection,
    check_metric_choice,
    choose_metrics,
    prepare,
    select_calls,
)
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunItem, RerunStore, RunInfo

__all__ = [
    "Progress",
    "ReevaluateError",
    "Reevaluation",
    "RunOptions",
    "Selection",
    "choose_metrics",
    "close_run",
    "open_run",
    "select_calls",
    "start_run",
]


def start_run(store: Store, options: RunOptions, definitions: Definitions) -> str:
    """Store a new run and its selected calls; returns the run id."""
    check_metric_choice(options.metrics, definitions)
    run_id = uuid.uuid4().hex[:12]
    runs = RerunStore(store)
    runs.create_run(run_id, options.to_json())
    for page in select_calls(store, options.selection):
        runs.add_items(run_id, page)
    runs.set_status(run_id, "running")
    return run_id


@dataclass
class Progress:
    """What a run has done so far (for the progress bar and the final summary)."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    usage: Usage = field(default_factory=Usage)
    errors: list[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed


@dataclass
class Reevaluation:
    """Runs (or resumes) a stored run with a judge; ``on_progress`` is told after each call.
    With ``shard=(k, n)`` it judges only its share of the run (see ``judge_share``); with
    ``only``, only those calls of it (a Celery chunk)."""

    store: Store
    definitions: Definitions
    judge: Judge
    concurrency: int = 8
    on_progress: Callable[[Progress], None] | None = None
    progress: Progress = field(default_factory=Progress)
    shard: tuple[int, int] | None = None
    only: frozenset[int] | None = None
    # What a stored call may hold (``Settings.limits()``): the defaults would fail calls the
    # service accepted under raised limits.
    limits: Limits = field(default_factory=Limits)
    _writer: _ResultWriter | None = field(default=None, init=False, repr=False)

    async def run(self, run_id: str) -> Progress:
        """The whole run in this process: requeue failures, judge what is pending, finish."""
        runs = RerunStore(self.store)
        info = await asyncio.to_thread(open_run, runs, run_id, self.progress)
        await self._judge_pending(runs, run_id, RunOptions.from_json(info.options))
        await asyncio.to_thread(close_run, runs, run_id, self.progress)
        return self.progress

    async def judge_share(self, run_id: str) -> Progress:
        """Judge this worker's pending calls only; the parent process opens and closes the
        run. ``progress`` counts this share's calls."""
        runs = RerunStore(self.store)
        options = await asyncio.to_thread(runs.options, run_id)  # not runs.run: no counting
        if options is None:
            raise ReevaluateError(f"no re-evaluation run {run_id!r}")
        await self._judge_pending(runs, run_id, RunOptions.from_json(options))
        return self.progress

    async def _judge_pending(self, runs: RerunStore, run_id: str, options: RunOptions) -> None:
        queue: asyncio.Queue[RerunItem | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        writer = self._writer = _ResultWriter(runs, run_id, options.apply, self.progress)
        workers = [
            asyncio.create_task(self._worker(runs, run_id, options, queue))
            for _ in range(self.concurrency)
        ]
        workers.append(writer.start())
        try:
            after = 0
            while page := await asyncio.to_thread(
                runs.pending, run_id, after_pk=after, limit=PAGE, shard=self.shard, only=self.only
            ):
                for item in page:
                    await _put(queue, item, workers)
                after = page[-1].call_pk
            for _ in range(self.concurrency):
                await _put(queue, None, workers)
            await asyncio.gather(*workers[:-1])
        finally:
            for task in workers[:-1]:
                task.cancel()
            await asyncio.gather(*workers[:-1], return_exceptions=True)
            await writer.close()  # what was judged (and paid for) is stored, even now

    async def _worker(
        self, runs: RerunStore, run_id: str, options: RunOptions,
        queue: asyncio.Queue[RerunItem | None],
    ) -> None:  # fmt: skip
        while (item := await queue.get()) is not None:
            await self._one(runs, run_id, options, item)
            if self.on_progress is not None:
                self.on_progress(self.progress)

    async def _one(
        self, runs: RerunStore, run_id: str, options: RunOptions, item: RerunItem
    ) -> None:
        try:
            prepared = prepare(
                item, self.definitions, options.metrics, self.judge.model, self.limits
            )
        except RequestValidationError as exc:
            self.progress.failed += 1
            self.progress.errors.append(f"call {item.call_pk}: {exc.errors}")
            await asyncio.to_thread(runs.finish_item, run_id, item, "failed", str(exc.errors))
            return
        if prepared is None:
            self.progress.skipped += 1
            await asyncio.to_thread(runs.finish_item, run_id, item, "skipped", None)
            return
        evaluation = await evaluate_prepared(
            prepared, judge=self.judge, renderer=self.definitions.renderer
        )
        if evaluation.usage is not None:
            self.progress.usage = self.progress.usage.plus(evaluation.usage)
        if evaluation.evaluation_status == "failed":
            self.progress.failed += 1
            self.progress.errors.append(f"call {item.call_pk}: {evaluation.error_message}")
            await asyncio.to_thread(
                runs.finish_item, run_id, item, "failed", evaluation.error_message
            )
            return
        assert self._writer is not None  # set by _judge_pending, which runs the workers
        self._writer.add(item, evaluation, _to_store(item.current, evaluation, options.apply))


def open_run(runs: RerunStore, run_id: str, progress: Progress) -> RunInfo:
    """Start (or resume) a run: its counts so far into ``progress``; failed calls pending
    again (a judge that was down, say)."""
    info = runs.run(run_id)
    if info is None:
        raise ReevaluateError(f"no re-evaluation run {run_id!r}")
    progress.total = sum(info.states.values())
    progress.done = info.states.get("done", 0)
    progress.skipped = info.states.get("skipped", 0)
    runs.requeue_failed(run_id)
    return info


def close_run(runs: RerunStore, run_id: str, progress: Progress) -> None:
    """Mark the run finished; the stored counts are the truth (a write may have raced a
    kill, or been refused because another process stored the call first)."""
    runs.set_status(run_id, "finished")
    final = runs.run(run_id)
    if final is not None:
        states = final.states
        progress.done, progress.skipped = states.get("done", 0), states.get("skipped", 0)
        progress.failed = states.get("failed", 0)


@dataclass
class _ResultWriter:
    """Stores judged calls in batches, one transaction per batch, off the event loop: a
    commit per call serialized every worker behind the database. Whatever accumulates while
    a batch is written goes in the next. A call is written whole or not at all; one lost
    with an unwritten batch is judged again on resume, from the judgment cache."""

    runs: RerunStore
    run_id: str
    apply: bool
    progress: Progress
    batch: int = 200
    _waiting: list[tuple[RerunItem, CallEvaluation, list[MetricResult]]] = field(
        default_factory=list
    )
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False
    _task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run())
        return self._task

    def add(self, item: RerunItem, evaluation: CallEvaluation, metrics: list[MetricResult]) -> None:
        self._waiting.append((item, evaluation, metrics))
        self._wake.set()

    async def close(self) -> None:
        """Write what is waiting, then stop; raises what made a write fail."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                chunk = self._waiting[: self.batch]
                stored = await asyncio.to_thread(
                    self.runs.store_results, self.run_id, chunk, make_current=self.apply
                )
                del self._waiting[: len(chunk)]
                self.progress.done += stored
            if self._closing:
                return


def _to_store(current: CallEvaluation, new: CallEvaluation, apply: bool) -> list[MetricResult]:
    """The judged metrics; when applied, merged into the call's other current results."""
    return merged_results(current.metrics, new.metrics) if apply else new.metrics


async def _put(
    queue: asyncio.Queue[RerunItem | None], item: RerunItem | None,
    workers: list[asyncio.Task[None]],
) -> None:  # fmt: skip
    """Queue an item, but surface a worker's crash instead of waiting on a full queue."""
    put = asyncio.ensure_future(queue.put(item))
    while not put.done():
        await asyncio.wait([put, *workers], return_when=asyncio.FIRST_COMPLETED)
        for task in workers:
            if task.done() and task.exception() is not None:
                put.cancel()
                raise task.exception()  # type: ignore[misc]
