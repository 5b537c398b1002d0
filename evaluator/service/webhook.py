"""The completion webhook as the in-process worker sends it: the finished call log, POSTed
with an HMAC-SHA256 signature (``evaluator.tasks.delivery`` signs and builds the body), a
few tries with backoff, each recorded through ``record`` (the store's delivery record).
The call itself is already stored, so a receiver that missed a delivery can always ``GET`` it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from evaluator.contract import CallEvaluation
from evaluator.tasks.delivery import (
    SIGNATURE_HEADER,
    call_body,
    headers_for,
    sign,
    verify_signature,
)

__all__ = ["SIGNATURE_HEADER", "Webhook", "sign", "verify_signature"]

log = logging.getLogger("evaluator.service.webhook")
# A try's outcome (the error, or None once delivered) and the seconds until the next try
# (None: no more tries).
Record = Callable[[str | None, float | None], Awaitable[object]]


class Webhook:
    """Posts finished call logs to one URL."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        tries: int = 3,
        backoff_seconds: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.tries = tries
        self.backoff_seconds = backoff_seconds
        self._transport = transport

    async def deliver(
        self, call: CallEvaluation, record: Record | None = None, body: bytes | None = None
    ) -> bool:
        """Send one call log (``body``: its JSON, already made off the event loop; else
        made here); True once a receiver answered 2xx."""
        body = call_body(call) if body is None else body
        headers = headers_for(body, self.secret)
        async with httpx.AsyncClient(transport=self._transport, timeout=10.0) as client:
            for attempt in range(1, self.tries + 1):
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                    problem = None if response.is_success else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                if record is not None:
                    await record(problem, delay if attempt < self.tries else None)
                if problem is None:
                    return True
                log.warning(
                    "webhook %s for call %s, try %d: %s", self.url, call.id, attempt, problem
                )
                if attempt < self.tries:
                    await asyncio.sleep(delay)
        return False
