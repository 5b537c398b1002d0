"""A Pipecat post-call body, as a bot posts it when its call ends: ``call_id`` (or
``session_id``), ``assistant_id``/``agent_id``, the transcript (``transcript`` or ``messages``:
Pipecat's list or its ``TranscriptionMessage``s) and optional call fields. A body whose
``event`` is not an end of call is ignored."""

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

END_EVENTS = (None, "call_ended", "session_ended", "end_of_call", "on_call_ended")


def read(body: dict[str, Any]) -> WebhookCall | Ignored:
    event = body.get("event") or body.get("type")
    if event not in END_EVENTS:
        return Ignored(f"pipecat event {event!r} is not an end of call")
    transcript = body.get("transcript") or body.get("messages")
    call_id = text(body.get("call_id"), body.get("session_id"))
    values, notes = variables(body.get("dynamic_variables"))
    request = {
        "call_id": required_id("pipecat", call_id, "call_id (or session_id)"),
        "transcript_type": "pipecat",
        "transcript_json": transcript,
        "call_ended_reason": text(body.get("call_ended_reason")),
        "customer_number": text(body.get("customer_number")),
        "timestamp": epoch_time(body.get("timestamp") or body.get("started_at")),
        "voice_recording_url": text(body.get("voice_recording_url")),
        "metadata": obj(body.get("metadata")),
        "dynamic_variables": values,
    }
    assistant = text(body.get("assistant_id"), body.get("agent_id"))
    return WebhookCall(compact(request), assistant, tuple(notes))
