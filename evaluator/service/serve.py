"""``evaluator serve``: migrate the database once, then run uvicorn with the service factory."""

from __future__ import annotations

import sys

from evaluator.config import Settings
from evaluator.errors import EvaluatorError

__all__ = ["run_server"]


def run_server(*, host: str, port: int, workers: int) -> int:
    """Serve until interrupted; returns the exit code (2 for a configuration problem)."""
    import uvicorn

    from evaluator.bootstrap import load_definitions
    from evaluator.service.deps import api_keys
    from evaluator.store.calls import Store

    settings = Settings()
    try:
        load_definitions(settings)
        if not api_keys(settings) and not settings.allow_unauthenticated:
            raise EvaluatorError(
                "no API keys configured: set EVALUATOR_API_KEYS (comma-separated), or "
                "EVALUATOR_ALLOW_UNAUTHENTICATED=true to serve without authentication"
            )
        # Migrate here, once, so several worker processes never race to do it.
        store = Store(settings.database_url)
        store.upgrade(blob_url=settings.blob_url)
        store.close()
    except EvaluatorError as exc:
        sys.stderr.write(f"evaluator serve: {exc}\n")
        return 2
    except Exception as exc:  # an unreachable database, bad URL: say so without a traceback
        sys.stderr.write(f"evaluator serve: database {settings.database_url!r}: {exc}\n")
        return 2
    uvicorn.run(
        "evaluator.service.app:create_app_from_env", factory=True, host=host, port=port,
        workers=workers, log_level="info",
    )  # fmt: skip
    return 0
