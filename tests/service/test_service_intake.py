"""Intake as lenient as Cekura's server: unknown fields ignored (named in notes, not stored),
null for every optional field, JSON, form-urlencoded and multipart bodies with text coerced,
and Cekura's own documented examples; wrong values are still 400s naming the field."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.ingest.audio.synth import tone_wav
from tests.service.calls import OBSERVE, V2, as_form
from tests.service.conftest import HEADERS, RunApp, call_detail, call_log

OPTIONAL = (
    "assistant_id", "voice_recording", "voice_recording_url", "call_ended_reason",
    "customer_number", "metadata", "timestamp", "dynamic_variables", "feedback",
    "redact_fields", "metric_ids", "main_agent_channel_index", "trace_id", "transcript_type",
)  # fmt: skip


async def test_unknown_fields_and_nulls_are_taken_as_cekuras_server_takes_them(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    body = {**booking_request, **dict.fromkeys(OPTIONAL), "surprise": {"a": 1}, "extra": 2}
    async with run_app() as running:
        response = await running.client.post(OBSERVE, json=body, headers=HEADERS)
        assert response.status_code == 201, response.text
        posted = call_log(response.json())
        done = call_detail(await running.wait_finished(posted.id or 0))
        with running.service.store.engine.connect() as conn:
            stored = " ".join(map(str, conn.execute(text("SELECT body, request FROM calls")).one()))
    ignored = ["ignored unknown field 'surprise'", "ignored unknown field 'extra'"]
    assert posted.notes == ignored and done.notes[:2] == ignored
    assert "surprise" not in stored and "extra" not in stored
    assert done.evaluation_status == "evaluated"
    assert (done.metadata, done.customer_number, done.trace_id) == ({}, "", "")


async def test_form_urlencoded_and_multipart_bodies_with_text_values(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    form = as_form({**booking_request, "agent": "1", "call_id": "form-call", "feedback": ""})
    fields = as_form(
        {**booking_request, "call_id": "multipart-call", "main_agent_channel_index": "0"}
    )
    files = {"voice_recording": ("call.wav", tone_wav(), "audio/wav")}
    async with run_app() as running:
        urlencoded = await running.client.post(OBSERVE, data=form, headers=HEADERS)
        multipart = await running.client.post(OBSERVE, data=fields, files=files, headers=HEADERS)
        pk = multipart.json()["id"]
        detail = call_detail(await running.wait_finished(pk))
        audio = await running.client.get(detail.voice_recording_url, headers=HEADERS)
        wrong = await running.client.post(
            OBSERVE, data={**form, "agent": "abc", "call_id": "x"}, headers=HEADERS
        )
        channel = await running.client.post(
            OBSERVE, data={**form, "main_agent_channel_index": "2", "call_id": "y"}, headers=HEADERS
        )
        not_a_file = await running.client.post(
            OBSERVE, json={**booking_request, "voice_recording": "https://x/a.wav"}, headers=HEADERS
        )
    assert urlencoded.status_code == 201, urlencoded.text
    assert call_log(urlencoded.json()).agent == 1
    assert multipart.status_code == 201, multipart.text
    assert detail.testing_channel_index == 1
    assert detail.voice_recording_url.endswith(f"/call-logs/{pk}/voice_recording/")
    assert audio.status_code == 200 and audio.content == tone_wav()
    assert wrong.status_code == 400 and "agent" in wrong.json()
    assert channel.status_code == 400 and "main_agent_channel_index" in channel.json()
    assert (
        not_a_file.status_code == 400
        and "voice_recording_url" in not_a_file.json()["voice_recording"][0]
    )


async def test_cekuras_documented_retell_and_vapi_examples_are_taken_with_their_times(
    run_app: RunApp,
) -> None:
    turns = [
        {"role": "agent", "message": "Hello, thank you for calling. How can I help?", "time": 0.0},
        {"role": "user", "message": "I'd like to book a check-up.", "time": 2.5},
    ]
    retell = {
        "call_id": "call_87654321", "assistant_id": "asst_bright_smile_01",
        "voice_recording_url": "https://example.com/recordings/call_87654321.mp3",
        "transcript_type": "retell", "transcript_json": turns,
        "call_ended_reason": "user-hangup", "customer_number": "+9876543210",
    }  # fmt: skip
    vapi = {
        "call_id": "call_12345678", "agent": 1, "transcript_type": "vapi",
        "transcript_json": turns, "call_ended_reason": "completed",
        "customer_number": "+1234567890", "metadata": {"source": "docs"},
        "timestamp": "2025-10-03T10:30:00Z", "dynamic_variables": {"today": "Friday"},
    }  # fmt: skip
    async with run_app() as running:
        responses = [await running.client.post(OBSERVE, json=b, headers=HEADERS)
                     for b in (retell, vapi)]  # fmt: skip
        details = [
            call_detail(
                (await running.client.get(f"{V2}{r.json()['id']}/", headers=HEADERS)).json()
            )
            for r in responses
        ]
    for response, detail in zip(responses, details, strict=True):
        assert response.status_code == 201, response.text
        assert [(t.start_time, t.timestamp) for t in detail.transcript_object] == [
            (0.0, 0.0), (2.5, 2.5)]  # fmt: skip
        assert detail.duration == "00:02"
    assert details[0].agent == 1 and details[0].agent_id == "asst_bright_smile_01"
    assert details[0].voice_recording_url == retell["voice_recording_url"]
