"""The observe service (FastAPI): Cekura's observe and call-log endpoints over the store.

``POST /observability/v1/observe/`` validates the call completely, commits it, and answers at
once with the stored call (``evaluation_status: pending``); ``EvaluationWorker`` judges it in
the background (``?wait=true`` waits for the result). Errors keep the contract's shape: 400
with ``{"field": ["message"]}`` (FastAPI's own 422s are converted), 401 without a valid API
key, 404 for unknown calls, 413 over the size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from fastapi.responses import JSONResponse

from evaluator.bootstrap import Definitions, load_definitions, open_judge, settle_heap
from evaluator.config import Settings
from evaluator.errors import RequestValidationError
from evaluator.judge.schema import Judge
from evaluator.service.alerting import Alerting
from evaluator.service.deps import (
    ReadOnlyKey,
    Service,
    ServiceConfigError,
    Unauthorized,
    api_keys,
)
from evaluator.service.dispatch import CeleryDispatch, Dispatcher
from evaluator.service.errors import install_error_handlers
from evaluator.service.limits import BodySizeLimit, error_body
from evaluator.service.routes import routers
from evaluator.service.routes.alerts import allowed_destinations, install_alert_errors
from evaluator.service.ui import mount_ui
from evaluator.service.webhook import Webhook
from evaluator.service.worker import EvaluationWorker
from evaluator.store.calls import CallNotFoundError, Store
from evaluator.store.tenancy import Tenancy
from evaluator.store.types import StoreUnavailableError

__all__ = ["ServiceConfigError", "create_app", "create_app_from_env"]

log = logging.getLogger("evaluator.service.app")


def create_app(
    settings: Settings,
    *,
    judge: Judge | None = None,
    definitions: Definitions | None = None,
) -> FastAPI:
    """The application. ``judge`` defaults to the configured one (opened at start-up).
    ``EVALUATOR_DOCS=false`` serves no ``/docs``, ``/redoc`` or ``/openapi.json``."""
    definitions = definitions or load_definitions(settings)
    store = Store(settings.database_url, busy_timeout=settings.db_busy_timeout,
                  pool=settings.db_pool())  # fmt: skip
    service = Service(settings, definitions, store)
    app = FastAPI(
        title="voice-evaluator observe service",
        version="1",
        description=__doc__,
        lifespan=_lifespan(service, judge),
        responses={400: {"description": "invalid input, keyed by field"}},
        docs_url="/docs" if settings.docs else None,
        redoc_url="/redoc" if settings.docs else None,
        openapi_url="/openapi.json" if settings.docs else None,
    )
    app.state.service = service
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _error_handlers(app)
    install_error_handlers(app)  # Cekura's 404/409 shapes, over the ones above
    install_alert_errors(app)
    for router in routers():  # in matching order: named actions before call-logs/{id}/
        app.include_router(router)
    mount_ui(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and ``evaluator serve``: settings from the env."""
    return create_app(Settings())


def _lifespan(
    service: Service, judge: Judge | None
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Start-up: migrate, open the judge, start the worker; shut-down in reverse. With a
    broker (``EVALUATOR_BROKER_URL``) no judge is opened: Celery workers judge the calls."""
    settings = service.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Every database call runs in the loop's default executor: size it for the runners
        # and the requests together (Python's default, CPUs + 4, queued requests behind the
        # runners' claims and made PostgreSQL's p99 seconds long).
        threads = ThreadPoolExecutor(settings.concurrency + 32, thread_name_prefix="store")
        asyncio.get_running_loop().set_default_executor(threads)
        await asyncio.to_thread(service.store.upgrade, blob_url=settings.blob_url)
        await asyncio.to_thread(_check_tenancy, service)
        if settings.broker_url:
            async with _running(service, CeleryDispatch(service.store, settings)):
                yield
            return
        with contextlib.ExitStack() as stack:
            active = judge
            if active is None:
                active, notice = stack.enter_context(open_judge(settings))
                if notice:
                    log.warning(notice)
            webhook = (
                Webhook(settings.webhook_url, settings.webhook_secret)
                if settings.webhook_url
                else None
            )
            alerting = Alerting(service.store, service.definitions.catalogue,
                                allow=allowed_destinations(service),
                                secret=settings.alert_webhook_secret)  # fmt: skip
            worker = EvaluationWorker(
                service.store,
                service.definitions,
                active,
                settings,
                webhook,
                alerting,
                service.recordings,
                offload=service.offload,
            )
            async with _running(service, worker):
                yield

    return lifespan


def _check_tenancy(service: Service) -> None:
    """Refuse to start with no way in (no key anywhere, and authentication not switched off)
    or with an agent whose project does not exist."""
    tenancy = Tenancy(service.store)
    settings = service.settings
    live = [k for k in tenancy.api_keys() if k.revoked_at is None]
    if not api_keys(settings) and not settings.allow_unauthenticated and not live:
        raise ServiceConfigError(
            "no API keys configured: set EVALUATOR_API_KEYS (comma-separated admin keys), "
            "create one with `evaluator keys create`, or set "
            "EVALUATOR_ALLOW_UNAUTHENTICATED=true to serve without authentication"
        )
    projects = tenancy.project_ids()
    for agent in service.definitions.catalogue.agents.values():
        if agent.project not in projects:
            raise ServiceConfigError(
                f"{agent.source or f'agent {agent.id}'}: project {agent.project} does not "
                "exist; create it with `evaluator projects create NAME`"
            )


@contextlib.asynccontextmanager
async def _running(service: Service, dispatcher: Dispatcher) -> AsyncIterator[None]:
    service.worker = dispatcher
    if service.settings.offload_warm:
        await asyncio.to_thread(service.offload.start)
    await dispatcher.start()
    settle_heap(service.settings)  # started up: what it built lives as long as the service
    try:
        yield
    finally:
        await dispatcher.stop()
        await asyncio.to_thread(service.offload.shutdown)
        await service.recordings.close()
        service.worker = None
        service.store.close()


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FastAPIValidationError)
    async def _validation(_request: Request, exc: FastAPIValidationError) -> JSONResponse:
        return JSONResponse(error_body(exc.errors()), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(exc.errors, status_code=400)

    @app.exception_handler(CallNotFoundError)
    async def _missing(_request: Request, exc: CallNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StoreUnavailableError)
    async def _busy(_request: Request, exc: StoreUnavailableError) -> JSONResponse:
        return _unavailable(str(exc))

    @app.exception_handler(ReadOnlyKey)
    async def _read_only(_request: Request, _exc: ReadOnlyKey) -> JSONResponse:
        return JSONResponse(
            {"detail": "this API key is read-only: it cannot create, change or delete anything"},
            status_code=403,
        )

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, _exc: Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"detail": "missing or invalid API key: send one in the X-API-Key header"},
            status_code=401,
            headers={"WWW-Authenticate": "ApiKey"},
        )


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})
