"""``evaluator projects ...`` and ``evaluator keys ...``: the service's tenants and API keys,
in the database at ``EVALUATOR_DATABASE_URL`` (migrated first).

A key is printed once, when it is created, and never again: the store keeps its SHA-256 and
its first characters. Listings print JSON on stdout; a bad argument exits 2 saying why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from evaluator.cli.common import err, fail, print_json
from evaluator.config import Settings
from evaluator.errors import EvaluatorError
from evaluator.store.calls import Store
from evaluator.store.tenancy import Tenancy, TenancyError

__all__ = ["keys_app", "projects_app"]

projects_app = typer.Typer(no_args_is_help=True, help="Projects: every agent and call is in one.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys, each of one project or admin.")


@contextmanager
def _tenancy() -> Iterator[Tenancy]:
    store = Store(Settings().database_url)
    try:
        store.upgrade()
        yield Tenancy(store)
    except TenancyError as exc:
        raise fail(2, str(exc)) from None
    except EvaluatorError as exc:
        raise fail(1, f"database: {exc}") from None
    finally:
        store.close()


def _plain(record: Any) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v
            for k, v in dataclasses.asdict(record).items()}  # fmt: skip


@projects_app.command("create")
def create_project(name: Annotated[str, typer.Argument(help="the project's name")]) -> None:
    """Create a project; prints it (its id is what agents' ``project:`` and keys name)."""
    with _tenancy() as tenancy:
        print_json(_plain(tenancy.create_project(name)))


@projects_app.command("list")
def list_projects() -> None:
    """Every project, as JSON."""
    with _tenancy() as tenancy:
        print_json([_plain(p) for p in tenancy.projects()])


@keys_app.command("create")
def create_key(
    project: Annotated[
        str | None, typer.Option("--project", help="the key's project: its id or name")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="every project (no --project)")] = False,
    read_only: Annotated[bool, typer.Option("--read-only", help="reads only")] = False,
    name: Annotated[str, typer.Option("--name", help="what the key is for")] = "",
) -> None:
    """Create a key and print it, once: it is not stored and cannot be shown again."""
    if admin == (project is not None):
        raise fail(2, "give either --project P or --admin")
    with _tenancy() as tenancy:
        project_id = None if admin else _project_id(tenancy, str(project))
        record, secret = tenancy.create_key(
            name=name or ("admin" if admin else f"project {project_id}"),
            project_id=project_id, read_only=read_only,
        )  # fmt: skip
    err.print("The key is shown once; keep it now. It is sent in the X-API-Key header.")
    print_json({**_plain(record), "key": secret})


@keys_app.command("list")
def list_keys() -> None:
    """Every key (its id, name, first characters, project, read-only, revoked), as JSON."""
    with _tenancy() as tenancy:
        print_json([_plain(k) for k in tenancy.api_keys()])


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[int, typer.Argument(help="the key's id (keys list)")]) -> None:
    """Revoke a key: it is refused from the next request on."""
    with _tenancy() as tenancy:
        print_json(_plain(tenancy.revoke(key_id)))


def _project_id(tenancy: Tenancy, given: str) -> int:
    projects = tenancy.projects()
    for project in projects:
        if given == str(project.id) or given == project.name:
            return project.id
    known = ", ".join(f"{p.id} ({p.name})" for p in projects)
    raise TenancyError(f"no project {given!r}; projects: {known}")
