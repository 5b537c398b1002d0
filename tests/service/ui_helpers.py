"""Helpers of the review UI's tests: sign in through the form, read a page's CSRF token."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    """Sign in with ``key`` through the sign-in form; the client keeps the session cookie."""
    form = await client.get("/ui/login")
    assert form.status_code == 200
    return await client.post(
        "/ui/login", data={"api_key": key, "csrf_token": csrf_of(form.text), "next": "/ui/calls"}
    )
