"""The review flow in a real browser: Debian's chromium driven by Playwright against the
service served by uvicorn on loopback. Sign in, filter to failed calls, open one, click a
turn and check the player's position, vote, mark it reviewed, see both through the API and
in the agreement table, create an alert, re-evaluate and see the alert fire and deliver.
Accessibility basics on every page: labelled controls, keyboard focus, text contrast.

Screenshots go to ``EVALUATOR_UI_SCREENSHOTS`` when set (``docs/ui`` for the docs), else to
the test's temporary folder."""

from __future__ import annotations

import io
import json
import math
import os
import socket
import struct
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.judge.scripted import ScriptedJudge
from evaluator.service.app import create_app
from evaluator.store.calls import Store
from evaluator.store.votes import VoteStore
from tests.conftest import ROOT, load_example, running_in_ci
from tests.service.calls import as_form
from tests.service.test_alerts_api import Receiver

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
KEY = "browser-key"
HEADERS = {"X-API-Key": KEY}


def _wav(seconds: float = 40.0, rate: int = 8000) -> bytes:
    """A quiet tone: something a player can load and seek in."""
    frames = b"".join(
        struct.pack("<h", int(800 * math.sin(2 * math.pi * 220 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'browser.db'}"


@pytest.fixture
def server(database: str, definitions: Definitions) -> Iterator[str]:
    """The service on loopback (uvicorn in a thread), its URL."""
    settings = Settings(
        database_url=database, api_keys=KEY,
        agents_dirs=[ROOT / "agents"], concurrency=1, poll_seconds=0.05,
        alert_webhook_allow="http://127.0.0.1:",
    )  # fmt: skip
    app = create_app(settings, judge=ScriptedJudge(), definitions=definitions)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    assert running.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not installed (apt-get install chromium)"
        if running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--autoplay-policy=no-user-gesture-required"]
        )
        yield launched
        launched.close()


def _seed(url: str) -> tuple[int, int]:
    """A call that succeeds and one that fails (a tool error) with a recording."""
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        good = client.post("/observability/v1/observe/", params={"wait": "true"},
                           json=load_example("booking_success_cekura.json"))  # fmt: skip
        failing = load_example("emergency_tool_error_vapi.json")
        form = as_form(failing)
        bad = client.post("/observability/v1/observe/", params={"wait": "true"}, data=form,
                          files={"voice_recording": ("call.wav", _wav(), "audio/wav")})  # fmt: skip
        assert good.status_code == 201 and bad.status_code == 201, (good.text, bad.text)
        assert bad.json()["success"] is False and good.json()["success"] is True
        return good.json()["id"], bad.json()["id"]


def _accessible(page: Any) -> None:
    """Every visible control has a label; body text contrast is at least 4.5:1."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && e.type !== 'radio')
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.name)"""
    )
    assert unlabelled == [], f"{page.url}: controls without a label: {unlabelled}"
    ratio = page.evaluate(
        """() => {
          const lum = c => { const v = c.match(/\\d+/g).slice(0, 3).map(x => x / 255)
            .map(x => x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
            return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
          const s = getComputedStyle(document.body);
          const a = lum(s.color), b = lum(s.backgroundColor);
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }"""
    )
    assert ratio >= 4.5, f"{page.url}: text contrast {ratio:.2f}"


def _shots() -> Path | None:
    folder = os.environ.get("EVALUATOR_UI_SCREENSHOTS")
    return Path(folder) if folder else None


def test_the_review_flow_end_to_end(
    server: str, database: str, browser: Any, tmp_path: Path
) -> None:
    good, bad = _seed(server)
    shots = _shots() or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    receiver = Receiver()
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    try:
        _sign_in_with_the_keyboard(page, server)
        _filter_to_failed_calls(page, bad, good, shots)
        _open_and_seek(page, bad, shots)
        _vote_and_review(page, server, database, bad)
        _alert_on_reevaluation(page, server, bad, receiver, shots)
        page.goto(f"{server}/ui/dashboard")
        assert page.locator("svg.chart").count() >= 5
        _accessible(page)
        page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    finally:
        page.close()
        receiver.server.shutdown()


def _sign_in_with_the_keyboard(page: Any, server: str) -> None:
    page.goto(f"{server}/ui/calls")
    assert "/ui/login" in page.url
    _accessible(page)
    assert page.evaluate("document.activeElement.id") == "api_key"  # focus starts there
    page.keyboard.type(KEY)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/ui/calls")


def _filter_to_failed_calls(page: Any, bad: int, good: int, shots: Path) -> None:
    assert page.locator("table.calls tbody tr").count() == 2
    page.select_option("#f-success", "false")
    page.click("text=Apply")
    page.wait_for_function("document.querySelectorAll('table.calls tbody tr').length === 1")
    assert "success=false" in page.url  # htmx pushed the filtered URL
    rows = page.locator("table.calls tbody tr")
    assert rows.locator(f'a[href="/ui/calls/{bad}"]').count() == 1
    assert page.locator(f'a[href="/ui/calls/{good}"]').count() == 0
    assert "tool_call_success: false" in rows.first.inner_text()  # the worst at a glance
    _accessible(page)
    page.screenshot(path=str(shots / "calls.png"), full_page=True)


def _open_and_seek(page: Any, bad: int, shots: Path) -> None:
    page.click(f'a[href="/ui/calls/{bad}"]')
    page.wait_for_selector("audio#player")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    turn = page.locator(".turn[data-start]").nth(2)
    start = float(turn.get_attribute("data-start") or "0")
    assert start > 1
    turn.locator("a.stamp").click()
    page.wait_for_function(
        f"Math.abs(document.getElementById('player').currentTime - {start}) < 0.6"
    )
    position = page.evaluate("document.getElementById('player').currentTime")
    assert abs(position - start) < 0.6, (position, start)
    page.wait_for_function("document.querySelector('.turn.playing') !== null")
    playing = page.evaluate("document.querySelector('.turn.playing').dataset.start")
    assert abs(float(playing) - start) < 0.01
    page.evaluate("document.getElementById('player').pause()")
    _accessible(page)
    page.screenshot(path=str(shots / "call.png"))


def _vote_and_review(page: Any, server: str, database: str, bad: int) -> None:
    row = page.locator("#m-call_goal_achieved")
    row.locator("summary").click()
    row.locator('input[value="down"]').check()
    row.locator("select").select_option("false")
    row.locator("button", has_text="Vote").click()
    page.wait_for_selector("text=Vote saved.")
    page.select_option("#status", "reviewed_failure")
    page.fill("#feedback", "the emergency slot was never booked")
    page.click("text=Save review")
    page.wait_for_selector("text=Review saved.")
    with httpx.Client(base_url=server, headers=HEADERS) as client:
        call = client.get(f"/observability/v1/call-logs/{bad}/").json()
        assert call["is_reviewed"] is True and call["status"] == "reviewed_failure"
        assert call["feedback"] == "the emergency slot was never booked"
        # the same label through the API, on the same call and metric
        api_vote = {"metric_id": "call_goal_achieved", "thumbs_up": False, "expected_value": False}
        assert client.post(f"/observability/v1/call-logs/{bad}/mark_metric_vote/",
                           json=api_vote).status_code == 200  # fmt: skip
    store = Store(database)
    try:
        ui_vote, from_api = VoteStore(store).of_call(bad)
    finally:
        store.close()
    same = ("call_pk", "metric_id", "thumbs_up", "expected_value", "feedback", "machine_value")
    assert [getattr(ui_vote, f) for f in same] == [getattr(from_api, f) for f in same]
    assert ui_vote.machine_value is True and ui_vote.expected_value is False
    page.goto(f"{server}/ui/agreement")
    row_text = page.locator("#agree-call_goal_achieved").inner_text()
    assert row_text.split("\t")[:3] == ["call_goal_achieved", "1", "0%"], row_text


def _alert_on_reevaluation(
    page: Any, server: str, bad: int, receiver: Receiver, shots: Path
) -> None:
    page.goto(f"{server}/ui/alerts")
    page.fill("#a-name", "tool errors")
    page.select_option("#a-metric", label="tool_call_errors (numeric)")
    page.select_option("#a-kind", "threshold")
    page.select_option("#a-op", "gt")
    page.fill("#a-value", "0")
    page.fill("#a-url", receiver.url)
    page.click("text=Create alert")
    page.wait_for_selector("#alerts >> text=tool errors")
    page.goto(f"{server}/ui/calls/{bad}")
    page.click("text=Re-evaluate this call")
    page.wait_for_selector("text=Re-evaluation queued.")
    for _ in range(200):
        page.goto(f"{server}/ui/alerts")
        if page.locator("#firings >> text=sent").count():
            break
        time.sleep(0.05)
    assert page.locator("#firings tbody tr").first.inner_text().count("tool_call_errors") == 1
    assert "sent" in page.locator("#firings tbody tr").first.inner_text()
    assert receiver.received and "tool errors" in json.loads(receiver.received[0][1])["text"]
    _accessible(page)
    page.screenshot(path=str(shots / "alerts.png"), full_page=True)
