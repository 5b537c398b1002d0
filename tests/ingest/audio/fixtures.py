"""Fixtures of the audio suite (a pytest plugin of tests/conftest.py, so the service tests
share them): synthetic calls made once per session with espeak-ng and sox, written in the
formats intake meets (stereo WAV, MP3, 8 kHz μ-law), and one Whisper model
shared by every test that transcribes.

Without espeak-ng or sox the suite is skipped on a developer's machine and fails in CI (where
``CI`` is set): a missing tool must never look like a pass there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from evaluator.ingest.audio.stt import Progress, SttResult, WhisperSTT
from tests.ingest.audio.synth import (
    MONO_SCRIPT,
    SHORT_SCRIPT,
    SyntheticCall,
    build_call,
    tools_missing,
    write_audio,
)


@pytest.fixture(scope="session")
def audio_tools() -> None:
    missing = tools_missing()
    if not missing:
        return
    reason = (
        f"{', '.join(missing)} not installed; the audio tests synthesize their calls with "
        "them (apt-get install espeak-ng sox libsox-fmt-all)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def short_call(audio_tools: None) -> SyntheticCall:
    return build_call(SHORT_SCRIPT)


@pytest.fixture(scope="session")
def mono_call(audio_tools: None) -> SyntheticCall:
    return build_call(MONO_SCRIPT)


@pytest.fixture(scope="session")
def stereo_wav(short_call: SyntheticCall, audio_dir: Path) -> bytes:
    """The short call as 16-bit WAV, the agent on channel 0."""
    return write_audio(audio_dir / "call.wav", short_call.stereo(0)).read_bytes()


@pytest.fixture(scope="session")
def swapped_wav(short_call: SyntheticCall, audio_dir: Path) -> bytes:
    """The same call with the agent on channel 1."""
    return write_audio(audio_dir / "swapped.wav", short_call.stereo(1)).read_bytes()


@pytest.fixture(scope="session")
def ulaw_wav(short_call: SyntheticCall, audio_dir: Path) -> bytes:
    """The short call as telephony audio: 8 kHz μ-law WAV, stereo."""
    path = audio_dir / "call-ulaw.wav"
    return write_audio(path, short_call.stereo(0), rate=8000, encoding=("-e", "u-law")).read_bytes()


@pytest.fixture(scope="session")
def stereo_mp3(short_call: SyntheticCall, audio_dir: Path) -> bytes:
    return write_audio(audio_dir / "call.mp3", short_call.stereo(0), encoding=()).read_bytes()


@pytest.fixture(scope="session")
def mono_wav(mono_call: SyntheticCall, audio_dir: Path) -> bytes:
    return write_audio(audio_dir / "mono.wav", mono_call.mono()).read_bytes()


@dataclass
class RememberingSTT:
    """Test double around the real Whisper: the same samples are transcribed once per
    session and the answer remembered, so tests that run the pipeline on the same call more
    than once (channel swapped, index given) cost one transcription. ``calls`` counts the
    real ones."""

    inner: WhisperSTT
    seen: dict[str, SttResult] = field(default_factory=dict)
    calls: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def transcribe(
        self, samples: NDArray[np.float32], *, progress: Progress | None = None
    ) -> SttResult:
        key = hashlib.sha256(np.ascontiguousarray(samples).tobytes()).hexdigest()
        if key not in self.seen:
            self.calls += 1
            self.seen[key] = self.inner.transcribe(samples, progress=progress)
        elif progress is not None:
            progress(len(samples) / 16_000)
        return self.seen[key]


@pytest.fixture(scope="session")
def whisper() -> WhisperSTT:
    """The bundled base model, loaded once (assembled into the user cache on first use)."""
    model = WhisperSTT()
    model.load()
    return model


@pytest.fixture(scope="session")
def stt(whisper: WhisperSTT) -> RememberingSTT:
    return RememberingSTT(whisper)


Truth = Callable[[SyntheticCall], list[tuple[float, float]]]
