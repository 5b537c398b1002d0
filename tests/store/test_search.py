"""Transcript search (``store/search.py``): a case-insensitive substring match over the stored
text, and an index that follows every write (insert, correction, delete) on each database,
including calls stored before migration 0009."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from evaluator.store.browse import BrowseQuery, browse_calls
from evaluator.store.calls import Store
from evaluator.store.db import MIGRATIONS, Database
from evaluator.store.search import PG_INDEX, SEARCH_TABLE, transcript_matches
from evaluator.store.tables import CallRow
from evaluator.store.types import NewCall


def _add(store: Store, call_id: str, text: str) -> int:
    new = NewCall(
        call_id=call_id, agent_id=1, agent_name="Bright Smile", trace_id=None, body="{}",
        body_hash=call_id, request={"call_id": call_id, "agent": 1},
        occurred_at=datetime.now(UTC), duration=None, transcript_text=text,
        transcript_object=[{"role": "Main Agent", "content": text}],
    )  # fmt: skip
    stored, _ = store.add_call(new, allow_duplicates=False)
    assert stored.id is not None
    with store.engine.begin() as conn:  # judged: a call being evaluated cannot be corrected
        done = sa.update(CallRow).where(CallRow.id == stored.id)
        conn.execute(done.values(evaluation_status="evaluated"))
    return stored.id


def _found(store: Store, text: str) -> list[str]:
    page = browse_calls(store, BrowseQuery(search=text, page_size=100))
    assert page.total == len(page.calls)
    return sorted(c.call_id for c in page.calls)


def _in_step(store: Store) -> None:
    """SQLite: FTS5 compares its index with the content table (an error when they differ).
    Both: the store's search condition is served by the index."""
    with store.engine.begin() as conn:
        dialect = conn.dialect.name
        query = sa.select(CallRow.id).where(transcript_matches(dialect, "zebra"))
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        if dialect == "sqlite":
            conn.execute(sa.text(
                f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rank) VALUES ('integrity-check', 1)"
            ))  # fmt: skip
            plan = str(conn.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")).all())
            assert f"SCAN {SEARCH_TABLE} VIRTUAL TABLE" in plan, plan
            return
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.scalars(sa.text(f"EXPLAIN {compiled}")))
        assert PG_INDEX in plan, plan


def test_search_is_a_case_insensitive_substring_match(store: Store) -> None:
    _add(store, "refund", "Caller: I would like a REFUND for the cleaning.")
    _add(store, "symbols", 'Agent: 100% sure, file_name "quoted" and a back\\slash.')
    _add(store, "other", "Agent: Your check-up is booked for Thursday.")
    assert _found(store, "refund") == ["refund"]
    assert _found(store, "Refund For") == ["refund"]
    assert _found(store, "fund") == ["refund"]  # inside a word: a substring, not a word
    assert _found(store, "refunds") == []
    assert _found(store, "100%") == ["symbols"]  # LIKE's wildcards are plain characters
    assert _found(store, "0%") == ["symbols"]  # ...in a short search too
    assert _found(store, "e_n") == ["symbols"]
    assert _found(store, "e%n") == []
    assert _found(store, '"quoted"') == ["symbols"]
    assert _found(store, "k\\s") == ["symbols"]
    assert _found(store, "ag") == ["other", "symbols"]  # two characters: every match
    assert _found(store, "check-up is") == ["other"]
    assert _found(store, "check up") == []
    _in_step(store)


def test_the_index_follows_insert_correction_and_delete(store: Store) -> None:
    first = _add(store, "zoo", "Caller: a zebra ate my appointment card.")
    _add(store, "plain", "Caller: nothing of note.")
    assert _found(store, "ZEBRA") == ["zoo"]
    _in_step(store)

    store.edit(first, {}, {"transcript_text": "Caller: a giraffe did.", "transcript_object": []})
    assert _found(store, "zebra") == []
    assert _found(store, "giraffe") == ["zoo"]
    _in_step(store)

    # A soft delete hides the call from every read, search included.
    store.delete_calls([first], retain_evaluations=True)
    assert _found(store, "giraffe") == []
    last = _add(store, "last", "Caller: a giraffe again.")
    store.delete_calls([last], retain_evaluations=False)
    assert _found(store, "giraffe") == []
    _in_step(store)
    # SQLite may give the deleted call's id to the next call: its text must not come back.
    _add(store, "after", "Caller: an elephant.")
    assert _found(store, "giraffe") == []
    assert _found(store, "elephant") == ["after"]
    _in_step(store)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# The revision 0009 follows (whatever the chain before it).
BEFORE = str(ScriptDirectory.from_config(_config()).get_revision("0009").down_revision)


def _migrate(db: Database, revision: str, *, down: bool = False) -> None:
    config = _config()
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _old_call(db: Database, pk: int, text: str) -> None:
    now = datetime.now(UTC)
    calls = sa.table("calls", *(sa.column(c) for c in (
        "id", "call_id", "agent_id", "agent_name", "body", "body_hash", "request", "overrides",
        "occurred_at", "transcript_text", "transcript_object", "evaluation_status", "attempts",
        "next_attempt_at", "job_scope", "created_at", "updated_at", "project_id")))  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(calls.insert().values(
            id=pk, call_id=f"old-{pk}", agent_id=1, agent_name="a", body="{}",
            body_hash=f"h{pk}", request=json.dumps({"call_id": f"old-{pk}", "agent": 1}),
            overrides="{}", occurred_at=now, transcript_text=text, transcript_object="[]",
            evaluation_status="evaluated", attempts=1, next_attempt_at=now,
            job_scope="request", created_at=now, updated_at=now, project_id=1,
        ))  # fmt: skip


def test_calls_stored_before_the_index_are_found_and_the_downgrade_undoes_it(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        _migrate(db, BEFORE)
        _old_call(db, 1, "Caller: my zebra needs a check-up.")
        _old_call(db, 2, "Caller: nothing of note.")
        _migrate(db, "0009")
        store = Store(database_url)
        assert _found(store, "Zebra") == ["old-1"]
        _in_step(store)
        store.close()
        _migrate(db, BEFORE, down=True)
        names = sa.inspect(db.engine).get_table_names()
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("calls")}
        assert SEARCH_TABLE not in names and PG_INDEX not in indexes
        _migrate(db, "0009")  # and again: the upgrade runs on a database that had it once
        store = Store(database_url)
        assert _found(store, "zebra") == ["old-1"]
        store.close()
    finally:
        db.close()
