"""Speech-to-text with word timestamps: the ``SpeechToText`` protocol and the local Whisper
implementation (faster-whisper on CTranslate2, CPU, int8).

A transcriber takes one channel (16 kHz float32) and answers its words with start and end
times in seconds from the start of that channel. It is a plain synchronous call: it is CPU
work, and the service runs it in a worker thread or process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.errors import SpeechToTextError
from evaluator.ingest.audio.model_files import BUILTIN_MODEL, resolve_whisper_model

__all__ = [
    "Progress",
    "SpeechToText",
    "SttResult",
    "WhisperSTT",
    "WhisperSettings",
    "Word",
]

Progress = Callable[[float], None]
"""Called with the seconds of the channel transcribed so far."""


@dataclass(frozen=True)
class Word:
    """One recognized word. ``text`` is as the model wrote it (Whisper keeps the leading
    space that separates it from the previous word); times are seconds."""

    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class SttResult:
    """A channel's words in time order, and which model heard them."""

    words: tuple[Word, ...]
    model: str
    language: str | None = None

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()


class SpeechToText(Protocol):
    """Anything that turns one channel of 16 kHz float32 PCM into timed words."""

    @property
    def name(self) -> str:
        """The model, for the notes (``whisper:base``, ``litellm:whisper-1``)."""
        ...

    def transcribe(
        self, samples: NDArray[np.float32], *, progress: Progress | None = None
    ) -> SttResult:
        """The channel's words, with times in seconds from its start."""
        ...


@dataclass(frozen=True)
class WhisperSettings:
    """``model``: ``"base"`` (bundled) or the folder of any CTranslate2 Whisper model;
    ``language``: ``None`` detects it per channel; ``cache_dir``: where ``base`` is
    assembled (default ``~/.cache/voice-evaluator``)."""

    model: str = BUILTIN_MODEL
    cache_dir: Path | None = None
    compute_type: str = "int8"
    cpu_threads: int = 2
    language: str | None = "en"
    beam_size: int = 5


@dataclass
class WhisperSTT:
    """Local Whisper. The model loads on first use (about 150 MB; seconds), once per
    instance; share one instance between calls. Safe to call from several threads."""

    settings: WhisperSettings = field(default_factory=WhisperSettings)
    _model: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def name(self) -> str:
        model = self.settings.model
        return f"whisper:{model if model == BUILTIN_MODEL else Path(model).name}"

    def load(self) -> None:
        """Load the model now rather than on the first call (e.g. at service start)."""
        with self._lock:
            if self._model is not None:
                return
            path = resolve_whisper_model(self.settings.model, self.settings.cache_dir)
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]

            try:
                self._model = WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type=self.settings.compute_type,
                    cpu_threads=self.settings.cpu_threads,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise SpeechToTextError(f"cannot load the Whisper model at {path}: {exc}") from exc

    def transcribe(
        self, samples: NDArray[np.float32], *, progress: Progress | None = None
    ) -> SttResult:
        """The channel's words. Stretches without speech are skipped by Whisper's own
        voice-activity filter (faster and no words invented in silence); the times it
        returns still count from the start of the channel."""
        self.load()
        try:
            segments, info = self._model.transcribe(
                samples,
                language=self.settings.language,
                beam_size=self.settings.beam_size,
                word_timestamps=True,
                vad_filter=True,
                # Each segment decoded on its own: one misheard stretch does not steer
                # the rest of a long call into a repetition loop.
                condition_on_previous_text=False,
                # No fallback to sampling at higher temperatures: the same recording always
                # gives the same words (a re-evaluation must not change the transcript).
                temperature=0.0,
            )
            words = tuple(_collect(segments, progress))
        except (RuntimeError, ValueError) as exc:
            raise SpeechToTextError(f"Whisper failed on this recording: {exc}") from exc
        return SttResult(words=words, model=self.name, language=info.language)


def _collect(segments: Iterable[Any], progress: Progress | None) -> Iterable[Word]:
    for segment in segments:
        for word in segment.words or ():
            if word.word.strip():
                yield Word(word.word, float(word.start), float(word.end), float(word.probability))
        if progress is not None:
            progress(float(segment.end))
