"""Stored calls as Cekura's call logs: the list shape and the detail (with the call's inputs,
the agent's rubric and our URL of an uploaded recording). Blocking reads: call them in a
thread."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from pydantic import BaseModel
from starlette.datastructures import URL
from starlette.responses import Response

from evaluator.calllog import (
    CallLogDetail,
    CallLogList,
    call_log_detail,
    call_log_list,
    detail_context,
)
from evaluator.catalogue.definitions import Catalogue
from evaluator.contract import CallEvaluation
from evaluator.service.deps import PREFIX, Service
from evaluator.service.offload import child_store
from evaluator.store.calls import Store

__all__ = [
    "RECORDING_PATH",
    "detail_of",
    "detail_response",
    "details_of",
    "list_items",
    "rendered",
]

RECORDING_PATH = "voice_recording"


def list_items(service: Service, calls: Iterable[CallEvaluation]) -> list[CallLogList]:
    """Calls in the list shape (the observe response, list items, evaluate_metrics)."""
    numbers = service.definitions.catalogue.numbers()
    return [call_log_list(call, numbers) for call in calls]


async def detail_response(service: Service, pk: int, base_url: URL | str) -> Response:
    """``GET call-logs/{id}/``'s answer: read and rendered in a process for a large call
    (service/offload.py), else in a thread."""
    store, catalogue, offload = service.store, service.definitions.catalogue, service.offload
    if offload.processes and offload.wanted(await asyncio.to_thread(store.stored_size, pk)):
        where = store.where()
        body = await offload.run(_detail_in_child, where, catalogue, pk, str(base_url))
    else:
        body = await asyncio.to_thread(lambda: _dump(_detail(store, catalogue, pk, base_url)))
    return Response(body, media_type="application/json")


def _detail_in_child(
    where: tuple[str, float, int | None], catalogue: Catalogue, pk: int, base_url: str
) -> bytes:
    """In a pool's child: the detail read and rendered there."""
    return _dump(_detail(child_store(where), catalogue, pk, base_url))


def list_item_in_child(
    where: tuple[str, float, int | None], catalogue: Catalogue, pk: int
) -> bytes:
    """In a pool's child: one call in the list shape, rendered (a large call's answer)."""
    return list_item_bytes(child_store(where).get_call(pk), catalogue)


def list_item_bytes(call: CallEvaluation, catalogue: Catalogue) -> bytes:
    """One call in the list shape, as the JSON the observe route answers."""
    return _dump(call_log_list(call, catalogue.numbers()))


def detail_of(service: Service, pk: int, base_url: URL | str) -> CallLogDetail:
    """One stored call as ``GET call-logs/{id}/`` shows it."""
    return _detail(service.store, service.definitions.catalogue, pk, base_url)


def _detail(store: Store, catalogue: Catalogue, pk: int, base_url: URL | str) -> CallLogDetail:
    call = store.get_call(pk)
    inputs = store.inputs(pk)
    recording = ""
    if inputs.has_recording:
        recording = f"{str(base_url).rstrip('/')}{PREFIX}/call-logs/{pk}/{RECORDING_PATH}/"
    context = detail_context(
        catalogue,
        inputs.request,
        call.agent,
        voice_recording_url=recording,
        agent_channel=inputs.agent_channel,
        user_generated_transcript=inputs.overrides.get("transcript_json"),
        project=inputs.project_id,
    )
    return call_log_detail(call, context)


def details_of(service: Service, pks: Iterable[int], base_url: URL | str) -> list[CallLogDetail]:
    return [detail_of(service, pk, base_url) for pk in pks]


async def rendered(content: BaseModel | Sequence[BaseModel], status_code: int = 200) -> Response:
    """A JSON answer serialized off the event loop: a call of 10,000 turns is a megabyte of
    JSON, which must not stall every other request while it is written."""
    body = await asyncio.to_thread(_dump, content)
    return Response(body, status_code=status_code, media_type="application/json")


def _dump(content: BaseModel | Sequence[BaseModel]) -> bytes:
    if isinstance(content, BaseModel):
        return content.model_dump_json(by_alias=True).encode()
    return b"[" + b",".join(item.model_dump_json(by_alias=True).encode() for item in content) + b"]"
