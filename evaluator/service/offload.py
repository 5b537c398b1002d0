"""CPU-heavy steps of large calls in worker processes, so they never hold the event loop's GIL.

Threads keep the CPU work off the event loop but not off the GIL: a 10,000-turn call parsed,
redacted or rendered in a thread still delays ``/health`` by hundreds of milliseconds on two
cores. Here the heavy steps run in a ``ProcessPoolExecutor`` (``Settings.cpu_processes``
children, started with the service by a forkserver, never fork: the service has threads):

- a large JSON post, from its bytes to its answer (``routes/observe.py``), and a large
  call's detail and its finished form for alerts and the webhook (``views.py``,
  ``worker.py``), each through the child's own database handle (``child_store``);
- the CPU stages of a large call's evaluation: decoding and validation, computed metrics,
  prompts (``stage``), and after the judge, derived metrics and the assembly (``finish``).

What crosses the boundary is plain data: raw bytes, the claim (the request as stored text),
the catalogue (about 20 KB pickled), results. The call as parsed (``PreparedCall``) stays
in the children: the stage hands it back pickled, as opaque bytes the parent only passes on
to ``finish``. A field-keyed refusal comes back as its errors and is raised again as the
same 400. Bodies and calls under ``Settings.offload_min_bytes`` stay in a thread: the hop
costs more.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any

from evaluator.catalogue.definitions import Catalogue
from evaluator.contract import CallEvaluation
from evaluator.engine import EngineOptions, Judged, StagedCall, finish_call, judge_staged
from evaluator.engine import stage_call as stage_in_thread
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.ingest.limits import Limits
from evaluator.ingest.recording import RecordingOutcome
from evaluator.judge.schema import Judge
from evaluator.judge.templates import PromptRenderer
from evaluator.store.calls import Claim, Store
from evaluator.tasks.job import in_threads

__all__ = ["Offload", "Refused", "child_store"]


@dataclass(frozen=True)
class Refused:
    """A ``RequestValidationError`` raised in a child, as data (its errors)."""

    errors: dict[str, list[str]]


# Where the children's functions live (this module's, the routes' and views'): imported
# once by the forkserver, so a child starts as a fork, not by importing the pipeline again.
CHILD_MODULES = (
    "evaluator.service.offload",
    "evaluator.service.routes.observe",
    "evaluator.service.views",
    "evaluator.service.worker",
)

_STORES: dict[tuple[str, float], Store] = {}


def child_store(where: tuple[str, float, int | None]) -> Store:
    """In a pool's child: its own handle on the service's database, ``where`` = (URL, busy
    timeout, project id), opened once per database per child and scoped to the project."""
    url, busy_timeout, project_id = where
    store = _STORES.get((url, busy_timeout))
    if store is None:
        store = _STORES[(url, busy_timeout)] = Store(url, busy_timeout=busy_timeout)
    return store.scoped(project_id)


class Offload:
    """The process pool of one service: lazily started, shut down by the app's lifespan."""

    def __init__(self, processes: int, min_bytes: int) -> None:
        self.processes = processes
        self.min_bytes = min_bytes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def wanted(self, size: int) -> bool:
        """Whether work on this many bytes goes to a process."""
        return self.processes > 0 and size >= self.min_bytes

    def start(self) -> None:
        """Start the children now, if there are to be any and they are not running (else
        the first large call starts them). Blocks: call it in a thread."""
        if self.processes <= 0:
            return
        with self._lock:
            if self._pool is None:
                self._pool = self._started()

    def _started(self) -> ProcessPoolExecutor:
        context: BaseContext
        if "forkserver" in multiprocessing.get_all_start_methods():
            forkserver = multiprocessing.get_context("forkserver")
            # The forkserver imports the pipeline once; each child is a fork of it.
            forkserver.set_forkserver_preload(list(CHILD_MODULES))
            context = forkserver
        else:
            context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_lower_priority)
        # Children start on demand, one per task submitted while none is idle: start them
        # all now, in this thread, each importing the pipeline once.
        for future in [pool.submit(_ready) for _ in range(self.processes)]:
            future.result()
        return pool

    @property
    def started(self) -> bool:
        return self._pool is not None

    def shutdown(self) -> None:
        """Stop the children (waiting for work in hand); the next use starts them again."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in a child (a module-level function, picklable arguments); a
        ``Refused`` it returns is raised as the field-keyed error."""
        if self._pool is None:
            # Starting a child blocks until the forkserver answers: not on the event loop.
            await asyncio.to_thread(self.start)
        assert self._pool is not None
        pool = self._pool
        try:
            result = await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:  # a child died (killed, out of memory): fresh ones next time
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        if isinstance(result, Refused):
            raise RequestValidationError(result.errors)
        return result

    async def evaluate(
        self,
        claim: Claim,
        catalogue: Catalogue,
        renderer: PromptRenderer,
        judge: Judge,
        limits: Limits,
        recording: RecordingOutcome | None = None,
    ) -> CallEvaluation:
        """Validate and judge a claimed call: the CPU stages in a process for a large call
        (its stored text is decoded there, never here), else in threads. Raises
        ``RequestValidationError`` as ``read_request`` does."""
        if not self.wanted(len(claim.request_json)):
            return await in_threads(claim, catalogue, renderer, judge, limits, recording)
        blob, agent_id, metric_ids, staged = await self.run(
            _stage, claim, catalogue, limits, recording, judge.model
        )
        metrics = [catalogue.metric(i) for i in metric_ids]
        judged = await judge_staged(staged, catalogue.agent(agent_id), metrics, judge)
        evaluation: CallEvaluation = await self.run(_finish, blob, judged, EngineOptions())
        return evaluation


# In the children


# How much less CPU priority the children have than the service (``nice``): when both want
# a core, the event loop answering requests gets it first and a child's long parse waits.
CHILD_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not on every platform
        os.nice(CHILD_NICENESS)


def _ready() -> None:
    """Nothing: a child that ran it has started and imported this module."""


@functools.lru_cache(maxsize=8)
def _renderer(prompt_dirs: tuple[Any, ...]) -> PromptRenderer:
    """One renderer per set of prompt folders, per child (its templates load once)."""
    return PromptRenderer(list(prompt_dirs))


def _stage(
    claim: Claim,
    catalogue: Catalogue,
    limits: Limits,
    recording: RecordingOutcome | None,
    model: str,
) -> tuple[bytes, int, list[str], StagedCall] | Refused:
    try:
        request = claim.effective_request()
        prepared = read_request(request, catalogue, limits, recording=recording, stored=True)
    except RequestValidationError as exc:
        return Refused(exc.errors)
    staged = stage_in_thread(prepared, _renderer(tuple(catalogue.prompt_dirs)), model)
    blob = pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)
    return blob, prepared.agent.id, [m.id for m in prepared.metrics], staged


def _finish(blob: bytes, judged: Judged, options: EngineOptions) -> CallEvaluation:
    """The evaluation, without the transcript it carries: the worker stores the run, and
    the call's row already holds the transcript; a megabyte less to send back and decode."""
    prepared: PreparedCall = pickle.loads(blob)  # our own bytes, from _stage
    evaluation = finish_call(prepared, judged, options)
    return evaluation.model_copy(update={"transcript": "", "transcript_object": []})
