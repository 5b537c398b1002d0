"""Downloading ``voice_recording_url`` without becoming a proxy into our own network (SSRF).

Only http and https. The host is resolved once per hop and every address it resolves to must
be public: loopback, private, link-local (cloud metadata at 169.254.169.254), multicast,
reserved, unspecified and other non-global addresses are refused, unless they fall in a
network the deployment allows (``allow_networks``). The request then goes to the checked
address itself, with the original ``Host`` header and TLS server name, so a second DNS
answer cannot swap in another address (DNS rebinding). Redirects are followed by hand, each
target checked the same way, at most ``max_redirects``. The body is streamed and abandoned
as soon as it passes the size cap; the whole download has one deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from evaluator.ingest.audio.errors import (
    FetchRefusedError,
    FetchStatusError,
    FetchTimeoutError,
    FetchTooLargeError,
    FetchUnreachableError,
)

__all__ = ["FetchSettings", "FetchedRecording", "Resolver", "fetch_recording"]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``; the default asks the system resolver."""
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchSettings:
    """``allow_networks``: CIDR blocks reachable although not public (an internal bucket;
    loopback in tests). Everything else must be a globally routable address."""

    max_bytes: int = 200 * 1024 * 1024
    timeout_seconds: float = 60.0
    max_redirects: int = 5
    allow_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchedRecording:
    """The downloaded bytes, the URL they came from (after redirects) and its content type."""

    data: bytes
    url: str
    content_type: str | None


async def fetch_recording(
    url: str,
    settings: FetchSettings | None = None,
    *,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchedRecording:
    """Download a recording under the SSRF rules above. Raises ``FetchRefusedError``
    (scheme, address, redirects), ``FetchStatusError`` (non-2xx), ``FetchTooLargeError``,
    ``FetchTimeoutError`` or ``FetchUnreachableError``; none of them sends a request to a
    refused address."""
    settings = settings or FetchSettings()
    allowed = [ipaddress.ip_network(n, strict=False) for n in settings.allow_networks]
    timeout = httpx.Timeout(settings.timeout_seconds)
    current = url
    try:
        async with (
            asyncio.timeout(settings.timeout_seconds),
            httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False) as client,
        ):
            for _ in range(settings.max_redirects + 1):
                target = _parse(current)
                address = await _checked_address(target, allowed, resolver or _system_resolver)
                fetched = await _get(client, target, address, settings.max_bytes)
                if isinstance(fetched, FetchedRecording):
                    return fetched
                current = str(target.join(fetched))
    except TimeoutError:
        late = f"no complete answer in {settings.timeout_seconds:g} s"
        raise FetchTimeoutError(current, late) from None
    except httpx.TimeoutException as exc:
        raise FetchTimeoutError(current, f"timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise FetchUnreachableError(current, f"cannot reach the host: {exc}") from exc
    raise FetchRefusedError(url, f"more than {settings.max_redirects} redirects")


def _parse(url: str) -> httpx.URL:
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchRefusedError(url, f"not a valid URL ({exc})") from None
    if target.scheme not in ("http", "https"):
        scheme = target.scheme or "(none)"
        raise FetchRefusedError(url, f"scheme {scheme!r} refused; only http and https")
    if not target.host:
        raise FetchRefusedError(url, "the URL has no host")
    return target


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


async def _checked_address(
    target: httpx.URL, allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    resolver: Resolver,
) -> IPAddress:  # fmt: skip
    """The address to connect to; every address the host resolves to must be acceptable
    (a host that answers one public and one private address is refused)."""
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(target.host)]
    except ValueError:
        try:
            names = await resolver(target.host, port)
        except OSError as exc:
            why = f"cannot resolve {target.host!r}: {exc}"
            raise FetchUnreachableError(str(target), why) from exc
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in dict.fromkeys(names)]
    if not addresses:
        raise FetchUnreachableError(str(target), f"{target.host!r} resolves to no address")
    for address in addresses:
        reason = _refusal(address, allowed)
        if reason is not None:
            raise FetchRefusedError(
                str(target),
                f"{target.host} resolves to {address}, a {reason} address; recordings are "
                "fetched from public addresses only (allow a network in the settings if needed)",
            )
    return addresses[0]


def _refusal(
    address: IPAddress, allowed: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str | None:
    """Why ``address`` may not be fetched from, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address in network for network in allowed):
        return None
    checks = (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
              ("link-local", address.is_link_local), ("multicast", address.is_multicast),
              ("reserved", address.is_reserved), ("private", address.is_private),
              ("non-global", not address.is_global))  # fmt: skip
    return next((name for name, hit in checks if hit), None)


async def _get(
    client: httpx.AsyncClient, target: httpx.URL, address: IPAddress, max_bytes: int
) -> FetchedRecording | str:
    """One hop: the recording, or the ``Location`` of a redirect."""
    direct = target.copy_with(host=str(address))
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    headers = {"Host": target.netloc.decode("ascii"), "Accept": "audio/*, */*"}
    async with client.stream("GET", direct, headers=headers, extensions=extensions) as response:
        location = str(response.headers.get("location") or "")
        if response.status_code in _REDIRECTS and location:
            return location
        if not response.is_success:
            raise FetchStatusError(str(target), response.status_code)
        announced = response.headers.get("content-length", "")
        if announced.isdigit() and int(announced) > max_bytes:
            raise FetchTooLargeError(str(target), max_bytes)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise FetchTooLargeError(str(target), max_bytes)
        return FetchedRecording(bytes(body), str(target), response.headers.get("content-type"))
