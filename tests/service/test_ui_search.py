"""The calls list's transcript search through the service, on SQLite and PostgreSQL: a
case-insensitive substring match over the transcript as stored, so a PATCHed transcript is
searched as corrected, a deleted call is gone, and text a call asked to redact is never found
(only its placeholder is)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.service.calls import V2, post_evaluated
from tests.service.conftest import API_KEY, HEADERS, RunApp
from tests.service.ui_helpers import sign_in

PHONE = "+1 415 555 0132"
COUNT = re.compile(r"<strong>(\d+)</strong> calls?")


async def _found(client: httpx.AsyncClient, text: str) -> tuple[int, set[str]]:
    """How many calls the list says match ``text``, and the ids it links to."""
    page = await client.get("/ui/calls", params={"q": text})
    assert page.status_code == 200, page.text
    count = COUNT.search(page.text)
    assert count, page.text
    return int(count.group(1)), set(re.findall(r'href="/ui/calls/(\d+)"', page.text))


async def test_search_follows_corrections_and_deletes_and_never_finds_redacted_text(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    private = json.loads(json.dumps(booking_request))
    private["redact_fields"] = ["phone_number"]
    private["transcript_json"][3]["content"] = f"Maria Lopez, call me on {PHONE} please."
    async with run_app() as running:
        client = running.client
        hidden = await post_evaluated(running, private, call_id="private")
        plain = await post_evaluated(running, booking_request, call_id="plain")
        await sign_in(client, API_KEY)

        assert await _found(client, "check-up AND CLEANING") == (2, {str(hidden), str(plain)})
        assert await _found(client, PHONE) == (0, set())
        assert await _found(client, "555 0132") == (0, set())  # part of the span: gone too
        assert await _found(client, "<phone_number>") == (1, {str(hidden)})

        corrected = [
            {"role": "Main Agent", "content": "Bright Smile Dental, Riley speaking.",
             "start_time": 0.5, "end_time": 2.0},
            {"role": "Testing Agent", "content": "My giraffe needs a Filling.",
             "start_time": 3.0, "end_time": 5.0},
        ]  # fmt: skip
        patched = await client.patch(
            f"{V2}{plain}/", json={"transcript_json": corrected}, headers=HEADERS
        )
        assert patched.status_code == 200, patched.text
        assert await _found(client, "GIRAFFE needs") == (1, {str(plain)})
        assert await _found(client, "check-up and cleaning") == (1, {str(hidden)})

        deleted = await client.delete(f"{V2}{hidden}/", headers=HEADERS)
        assert deleted.status_code == 204
        assert await _found(client, "<PHONE_NUMBER>") == (0, set())
        assert await _found(client, "check-up and cleaning") == (0, set())
