"""The contract tests run the service as its own tests do (tests/service/conftest.py)."""

from tests.service.conftest import run_app, settings

__all__ = ["run_app", "settings"]
