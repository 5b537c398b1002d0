"""A LiveKit Agents session report, as an agent posts it when its session ends:
``ctx.make_session_report(session).to_dict()`` (Python, snake_case) or the agents-js report
(camelCase), with the poster's ``session_id``/``call_id`` and ``agent_id`` beside it. A body
with an ``event`` and no chat history (a LiveKit server webhook) is ignored."""

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


def read(body: dict[str, Any]) -> WebhookCall | Ignored:
    history = body.get("chat_history") or body.get("chatHistory") or body.get("transcript")
    if history is None and isinstance(body.get("items"), list):
        history = {"items": body["items"]}
    if history is None:
        return Ignored(f"livekit event {body.get('event')!r} carries no chat history")
    call_id = text(body.get("call_id"), body.get("session_id"), body.get("sessionId"),
                   body.get("job_id"), body.get("jobId"), body.get("room_id"))  # fmt: skip
    values, notes = variables(body.get("dynamic_variables"))
    request = {
        "call_id": required_id("livekit", call_id, "session_id (or call_id, job_id)"),
        "transcript_type": "livekit",
        "transcript_json": history,
        "call_ended_reason": text(body.get("call_ended_reason"), body.get("close_reason")),
        "customer_number": text(body.get("customer_number")),
        "timestamp": epoch_time(body.get("started_at") or body.get("timestamp")),
        "voice_recording_url": text(body.get("voice_recording_url"), body.get("recording_url")),
        "metadata": obj(body.get("metadata")),
        "dynamic_variables": values,
    }
    assistant = text(body.get("agent_id"), body.get("agentId"), body.get("agent_name"))
    return WebhookCall(compact(request), assistant, tuple(notes))
