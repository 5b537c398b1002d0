"""Tenancy: a key of project A reaches none of project B's calls or agents, in every route of
the app (the routes are enumerated, so a new route cannot be left out), on SQLite and
PostgreSQL; read-only keys cannot write; stored keys are hashed and revocable."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import math
import shutil
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from evaluator.bootstrap import Definitions, load_definitions
from evaluator.config import Settings
from evaluator.service.deps import Principal, ReadOnlyKey, ServiceConfigError
from evaluator.store.calls import Store
from evaluator.store.tables import ApiKeyRow
from evaluator.store.tenancy import Tenancy, hash_key
from tests.conftest import ROOT, load_example
from tests.ingest.transcripts.transcript_payloads import read_payload
from tests.service.calls import as_form
from tests.service.conftest import RunApp, Running
from tests.service.ui_helpers import csrf_of, sign_in

OBSERVE = "/observability/v1/observe/"
B_ASSISTANT = "asst_project_b"
NEVER_STORED = 987_654
B_NAME = "Project B clinic line"
ALERTS = "/observability/v1/alerts/"


def _wav() -> bytes:
    """Half a second of a 440 Hz tone: a recording the engine can read."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16_000)
        tone = (int(8000 * math.sin(2 * math.pi * 440 * i / 16_000)) for i in range(8_000))
        audio.writeframes(b"".join(v.to_bytes(2, "little", signed=True) for v in tone))
    return out.getvalue()


@pytest.fixture(scope="module")
def agents_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Agent 1 in the default project, agent 2 (a copy under another id) in project 2."""
    folder = tmp_path_factory.mktemp("agents")
    source = ROOT / "agents" / "bright_smile_dental.yaml"
    shutil.copy(source, folder / "a.yaml")
    text = source.read_text(encoding="utf-8")
    text = text.replace("id: 1\n", "id: 2\nproject: 2\n", 1)
    text = text.replace("asst_bright_smile_01", B_ASSISTANT)
    text = text.replace("name: Bright Smile Dental booking line", f"name: {B_NAME}")
    (folder / "b.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def definitions(agents_dir: Path) -> Definitions:
    return load_definitions(Settings(agents_dirs=[agents_dir]))


@dataclass
class Tenants:
    running: Running
    keys: dict[str, str]  # a, b, a_read_only, revoked
    calls: dict[str, int]  # a, b
    alerts: dict[str, int] = dataclasses.field(default_factory=dict)  # a, b
    ui: httpx.AsyncClient | None = None  # signed in to the review UI with A's key

    async def alert(self, who: str, project: int) -> int:
        body = {"name": f"alert of {who}", "project": project, "source_type": "metric",
                "source_id": 5, "source": {"sub_type": "normal"},
                "threshold": {}, "notifications": {}}  # fmt: skip
        made = await self.running.client.post(ALERTS, json=body, headers=self.headers(who))
        assert made.status_code == 201, made.text
        pk: int = made.json()["id"]
        return pk

    def headers(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}

    async def post(self, who: str, agent: int, call_id: str) -> int:
        """A call of the key's project, with an uploaded recording (so the recording's route
        has something to serve)."""
        body = {**load_example("booking_success_cekura.json"), "agent": agent, "call_id": call_id}
        fields = as_form(body)
        response = await self.running.client.post(
            OBSERVE, params={"wait": "true"}, data=fields, headers=self.headers(who),
            files={"voice_recording": ("call.wav", _wav(), "audio/wav")},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        pk: int = response.json()["id"]
        return pk


@pytest.fixture
def tenants(run_app: RunApp, database_url: str) -> contextlib.AbstractAsyncContextManager[Tenants]:
    @contextlib.asynccontextmanager
    async def start() -> AsyncIterator[Tenants]:
        store = Store(database_url)
        store.upgrade()
        tenancy = Tenancy(store)
        assert tenancy.create_project("B").id == 2
        keys = {
            "a": tenancy.create_key(name="a", project_id=1)[1],
            "b": tenancy.create_key(name="b", project_id=2)[1],
            "a_read_only": tenancy.create_key(name="ro", project_id=1, read_only=True)[1],
        }
        revoked, keys["revoked"] = tenancy.create_key(name="gone", project_id=1)
        tenancy.revoke(revoked.id)
        store.close()
        async with run_app() as running:
            found = Tenants(running, keys, {})
            found.calls["a"] = await found.post("a", 1, "call-of-a")
            found.calls["b"] = await found.post("b", 2, "call-of-b")
            found.alerts = {"a": await found.alert("a", 1), "b": await found.alert("b", 2)}
            transport = httpx.ASGITransport(app=running.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as ui:
                assert (await sign_in(ui, keys["a"])).status_code == 303
                found.ui = ui
                yield found

    return start()


def _routes(running: Running) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, its documentation included. FastAPI keeps
    included routers whole (``effective_route_contexts`` flattens them); the OpenAPI
    document's operations, cross-checked, must all be among them."""
    found: set[tuple[str, str]] = set()
    for route in running.app.routes:
        flat = getattr(route, "effective_route_contexts", None)
        for each in flat() if flat is not None else [route]:
            methods = getattr(each, "methods", None)
            if methods is None:
                methods = getattr(getattr(each, "starlette_route", None), "methods", None)
            for method in set(methods or {"GET"}) - {"HEAD"}:
                found.add((method, each.path))
    documented = {(m.upper(), path) for path, ops in running.app.openapi()["paths"].items()
                  for m in ops}  # fmt: skip
    assert documented <= found, documented - found
    return sorted(found)


def _vapi(agent_assistant: str) -> dict[str, Any]:
    body: dict[str, Any] = read_payload("vapi_end_of_call_report.json")
    body["message"]["assistant"] = {"id": agent_assistant}
    return body


def _retell() -> dict[str, Any]:
    body: dict[str, Any] = read_payload("retell_webhook_call_ended.json")
    body["call"]["agent_id"] = B_ASSISTANT
    return body


PROVIDER_BODIES = {
    "vapi": lambda: _vapi(B_ASSISTANT),
    "retell": _retell,
    "livekit": lambda: {**read_payload("livekit_session_report.json"), "session_id": "lk-x"},
    "pipecat": lambda: {
        "call_id": "pc-x",
        "assistant_id": B_ASSISTANT,
        "transcript": read_payload("pipecat_timed.json"),
    },
}


def _id_body(path: str) -> dict[str, Any]:
    """A body that is valid for a route on a call the key sees (so only the call decides)."""
    if path.endswith("/mark_metric_vote/"):
        return {"metric_id": "sentiment", "thumbs_up": True}
    return {}


def _same_as_never_stored(foreign: httpx.Response, absent: httpx.Response, pk: int) -> None:
    """The answer about B's object is the answer about an object that does not exist."""
    assert foreign.status_code == absent.status_code, (foreign.text, absent.text)
    assert foreign.text.replace(str(pk), "ID") == absent.text.replace(str(NEVER_STORED), "ID")


async def _probe(t: Tenants, method: str, path: str) -> None:
    """Key A asks for B's object through one route: it must be as absent as a never-stored
    one (404 for a call in the path)."""
    client, a, b = t.running.client, t.headers("a"), t.calls["b"]
    if path.startswith("/ui"):
        await _probe_ui(t, method, path)
        return
    if path.startswith(ALERTS):
        await _probe_alerts(t, method, path)
        return
    if "{id}" in path:
        url = path.replace("{id}", str(b))
        body = _id_body(path) if method in ("POST", "PATCH") else None
        foreign = await client.request(method, url, json=body, headers=a)
        assert foreign.status_code == 404, (method, path, foreign.text)
        assert foreign.json() == {"detail": "Not found."}
        own = await client.request(method, path.replace("{id}", str(t.calls["a"])),
                                   json=body, headers=a)  # fmt: skip
        # The route does reach a call the key sees (so the 404 above was the scope's).
        assert own.status_code != 404, (method, path, own.text)
        if method == "DELETE":  # put A's call back for the routes probed after this one
            t.calls["a"] = await t.post("a", 1, f"call-of-a-{len(t.calls)}")
        return
    action = path.rstrip("/").rpartition("/")[2]
    if path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert (await client.get(path)).status_code == 200  # no data: served, documented
        return
    if path == "/health":
        health = (await client.get(path, headers=a)).json()
        assert health["agents"] == 1  # A's one agent, not B's
        return
    if path == OBSERVE:
        body = {**load_example("booking_success_cekura.json"), "call_id": "x"}
        foreign = await client.post(path, json={**body, "agent": 2}, headers=a)
        absent = await client.post(path, json={**body, "agent": NEVER_STORED}, headers=a)
        assert foreign.status_code == 400 and "agent" in foreign.json()
        _same_as_never_stored(foreign, absent, 2)
        return
    if path.endswith("/observe/"):  # a provider's webhook, authenticated by A's key
        provider = path.split("/")[-3]
        raw = PROVIDER_BODIES[provider]()
        foreign = await client.post(path, params={"agent_id": 2}, json=raw, headers=a)
        absent = await client.post(path, params={"agent_id": NEVER_STORED}, json=raw, headers=a)
        assert foreign.status_code == 400, foreign.text
        _same_as_never_stored(foreign, absent, 2)
        if provider != "livekit":  # named by B's assistant id rather than ?agent_id
            named = await client.post(path, json=raw, headers=a)
            assert named.status_code == 400 and B_ASSISTANT in named.text
            # The "did you mean" hint names only A's own assistants.
            assert B_ASSISTANT not in named.text.partition("known:")[2]
        return
    if action == "call-logs":
        for params in ({}, {"call_ids": str(b)}, {"project_id": 2}, {"agent_id": 2}):
            page = (await client.get(path, params=params, headers=a)).json()
            assert b not in [c["id"] for c in page["results"]], params
        all_of_a = (await client.get(path, headers=a)).json()
        assert {c["agent"] for c in all_of_a["results"]} == {1}
        return
    if action == "export_call_logs":
        exported = (await client.get(path, params={"format": "json"}, headers=a)).json()
        assert exported and b not in [c["id"] for c in exported]
        return
    if action == "filters":
        values = (await client.get(path, headers=a)).json()
        assert [agent["id"] for agent in values["agents"]] == [1]
        return
    bodies = {
        "delete_call_logs": lambda pk: {"call_logs": [pk]},
        "evaluate_metrics": lambda pk: {"call_logs": [pk], "metrics": ["sentiment"]},
        "rerun_evaluation": lambda pk: {"call_logs": [pk]},
    }
    assert action in bodies, f"{method} {path}: no tenancy probe; add one to this test"
    foreign = await client.post(path, json=bodies[action](b), headers=a)
    absent = await client.post(path, json=bodies[action](NEVER_STORED), headers=a)
    assert foreign.status_code == 400, foreign.text
    _same_as_never_stored(foreign, absent, b)
    if action == "rerun_evaluation":
        every = await client.post(path, json={"call_logs": "all", "agent_id": 2}, headers=a)
        assert every.status_code == 400 and "agent_id" in every.json()


async def _probe_alerts(t: Tenants, method: str, path: str) -> None:
    """Alerts belong to a project: A's key neither sees nor changes B's."""
    client, a = t.running.client, t.headers("a")
    if "{id}" in path:
        body = {"enabled": False} if method in ("PATCH", "PUT") else None
        foreign = await client.request(method, path.replace("{id}", str(t.alerts["b"])),
                                       json=body, headers=a)  # fmt: skip
        assert foreign.status_code == 404, (method, path, foreign.text)
        return
    if method == "GET":
        listed = (await client.get(path, headers=a)).json()
        items = listed["results"] if isinstance(listed, dict) else listed
        assert t.alerts["b"] not in [x["id"] for x in items]
        return
    body = {"name": "x", "project": 2, "source_type": "metric",
            "source_id": 5, "source": {"sub_type": "normal"},
            "threshold": {}, "notifications": {}}  # fmt: skip
    made = await client.post(path, json=body, headers=a)
    assert made.status_code >= 400 or made.json()["project"] == 1, made.text


async def _probe_ui(t: Tenants, method: str, path: str) -> None:
    """The review UI, signed in with A's key: B's calls, agent and alerts are not there."""
    assert t.ui is not None
    ui, b = t.ui, t.calls["b"]
    if path in ("/ui/login", "/ui/logout", "/ui/static"):
        return  # no project data
    token = csrf_of((await ui.get(f"/ui/calls/{t.calls['a']}")).text)
    url = path.replace("{pk}", str(b)).replace("{alert_id}", str(t.alerts["b"]))
    data = {"csrf_token": token, "status": "reviewed_success", "metric_id": "sentiment",
            "thumbs": "up", "name": "x", "metric": "call_goal_achieved"}  # fmt: skip
    answer = await ui.request(method, url, data=data if method == "POST" else None)
    if "{pk}" in path or "{alert_id}" in path:
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text[:300])
        return
    if method == "GET":
        pages = [answer] + [await ui.get(url, params={"agent": 2})] * (path != "/ui/calls")
        for shown in pages:
            assert B_NAME not in shown.text and "call-of-b" not in shown.text, (path, shown.text)
        listed = await ui.get("/ui/calls", params={"q": "Hello"})
        assert f"/ui/calls/{b}" not in listed.text


async def test_a_key_of_project_a_reaches_nothing_of_project_b_in_any_route(tenants: Any) -> None:
    async with tenants as t:
        routes = _routes(t.running)
        assert len(routes) > 20
        before = (await t.running.client.get(
            f"/observability/v2/call-logs/{t.calls['b']}/", headers=t.headers("b"))).json()  # fmt: skip
        for method, path in routes:
            await _probe(t, method, path)
        after = await t.running.client.get(
            f"/observability/v2/call-logs/{t.calls['b']}/", headers=t.headers("b")
        )
        b_alerts = await t.running.client.get(f"{ALERTS}{t.alerts['b']}/", headers=t.headers("b"))
    # B's call is untouched by all of it: not deleted, not reviewed, not re-queued.
    assert after.status_code == 200
    kept = after.json()
    assert kept["is_reviewed"] is False and kept["evaluation_status"] == "evaluated"
    assert kept["updated_at"] == before["updated_at"] and kept["project"] == 2
    assert b_alerts.status_code == 200 and b_alerts.json()["enabled"] is True


async def test_each_key_sees_its_own_project_and_an_admin_key_sees_all(tenants: Any) -> None:
    async with tenants as t:
        client = t.running.client
        page_b = (await client.get("/observability/v1/call-logs/", headers=t.headers("b"))).json()
        admin = (await client.get("/observability/v1/call-logs/",
                                  headers={"X-API-Key": "test-key-1"})).json()  # fmt: skip
        admin_b = (await client.get("/observability/v1/call-logs/", params={"project_id": 2},
                                    headers={"X-API-Key": "test-key-1"})).json()  # fmt: skip
        detail = (await client.get(f"/observability/v1/call-logs/{t.calls['a']}/",
                                   headers=t.headers("a"))).json()  # fmt: skip
    assert [c["id"] for c in page_b["results"]] == [t.calls["b"]]
    assert sorted(c["id"] for c in admin["results"]) == sorted(t.calls.values())
    assert [c["id"] for c in admin_b["results"]] == [t.calls["b"]]
    assert detail["project"] == 1


async def test_a_read_only_key_reads_and_every_write_route_is_refused(tenants: Any) -> None:
    async with tenants as t:
        client, ro = t.running.client, t.headers("a_read_only")
        read = await client.get(f"/observability/v1/call-logs/{t.calls['a']}/", headers=ro)
        # The review UI signs in with a key and checks read-only itself (tests/service/test_ui.py).
        writes = [(m, p) for m, p in _routes(t.running)
                  if m not in ("GET", "HEAD", "OPTIONS") and not p.startswith("/ui")]  # fmt: skip
        answers = {}
        for method, path in writes:
            url = path.replace("{id}", str(t.calls["a"]))
            answers[(method, path)] = await client.request(method, url, json={}, headers=ro)
        still = await client.get(f"/observability/v1/call-logs/{t.calls['a']}/", headers=ro)
    assert read.status_code == 200
    assert len(writes) >= 10
    for route, answer in answers.items():
        assert answer.status_code == 403, (route, answer.text)
        assert "read-only" in answer.json()["detail"]
    assert still.status_code == 200 and still.json()["is_reviewed"] is False


async def test_revoked_and_unknown_keys_are_refused_and_health_says_only_up(tenants: Any) -> None:
    async with tenants as t:
        client = t.running.client
        revoked = await client.get("/observability/v1/call-logs/", headers=t.headers("revoked"))
        unknown = await client.get("/observability/v1/call-logs/", headers={"X-API-Key": "ev_x"})
        bare = await client.get("/health")
        with_revoked = await client.get("/health", headers=t.headers("revoked"))
    assert revoked.status_code == unknown.status_code == 401
    assert bare.json() == {"status": "ok", "database": None, "worker": None, "queue": None,
                           "agents": None, "metrics": None}  # fmt: skip
    assert with_revoked.json() == bare.json()


def test_keys_are_stored_hashed_with_only_a_prefix_shown(database_url: str) -> None:
    store = Store(database_url)
    store.upgrade()
    try:
        record, secret = Tenancy(store).create_key(name="k", project_id=1)
        with store.session() as session:
            row = session.get(ApiKeyRow, record.id)
            assert row is not None
            stored = (row.key_hash, row.prefix)
    finally:
        store.close()
    assert stored == (hash_key(secret), secret[:11])
    assert secret not in stored and len(secret) >= 40  # 256 random bits, url-safe


async def test_authenticate_answers_the_principal_the_ui_codes_against(tenants: Any) -> None:
    """``Service.authenticate(key) -> Principal | None``, ``Principal(key_id, project_id,
    read_only)`` frozen, project_id text (None: admin): the interface issue 16 builds on."""
    async with tenants as t:
        service = t.running.service
        b = service.authenticate(t.keys["b"])
        read_only = service.authenticate(t.keys["a_read_only"])
        admin = service.authenticate("test-key-1")
        refused = [service.authenticate(k) for k in (None, "", t.keys["revoked"], "ev_nope")]
    assert [f.name for f in dataclasses.fields(Principal)] == ["key_id", "project_id", "read_only"]
    assert b is not None and b.project_id == "2" and not b.read_only and b.key_id is not None
    assert read_only is not None and read_only.project_id == "1" and read_only.read_only
    assert admin == Principal(key_id=None, project_id=None, read_only=False)
    assert refused == [None, None, None, None]
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.project_id = "1"  # type: ignore[misc]
    assert issubclass(ReadOnlyKey, Exception)


def test_an_agent_of_a_project_that_does_not_exist_stops_the_start(run_app: RunApp) -> None:
    """Agent 2 names project 2, which this store does not have: the service says so."""

    async def start() -> None:
        async with run_app():
            pass

    with pytest.raises(ServiceConfigError, match=r"b\.yaml: project 2 does not exist"):
        asyncio.run(start())


async def test_the_docs_can_be_switched_off(run_app: RunApp, database_url: str) -> None:
    store = Store(database_url)
    store.upgrade()
    Tenancy(store).create_project("B")
    store.close()
    async with run_app(docs=False) as running:
        answers = [(await running.client.get(p)).status_code
                   for p in ("/docs", "/redoc", "/openapi.json")]  # fmt: skip
        routes = {getattr(r, "path", "") for r in running.app.routes}
        health = await running.client.get("/health")
    assert answers == [404, 404, 404]
    assert not routes & {"/docs", "/redoc", "/openapi.json"}
    assert health.status_code == 200
