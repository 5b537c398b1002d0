"""Calls' recordings in the database: references into the blob store (``store.blobs``) and
what each recording said, never the bytes.

A recording is processed once (fetched, decoded, transcribed, redacted): ``save_recording``
keeps the reference and the analysis, and for a call that came as audio only, our transcript
and the duration from the audio on the call itself, so the call log shows them and a
re-evaluation reads them instead of the audio.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.scope import live_call
from evaluator.store.tables import CallRow, RecordingRow
from evaluator.store.types import CallNotFoundError, RecordingRef

__all__ = ["RecordingStore"]


class RecordingStore(Database):
    """The recordings table, and the call columns a processed recording fills in."""

    def recording(self, pk: int) -> RecordingRef | None:
        """The reference to a call's recording, or None when it has none stored or pending
        (a ``voice_recording_url`` not fetched yet has no row)."""
        with self.session() as session:
            if self.project_id is not None:  # a project's handle: its own calls only
                live_call(session, pk, self.project_id)
            row = session.get(RecordingRow, pk)
            return None if row is None else _ref(row)

    def save_recording(
        self,
        pk: int,
        ref: RecordingRef,
        *,
        duration: str | None,
        transcript: tuple[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Keep a processed recording's reference and analysis; set the call's ``duration``
        (from the audio) and, when given, its transcript (text, object): ours, for a call
        that came without one. ``CallNotFoundError`` when the call is gone."""
        with self.session() as session:
            call = session.get(CallRow, pk)
            if call is None:
                raise CallNotFoundError([pk])
            row = session.get(RecordingRow, pk) or RecordingRow(call_pk=pk)
            for name, value in ref.__dict__.items():
                setattr(row, name, value)
            session.add(row)
            values: dict[str, Any] = {"updated_at": _now()}
            if duration is not None:
                values["duration"] = duration
            if transcript is not None:
                values["transcript_text"], values["transcript_object"] = transcript
            session.execute(update(CallRow).where(CallRow.id == pk).values(**values))

    def release_hold(self, pk: int) -> None:
        """Queue a call held at intake (``NewCall.hold_until``) now. A call the hold let a
        worker fail meanwhile is queued again from scratch."""
        with self.session() as session:
            session.execute(
                update(CallRow)
                .where(CallRow.id == pk, CallRow.evaluation_status.in_(("pending", "failed")))
                .values(evaluation_status="pending", attempts=0, last_error=None,
                        next_attempt_at=_now(), updated_at=_now())
            )  # fmt: skip

    def blob_in_use(self, key: str) -> bool:
        """Whether any recording row still references the blob ``key``."""
        with self.session() as session:
            count = session.scalar(
                select(func.count()).select_from(RecordingRow).where(RecordingRow.blob_key == key)
            )
            return bool(count)

    def blob_keys(self, pks: list[int]) -> set[str]:
        """The blobs the recordings of these calls reference."""
        with self.session() as session:
            keys = session.scalars(
                select(RecordingRow.blob_key).where(
                    RecordingRow.call_pk.in_(pks), RecordingRow.blob_key.is_not(None)
                )
            )
            return {k for k in keys if k}


def _ref(row: RecordingRow) -> RecordingRef:
    return RecordingRef(
        source="url" if row.source == "url" else "upload",
        filename=row.filename,
        content_type=row.content_type,
        sha256=row.sha256,
        blob_key=row.blob_key,
        size=row.size,
        analysis=row.analysis,
    )
