"""Helpers of the call-log tests: post a call and wait for its evaluation, in v1 or v2 paths."""

from __future__ import annotations

import json
from typing import Any

from tests.service.conftest import HEADERS, Running

OBSERVE = "/observability/v1/observe/"
V1 = "/observability/v1/call-logs/"
V2 = "/observability/v2/call-logs/"


def as_form(body: dict[str, Any]) -> dict[str, str]:
    """A body as form fields: every value as text, nested ones as JSON text (as Cekura's
    examples post forms)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}


async def post_evaluated(running: Running, body: dict[str, Any], **changes: Any) -> int:
    """Post a call with ``wait=true``; its id once judged."""
    response = await running.client.post(
        OBSERVE, params={"wait": "true"}, json={**body, **changes}, headers=HEADERS
    )
    assert response.status_code == 201, response.text
    pk: int = response.json()["id"]
    return pk


async def listed(running: Running, base: str = V2, **params: Any) -> dict[str, Any]:
    response = await running.client.get(base, params=params, headers=HEADERS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(page: dict[str, Any]) -> list[int]:
    return [c["id"] for c in page["results"]]
