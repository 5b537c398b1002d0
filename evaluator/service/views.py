"""Stored calls as Cekura's call logs: the list shape and the detail (with the call's inputs,
the agent's rubric and our URL of an uploaded recording). Blocking reads: call them in a
thread."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import URL

from evaluator.calllog import (
    CallLogDetail,
    CallLogList,
    call_log_detail,
    call_log_list,
    detail_context,
)
from evaluator.contract import CallEvaluation
from evaluator.service.deps import PREFIX, Service

__all__ = ["RECORDING_PATH", "detail_of", "details_of", "list_items"]

RECORDING_PATH = "voice_recording"


def list_items(service: Service, calls: Iterable[CallEvaluation]) -> list[CallLogList]:
    """Calls in the list shape (the observe response, list items, evaluate_metrics)."""
    numbers = service.definitions.catalogue.numbers()
    return [call_log_list(call, numbers) for call in calls]


def detail_of(service: Service, pk: int, base_url: URL | str) -> CallLogDetail:
    """One stored call as ``GET call-logs/{id}/`` shows it."""
    call = service.store.get_call(pk)
    inputs = service.store.inputs(pk)
    recording = ""
    if inputs.has_recording:
        recording = f"{str(base_url).rstrip('/')}{PREFIX}/call-logs/{pk}/{RECORDING_PATH}/"
    context = detail_context(
        service.definitions.catalogue,
        inputs.request,
        call.agent,
        voice_recording_url=recording,
        user_generated_transcript=inputs.overrides.get("transcript_json"),
        project=inputs.project_id,
    )
    return call_log_detail(call, context)


def details_of(service: Service, pks: Iterable[int], base_url: URL | str) -> list[CallLogDetail]:
    return [detail_of(service, pk, base_url) for pk in pks]
