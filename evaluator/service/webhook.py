"""The completion webhook: the finished call log, POSTed with an HMAC-SHA256 signature.

The receiver recomputes ``sha256=`` + hex(HMAC(secret, raw body)) and compares it with the
``X-Evaluator-Signature`` header in constant time (``verify_signature`` does exactly that).
Delivery is best effort: a few tries with backoff, then a logged warning; the call itself is
already stored, so a receiver that missed a delivery can always ``GET`` it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging

import httpx

from evaluator.contract import CallEvaluation

__all__ = ["SIGNATURE_HEADER", "Webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Evaluator-Signature"
log = logging.getLogger("evaluator.service.webhook")


def sign(body: bytes, secret: str) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time comparison)."""
    return hmac.compare_digest(sign(body, secret), header)


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

    async def deliver(self, call: CallEvaluation) -> bool:
        """Send one call log; True once a receiver answered 2xx."""
        body = json.dumps(call.model_dump(mode="json"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Evaluator-Event": "call.finished"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(body, self.secret)
        async with httpx.AsyncClient(transport=self._transport, timeout=10.0) as client:
            for attempt in range(1, self.tries + 1):
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                    if response.is_success:
                        return True
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "webhook %s for call %s, try %d: %s", self.url, call.id, attempt, problem
                )
                if attempt < self.tries:
                    await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return False
