"""Fixtures of the Celery tests: real worker processes (``evaluator worker``) against Redis
(or RabbitMQ) and a fresh PostgreSQL schema, judging with the real judge (litellm) at the
loopback stand-in, which counts every request.

Parallel runs never share work: each test has its own queue names and rate-limit keys (a
unique prefix) in Redis database 11, and its own PostgreSQL schema.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.service.app import create_app
from evaluator.store.calls import Store
from tests.conftest import ROOT, postgres_schema_url, service_unreachable
from tests.reevaluate.stand_in import StandIn, serve_stand_in

REDIS = "redis://127.0.0.1:6379/11"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
API_KEY = "celery-test-key"
HEADERS = {"X-API-Key": API_KEY}
OBSERVE = "/observability/v1/observe/"
EVALUATOR = str(Path(sys.executable).parent / "evaluator")
pytestmark = pytest.mark.celery


def redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unreachable("Redis", REDIS, exc)


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_schema_url()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with serve_stand_in(latency=0.2) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return f"evaluator-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def worker_env(pg_url: str, stand_in: StandIn, prefix: str) -> dict[str, str]:
    """The settings every process of a test shares, as ``EVALUATOR_*`` variables."""
    redis_or_skip()
    values = {
        "MODEL": "openai/stand-in",
        "API_BASE": stand_in.url,
        "API_KEY": "stand-in-key",
        "STRUCTURED_MODE": "constrained_json",
        "DATABASE_URL": pg_url,
        "BROKER_URL": REDIS,
        "TASK_QUEUE": prefix,
        "RATE_LIMIT_KEY": prefix,
        "AGENTS_DIRS": json.dumps([str(ROOT / "agents")]),
        "NUM_RETRIES": "0",
        "TIMEOUT": "30",
        "LEASE_SECONDS": "3",
        "RETRY_BASE_SECONDS": "0",
        "SWEEP_SECONDS": "0.5",
        "POLL_SECONDS": "0.05",
        "CONCURRENCY": "4",
    }
    return {f"EVALUATOR_{k}": v for k, v in values.items()}


def settings_of(env: dict[str, str], **changes: Any) -> Settings:
    """The same settings, read as a process of the test would read them."""
    plain = {k.removeprefix("EVALUATOR_").lower(): v for k, v in env.items()}
    plain["agents_dirs"] = json.loads(plain["agents_dirs"])
    return Settings.model_validate({**plain, **changes})


@dataclass
class Workers:
    """``evaluator worker`` processes of one test, stopped (killed if need be) at its end."""

    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, count: int = 1, *, pool: str = "threads", concurrency: int = 4, **env: str
    ) -> list[subprocess.Popen[bytes]]:
        """Start ``count`` workers at once; returns them once each said it is ready."""
        started = [self._launch(pool, concurrency, env) for _ in range(count)]
        for index, process in started:
            self._wait_ready(index, process)
        return [process for _, process in started]

    def _launch(
        self, pool: str, concurrency: int, env: dict[str, str]
    ) -> tuple[int, subprocess.Popen[bytes]]:
        index = len(self.processes)
        log = (self.logs / f"worker-{index}.log").open("wb")
        environment = {**os.environ, **self.env, **{f"EVALUATOR_{k}": v for k, v in env.items()}}
        process = subprocess.Popen(
            [EVALUATOR, "worker", f"--pool={pool}", f"--concurrency={concurrency}",
             f"--hostname=w{index}-{uuid.uuid4().hex[:6]}@%h", "--loglevel=info"],
            env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return index, process

    def _wait_ready(self, index: int, process: subprocess.Popen[bytes]) -> None:
        log = self.logs / f"worker-{index}.log"
        # Several workers importing litellm at once on a loaded machine take a while.
        deadline = time.monotonic() + 150
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {index} did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def log(self, index: int) -> str:
        return (self.logs / f"worker-{index}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    group = Workers(worker_env, tmp_path)
    yield group
    group.stop()


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a prefork worker's pool)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


@dataclass
class Service:
    client: httpx.AsyncClient
    store: Store


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Service]]


@pytest.fixture
def service(worker_env: dict[str, str], definitions: Definitions) -> ServiceFactory:
    """``async with service(**settings) as running``: the observe service with the broker set
    (it judges nothing itself), reached through an in-process ASGI client."""

    @contextlib.asynccontextmanager
    async def run(**changes: Any) -> AsyncIterator[Service]:
        settings = settings_of(worker_env, api_keys=API_KEY, **changes)
        app = create_app(settings, definitions=definitions)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Service(client, app.state.service.store)

    return run


def request_body(base: dict[str, Any], i: int) -> dict[str, Any]:
    """The example call, made distinct (its own prompt, its own cache key)."""
    body = json.loads(json.dumps(base))
    body["call_id"] = f"celery-{i:04d}-{uuid.uuid4().hex[:6]}"
    body["transcript_json"][1]["content"] += f" My reference is {i:04d}."
    return body


async def post_calls(service: Service, base: dict[str, Any], count: int) -> list[int]:
    pks = []
    for i in range(count):
        response = await service.client.post(OBSERVE, json=request_body(base, i), headers=HEADERS)
        assert response.status_code == 201, response.text
        pks.append(response.json()["id"])
    return pks


def wait_judged(store: Store, pks: list[int], timeout: float = 60.0) -> None:
    """Until every call is evaluated (failing, with their states, after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        states = {pk: store.get_call(pk).evaluation_status for pk in pks}
        if all(s == "evaluated" for s in states.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not all judged after {timeout}s: {states}")
        time.sleep(0.2)


def prompts(stand_in: StandIn) -> list[str]:
    """Each request the stand-in received, as the text of its messages."""
    return [json.dumps(r["messages"], sort_keys=True) for r in list(stand_in.requests)]
