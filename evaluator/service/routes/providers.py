"""``POST /observability/v1/{vapi,retell,livekit,pipecat}/observe/``: each provider's own
end-of-call webhook, as the provider sends it, becomes a call (stored, then judged).

The agent is ``?agent_id=`` (as Cekura's Vapi server URL carries it), else the agent whose
``assistant_id`` is the provider's. With the provider's secret configured the provider's
signature authenticates the request (a bad or missing one is a 401); without, the API key
does. Events that are not a finished call are acknowledged (200) and ignored; a second end
event for a stored call (Retell's ``call_ended`` then ``call_analyzed``) answers the call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from evaluator.errors import RequestValidationError
from evaluator.ingest.limits import decode_text, loads_json
from evaluator.ingest.webhooks import PROVIDERS, Ignored, read_webhook
from evaluator.ingest.webhooks.signatures import verify_hmac, verify_retell, verify_vapi
from evaluator.service.bodies import ObserveBody
from evaluator.service.deps import PREFIX, ReadOnlyKey, Service, Unauthorized, WholeServiceDep
from evaluator.service.errors import BadSignature
from evaluator.service.routes.observe import store_and_queue
from evaluator.service.schemas import MAX_ID

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, tags=["providers"])
SIGNATURE_HEADERS = {
    "vapi": "X-Vapi-Secret",
    "retell": "x-retell-signature",
    "livekit": "X-Evaluator-Signature",
    "pipecat": "X-Evaluator-Signature",
}
AgentQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="our agent id")]


def _route(provider: str) -> None:
    async def provider_observe(
        whole: WholeServiceDep, request: Request, agent_id: AgentQuery = None
    ) -> JSONResponse:
        raw = await request.body()
        service = await _authenticate(whole, provider, request, raw)
        return await _observe(service, provider, raw, agent_id)

    provider_observe.__name__ = f"{provider}_observe"
    provider_observe.__doc__ = f"{provider.capitalize()}'s end-of-call webhook body, as sent."
    router.add_api_route(f"/{provider}/observe/", provider_observe, methods=["POST"],
                         response_model=None, name=f"{provider}_observe")  # fmt: skip


for _provider in PROVIDERS:
    _route(_provider)


def _secret(service: Service, provider: str) -> str | None:
    settings = service.settings
    return {"vapi": settings.vapi_secret, "retell": settings.retell_api_key,
            "livekit": settings.livekit_webhook_secret,
            "pipecat": settings.pipecat_webhook_secret}[provider]  # fmt: skip


async def _authenticate(service: Service, provider: str, request: Request, raw: bytes) -> Service:
    """The service as the request may use it: with the provider's secret configured, its
    signature (every project's agents: the provider names the assistant); else the API key,
    scoped to the key's project (a read-only key cannot post)."""
    secret = _secret(service, provider)
    if secret is None:
        key = request.headers.get("X-API-Key") or request.headers.get("X-CEKURA-API-KEY")
        principal = await asyncio.to_thread(service.authenticate, key)
        if principal is None:
            raise Unauthorized()
        if principal.read_only:
            raise ReadOnlyKey()
        return service.scoped(principal)
    header = request.headers.get(SIGNATURE_HEADERS[provider])
    verified = {
        "vapi": lambda: verify_vapi(secret, header),
        "retell": lambda: verify_retell(secret, raw, header),
    }.get(provider, lambda: verify_hmac(secret, raw, header))()
    if not verified:
        raise BadSignature(f"{provider}: missing or invalid {SIGNATURE_HEADERS[provider]}")
    return service


async def _observe(
    service: Service, provider: str, raw: bytes, agent_id: int | None
) -> JSONResponse:
    # Parsed off the event loop, with intake's reader: a body nested too deeply to read, or
    # not UTF-8, is a 400 saying so (never a RecursionError).
    body = await asyncio.to_thread(lambda: loads_json(decode_text(raw)))
    found = read_webhook(provider, body)
    if isinstance(found, Ignored):
        return JSONResponse({"detail": f"ignored: {found.reason}"}, status_code=200)
    data = dict(found.request)
    if agent_id is not None:
        data["agent"] = agent_id
    elif found.assistant_id is not None:
        data["assistant_id"] = found.assistant_id
    else:
        problem = f"{provider}: the body names no assistant; add ?agent_id= to the webhook URL"
        raise RequestValidationError({"agent_id": [problem]})
    # The call as read, not the raw body, decides idempotency: a provider's second end event
    # for the same call is the same call.
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (call,), _ = await store_and_queue(
        service, ObserveBody(data, text, digest, None), duplicate_ok=True
    )
    payload = call.model_dump(mode="json")
    payload["notes"] = [*found.notes, *payload["notes"]]
    return JSONResponse(payload, status_code=200)
