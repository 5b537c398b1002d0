"""The store's schema: migrations and the declared tables agree, and every handle on one
SQLite file shares one writer lock."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from evaluator.store.calls import Store
from evaluator.store.db import Database, writer_lock
from evaluator.store.judgments import SqlBackend

# What Alembic's env.py sees in a process of its own (``alembic revision --autogenerate``):
# the metadata of evaluator.store.tables, with nothing else of the store imported, and
# env.py's filter (the transcript search's FTS5 table and trigram index, made by 0009).
AUTOGENERATE = """
import sys
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from evaluator.store.search import include_name
from evaluator.store.tables import Base
engine = create_engine(sys.argv[1])
with engine.connect() as conn:
    context = MigrationContext.configure(conn, opts={"include_name": include_name})
    diff = compare_metadata(context, Base.metadata)
print(repr(diff))
print(sorted(Base.metadata.tables))
"""


def test_a_migrated_database_matches_the_declared_tables(database_url: str) -> None:
    """Autogenerate against a fresh, fully migrated database finds nothing to change: no
    table is declared outside the metadata Alembic sees (it would generate a drop)."""
    db = Database(database_url)
    db.upgrade()
    db.close()
    seen = subprocess.run(
        [sys.executable, "-c", AUTOGENERATE, database_url],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    diff, tables = seen.stdout.splitlines()[-2:]
    assert diff == "[]", diff
    for table in ("calls", "judgments", "reevaluation_runs", "reevaluation_items"):
        assert repr(table) in tables


def test_two_handles_on_one_sqlite_file_share_its_writer_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    same_file_other_spelling = f"sqlite:///{tmp_path / '.' / 'one.db'}"
    store = Store(url)
    store.upgrade()
    cache = SqlBackend(same_file_other_spelling)
    try:
        assert store._lock is not None
        assert cache.table._db._lock is store._lock
    finally:
        cache.close()
        store.close()


def test_a_write_through_one_handle_waits_for_the_other_handles_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    first, second = Database(url), Database(url)
    first.upgrade()
    entered = threading.Event()
    with first.session():

        def write() -> None:
            with second.session():
                entered.set()

        thread = threading.Thread(target=write)
        thread.start()
        # The second handle cannot start its transaction while the first holds the file.
        assert not entered.wait(0.3)
    thread.join(5)
    assert entered.is_set()
    first.close()
    second.close()


def test_other_files_and_servers_do_not_share_a_lock(tmp_path: Path) -> None:
    assert writer_lock(f"sqlite:///{tmp_path / 'a.db'}") is not writer_lock(
        f"sqlite:///{tmp_path / 'b.db'}"
    )
    assert writer_lock("sqlite://") is not writer_lock("sqlite://")
    assert writer_lock("postgresql+psycopg://u@127.0.0.1/db") is None
