"""Migration 0006: calls stored before projects existed go to the default project, and the
store then numbers new projects after it (PostgreSQL's sequence included)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from evaluator.store.calls import CallFilter, Store
from evaluator.store.db import MIGRATIONS
from evaluator.store.tenancy import Tenancy

OLD_CALL = """
INSERT INTO calls (call_id, agent_id, agent_name, body, body_hash, request, overrides,
  occurred_at, transcript_text, transcript_object, evaluation_status, attempts,
  next_attempt_at, job_scope, created_at, updated_at)
VALUES ('old-1', 1, 'Agent', '{}', 'h', '{}', '{}', '2026-01-01 00:00:00', '', '[]',
  'evaluated', 0, '2026-01-01 00:00:00', 'request', '2026-01-01 00:00:00',
  '2026-01-01 00:00:00')
"""


def test_calls_stored_before_projects_are_in_the_default_project(database_url: str) -> None:
    store = Store(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    try:
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
            connection.execute(text(OLD_CALL))
        store.upgrade()
        tenancy = Tenancy(store)
        projects = [(p.id, p.name) for p in tenancy.projects()]
        new = tenancy.create_project("Second")
        (call,), _ = store.scoped(1).list_calls(CallFilter())
        elsewhere, _ = store.scoped(new.id).list_calls(CallFilter())
        inputs = store.inputs(call.id or 0)
    finally:
        store.close()
    assert projects == [(1, "Default Project")]
    assert new.id == 2
    assert call.call_id == "old-1" and inputs.project_id == 1
    assert elsewhere == []
