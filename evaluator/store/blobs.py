"""Recordings, kept once each, by content: ``<root>/<sha[:2]>/<sha>``.

A local folder by default; any fsspec URL in production (``s3://bucket/prefix`` with s3fs
installed, ``gs://``, ``memory://`` in tests). The database keeps only the key (the SHA-256
of the bytes), so the same recording posted twice is stored once. Writes go to a temporary
name first and are renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

from evaluator.errors import EvaluatorError

__all__ = ["BlobNotFoundError", "BlobStore", "StoredBlob"]


class BlobNotFoundError(EvaluatorError):
    """No blob under that key (deleted, or a store pointed at another place)."""


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int


class BlobStore:
    """Content-addressed bytes under one fsspec URL or local folder."""

    def __init__(self, url: str) -> None:
        self.url = url
        if "://" not in url:  # a plain folder: absolute, so the worker's cwd cannot matter
            url = str(Path(url).resolve())
        self._fs: Any
        self._fs, self._root = fsspec.core.url_to_fs(url)
        self._fs.makedirs(self._root, exist_ok=True)

    def _path(self, key: str) -> str:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise BlobNotFoundError(f"not a blob key: {key!r}")
        return f"{self._root}/{key[:2]}/{key}"

    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` (once: a key already there is kept) and return its key."""
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if not self._fs.exists(path):
            self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            partial = f"{path}.{uuid.uuid4().hex}.partial"
            with self._fs.open(partial, "wb") as handle:
                handle.write(data)
            self._fs.mv(partial, path)
        return StoredBlob(key, len(data))

    def size(self, key: str) -> int:
        path = self._path(key)
        if not self._fs.exists(path):
            raise BlobNotFoundError(f"no recording {key}")
        return int(self._fs.size(path))

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive; None: to the end), for Range requests."""
        path = self._path(key)
        if not self._fs.exists(path):
            raise BlobNotFoundError(f"no recording {key}")
        data: bytes = self._fs.cat_file(path, start=start, end=end)
        return data

    def delete(self, key: str) -> None:
        path = self._path(key)
        if self._fs.exists(path):
            self._fs.rm(path)
