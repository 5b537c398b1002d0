"""Providers' own end-of-call webhooks, read into observe requests (pure functions).

``POST /observability/v1/{vapi,retell,livekit,pipecat}/observe/`` takes each provider's body
exactly as the provider sends it; ``read_webhook`` turns it into the fields of an observe
request (call id, transcript in the provider's format, ended reason, customer, time,
recording, metadata, variables) and the provider's assistant id, or says why the event is not
a finished call (acknowledged and ignored). Signatures are checked in ``signatures``.
"""

from __future__ import annotations

from typing import Any

from evaluator.errors import RequestValidationError
from evaluator.ingest.webhooks import livekit, pipecat, retell, vapi
from evaluator.ingest.webhooks._common import Ignored, WebhookCall

__all__ = ["PROVIDERS", "Ignored", "WebhookCall", "read_webhook"]

PROVIDERS = {"vapi": vapi.read, "retell": retell.read, "livekit": livekit.read,
             "pipecat": pipecat.read}  # fmt: skip


def read_webhook(provider: str, body: Any) -> WebhookCall | Ignored:
    """The call a provider's webhook body reports, or why it is ignored (not a finished
    call). A body that is a finished call but lacks what a call needs is a 400."""
    if not isinstance(body, dict):
        raise RequestValidationError({"non_field_errors": [f"{provider}: expected a JSON object"]})
    return PROVIDERS[provider](body)
