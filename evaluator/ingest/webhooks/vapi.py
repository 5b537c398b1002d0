"""Vapi's server message ``end-of-call-report`` (``{"message": {"type": ..., "call": {...},
"artifact": {"messages": [...]}, ...}}``); every other message type is ignored."""

from __future__ import annotations

from typing import Any

from evaluator.ingest.webhooks._common import (
    Ignored,
    WebhookCall,
    compact,
    epoch_time,
    obj,
    required_id,
    text,
    variables,
)

END_OF_CALL = "end-of-call-report"


def read(body: dict[str, Any]) -> WebhookCall | Ignored:
    message = obj(body.get("message")) or body
    kind = message.get("type")
    if kind != END_OF_CALL:
        return Ignored(f"vapi message {kind!r} is not an {END_OF_CALL}")
    call, artifact, assistant = (obj(message.get(k)) for k in ("call", "artifact", "assistant"))
    customer = obj(message.get("customer")) or obj(call.get("customer"))
    overrides = obj(call.get("assistantOverrides"))
    values, notes = variables(assistant.get("variableValues") or overrides.get("variableValues"))
    messages = artifact.get("messages") or message.get("messages")
    request = {
        "call_id": required_id("vapi", text(call.get("id"), message.get("callId")), "call.id"),
        "transcript_type": "vapi",
        "transcript_json": messages if isinstance(messages, list) else body,
        "call_ended_reason": text(message.get("endedReason"), call.get("endedReason")),
        "customer_number": text(customer.get("number")),
        "timestamp": epoch_time(message.get("startedAt") or call.get("startedAt")),
        "voice_recording_url": text(
            artifact.get("stereoRecordingUrl"),
            message.get("stereoRecordingUrl"),
            artifact.get("recordingUrl"),
            message.get("recordingUrl"),
        ),
        "metadata": obj(call.get("metadata")),
        "dynamic_variables": values,
    }
    assistant_id = text(assistant.get("id"), call.get("assistantId"))
    return WebhookCall(compact(request), assistant_id, tuple(notes))
