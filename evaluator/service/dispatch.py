"""Who judges the calls the service stores: chosen once at start-up.

- No broker (``EVALUATOR_BROKER_URL`` unset): the in-process ``EvaluationWorker``, the
  embedded default (SQLite, one machine, no extra service).
- A broker: ``CeleryDispatch``. The service judges nothing itself; it publishes each call's
  task after the call is committed, and runs the sweeper, which publishes again whatever the
  store says is owed (a broker that was down at post time loses nothing). ``evaluator
  worker`` processes, on any machine, run the tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from evaluator.config import Settings
from evaluator.store.calls import Store
from evaluator.tasks.app import Publisher
from evaluator.tasks.sweep import sweep

__all__ = ["CeleryDispatch", "Dispatcher"]

log = logging.getLogger("evaluator.service.dispatch")
FINISHED = ("evaluated", "failed")


class Dispatcher(Protocol):
    """What the routes need of whoever judges the calls."""

    async def queued(self, pks: Sequence[int]) -> None:
        """Calls were committed (new, or queued again): see that they get judged."""

    async def wait_finished(self, pk: int, timeout: float) -> None:
        """Return once the call is evaluated or failed for good, or after ``timeout``
        (reading only its state: a large call is not decoded while waiting)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class CeleryDispatch:
    """Publishes calls to Celery workers; sweeps what the broker may have lost."""

    def __init__(self, store: Store, settings: Settings, publisher: Publisher | None = None):
        self.store = store
        self.settings = settings
        self.publisher = publisher or Publisher(settings)
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await asyncio.to_thread(self.publisher.close)

    async def queued(self, pks: Sequence[int]) -> None:
        # A failed publish is logged and left to the sweeper: the call is committed.
        await asyncio.to_thread(self.publisher.calls, list(pks))

    async def wait_finished(self, pk: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await asyncio.to_thread(self.store.evaluation_state, pk)
            remaining = deadline - loop.time()
            if state in FINISHED or remaining <= 0:
                return
            await asyncio.sleep(min(remaining, self.settings.poll_seconds))

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await asyncio.to_thread(
                    sweep, self.store, self.publisher, self.settings.lease_seconds
                )
            except Exception:  # the database or broker may be briefly down: keep sweeping
                log.exception("the sweeper failed; trying again in %.0fs",
                              self.settings.sweep_seconds)  # fmt: skip
