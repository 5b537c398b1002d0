"""Providers' webhook signatures, checked in constant time.

- Vapi: the server secret sent verbatim in ``X-Vapi-Secret``.
- Retell: ``x-retell-signature: v=<epoch ms>,d=<hex>``, the hex being HMAC-SHA256 keyed by
  the Retell API key over the raw body followed by the timestamp's digits; refused when the
  timestamp is more than five minutes from now (replays).
- LiveKit and Pipecat (bodies the agent posts itself): ``X-Evaluator-Signature:
  sha256=<hex>``, HMAC-SHA256 of the raw body with the configured secret (the scheme of our
  own completion webhook).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

__all__ = ["RETELL_WINDOW_MS", "hmac_signature", "retell_signature", "verify_hmac",
           "verify_retell", "verify_vapi"]  # fmt: skip

RETELL_WINDOW_MS = 5 * 60 * 1000
_RETELL = re.compile(r"v=(\d+),d=([0-9a-f]{64})")


def _digest(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def verify_vapi(secret: str, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(header.encode(), secret.encode())


def retell_signature(api_key: str, body: bytes, now_ms: int | None = None) -> str:
    """The header Retell sends with ``body`` (for tests and for re-posting a stored body)."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    return f"v={stamp},d={_digest(api_key, body + str(stamp).encode())}"


def verify_retell(api_key: str, body: bytes, header: str | None, now_ms: int | None = None) -> bool:
    match = _RETELL.fullmatch(header or "")
    if match is None:
        return False
    stamp, digest = int(match.group(1)), match.group(2)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - stamp) > RETELL_WINDOW_MS:
        return False
    return hmac.compare_digest(_digest(api_key, body + match.group(1).encode()), digest)


def hmac_signature(secret: str, body: bytes) -> str:
    return "sha256=" + _digest(secret, body)


def verify_hmac(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(hmac_signature(secret, body), header)
