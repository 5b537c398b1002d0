"""``POST /observability/v1/observe/``: validate a call completely, commit it, then judge it."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from evaluator.contract import CallEvaluation
from evaluator.errors import RequestValidationError
from evaluator.service.bodies import OBSERVE_BODY, read_observe_body, stored_call
from evaluator.service.deps import AUTHORIZED, PREFIX, ServiceDep
from evaluator.store.calls import DuplicateCallError

router = APIRouter(prefix=PREFIX, tags=["observe"], dependencies=AUTHORIZED)


REPOSTED = "an identical body was posted before: the stored call"


@router.post(
    "/observe/",
    status_code=201,
    openapi_extra=OBSERVE_BODY,
    responses={200: {"model": CallEvaluation, "description": REPOSTED}},
)
async def observe(
    service: ServiceDep,
    request: Request,
    response: Response,
    wait: Annotated[bool, Query(description="answer once evaluated")] = False,
) -> CallEvaluation:
    """Store a call and queue it for evaluation (pending), or with ``wait`` judge it first."""
    body = await read_observe_body(request, service.settings.max_body_bytes)
    new = stored_call(body, service.definitions.catalogue)
    try:
        allow = service.settings.allow_duplicate_calls
        call, created = await asyncio.to_thread(service.store.add_call, new, allow_duplicates=allow)
    except DuplicateCallError as exc:
        raise RequestValidationError({"call_id": [str(exc)]}) from None
    response.status_code = 201 if created else 200
    worker = service.running_worker()
    worker.wake()
    if wait and call.id is not None:
        return await worker.wait_finished(call.id, service.settings.wait_timeout_seconds)
    return call
