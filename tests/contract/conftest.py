"""The contract tests run the service as its own tests do (tests/service/conftest.py), on the
embedded worker (the service's tests also run it on Celery)."""

import pytest

from tests.service.conftest import run_app, settings

__all__ = ["backend", "run_app", "settings"]


@pytest.fixture
def backend() -> str:
    return "embedded"
