"""The review UI's session: a signed cookie holding who signed in (never the key itself), and
the CSRF token every form carries.

The cookie is ``base64(json) "." HMAC-SHA256``, HttpOnly, SameSite=Lax, path ``/ui``, Secure
when ``EVALUATOR_UI_SECURE_COOKIE`` is set; it expires with ``EVALUATOR_UI_SESSION_SECONDS``.
The signing secret is derived from the configured API keys, so every process of one
deployment accepts the others' cookies and changing the keys signs everyone out.
The CSRF token is an HMAC of the session's random nonce: a form (or an htmx request, in the
``X-CSRF-Token`` header) without it is refused. The sign-in form has its own nonce cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from evaluator.service.deps import Principal

__all__ = ["COOKIE", "LOGIN_COOKIE", "Session", "SessionCodec"]

COOKIE = "evaluator_session"
LOGIN_COOKIE = "evaluator_login"


@dataclass(frozen=True)
class Session:
    principal: Principal
    nonce: str
    expires: int


class SessionCodec:
    """Signs and reads session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, lifetime_seconds: int) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds

    @classmethod
    def from_keys(cls, keys: list[str], lifetime_seconds: int) -> SessionCodec:
        material = "\n".join(sorted(keys)) or secrets.token_hex(32)
        secret = hashlib.sha256(b"evaluator-ui-session\n" + material.encode()).digest()
        return cls(secret, lifetime_seconds)

    def _mac(self, data: bytes) -> str:
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, Session]:
        """A new session for ``principal``: the cookie value and the session."""
        expires = int((now if now is not None else time.time()) + self.lifetime)
        session = Session(principal, secrets.token_urlsafe(18), expires)
        payload = {
            "k": principal.key_id,
            "p": principal.project_id,
            "r": principal.read_only,
            "n": session.nonce,
            "e": expires,
        }
        data = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        return f"{data}.{self._mac(data.encode())}", session

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie, or ``None`` when absent, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        data, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(data.encode())):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(data.encode()))
            principal = Principal(payload["k"], payload["p"], bool(payload["r"]))
            session = Session(principal, str(payload["n"]), int(payload["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= (now if now is not None else time.time()):
            return None
        return session

    def csrf(self, nonce: str) -> str:
        """The CSRF token of a session (or of the sign-in form's nonce)."""
        return self._mac(f"csrf:{nonce}".encode())

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.csrf(nonce), token)
