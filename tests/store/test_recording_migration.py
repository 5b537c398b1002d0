"""Migration 0005 moves recordings out of the database: bytes stored before it end up in the
blob store, each row keeping only the reference; the downgrade puts them back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from evaluator.store.blobs import BlobStore
from evaluator.store.db import MIGRATIONS, Database


def _config(db: Database, connection: sa.Connection, blob_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["blob_url"] = blob_url
    return config


def _migrate(db: Database, blob_url: str, revision: str, *, down: bool = False) -> None:
    with db.engine.begin() as connection:
        config = _config(db, connection, blob_url)
        (command.downgrade if down else command.upgrade)(config, revision)


def _a_call_with_a_recording(db: Database, audio: bytes) -> None:
    now = datetime.now(UTC)
    calls = sa.table("calls", *(sa.column(c) for c in (
        "id", "call_id", "agent_id", "agent_name", "body", "body_hash", "request", "overrides",
        "occurred_at", "transcript_text", "transcript_object", "evaluation_status", "attempts",
        "next_attempt_at", "job_scope", "created_at", "updated_at")))  # fmt: skip
    recordings = sa.table("recordings", *(sa.column(c) for c in (
        "call_pk", "filename", "content_type", "sha256", "data")))  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(calls.insert().values(
            id=1, call_id="old", agent_id=1, agent_name="a", body="{}", body_hash="h",
            request=json.dumps({"call_id": "old", "agent": 1}), overrides="{}",
            occurred_at=now, transcript_text="", transcript_object="[]",
            evaluation_status="evaluated", attempts=1, next_attempt_at=now,
            job_scope="request", created_at=now, updated_at=now,
        ))  # fmt: skip
        conn.execute(recordings.insert().values(
            call_pk=1, filename="old.wav", content_type="audio/wav",
            sha256=hashlib.sha256(audio).hexdigest(), data=audio,
        ))  # fmt: skip


def test_stored_recordings_move_to_the_blob_store_and_back(
    database_url: str, tmp_path: Path
) -> None:
    audio = bytes(range(256)) * 40
    blob_url = str(tmp_path / "blobs")
    db = Database(database_url)
    try:
        _migrate(db, blob_url, "0004")
        _a_call_with_a_recording(db, audio)
        _migrate(db, blob_url, "0005")
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("recordings")}
        with db.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT blob_key, size, source FROM recordings")).one()
        key = hashlib.sha256(audio).hexdigest()
        assert "data" not in columns
        assert tuple(row) == (key, len(audio), "upload")
        assert BlobStore(blob_url).read(key) == audio

        _migrate(db, blob_url, "0004", down=True)
        with db.engine.connect() as conn:
            data, sha = conn.execute(sa.text("SELECT data, sha256 FROM recordings")).one()
        assert bytes(data) == audio and sha == key
    finally:
        db.close()
