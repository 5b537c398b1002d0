"""Signing in to the review UI with an API key, signing out, and the dependencies every page
and form uses: ``UiSessionDep`` (signed in, else a redirect to the sign-in page) and
``ReviewerDep`` (a form with its CSRF token, from a key that may write)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evaluator.service.deps import ServiceDep
from evaluator.service.ui.render import page
from evaluator.service.ui.session import COOKIE, LOGIN_COOKIE, Session, SessionCodec

__all__ = ["ReviewerDep", "SignInRequired", "UiRefused", "UiSessionDep", "base_context", "router"]

router = APIRouter()
UI = "/ui"


class SignInRequired(Exception):
    """No valid session: answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class UiRefused(Exception):
    """A request the UI refuses, answered as a page saying why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def codec(request: Request) -> SessionCodec:
    found: SessionCodec = request.app.state.ui_codec
    return found


async def current_session(request: Request) -> Session:
    session = codec(request).read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired(request.url.path)
    return session


UiSessionDep = Annotated[Session, Depends(current_session)]


async def posted(request: Request, session: UiSessionDep) -> Session:
    """A posted form of a signed-in user, with its CSRF token (field or ``X-CSRF-Token``)."""
    form = await request.form()
    token = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not codec(request).csrf_ok(session.nonce, token if isinstance(token, str) else None):
        raise UiRefused(403, "This form has no valid CSRF token: reload the page and try again.")
    return session


PostedDep = Annotated[Session, Depends(posted)]


async def reviewer(session: PostedDep) -> Session:
    """A form that changes something: its CSRF token first, then a key that may write."""
    if session.principal.read_only:
        raise UiRefused(403, "This API key is read-only: it can look at calls but not review them.")
    return session


ReviewerDep = Annotated[Session, Depends(reviewer)]


def base_context(request: Request, session: Session) -> dict[str, Any]:
    """What every signed-in page's layout needs."""
    return {
        "csrf": codec(request).csrf(session.nonce),
        "principal": session.principal,
        "path": request.url.path,
    }


def _safe_next(path: str | None) -> str:
    """Only our own pages: a path under /ui, never another host."""
    if path and path.startswith(f"{UI}/") and not path.startswith("//") and "\\" not in path:
        return path
    return f"{UI}/calls"


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, next: str | None = None, error: str | None = None
) -> Response:
    nonce = secrets.token_urlsafe(18)
    response = page(
        "login.html",
        401 if error else 200,
        csrf=codec(request).csrf(nonce),
        next=_safe_next(next),
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        path=UI,
        secure=request.app.state.service.settings.ui_secure_cookie,
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    service: ServiceDep,
    api_key: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key; on success a session cookie and a redirect to where the user was going."""
    if not codec(request).csrf_ok(request.cookies.get(LOGIN_COOKIE), csrf_token):
        raise UiRefused(403, "The sign-in form has no valid CSRF token: reload it and try again.")
    principal = service.authenticate(api_key or None)
    if principal is None:
        return await login_form(request, next, error="That API key is not accepted.")
    cookie, _ = codec(request).issue(principal)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=codec(request).lifetime,
        httponly=True,
        samesite="lax",
        path=UI,
        secure=service.settings.ui_secure_cookie,
    )
    response.delete_cookie(LOGIN_COOKIE, path=UI)
    return response


@router.post("/logout")
async def logout(_session: PostedDep) -> Response:
    """Sign out: the cookie is cleared (a read-only key may sign out too)."""
    response = RedirectResponse(f"{UI}/login", status_code=303)
    response.delete_cookie(COOKIE, path=UI)
    return response


def login_redirect(exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"{UI}/login?next={quote(exc.next_path)}", status_code=303)
