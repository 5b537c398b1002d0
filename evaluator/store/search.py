"""Search in the calls' transcript text: a case-insensitive substring match, served by an index
on each database (made and back-filled by migration 0009).

- **SQLite**: ``calls_search``, an FTS5 table with the ``trigram`` tokenizer over
  ``calls.transcript_text`` (external content: it keeps the index, not a second copy of the
  text), kept in step by triggers on ``calls`` (insert, update of ``transcript_text``,
  delete), so every write path (the store's, a migration's, a bulk load) keeps it. A search of
  three characters or more is an FTS5 phrase query, which on a trigram index is exactly a
  substring match (case folded by Unicode rules); a shorter one cannot use trigrams and is a
  ``LIKE`` scan (case folded for ASCII letters only, as SQLite's ``LIKE`` is).
- **PostgreSQL**: ``ILIKE`` (the server's locale folds case), served by a GIN index with
  ``pg_trgm``'s ``gin_trgm_ops`` on ``calls.transcript_text``: the server keeps it in step
  itself. Where ``pg_trgm`` cannot be installed the migration leaves the index out (and warns):
  the same search, as a scan.

Only what is stored is searched: a transcript stored redacted is searched redacted.

A later migration that rebuilds ``calls`` on SQLite (Alembic's batch mode copies the table
and drops the old one, triggers included) must run ``SQLITE_TRIGGERS`` again.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, column, literal, select, table

from evaluator.store.tables import CallRow

__all__ = [
    "PG_INDEX",
    "SEARCH_TABLE",
    "SQLITE_TRIGGERS",
    "include_name",
    "transcript_matches",
]

SEARCH_TABLE = "calls_search"
PG_INDEX = "ix_calls_transcript_trgm"
# FTS5's shadow tables of SEARCH_TABLE (its data, index, sizes and configuration).
_SHADOWS = tuple(f"{SEARCH_TABLE}_{part}" for part in ("data", "idx", "docsize", "config"))
# The shortest search a trigram index can serve.
MIN_INDEXED = 3

_DELETE_OLD = (
    f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rowid, transcript_text) "
    "VALUES ('delete', old.id, old.transcript_text);"
)
_INSERT_NEW = (
    f"INSERT INTO {SEARCH_TABLE}(rowid, transcript_text) VALUES (new.id, new.transcript_text);"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS {SEARCH_TABLE}_insert AFTER INSERT ON calls "
    f"BEGIN {_INSERT_NEW} END",
    f"CREATE TRIGGER IF NOT EXISTS {SEARCH_TABLE}_delete AFTER DELETE ON calls "
    f"BEGIN {_DELETE_OLD} END",
    f"CREATE TRIGGER IF NOT EXISTS {SEARCH_TABLE}_update AFTER UPDATE OF transcript_text "
    f"ON calls WHEN old.transcript_text IS NOT new.transcript_text "
    f"BEGIN {_DELETE_OLD} {_INSERT_NEW} END",
)

_search = table(SEARCH_TABLE, column("rowid"), column(SEARCH_TABLE))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(text: str) -> str:
    """``text`` as one FTS5 string: every character literal (a quote doubled)."""
    return '"' + text.replace('"', '""') + '"'


def transcript_matches(dialect: str, text: str) -> ColumnElement[bool]:
    """The condition on ``CallRow`` that its transcript holds ``text`` (case-insensitive),
    for the database of ``dialect`` (``sqlite`` or ``postgresql``)."""
    pattern = f"%{_escaped(text)}%"
    if dialect == "postgresql":
        # Backslash is ILIKE's own escape: no ESCAPE clause, which keeps the pattern a plain
        # constant the trigram index can serve.
        return CallRow.transcript_text.ilike(pattern)
    if len(text) < MIN_INDEXED:
        return CallRow.transcript_text.like(pattern, escape="\\")
    hits = select(_search.c.rowid).where(
        _search.c[SEARCH_TABLE].op("MATCH")(literal(_phrase(text)))
    )
    return CallRow.id.in_(hits)


def include_name(name: str | None, type_: str, _parents: object = None) -> bool:
    """For Alembic's autogenerate: the search index and table are made by migration 0009
    outside the declared tables (an FTS5 table, a PostgreSQL operator-class index), not
    something to drop."""
    if type_ == "table":
        return name not in (SEARCH_TABLE, *_SHADOWS)
    if type_ == "index":
        return name != PG_INDEX
    return True
