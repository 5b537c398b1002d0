"""``evaluator worker`` closes what it opened when Celery stops: the store and the judge,
which for the offline model is a server process of its own. Left open, each stopped worker
left a llama.cpp server behind (seen following the README's deployment steps: three
orphaned servers, one holding 7.9 GB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from typer.testing import CliRunner

from evaluator.cli.main import app
from evaluator.tasks.runtime import Runtime


@pytest.mark.parametrize("ending", [None, SystemExit(0), KeyboardInterrupt()])
def test_the_worker_closes_its_runtime_when_celery_stops(
    ending: BaseException | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Runtime] = []
    monkeypatch.setenv("EVALUATOR_BROKER_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("EVALUATOR_DATABASE_URL", f"sqlite:///{tmp_path}/w.db")
    monkeypatch.setattr("evaluator.tasks.worker.prepare", lambda _app, _pool: None)

    def worker_main(_self: Celery, _argv: list[str]) -> None:  # Celery ran, then stopped
        if ending is not None:
            raise ending

    monkeypatch.setattr(Celery, "worker_main", worker_main)
    monkeypatch.setattr(Runtime, "close", lambda self: closed.append(self))
    result = CliRunner().invoke(app, ["worker", "-c", "1"])
    assert len(closed) == 1, result.output
    assert isinstance(closed[0], Runtime)


def test_a_prefork_child_closes_its_runtime_as_it_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery import signals

    from evaluator.config import Settings
    from evaluator.tasks.app import make_app

    closed: list[Any] = []
    celery_app = make_app(Settings(broker_url="redis://127.0.0.1:6379/15"))
    runtime = celery_app.evaluator_runtime
    monkeypatch.setattr(runtime, "close", lambda: closed.append(True))
    signals.worker_process_shutdown.send(sender=None, pid=1, exitcode=0)
    assert closed == [True]
