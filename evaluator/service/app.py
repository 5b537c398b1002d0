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
import hmac
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError as FastAPIValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from evaluator.bootstrap import Definitions, load_definitions, open_judge
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.errors import EvaluatorError, RequestValidationError, UnknownIdError
from evaluator.ingest.intake import read_request
from evaluator.judge.schema import Judge
from evaluator.service.bodies import OBSERVE_BODY, read_observe_body, stored_call
from evaluator.service.limits import BodySizeLimit, error_body
from evaluator.service.schemas import (
    MAX_ID,
    CallLogPage,
    CallLogUpdate,
    EvaluateMetricsRequest,
    Health,
    QueuedCalls,
    RerunRequest,
)
from evaluator.service.webhook import Webhook
from evaluator.service.worker import EvaluationWorker
from evaluator.store.calls import CallFilter, CallNotFoundError, DuplicateCallError, JobScope, Store

__all__ = ["ServiceConfigError", "create_app", "create_app_from_env"]

PREFIX = "/observability/v1"
log = logging.getLogger("evaluator.service.app")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
cekura_key_header = APIKeyHeader(name="X-CEKURA-API-KEY", auto_error=False)
CallPk = Annotated[int, Path(ge=1, le=MAX_ID, description="our id of the stored call")]


class ServiceConfigError(EvaluatorError):
    """The service cannot start with this configuration."""


def api_keys(settings: Settings) -> list[str]:
    """The accepted keys: ``EVALUATOR_API_KEYS``, comma-separated."""
    return [k.strip() for k in settings.api_keys.split(",") if k.strip()]


class Service:
    """What the endpoints share: settings, definitions, store, worker."""

    def __init__(self, settings: Settings, definitions: Definitions, store: Store) -> None:
        self.settings = settings
        self.definitions = definitions
        self.store = store
        self.worker: EvaluationWorker | None = None
        self._keys = [k.encode() for k in api_keys(settings)]

    def key_ok(self, presented: str | None) -> bool:
        if not self._keys:
            return self.settings.allow_unauthenticated
        if presented is None:
            return False
        given = presented.encode()
        # Compare against every key, in constant time, so timing reveals nothing.
        return sum(hmac.compare_digest(given, key) for key in self._keys) > 0

    def check_overrides(self, pk: int, overrides: dict[str, Any]) -> None:
        """Validate a call's request with new field values, as a new observe request would be."""
        read_request({**self.store.stored_request(pk), **overrides}, self.definitions.catalogue)

    def running_worker(self) -> EvaluationWorker:
        if self.worker is None:
            raise ServiceConfigError("the evaluation worker is not running")
        return self.worker


def create_app(
    settings: Settings,
    *,
    judge: Judge | None = None,
    definitions: Definitions | None = None,
) -> FastAPI:
    """The application. ``judge`` defaults to the configured one (opened at start-up)."""
    if not api_keys(settings) and not settings.allow_unauthenticated:
        raise ServiceConfigError(
            "no API keys configured: set EVALUATOR_API_KEYS (comma-separated), or "
            "EVALUATOR_ALLOW_UNAUTHENTICATED=true to serve without authentication"
        )
    definitions = definitions or load_definitions(settings)
    service = Service(settings, definitions, Store(settings.database_url))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(service.store.upgrade)
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
            service.worker = EvaluationWorker(service.store, definitions, active, settings, webhook)
            await service.worker.start()
            try:
                yield
            finally:
                await service.worker.stop()
                service.worker = None
                service.store.close()

    app = FastAPI(
        title="voice-evaluator observe service",
        version="1",
        description=__doc__,
        lifespan=lifespan,
        responses={400: {"description": "invalid input, keyed by field"}},
    )
    app.state.service = service
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _error_handlers(app)
    _routes(app, service)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and ``evaluator serve``: settings from the env."""
    return create_app(Settings())


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


def _routes(app: FastAPI, service: Service) -> None:
    async def authorized(
        key: Annotated[str | None, Depends(api_key_header)],
        cekura_key: Annotated[str | None, Depends(cekura_key_header)],
    ) -> None:
        if not service.key_ok(key if key is not None else cekura_key):
            raise _Unauthorized()

    @app.exception_handler(_Unauthorized)
    async def _unauthorized(_request: Request, _exc: _Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"detail": "missing or invalid API key: send one in the X-API-Key header"},
            status_code=401,
            headers={"WWW-Authenticate": "ApiKey"},
        )

    guarded = [Depends(authorized)]
    not_found: dict[int | str, dict[str, Any]] = {404: {"description": "no stored call"}}

    @app.get("/health", tags=["service"])
    async def health() -> Health:
        await asyncio.to_thread(service.store.ping)
        catalogue = service.definitions.catalogue
        return Health(status="ok", database="ok", agents=len(catalogue.agents),
                      metrics=len(catalogue.metrics))  # fmt: skip

    @app.post(f"{PREFIX}/observe/", dependencies=guarded, tags=["observe"], status_code=201,
              openapi_extra=OBSERVE_BODY, responses={200: {"model": CallEvaluation,
              "description": "an identical body was posted before: the stored call"}})  # fmt: skip
    async def observe(
        request: Request,
        response: Response,
        wait: Annotated[bool, Query(description="answer once evaluated")] = False,
    ) -> CallEvaluation:
        """Store a call and queue it for evaluation (pending), or with ``wait`` judge it first."""
        body = await read_observe_body(request, service.settings.max_body_bytes)
        new = stored_call(body, service.definitions.catalogue)
        try:
            allow = service.settings.allow_duplicate_calls
            call, created = await asyncio.to_thread(
                service.store.add_call, new, allow_duplicates=allow
            )
        except DuplicateCallError as exc:
            raise RequestValidationError({"call_id": [str(exc)]}) from None
        response.status_code = 201 if created else 200
        worker = service.running_worker()
        worker.wake()
        if wait and call.id is not None:
            return await worker.wait_finished(call.id, service.settings.wait_timeout_seconds)
        return call

    @app.get(
        f"{PREFIX}/call-logs/{{pk}}/", dependencies=guarded, tags=["call-logs"], responses=not_found
    )
    async def get_call_log(pk: CallPk) -> CallEvaluation:
        """One stored call with its evaluation."""
        return await asyncio.to_thread(service.store.get_call, pk)

    @app.get(f"{PREFIX}/call-logs/", dependencies=guarded, tags=["call-logs"])
    async def list_call_logs(
        request: Request,
        agent: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        timestamp_from: Annotated[datetime | None, Query(description="calls at or after")] = None,
        timestamp_to: Annotated[datetime | None, Query(description="calls before")] = None,
        success: bool | None = None,
        status: Literal["success", "failure", "reviewed_success", "reviewed_failure"] | None = None,
        evaluation_status: Literal["pending", "evaluating", "evaluated", "failed"] | None = None,
        topic: Annotated[str | None, Query(max_length=1000, pattern=r"^[^\x00]*$")] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> CallLogPage:
        """Stored calls, newest first (by the call's timestamp), filtered and paginated."""
        where = CallFilter(
            agent, timestamp_from, timestamp_to, success, status, evaluation_status, topic
        )
        calls, total = await asyncio.to_thread(
            service.store.list_calls, where, offset=(page - 1) * page_size, limit=page_size
        )
        url = request.url
        more = page * page_size < total
        return CallLogPage(
            count=total,
            next=str(url.include_query_params(page=page + 1)) if more else None,
            previous=str(url.include_query_params(page=page - 1)) if page > 1 else None,
            results=calls,
        )

    @app.patch(
        f"{PREFIX}/call-logs/{{pk}}/", dependencies=guarded, tags=["call-logs"], responses=not_found
    )
    async def update_call_log(pk: CallPk, update: CallLogUpdate) -> CallEvaluation:
        """Human review (status, feedback), request fields, and ``reevaluate_metrics``."""
        call = await asyncio.to_thread(service.store.get_call, pk)
        given = update.model_fields_set
        overrides: dict[str, Any] = {
            k: getattr(update, k) for k in ("metadata", "dynamic_variables") if k in given
        }
        for key, value in overrides.items():
            if value is None:
                raise RequestValidationError({key: ["expected an object, not null"]})
        if overrides:
            await asyncio.to_thread(service.check_overrides, pk, overrides)
            await asyncio.to_thread(service.store.set_overrides, pk, overrides)
        if given & {"status", "feedback"}:
            await asyncio.to_thread(service.store.review, pk, status=update.status,
                                    feedback=update.feedback, fields=set(given))  # fmt: skip
        if update.reevaluate_metrics:
            await _queue(service, [pk], call.agent, "request")
        return await asyncio.to_thread(service.store.get_call, pk)

    @app.post(f"{PREFIX}/call-logs/evaluate_metrics/", dependencies=guarded, tags=["call-logs"])
    async def evaluate_metrics(body: EvaluateMetricsRequest) -> QueuedCalls:
        """Run the chosen metrics on stored calls; their results replace those metrics' results."""
        _check_agent_metrics(service, body.agent_id, body.metrics)
        return await _queue(
            service, body.call_logs, body.agent_id, "chosen", list(dict.fromkeys(body.metrics))
        )

    @app.post(f"{PREFIX}/call-logs/rerun_evaluation/", dependencies=guarded, tags=["call-logs"])
    async def rerun_evaluation(body: RerunRequest) -> QueuedCalls:
        """Re-run every metric of the agent; human-reviewed outcomes are kept."""
        _check_agent_metrics(service, body.agent_id, [])
        ids = None if body.call_logs == "all" else body.call_logs
        return await _queue(service, ids, body.agent_id, "all")


class _Unauthorized(Exception):
    """Raised by the auth dependency; answered 401."""


async def _queue(
    service: Service, ids: list[int] | None, agent_id: int, scope: JobScope,
    metric_ids: list[str] | None = None,
) -> QueuedCalls:  # fmt: skip
    try:
        queued = await asyncio.to_thread(service.store.enqueue, ids, agent_id=agent_id,
                                         scope=scope, metric_ids=metric_ids)  # fmt: skip
    except CallNotFoundError as exc:
        raise RequestValidationError({"call_logs": [f"{exc} of agent {agent_id}"]}) from None
    service.running_worker().wake()
    return QueuedCalls(agent_id=agent_id, queued=queued)


def _check_agent_metrics(service: Service, agent_id: int, metric_ids: list[str]) -> None:
    catalogue = service.definitions.catalogue
    try:
        agent = catalogue.agent(agent_id)
    except UnknownIdError as exc:
        raise RequestValidationError({"agent_id": [str(exc)]}) from None
    own = {m.id for m in catalogue.agent_metrics(agent)}
    problems = []
    for wanted in metric_ids:
        try:
            metric = catalogue.metric(wanted)
        except UnknownIdError as exc:
            problems.append(str(exc))
            continue
        if metric.id not in own:
            problems.append(f"metric {wanted!r} is not one of agent {agent_id}'s metrics")
    if problems:
        raise RequestValidationError({"metrics": problems})
