"""Redaction through the service: nothing a caller asked to redact is stored or judged."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from tests.service.conftest import HEADERS, RunApp, call_detail, call_log

OBSERVE = "/observability/v1/observe/"
PHONE, EMAIL = "+1 415 555 0132", "maria.lopez@example.com"


async def test_redacted_call_is_stored_and_judged_without_the_pii(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    body = json.loads(json.dumps(booking_request))
    body["redact_fields"] = ["phone_number", "email_address"]
    body["transcript_json"][3]["content"] = f"Maria Lopez, call me on {PHONE} or mail {EMAIL}."
    async with run_app() as running:
        response = await running.client.post(OBSERVE, json=body, headers=HEADERS)
        assert response.status_code == 201, response.text
        posted = call_log(response.json())
        done = call_detail(await running.wait_finished(posted.id or 0))
        store = running.service.store
        with store.engine.connect() as conn:  # the rows as stored, read back raw
            rows = [" ".join(map(str, r)) for r in conn.execute(text("SELECT * FROM calls"))]
    shown_object = json.dumps([t.model_dump() for t in done.transcript_object])
    for shown in (posted.transcript, done.transcript, shown_object):
        assert PHONE not in shown and EMAIL not in shown
        assert "<PHONE_NUMBER>" in shown and "<EMAIL_ADDRESS>" in shown
    assert rows and not any(PHONE in row or EMAIL in row for row in rows)
    sent = json.dumps([r.messages for r in running.judge.requests])
    assert PHONE not in sent and EMAIL not in sent
