"""Fixtures of the service tests: the same suite on SQLite and PostgreSQL (``database_url``,
in tests/conftest.py), an ASGI client with the service's lifespan (store migrated, workers
running) and the scripted judge."""

from __future__ import annotations

import asyncio
import contextlib
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
from evaluator.service.recordings import Recordings
from tests.conftest import ROOT
from tests.ingest.audio.fixtures import RememberingSTT

API_KEY = "test-key-1"
HEADERS = {"X-API-Key": API_KEY}
FINISHED = ("evaluated", "failed")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
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
        app = create_app(
            settings.model_copy(update=overrides), judge=judge, definitions=definitions
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Running(app, client, judge)

    return run


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
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Running(app, client, judge)

    return run
