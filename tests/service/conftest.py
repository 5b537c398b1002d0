"""Fixtures of the service tests: the same suite on SQLite and PostgreSQL (``database_url``,
in tests/conftest.py), and on both backends (``backend``): the embedded worker, and Celery
(PostgreSQL only) with a worker in a thread of the test process against Redis, so the
scripted judge is the same object either way. An ASGI client with the service's lifespan
(store migrated, workers running)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from evaluator.bootstrap import Definitions
from evaluator.calllog import CallLogDetail, CallLogList, MetricItem
from evaluator.config import Settings
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.app import create_app
from evaluator.service.deps import Service
from evaluator.tasks.recordings import Recordings
from tests.conftest import ROOT
from tests.ingest.audio.fixtures import RememberingSTT

API_KEY = "test-key-1"
HEADERS = {"X-API-Key": API_KEY}
FINISHED = ("evaluated", "failed")


# The modules that run on both backends: everything that waits for calls to be judged, or
# acts on judged calls (alerts, re-evaluation from the UI, audio fetched by the worker).
BOTH_BACKENDS = (
    "test_service_api.py", "test_service_recovery.py", "test_service_call_logs.py",
    "test_alerts_api.py", "test_service_redaction.py", "test_service_providers.py",
    "test_service_tenancy.py", "test_service_bodies.py", "test_service_intake.py",
    "test_service_audio.py", "test_service_audio_failures.py", "test_ui.py",
    "test_ui_search.py",
)  # fmt: skip
# Not on Celery, because who judges does not matter to them: test_service_errors (the HTTP
# layer's errors), test_service_unavailable (the web process's database trouble),
# test_recording_ranges, test_service_json_property, test_service_schemathesis and
# test_ui_browser (intake and pages); test_service_offload is about the web process's own
# process pool, which the embedded worker shares and Celery's workers do not use;
# test_end_to_end runs its own uvicorn server on SQLite.
# Tests about the in-process worker itself: the completion webhook's sender is swapped on
# the embedded worker (Celery's delivery task is tests/tasks' business).
EMBEDDED_ONLY = ("test_completion_webhook_is_signed",)
# Modules that pin a SQLite file of their own (audio: see their docstrings) run Celery on it:
# the worker is a thread of the test process, so the file's writer lock is shared.
OWN_DATABASE = ("test_service_audio.py", "test_service_audio_failures.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Celery runs on PostgreSQL (or a module's own database), for the modules above:
    other combinations are deselected."""
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        backend = params.params.get("backend") if params else None
        database = params.params.get("database_url") if params else None
        celery_ok = (
            item.path.name in BOTH_BACKENDS
            and params is not None
            and (database == "postgresql" or item.path.name in OWN_DATABASE)
            and item.originalname not in EMBEDDED_ONLY  # type: ignore[attr-defined]
        )
        (dropped if backend == "celery" and not celery_ok else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["embedded", pytest.param("celery", marks=pytest.mark.celery)])
def backend(request: pytest.FixtureRequest, database_url: str) -> str:
    """Who judges: the in-process worker, or Celery (on PostgreSQL, the production store)."""
    return str(request.param)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, backend: str) -> Settings:
    broker = {}
    if backend == "celery":
        from tests.tasks.conftest import REDIS, redis_or_skip

        redis_or_skip()
        broker = {"broker_url": REDIS, "task_queue": f"evaluator-svc-{uuid.uuid4().hex[:10]}",
                  "sweep_seconds": 0.5}  # fmt: skip
    return Settings(
        **broker,  # type: ignore[arg-type]
        database_url=database_url,
        blob_url=str(tmp_path / "blobs"),
        # Recordings sent beside a transcript are not fetched: the providers' example
        # payloads name recording URLs on the internet (tests/service/test_service_audio.py
        # turns it on, with loopback allowed).
        recording_timing=False,
        api_keys=f"other-key, {API_KEY}",
        agents_dirs=[ROOT / "agents"],
        concurrency=2,
        poll_seconds=0.02,
        retry_base_seconds=0.0,
        max_attempts=3,
        lease_seconds=5.0,
        wait_timeout_seconds=30.0,
        max_body_bytes=64 * 1024,
    )


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    judge: ScriptedJudge

    @property
    def service(self) -> Service:
        service: Service = self.app.state.service
        return service

    async def wait_finished(
        self, pk: int, *, statuses: tuple[str, ...] = FINISHED
    ) -> dict[str, Any]:
        """Poll GET until the call reaches one of ``statuses`` (bounded: fails, never hangs)."""
        body: dict[str, Any] = {}
        for _ in range(1500):
            response = await self.client.get(f"/observability/v1/call-logs/{pk}/", headers=HEADERS)
            body = response.json()
            if body["evaluation_status"] in statuses:
                return body
            await asyncio.sleep(0.02)
        raise AssertionError(f"call {pk} never reached {statuses}: {body}")


RunApp = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest.fixture
def run_app(settings: Settings, definitions: Definitions) -> RunApp:
    """``async with run_app(judge=..., **settings) as running``: the service started and
    stopped as uvicorn would (lifespan), reached through an in-process ASGI client."""

    @contextlib.asynccontextmanager
    async def run(judge: ScriptedJudge | None = None, **overrides: Any) -> AsyncIterator[Running]:
        judge = judge or ScriptedJudge()
        chosen = settings.model_copy(update=overrides)
        app = create_app(chosen, judge=judge, definitions=definitions)
        async with app.router.lifespan_context(app), _celery_worker(chosen, judge, definitions):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Running(app, client, judge)

    return run


@contextlib.asynccontextmanager
async def _celery_worker(
    settings: Settings,
    judge: ScriptedJudge,
    definitions: Definitions,
    stt: RememberingSTT | None = None,
) -> AsyncIterator[None]:
    """With a broker: a Celery worker (threads pool) in this process, judging with ``judge``
    and running the alerts after each call, as ``evaluator worker`` does."""
    if not settings.broker_url:
        yield
        return
    from celery.contrib.testing.worker import start_worker

    from evaluator.cli.worker import alerts_after_evaluation
    from evaluator.store.calls import Store
    from evaluator.tasks.app import make_app
    from evaluator.tasks.job import JobContext

    app = make_app(settings)
    store = Store(settings.database_url)
    recordings = Recordings(settings, store, stt=stt)
    app.evaluator_runtime.use(JobContext(store, definitions, judge, settings, recordings))
    app.evaluator_runtime.after_evaluation = alerts_after_evaluation(settings)
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False,
                      shutdown_timeout=20.0, queues=[settings.task_queue]):  # fmt: skip
        try:
            yield
        finally:  # jobs still running are cancelled, so the worker can stop
            app.evaluator_runtime.close()
    store.close()


def call_log(data: dict[str, Any]) -> CallLogList:
    """Responses must be valid call logs (Cekura's list shape)."""
    return CallLogList.model_validate(data)


def call_detail(data: dict[str, Any]) -> CallLogDetail:
    """Responses must be valid call-log details (Cekura's detail shape)."""
    return CallLogDetail.model_validate(data)


def metric_of(log: CallLogList | CallLogDetail, slug: str) -> MetricItem:
    """The metric item of a call log by our slug."""
    return next(m for m in log.metrics if m.slug == slug)


@pytest.fixture
def run_audio(settings: Settings, definitions: Definitions, stt: RememberingSTT) -> RunApp:
    """The service with recordings on (loopback downloads allowed, one attempt per call)
    and the session's Whisper model."""

    @contextlib.asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[Running]:
        chosen = settings.model_copy(update={
            "recording_timing": True, "recording_allow_networks": "127.0.0.0/8",
            "max_attempts": 1, "max_body_bytes": 16 * 1024 * 1024, **overrides,
        })  # fmt: skip
        judge = ScriptedJudge()
        app = create_app(chosen, judge=judge, definitions=definitions)
        service = app.state.service
        service.recordings = Recordings(chosen, service.store, stt=stt)
        async with (
            app.router.lifespan_context(app),
            _celery_worker(chosen, judge, definitions, stt),
        ):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Running(app, client, judge)

    return run
