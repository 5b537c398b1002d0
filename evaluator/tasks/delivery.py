"""Completion webhooks: the finished call log, POSTed with an HMAC-SHA256 signature, and each
try recorded in the store's ``deliveries`` (so a delivery is durable and can be inspected).

The receiver recomputes ``sha256=`` + hex(HMAC(secret, raw body)) and compares it with the
``X-Evaluator-Signature`` header in constant time (``verify_signature`` does exactly that).
``deliver_once`` is one try, as Celery's ``deliver_webhook`` task runs it: it records the
outcome and says when to try again (backoff doubling from ``backoff_seconds``), or that the
delivery is over (delivered, or out of ``tries``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import httpx

from evaluator.contract import CallEvaluation
from evaluator.store.calls import CallNotFoundError, Store
from evaluator.store.deliveries import Delivery, DeliveryStore

__all__ = [
    "SIGNATURE_HEADER",
    "call_body",
    "deliver_once",
    "headers_for",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Evaluator-Signature"
log = logging.getLogger("evaluator.tasks.delivery")


def sign(body: bytes, secret: str) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time comparison)."""
    return hmac.compare_digest(sign(body, secret), header)


def call_body(call: CallEvaluation) -> bytes:
    """The webhook's body: the call log as JSON."""
    return json.dumps(call.model_dump(mode="json"), ensure_ascii=False).encode()


def headers_for(body: bytes, secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Evaluator-Event": "call.finished"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return headers


def deliver_once(
    store: Store, delivery_id: int, secret: str | None, *, tries: int, backoff_seconds: float,
    transport: httpx.BaseTransport | None = None,
) -> Delivery | None:  # fmt: skip
    """One try of a pending delivery; the record afterwards (None if it does not exist).
    A delivery that is no longer pending is left alone (a duplicate task)."""
    deliveries = DeliveryStore(store)
    delivery = deliveries.get(delivery_id)
    if delivery is None or delivery.status != "pending":
        return delivery
    try:
        call = store.get_call(delivery.call_pk)
    except CallNotFoundError:
        return deliveries.record_try(delivery_id, "the call was deleted", retry_in=None)
    body = call_body(call)
    try:
        with httpx.Client(transport=transport, timeout=10.0) as client:
            response = client.post(delivery.url, content=body, headers=headers_for(body, secret))
        problem = None if response.is_success else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    attempt = delivery.attempts + 1
    if problem is not None:
        log.warning("webhook %s for call %s, try %d: %s",
                    delivery.url, delivery.call_pk, attempt, problem)  # fmt: skip
    retry_in = backoff_seconds * 2 ** (attempt - 1) if attempt < tries else None
    return deliveries.record_try(delivery_id, problem, retry_in=retry_in)
