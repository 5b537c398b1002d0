"""``POST /observability/v1/observe/``: validate a call completely, commit it, then judge it."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from evaluator.calllog import CallLogList
from evaluator.catalogue.definitions import Catalogue
from evaluator.contract import CallEvaluation
from evaluator.errors import RequestValidationError
from evaluator.ingest.limits import Limits
from evaluator.service.bodies import (
    OBSERVE_BODY,
    ObserveBody,
    intake_json,
    read_observe_body,
    stored_call,
)
from evaluator.service.deps import AUTHORIZED, PREFIX, Service, ServiceDep
from evaluator.service.offload import Refused, child_store
from evaluator.service.views import list_item_bytes, list_item_in_child, list_items, rendered
from evaluator.store.calls import DuplicateCallError, NewCall

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
    if body.raw is not None and service.offload.wanted(len(body.raw)):
        return await _store_in_process(service, body.raw, wait=wait)
    (call,), created = await store_and_queue(service, body, wait=wait)
    return await rendered(call, 201 if created else 200)


async def store_and_queue(
    service: Service, body: ObserveBody, *, wait: bool = False, duplicate_ok: bool = False
) -> tuple[list[CallLogList], bool]:
    """Validate and store a call, wake the worker; the call (as ``CallLogList``) and whether
    it is new. ``duplicate_ok``: a known call_id with another body answers the stored call
    (providers send several events for one call) instead of a 400."""
    catalogue = service.definitions.catalogue
    if body.recording is None and not wait:
        # Intake, the insert and the answer's shape in one thread hop: each hop waits its
        # turn in the executor that the worker's runners share, and then for the GIL.
        items, call, created = await asyncio.to_thread(_store_listed, service, body, duplicate_ok)
        if created and call.id is not None:
            await service.running_worker().queued([call.id])
        return items, created
    new = await asyncio.to_thread(_new_call, body, catalogue, service.settings.limits())
    if body.recording is not None:  # checked (a 400 when unusable), then stored or held
        new = await service.recordings.accept_upload(new, body.recording)
    call, created = await asyncio.to_thread(_stored, service, new, duplicate_ok)
    if created and new.hold_until is not None and body.recording is not None and call.id:
        service.recordings.redact_upload(call.id, body.recording, catalogue)
    worker = service.running_worker()
    if created and call.id is not None:
        await worker.queued([call.id])
    if wait and call.id is not None:
        await worker.wait_finished(call.id, service.settings.wait_timeout_seconds)
        call = await asyncio.to_thread(service.store.get_call, call.id)
    return await asyncio.to_thread(list_items, service, [call]), created


def _store_listed(
    service: Service, body: ObserveBody, duplicate_ok: bool
) -> tuple[list[CallLogList], CallEvaluation, bool]:
    """``_stored`` of a body without a recording, and the stored call in the list shape."""
    new = _new_call(body, service.definitions.catalogue, service.settings.limits())
    call, created = _stored(service, new, duplicate_ok)
    return list_items(service, [call]), call, created


def _stored(service: Service, new: NewCall, duplicate_ok: bool) -> tuple[CallEvaluation, bool]:
    """The call stored (new: True), or with ``duplicate_ok`` the one stored before under
    its call_id (False); else a known call_id with another body is a 400."""
    try:
        return service.store.add_call(new, allow_duplicates=service.settings.allow_duplicate_calls)
    except DuplicateCallError as exc:
        if not duplicate_ok:
            raise RequestValidationError({"call_id": [str(exc)]}) from None
        return service.store.get_call(exc.existing_id), False


def _new_call(body: ObserveBody, catalogue: Catalogue, limits: Limits) -> NewCall:
    """``stored_call`` of a body; one left unread (``raw``) is read first: small enough
    for a thread, or there is no pool."""
    if body.raw is not None:
        body = intake_json(body.raw)
    return stored_call(body, catalogue, limits)


async def _store_in_process(service: Service, raw: bytes, *, wait: bool) -> Response:
    """A large JSON body, from its bytes to its answer, in a process of the pool
    (service/offload.py): parsed, validated, redacted, stored by the child's own database
    handle, and rendered there. What comes back is the answer's bytes and the call's id:
    this process never holds the call, so its event loop never waits on that work's GIL."""
    store, catalogue, offload = service.store, service.definitions.catalogue, service.offload
    limits, allow = service.settings.limits(), service.settings.allow_duplicate_calls
    answer, pk, created = await offload.run(
        _store_in_child, store.where(), raw, catalogue, limits, allow
    )
    worker = service.running_worker()
    if created:
        await worker.queued([pk])
    if wait:
        await worker.wait_finished(pk, service.settings.wait_timeout_seconds)
        answer = await offload.run(list_item_in_child, store.where(), catalogue, pk)
    return Response(answer, status_code=201 if created else 200, media_type="application/json")


def _store_in_child(
    where: tuple[str, float, int | None],
    raw: bytes,
    catalogue: Catalogue,
    limits: Limits,
    allow_duplicates: bool,
) -> tuple[bytes, int, bool] | Refused:
    """In a pool's child: ``store_and_queue``'s work on a JSON body, less the queueing."""
    try:
        new = stored_call(intake_json(raw), catalogue, limits)
        call, created = child_store(where).add_call(new, allow_duplicates=allow_duplicates)
    except RequestValidationError as exc:
        return Refused(exc.errors)
    except DuplicateCallError as exc:
        return Refused({"call_id": [str(exc)]})
    assert call.id is not None  # stored
    return list_item_bytes(call, catalogue), call.id, created
