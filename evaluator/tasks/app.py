"""The Celery application, built from ``Settings``, and the publisher the service and the
CLI use to hand work to it.

Tasks are acknowledged late and rejected back to the broker when their worker process dies
(``acks_late``, ``reject_on_worker_lost``), one message at a time per worker slot
(``prefetch_multiplier`` 1): a killed worker's task is delivered again. Every task is safe to
run twice: each claims its call (or run item, or delivery) in the database first. Publishing
never waits for a broker that is down: it fails at once, the call stays pending in the store,
and the sweeper publishes it again later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery

from evaluator.config import Settings

__all__ = [
    "CALL_TASK",
    "CHUNK_TASK",
    "DELIVERY_TASK",
    "Publisher",
    "RunLimits",
    "make_app",
    "reevaluate_queue",
]

CALL_TASK = "evaluator.evaluate_call"
CHUNK_TASK = "evaluator.reevaluate_chunk"
DELIVERY_TASK = "evaluator.deliver_webhook"
SWEEP_TASK = "evaluator.sweep"
log = logging.getLogger("evaluator.tasks.app")


@dataclass(frozen=True)
class RunLimits:
    """A re-evaluation run's own limits across all the workers that serve it (``reevaluate
    --rpm --tpm -c`` on Celery), and whether it bypasses the judgment cache (``--no-cache``),
    sent with each of its chunks. ``None``: no limit of its own (the workers'
    ``EVALUATOR_RPM``, ``_TPM`` and ``_MAX_IN_FLIGHT`` apply in any case)."""

    rpm: float | None = None
    tpm: float | None = None
    in_flight: int | None = None
    cache: bool = True

    @property
    def empty(self) -> bool:
        return self.rpm is None and self.tpm is None and self.in_flight is None and self.cache

    def to_json(self) -> dict[str, Any]:
        return {"rpm": self.rpm, "tpm": self.tpm, "in_flight": self.in_flight,
                "cache": self.cache}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RunLimits:
        data = data or {}
        in_flight = data.get("in_flight")
        return cls(data.get("rpm"), data.get("tpm"),
                   None if in_flight is None else int(in_flight),
                   bool(data.get("cache", True)))  # fmt: skip


def reevaluate_queue(settings: Settings) -> str:
    """Re-evaluation chunks have a queue of their own, so a month of re-judging never holds
    up newly posted calls (give it its own workers, or list both queues)."""
    return f"{settings.task_queue}.reevaluate"


def make_app(settings: Settings, *, with_tasks: bool = True) -> Celery:
    """The Celery app for ``settings.broker_url``; ``with_tasks`` registers the task bodies
    (workers), without them the app only publishes (the service, the CLI)."""
    if not settings.broker_url:
        raise ValueError("a Celery app needs EVALUATOR_BROKER_URL")
    app = Celery("evaluator", broker=settings.broker_url, set_as_current=False)
    # A publisher does not retry a broker that is down (kombu would for seconds): the call
    # is committed, and the sweeper publishes it once the broker is back.
    publish_only = {} if with_tasks else {"max_retries": 0}
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.task_queue,
        task_routes={CHUNK_TASK: {"queue": reevaluate_queue(settings)}},
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3.0,
        # Redis re-delivers a message nobody acknowledged after this long (a killed worker's
        # whole process); the sweeper re-publishes such calls much sooner, after a lease.
        broker_transport_options={"visibility_timeout": 3600, **publish_only},
        # Events for monitoring (celery events, Flower, Prometheus exporters).
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    if with_tasks:
        from evaluator.tasks.worker import register

        register(app, settings)
    return app


class Publisher:
    """Sends tasks by name; each send fails at once (``False``) when the broker is down."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.settings = settings
        self.app = app or make_app(settings, with_tasks=False)

    def _send(self, name: str, args: list[Any], **options: Any) -> bool:
        try:
            self.app.send_task(name, args=args, retry=False, **options)
        except Exception as exc:  # the broker is unreachable: the store keeps the work
            log.warning("publishing %s%s failed: %s", name, tuple(args), exc)
            return False
        return True

    def calls(self, pks: Sequence[int], *, countdown: float = 0.0) -> list[int]:
        """Publish the calls' evaluations; the ids that were published."""
        return [pk for pk in pks if self._send(CALL_TASK, [pk], countdown=countdown or None)]

    def delivery(self, delivery_id: int, *, countdown: float = 0.0) -> bool:
        return self._send(DELIVERY_TASK, [delivery_id], countdown=countdown or None)

    def chunk(self, run_id: str, pks: Sequence[int], limits: RunLimits | None = None) -> bool:
        args: list[Any] = [run_id, list(pks)]
        if limits is not None and not limits.empty:
            args.append(limits.to_json())
        return self._send(CHUNK_TASK, args, queue=reevaluate_queue(self.settings))

    def close(self) -> None:
        self.app.close()
