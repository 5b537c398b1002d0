"""``PATCH call-logs/{id}/``: every field of Cekura's ``PatchedUpdateCallLog`` applied to a
stored call (blocking: call it in a thread).

Request fields (``call_ended_reason``, ``customer_number``, ``timestamp``, ``call_id``, a
transcript correction) become corrections the next evaluation reads; ``metadata`` and
``dynamic_variables`` are merged into the stored ones at the top level. The corrected call is
validated as a new observe request would be (a corrected transcript is parsed again, and
redacted as the call asked), so a bad correction is a 400 naming the field and nothing is
changed. A call whose evaluation is pending or running is left as it is (``CallBusyError``,
answered 409); a person's review (``status``, ``feedback``) is kept apart and always taken.
"""

from __future__ import annotations

from typing import Any

from evaluator.contract import apply_overrides
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.service.deps import Service
from evaluator.service.schemas import CallLogPatch
from evaluator.store.types import EVALUATING, CallBusyError
from evaluator.transcript import format_duration

__all__ = ["apply_patch"]

_REQUEST_FIELDS = ("call_id", "call_ended_reason", "customer_number")
_MERGED = ("metadata", "dynamic_variables")


def apply_patch(service: Service, pk: int, patch: CallLogPatch) -> bool:
    """Apply a PATCH; True when the call is to be evaluated again (``reevaluate_metrics``)."""
    store = service.store
    given = patch.model_fields_set
    inputs = store.inputs(pk)
    overrides = _overrides(patch, inputs.request)
    columns: dict[str, Any] = {}
    if overrides:
        request = apply_overrides(inputs.request, overrides)
        prepared = read_request(request, service.definitions.catalogue, service.settings.limits())
        overrides = _as_stored(prepared, overrides)
        columns = _columns(patch, prepared, transcript="transcript_json" in overrides)
    if "duration" in given and patch.duration is not None:
        columns["duration"] = format_duration(patch.duration * 60)
    if patch.reevaluate_metrics:
        state = store.get_call(pk).evaluation_status
        if state in EVALUATING:
            raise CallBusyError(pk, state)
    if overrides or columns:
        store.edit(pk, overrides, columns)
    if given & {"status", "feedback"}:
        store.review(pk, status=patch.status, feedback=patch.feedback, fields=set(given))
    return patch.reevaluate_metrics


def _overrides(patch: CallLogPatch, request: dict[str, Any]) -> dict[str, Any]:
    given = patch.model_fields_set
    out: dict[str, Any] = {k: getattr(patch, k) for k in _REQUEST_FIELDS if k in given}
    for key in _MERGED:
        value = getattr(patch, key)
        if key in given and value is not None:
            out[key] = {**(request.get(key) or {}), **value}
    if "timestamp" in given and patch.timestamp is not None:
        out["timestamp"] = patch.timestamp.isoformat()
    if "transcript_json" in given:
        # A correction without its type is detected from its shape.
        out["transcript_json"] = patch.transcript_json
        out["transcript_type"] = patch.transcript_type or "auto"
    elif "transcript_type" in given:
        out["transcript_type"] = patch.transcript_type
    return {k: v for k, v in out.items() if v is not None}


def _as_stored(prepared: PreparedCall, overrides: dict[str, Any]) -> dict[str, Any]:
    """The corrections as validated and redacted (never the raw text a call asked to hide)."""
    stored = prepared.request.model_dump(mode="json")
    return {key: stored.get(key) for key in overrides}


def _columns(patch: CallLogPatch, prepared: PreparedCall, *, transcript: bool) -> dict[str, Any]:
    given = patch.model_fields_set
    columns: dict[str, Any] = {}
    if "call_id" in given and patch.call_id is not None:
        columns["call_id"] = patch.call_id
    if "timestamp" in given and patch.timestamp is not None:
        columns["occurred_at"] = patch.timestamp
    if transcript or "transcript_type" in given:
        parsed = prepared.transcript
        columns["transcript_text"] = parsed.to_text()
        columns["transcript_object"] = parsed.to_object()
        columns["duration"] = format_duration(parsed.duration_seconds)
    return columns
