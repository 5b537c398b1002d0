"""``evaluator worker``: a Celery worker with the app's settings (``EVALUATOR_*``), judging
the calls the service publishes and the chunks of ``evaluator reevaluate --backend celery``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from evaluator.cli.common import err, fail
from evaluator.config import Settings

if TYPE_CHECKING:
    from evaluator.store.alerts import AlertFiring
    from evaluator.tasks.job import JobContext

__all__ = ["alerts_after_evaluation", "worker"]

Pool = Literal["threads", "prefork", "solo"]


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, help="tasks at once (EVALUATOR_CONCURRENCY)"),
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="comma-separated (default: calls and re-evaluation)"),
    ] = None,
    pool: Annotated[
        str, typer.Option("--pool", help="threads (default) | prefork | solo")
    ] = "threads",
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info",
    hostname: Annotated[str | None, typer.Option("--hostname", "-n")] = None,
) -> None:
    """Run a Celery worker (needs EVALUATOR_BROKER_URL; the database is the service's)."""
    from evaluator.store.calls import Store
    from evaluator.tasks.app import make_app, reevaluate_queue
    from evaluator.tasks.worker import prepare

    settings = Settings()
    if not settings.broker_url:
        raise fail(2, "evaluator worker: set EVALUATOR_BROKER_URL (redis://... or amqp://...)")
    if pool not in ("threads", "prefork", "solo"):
        raise fail(2, f"--pool: expected threads, prefork or solo, got {pool!r}")
    store = Store(settings.database_url)
    try:
        store.ping()
    except Exception as exc:
        raise fail(2, f"evaluator worker: database {settings.database_url!r}: {exc}") from None
    finally:
        store.close()
    app = make_app(settings)
    chosen = queues or f"{settings.task_queue},{reevaluate_queue(settings)}"
    slots = concurrency or settings.concurrency
    argv = ["worker", f"--concurrency={slots}", f"--queues={chosen}", f"--pool={pool}",
            f"--loglevel={loglevel}", "--events"]  # fmt: skip
    if hostname:
        argv.append(f"--hostname={hostname}")
    err.print(f"evaluator worker: queues {chosen}, {pool} pool", markup=False)
    app.evaluator_runtime.after_evaluation = alerts_after_evaluation(settings)
    try:
        prepare(app, pool)
        app.worker_main(argv)
    finally:  # the store, and the judge: the offline model is a server process of its own
        app.evaluator_runtime.close()


def alerts_after_evaluation(
    settings: Settings,
) -> Callable[[JobContext, int], Coroutine[Any, Any, list[AlertFiring]]]:
    """The alerts (issue 16's rules) run on each call a Celery worker finished, as the
    in-process worker runs them: delivered from the worker, with their cool-downs and
    history in the store."""
    from evaluator.service.alerting import Alerting, destinations

    allow = destinations(settings)

    async def check(context: JobContext, pk: int) -> list[AlertFiring]:
        alerting = Alerting(context.store, context.definitions.catalogue, allow=allow,
                            secret=settings.alert_webhook_secret)  # fmt: skip
        return await alerting.check_stored(pk)

    return check
