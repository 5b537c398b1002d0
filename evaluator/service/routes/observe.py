"""``POST /observability/v1/observe/``: validate a call completely, commit it, then judge it."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from evaluator.calllog import CallLogList
from evaluator.errors import RequestValidationError
from evaluator.service.bodies import OBSERVE_BODY, ObserveBody, read_observe_body
from evaluator.service.deps import AUTHORIZED, PREFIX, Service, ServiceDep
from evaluator.service.views import list_items, rendered
from evaluator.store.calls import DuplicateCallError

__all__ = ["router", "store_and_queue"]

router = APIRouter(prefix=PREFIX, tags=["observe"], dependencies=AUTHORIZED)


REPOSTED = "an identical body was posted before: the stored call"


@router.post(
    "/observe/",
    status_code=201,
    openapi_extra=OBSERVE_BODY,
    response_model=CallLogList,
    responses={200: {"model": CallLogList, "description": REPOSTED}},
)
async def observe(
    service: ServiceDep,
    request: Request,
    wait: Annotated[bool, Query(description="answer once evaluated")] = False,
) -> Response:
    """Store a call and queue it for evaluation (status ``evaluating``), or with ``wait``
    judge it first. JSON, form-urlencoded or multipart (with a ``voice_recording`` file)."""
    # Its fields are walked once, by intake (stored_call), with the configured limits; a
    # large JSON body is read there too, in a process (service/offload.py).
    settings = service.settings
    body = await read_observe_body(
        request, settings.max_body_bytes, defer_from=settings.offload_min_bytes
    )
    (call,), created = await store_and_queue(service, body, wait=wait)
    return await rendered(call, 201 if created else 200)


async def store_and_queue(
    service: Service, body: ObserveBody, *, wait: bool = False, duplicate_ok: bool = False
) -> tuple[list[CallLogList], bool]:
    """Validate and store a call, wake the worker; the call (as ``CallLogList``) and whether
    it is new. ``duplicate_ok``: a known call_id with another body answers the stored call
    (providers send several events for one call) instead of a 400."""
    catalogue = service.definitions.catalogue
    new = await service.offload.intake(body, catalogue, service.settings.limits())
    if body.recording is not None:  # checked (a 400 when unusable), then stored or held
        new = await service.recordings.accept_upload(new, body.recording)
    allow = service.settings.allow_duplicate_calls
    try:
        call, created = await asyncio.to_thread(service.store.add_call, new, allow_duplicates=allow)
    except DuplicateCallError as exc:
        if not duplicate_ok:
            raise RequestValidationError({"call_id": [str(exc)]}) from None
        call, created = await asyncio.to_thread(service.store.get_call, exc.existing_id), False
    if created and new.hold_until is not None and body.recording is not None and call.id:
        service.recordings.redact_upload(call.id, body.recording, catalogue)
    worker = service.running_worker()
    if created and call.id is not None:
        await worker.queued([call.id])
    if wait and call.id is not None:
        call = await worker.wait_finished(call.id, service.settings.wait_timeout_seconds)
    return await asyncio.to_thread(list_items, service, [call]), created
