"""Shared fixtures: the repository's definitions, a prepared example call, a database URL
(SQLite, and a fresh PostgreSQL schema per test) for the suites that store calls, and the VCR
setup for the boundary tier (recorded judge exchanges in the root ``cassettes/`` folder).

Tests that need a service (PostgreSQL, Redis) follow one rule, ``service_unreachable``: with
``CI`` set a missing service is a failure, never a quiet skip; a local run skips and says why.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Hundreds of apps start here: their CPU processes start at the first large call, as the
# tests of the pool (tests/service/test_service_offload.py) check, not with every app.
os.environ.setdefault("EVALUATOR_OFFLOAD_WARM", "false")
# Nor does each app (or in-process re-evaluation) freeze the test process's heap, garbage of
# earlier tests included: tests/test_settle_heap.py checks what a real start does.
os.environ.setdefault("EVALUATOR_SETTLE_HEAP", "false")

import litellm
from hypothesis import settings as hypothesis_settings

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.config import Settings
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.store.calls import Store

# The audio suite's session fixtures (synthetic calls, one Whisper model) for every folder:
# the service's audio tests share them.
pytest_plugins = ("tests.ingest.audio.fixtures",)

# CI explores the same examples every run: a property or schema test fails on a change, not
# on the luck of the draw (locally the search stays random and finds new cases).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# VCR cannot record litellm's default aiohttp transport; httpx it records faithfully.
litellm.disable_aiohttp_transport = True

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "calls"
POSTGRES_URL = os.environ.get(
    "EVALUATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


UNREACHABLE = " not reachable at "


def running_in_ci() -> bool:
    return bool(os.environ.get("CI"))


def service_unreachable(service: str, url: str, error: object) -> NoReturn:
    """The one rule for a test whose service is down: fail under CI (the run must provide
    every service the suite needs), skip with the reason on a developer's machine."""
    reason = f"{service}{UNREACHABLE}{url}: {error}"
    if running_in_ci():
        pytest.fail(f"{reason} (CI is set: start the service)", pytrace=False)
    pytest.skip(f"{reason} (a local run skips; with CI set this fails)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """The same rule for fixtures that skip on their own when a service is down (their
    reason says "<service> not reachable at <url>"): under CI such a skip is a failure."""
    report = yield
    if report.skipped and running_in_ci() and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if UNREACHABLE in reason:
            report.outcome = "failed"
            report.longrepr = f"{reason.removeprefix('Skipped: ')} (CI is set: start the service)"
    return report


@pytest.fixture(scope="session")
def definitions() -> Definitions:
    return load_definitions(Settings(agents_dirs=[ROOT / "agents"]))


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def booking_request() -> dict[str, Any]:
    return load_example("booking_success_cekura.json")


@pytest.fixture
def booking_call(definitions: Definitions, booking_request: dict[str, Any]) -> PreparedCall:
    return read_request(booking_request, definitions.catalogue)


def postgres_schema_url() -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards (the URL pins it as search_path)."""
    schema = f"evaluator_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        service_unreachable("PostgreSQL", POSTGRES_URL, exc.orig)
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's URL: a SQLite file, then a fresh PostgreSQL schema (the production store)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'evaluator.db'}"
        return
    yield from postgres_schema_url()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The store, migrated, on each database of ``database_url``."""
    db = Store(database_url)
    db.upgrade()
    yield db
    db.close()


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """Match on the body: a changed prompt must be a cassette miss, never a stale replay."""
    return {
        "match_on": ["method", "scheme", "host", "port", "path", "body"],
        "filter_headers": ["authorization", "x-api-key", "api-key"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(ROOT / "cassettes" / request.module.__name__.split(".")[-1])
