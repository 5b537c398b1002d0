"""Downloading ``voice_recording_url``: the recording comes back from an allowed host, and
every refusal has a test. Only 127.0.0.1 is ever contacted: refused addresses are refused
before any connection (the point of the checks)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler

import pytest

from evaluator.ingest.audio import (
    FetchRefusedError,
    FetchSettings,
    FetchStatusError,
    FetchTimeoutError,
    FetchTooLargeError,
    FetchUnreachableError,
    fetch_recording,
)
from tests.ingest.audio.loopback import Loopback, Seen, loopback, reply

LOOPBACK_ONLY = FetchSettings(allow_networks=("127.0.0.1/32",), timeout_seconds=5.0)
RECORDING = b"RIFF" + bytes(range(256)) * 16


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as state:
        state.routes["/call.wav"] = lambda h, s: reply(
            h, 200, RECORDING, {"Content-Type": "audio/wav"}
        )
        yield state


async def test_fetches_from_an_allowed_address(server: Loopback) -> None:
    fetched = await fetch_recording(server.url("/call.wav?sig=abc"), LOOPBACK_ONLY)
    assert fetched.data == RECORDING and fetched.content_type == "audio/wav"
    assert server.seen[0].path == "/call.wav?sig=abc"


async def test_connects_to_the_checked_address_with_the_original_host(server: Loopback) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.7"]])  # a rebinding resolver's second answer
    calls: list[str] = []

    async def resolver(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return next(answers)

    url = server.url("/call.wav", host="recordings.example")
    fetched = await fetch_recording(url, LOOPBACK_ONLY, resolver=resolver)
    assert fetched.data == RECORDING
    assert calls == ["recordings.example"]  # resolved once; the request used that answer
    assert server.seen[0].headers["host"] == f"recordings.example:{server.port}"


async def test_loopback_is_refused_unless_allowed(server: Loopback) -> None:
    with pytest.raises(FetchRefusedError, match="loopback") as caught:
        await fetch_recording(server.url("/call.wav"))
    assert caught.value.field == "voice_recording_url"
    assert server.seen == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "non-global"),
    ],
)
async def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    with pytest.raises(FetchRefusedError, match=kind):
        await fetch_recording(f"http://{address}/call.wav")


async def test_a_name_with_any_private_answer_is_refused() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", "127.0.0.1"]

    with pytest.raises(FetchRefusedError, match=r"127\.0\.0\.1, a loopback address"):
        await fetch_recording("https://mixed.example/call.wav", resolver=resolver)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/call.wav", "file:///etc/passwd", "gopher://x/"])
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchRefusedError, match="only http and https"):
        await fetch_recording(url, LOOPBACK_ONLY)


async def test_each_redirect_is_checked(server: Loopback) -> None:
    server.routes["/moved"] = lambda h, s: reply(h, 302, headers={"Location": "http://10.0.0.5/x"})
    with pytest.raises(FetchRefusedError, match=r"10\.0\.0\.5, a private address"):
        await fetch_recording(server.url("/moved"), LOOPBACK_ONLY)
    assert [s.path for s in server.seen] == ["/moved"]


async def test_a_relative_redirect_is_followed(server: Loopback) -> None:
    server.routes["/old"] = lambda h, s: reply(h, 301, headers={"Location": "/call.wav"})
    fetched = await fetch_recording(server.url("/old"), LOOPBACK_ONLY)
    assert fetched.data == RECORDING and fetched.url.endswith("/call.wav")


async def test_redirect_loops_stop(server: Loopback) -> None:
    server.routes["/loop"] = lambda h, s: reply(h, 302, headers={"Location": "/loop"})
    settings = FetchSettings(allow_networks=("127.0.0.0/8",), max_redirects=3)
    with pytest.raises(FetchRefusedError, match="more than 3 redirects"):
        await fetch_recording(server.url("/loop"), settings)
    assert len(server.seen) == 4


async def test_http_errors_name_the_status(server: Loopback) -> None:
    with pytest.raises(FetchStatusError, match="HTTP 404") as caught:
        await fetch_recording(server.url("/missing.wav"), LOOPBACK_ONLY)
    assert caught.value.status == 404


async def test_an_announced_size_over_the_cap_is_refused_unread(server: Loopback) -> None:
    settings = FetchSettings(allow_networks=("127.0.0.1/32",), max_bytes=1000)
    with pytest.raises(FetchTooLargeError, match="size cap"):
        await fetch_recording(server.url("/call.wav"), settings)


async def test_a_stream_over_the_cap_is_cut_off(server: Loopback) -> None:
    def endless(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        reply(handler, 200, b"x" * 10_000, {"Content-Type": "audio/wav"}, length=False)
        for _ in range(100):  # no Content-Length: only counting can stop it
            handler.wfile.write(b"x" * 10_000)

    server.routes["/endless"] = endless
    settings = FetchSettings(allow_networks=("127.0.0.1/32",), max_bytes=50_000)
    with pytest.raises(FetchTooLargeError):
        await fetch_recording(server.url("/endless"), settings)


async def test_a_slow_server_times_out(server: Loopback) -> None:
    def slow(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        time.sleep(1.5)
        reply(handler, 200, RECORDING)

    server.routes["/slow"] = slow
    settings = FetchSettings(allow_networks=("127.0.0.1/32",), timeout_seconds=0.3)
    with pytest.raises(FetchTimeoutError):
        await fetch_recording(server.url("/slow"), settings)


async def test_a_closed_port_is_unreachable() -> None:
    with loopback() as finished:
        port = finished.port
    with pytest.raises(FetchUnreachableError):
        await fetch_recording(f"http://127.0.0.1:{port}/call.wav", LOOPBACK_ONLY)


async def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchUnreachableError, match="cannot resolve"):
        await fetch_recording("https://nowhere.invalid/call.wav", resolver=resolver)
