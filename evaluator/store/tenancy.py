"""Projects and API keys (``projects``, ``api_keys``).

A key is shown once, when it is created; the store keeps its SHA-256 (a key has 256 bits of
randomness, so a plain hash is as strong as a slow one and lets a request be checked with one
indexed lookup) and its first characters, to tell keys apart in a listing. A key belongs to
one project, or to none (an admin key: every project), and may be read-only.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from evaluator.errors import EvaluatorError
from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.tables import ApiKeyRow, ProjectRow

__all__ = ["ApiKey", "Project", "Tenancy", "TenancyError", "hash_key"]

KEY_PREFIX = "ev_"
SHOWN_CHARS = 11  # "ev_" and 8 random characters: enough to tell keys apart, useless alone


class TenancyError(EvaluatorError):
    """A project or key that does not exist, or a name already taken."""


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without the key: ``project_id`` None is an admin key."""

    id: int
    name: str
    prefix: str
    project_id: int | None
    read_only: bool
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """What the store keeps of a key."""
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()


def _project(row: ProjectRow) -> Project:
    return Project(row.id, row.name, row.created_at)


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.id, row.name, row.prefix, row.project_id, row.read_only,
                  row.created_at, row.revoked_at)  # fmt: skip


class Tenancy:
    """Projects and keys over the store's database handle."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create_project(self, name: str) -> Project:
        name = name.strip()
        if not name:
            raise TenancyError("a project needs a name")
        try:
            with self._db.session() as session:
                row = ProjectRow(name=name, created_at=_now())
                session.add(row)
                session.flush()
                return _project(row)
        except IntegrityError:
            raise TenancyError(f"a project named {name!r} exists already") from None

    def projects(self) -> list[Project]:
        with self._db.session() as session:
            return [
                _project(r) for r in session.scalars(select(ProjectRow).order_by(ProjectRow.id))
            ]

    def project_ids(self) -> set[int]:
        with self._db.session() as session:
            return set(session.scalars(select(ProjectRow.id)))

    def create_key(
        self, *, name: str, project_id: int | None, read_only: bool = False
    ) -> tuple[ApiKey, str]:
        """A new key: the stored record and the key itself (shown once, never stored)."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._db.session() as session:
            if project_id is not None and session.get(ProjectRow, project_id) is None:
                raise TenancyError(f"no project {project_id}: see `evaluator projects list`")
            row = ApiKeyRow(name=name, prefix=secret[:SHOWN_CHARS], key_hash=hash_key(secret),
                            project_id=project_id, read_only=read_only,
                            created_at=_now())  # fmt: skip
            session.add(row)
            session.flush()
            return _key(row), secret

    def api_keys(self) -> list[ApiKey]:
        with self._db.session() as session:
            return [_key(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key: from now on it authenticates nothing. Revoking twice is harmless."""
        with self._db.session() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise TenancyError(f"no API key {key_id}: see `evaluator keys list`")
            if row.revoked_at is None:
                row.revoked_at = _now()
            session.flush()
            return _key(row)

    def find(self, presented: str) -> ApiKey | None:
        """The live key whose hash matches ``presented``, if any (a read: no writer lock)."""
        digest = hash_key(presented)
        with self._db.connection(read_only=True) as conn:
            found = conn.execute(
                select(ApiKeyRow.__table__).where(ApiKeyRow.key_hash == digest)
            ).first()
        if found is None or found.revoked_at is not None:
            return None
        # The lookup matched by hash; compare again in constant time all the same.
        if not secrets.compare_digest(found.key_hash, digest):
            return None
        return ApiKey(found.id, found.name, found.prefix, found.project_id, found.read_only,
                      found.created_at, found.revoked_at)  # fmt: skip
