"""``evaluator reevaluate``, the command itself: a SQLite store of judged calls, the real
judge (litellm) configured from ``EVALUATOR_*`` and talking to a stand-in server on loopback."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from evaluator.bootstrap import Definitions
from evaluator.cli.main import app
from evaluator.config import Settings
from evaluator.judge.scripted import ScriptedJudge
from evaluator.store.calls import Store
from tests.conftest import ROOT
from tests.reevaluate.conftest import add_judged_calls
from tests.reevaluate.stand_in import StandIn, serve_stand_in

CALLS = 3
MODEL = "stand-in"
CSAT_BEFORE = 40  # the stand-in answers a score's lowest value: every call's csat changes
runner = CliRunner()
# litellm's response types, built on the first live completion; nothing the evaluator can act on.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Item 'summary' on TypedDict class 'ChatCompletionReasoningItem':UserWarning"
)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with serve_stand_in() as server:
        yield server


@pytest.fixture
def judged_calls(tmp_path: Path, definitions: Definitions, booking_request: dict[str, Any]) -> str:
    """A SQLite store holding CALLS calls judged by the scripted judge; its URL."""
    url = f"sqlite:///{tmp_path / 'evaluator.db'}"
    store = Store(url)
    store.upgrade()
    judge = ScriptedJudge(answers={"csat": CSAT_BEFORE})
    asyncio.run(add_judged_calls(store, definitions, booking_request, CALLS, judge))
    store.close()
    return url


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, stand_in: StandIn, judged_calls: str) -> None:
    """The command's settings, from the environment only (nothing inherited from the shell)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"EVALUATOR_{name.upper()}", raising=False)
    settings = {
        "MODEL": f"openai/{MODEL}",
        "API_BASE": stand_in.url,
        "API_KEY": "stand-in-key",
        "STRUCTURED_MODE": "constrained_json",
        "DATABASE_URL": judged_calls,
        "AGENTS_DIRS": json.dumps([str(ROOT / "agents")]),
        "NUM_RETRIES": "0",  # a failed request shows as a failed call, not a hidden retry
        "TIMEOUT": "20",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"EVALUATOR_{name}", value)


def reevaluate(*args: str) -> tuple[Result, str]:
    """Run the command; its result and its output (stdout and stderr) on one line, since
    Rich wraps long lines at the width of the (absent) terminal."""
    result = runner.invoke(app, ["reevaluate", *args], catch_exceptions=False)
    return result, " ".join(result.output.split())


def test_dry_run_prints_an_estimate_and_sends_nothing(stand_in: StandIn, tmp_path: Path) -> None:
    result, out = reevaluate("--dry-run", "--metrics", "all", "--report", str(tmp_path / "r"))
    assert result.exit_code == 0, out
    assert "dry run: nothing was sent" in out
    assert re.search(rf"calls to judge\W+{CALLS}\b", out), out
    assert re.search(rf"LLM requests\W+{CALLS}\b", out), out  # one request per call
    assert stand_in.sent == 0
    assert not (tmp_path / "r").exists()


def test_a_run_reports_and_an_identical_run_is_answered_by_the_cache(
    stand_in: StandIn, tmp_path: Path
) -> None:
    first, out = reevaluate("--metrics", "all", "--report", str(tmp_path / "first"))
    assert first.exit_code == 0, out
    assert stand_in.sent == CALLS  # exactly one request per call: no re-asks, no retries
    assert {r["model"] for r in stand_in.requests} == {MODEL}  # EVALUATOR_MODEL, litellm's
    assert all(r["response_format"]["type"] == "json_object" for r in stand_in.requests)
    assert f"{CALLS} judged, 0 skipped, 0 failed; {CALLS} LLM requests, 0 cache hits" in out
    run_id = _report(tmp_path / "first")["run_id"]
    assert f"--resume {run_id}" in out

    second, out = reevaluate("--metrics", "all", "--report", str(tmp_path / "second"))
    assert second.exit_code == 0, out
    assert stand_in.sent == CALLS  # nothing new was sent
    assert f"{CALLS} judged, 0 skipped, 0 failed; 0 LLM requests, {CALLS} cache hits" in out
    assert _report(tmp_path / "second")["run_id"] != run_id


def _report(folder: Path) -> dict[str, Any]:
    """The three report files are there and agree; report.json's content."""
    report: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["calls"] == CALLS
    with (folder / "changes.csv").open(newline="", encoding="utf-8") as handle:
        flips = list(csv.DictReader(handle))
    assert len(flips) == sum(m["changed"] for m in report["metrics"])
    csat = [(f["call_id"], f["before"], f["after"]) for f in flips if f["metric_id"] == "csat"]
    assert csat == [(f"call-{i:04d}", str(CSAT_BEFORE), "0") for i in range(CALLS)]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and report["run_id"] in page
    return report


def test_resuming_an_unknown_run_exits_2_naming_it(stand_in: StandIn, tmp_path: Path) -> None:
    result, out = reevaluate("--resume", "no-such-run", "--report", str(tmp_path / "r"))
    assert result.exit_code == 2, out
    assert "reevaluate: no re-evaluation run 'no-such-run'" in out
    assert "Traceback" not in out
    assert stand_in.sent == 0 and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--percent", "0"], "--percent: expected more than 0 and up to 100, got 0.0"),
        (["--sample", "2", "--percent", "50"], "--sample and --percent: give one, not both"),
        (["--from", "last tuesday"], "--from: expected an ISO time"),
        (["--metrics", "csta"], "--metrics: unknown metric 'csta' (did you mean 'csat'?)"),
        (["--concurrency", "0"], "'--concurrency'"),
    ],
    ids=["percent", "sample-and-percent", "from", "metrics", "concurrency"],
)
def test_a_bad_flag_exits_2_naming_it(
    flags: list[str], says: str, stand_in: StandIn, tmp_path: Path
) -> None:
    result, out = reevaluate(*flags, "--report", str(tmp_path / "r"))
    assert result.exit_code == 2, out
    assert says in out
    assert "Traceback" not in out
    assert stand_in.sent == 0 and not (tmp_path / "r").exists()


def test_workers_share_a_run_and_each_call_is_judged_once(
    stand_in: StandIn, tmp_path: Path, judged_calls: str
) -> None:
    """``--workers 2``: two processes (spawned, so the stand-in is reached over loopback
    like a real server) judge their shares; the parent sums their progress."""
    from evaluator.store.tables import EvaluationRow

    result, out = reevaluate(
        "--metrics", "all", "--workers", "2", "-c", "4", "--report", str(tmp_path / "r")
    )
    assert result.exit_code == 0, out
    assert "on 2 worker processes" in out
    assert stand_in.sent == CALLS
    assert f"{CALLS} judged, 0 skipped, 0 failed; {CALLS} LLM requests, 0 cache hits" in out
    run_id = _report(tmp_path / "r")["run_id"]
    store = Store(judged_calls)
    with store.engine.connect() as conn:
        sources = list(conn.scalars(select(EvaluationRow.source)))
    store.close()
    assert sources.count(f"reevaluate:{run_id}") == CALLS  # one stored run per call


def test_the_offline_model_refuses_more_than_one_worker(
    stand_in: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judged_calls: str
) -> None:
    from evaluator.store.reruns import RerunRow

    monkeypatch.delenv("EVALUATOR_MODEL")
    result, out = reevaluate("--metrics", "all", "--workers", "2", "--report", str(tmp_path / "r"))
    assert result.exit_code == 2, out
    assert "--workers: the offline model answers one request at a time" in out
    assert stand_in.sent == 0 and not (tmp_path / "r").exists()
    store = Store(judged_calls)
    with store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RerunRow)) == 0  # no run stored
    store.close()
