"""``evaluator projects`` and ``evaluator keys``: a key is printed once, stored hashed, scoped
to its project, listed without its secret, and refused once revoked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from evaluator.cli.main import app
from evaluator.config import Settings
from evaluator.service.deps import Principal, Service
from evaluator.store.calls import Store

runner = CliRunner()


def run(url: str, *args: str) -> Any:
    result = runner.invoke(app, list(args), env={"EVALUATOR_DATABASE_URL": url})
    return result


@pytest.fixture
def url(database_url: str) -> str:
    return database_url


def test_projects_and_keys_from_the_cli(url: str) -> None:
    created = run(url, "projects", "create", "Clinic line")
    assert created.exit_code == 0, created.output
    project = json.loads(created.stdout)
    assert project["id"] == 2 and project["name"] == "Clinic line"
    listed = json.loads(run(url, "projects", "list").stdout)
    assert [p["name"] for p in listed] == ["Default Project", "Clinic line"]

    made = run(url, "keys", "create", "--project", "Clinic line", "--read-only", "--name", "ui")
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    secret = key.pop("key")
    assert key["project_id"] == 2 and key["read_only"] is True and secret.startswith(key["prefix"])
    admin = json.loads(run(url, "keys", "create", "--admin").stdout)
    keys = run(url, "keys", "list")
    assert secret not in keys.stdout and admin["key"] not in keys.stdout  # never shown again
    assert [k["project_id"] for k in json.loads(keys.stdout)] == [2, None]

    store = Store(url)
    try:
        service = Service(Settings(database_url=url), None, store)  # type: ignore[arg-type]
        before = service.authenticate(secret)
        revoked = run(url, "keys", "revoke", str(key["id"]))
        after = service.authenticate(secret)
        as_admin = service.authenticate(admin["key"])
    finally:
        store.close()
    assert before == Principal(key_id=str(key["id"]), project_id="2", read_only=True)
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["revoked_at"] is not None
    assert after is None
    assert as_admin == Principal(key_id=str(admin["id"]), project_id=None, read_only=False)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("keys", "create"), "either --project P or --admin"),
        (("keys", "create", "--project", "1", "--admin"), "either --project P or --admin"),
        (("keys", "create", "--project", "nope"), "no project 'nope'"),
        (("keys", "revoke", "99"), "no API key 99"),
        (("projects", "create", " "), "needs a name"),
    ],
)
def test_bad_arguments_exit_2_saying_why(url: str, args: tuple[str, ...], words: str) -> None:
    result = run(url, *args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_a_project_name_is_unique(url: str) -> None:
    assert run(url, "projects", "create", "A").exit_code == 0
    again = run(url, "projects", "create", "A")
    assert again.exit_code == 2 and "exists already" in again.output
