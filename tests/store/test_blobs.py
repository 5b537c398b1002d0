"""The blob store keeps each recording once, by content, and reads ranges of it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evaluator.store.blobs import BlobNotFoundError, BlobStore


@pytest.mark.parametrize("where", ["folder", "memory"])
def test_a_recording_is_stored_once_by_content_and_read_back_by_range(
    tmp_path: Path, where: str
) -> None:
    url = str(tmp_path / "blobs") if where == "folder" else f"memory://blobs-{tmp_path.name}"
    blobs = BlobStore(url)
    data = bytes(range(256)) * 4
    first = blobs.put(data)
    again = blobs.put(data)
    assert first == again and first.key == hashlib.sha256(data).hexdigest()
    assert first.size == 1024 == blobs.size(first.key)
    assert blobs.read(first.key) == data
    assert blobs.read(first.key, 10, 20) == data[10:20]
    assert blobs.read(first.key, 1000) == data[1000:]
    if where == "folder":
        stored = list((tmp_path / "blobs").rglob("*"))
        assert [p.name for p in stored if p.is_file()] == [first.key]  # no partial left
    blobs.delete(first.key)
    with pytest.raises(BlobNotFoundError):
        blobs.read(first.key)


def test_a_key_that_is_not_a_digest_is_refused_not_used_as_a_path(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    for key in ("../../etc/passwd", "a" * 63, "A" * 64):
        with pytest.raises(BlobNotFoundError):
            blobs.read(key)
