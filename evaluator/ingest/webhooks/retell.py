"""Retell's ``call_ended`` and ``call_analyzed`` webhooks (``{"event": ..., "call": {...}}``);
``call_started`` and other events are ignored. Both end events carry the same call: the second
one is answered with the call already stored."""

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

END_EVENTS = ("call_ended", "call_analyzed")
TRANSCRIPTS = ("transcript_with_tool_calls", "transcript_object")


def read(body: dict[str, Any]) -> WebhookCall | Ignored:
    event = body.get("event")
    if event not in END_EVENTS:
        return Ignored(f"retell event {event!r} is not one of {', '.join(END_EVENTS)}")
    call = obj(body.get("call"))
    values, notes = variables(call.get("retell_llm_dynamic_variables"))
    outbound = call.get("direction") == "outbound"
    customer = call.get("to_number") if outbound else call.get("from_number")
    request = {
        "call_id": required_id("retell", text(call.get("call_id")), "call.call_id"),
        "transcript_type": "retell",
        "transcript_json": {k: call[k] for k in TRANSCRIPTS if call.get(k) is not None},
        "call_ended_reason": text(call.get("disconnection_reason")),
        "customer_number": text(customer),
        "timestamp": epoch_time(call.get("start_timestamp")),
        "voice_recording_url": text(
            call.get("recording_multi_channel_url"), call.get("recording_url")
        ),
        "metadata": obj(call.get("metadata")),
        "dynamic_variables": values,
    }
    return WebhookCall(compact(request), text(call.get("agent_id")), tuple(notes))
