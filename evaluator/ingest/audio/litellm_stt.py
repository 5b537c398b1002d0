"""Hosted speech-to-text through litellm (``EVALUATOR_STT_MODEL``, e.g. ``whisper-1``,
``groq/whisper-large-v3``, ``deepgram/nova-2``, or any OpenAI-compatible server via
``api_base``). This module is litellm's home on the audio side: nothing else imports it.

A channel is sent as 16 kHz FLAC, in pieces of at most ``chunk_seconds`` cut at the quietest
moment near each boundary (hosted APIs cap an upload at about 25 MB), asking for
``verbose_json`` with word timestamps; each piece's times are shifted back onto the channel.
A service that answers segments but no words gets its segment's words spread evenly over the
segment, and the result says so in its model name.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.decode import SAMPLE_RATE
from evaluator.ingest.audio.encode import encode_audio
from evaluator.ingest.audio.errors import SpeechToTextError
from evaluator.ingest.audio.stt import Progress, SttResult, Word

__all__ = ["LiteLLMSTT"]

_SEARCH_SECONDS = 10.0  # how far back from a boundary to look for a quiet place to cut


@dataclass(frozen=True)
class LiteLLMSTT:
    """A hosted transcriber. ``model`` is a litellm model string; ``api_base`` and
    ``api_key`` default to the provider's environment variables."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    language: str | None = "en"
    timeout: float = 300.0
    num_retries: int = 3
    chunk_seconds: float = 600.0

    @property
    def name(self) -> str:
        return f"litellm:{self.model}"

    def transcribe(
        self, samples: NDArray[np.float32], *, progress: Progress | None = None
    ) -> SttResult:
        """``atranscribe`` run to completion on a fresh event loop (from a worker thread;
        inside a running loop, await ``atranscribe`` instead)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.atranscribe(samples, progress=progress))
        raise SpeechToTextError(
            f"{self.name}: transcribe() was called inside a running event loop; "
            "await atranscribe() there instead"
        )

    async def atranscribe(
        self, samples: NDArray[np.float32], *, progress: Progress | None = None
    ) -> SttResult:
        """The channel's words, piece by piece."""
        words: list[Word] = []
        spread = False
        for start, end in _pieces(samples, self.chunk_seconds):
            answer = await self._request(samples[start:end])
            piece, evened = _words(answer, start / SAMPLE_RATE)
            words.extend(piece)
            spread = spread or evened
            if progress is not None:
                progress(end / SAMPLE_RATE)
        name = self.name + (" (segment times spread over words)" if spread else "")
        return SttResult(words=tuple(words), model=name, language=self.language)

    async def _request(self, piece: NDArray[np.float32]) -> Any:
        litellm, openai_error = _litellm()
        try:
            return await litellm.atranscription(
                model=self.model,
                file=("channel.flac", encode_audio([piece], "flac")),
                api_base=self.api_base,
                api_key=self.api_key,
                language=self.language,
                response_format="verbose_json",
                timestamp_granularities=["word", "segment"],
                timeout=self.timeout,
                # litellm hands max_retries to the OpenAI client, which otherwise retries twice
                # more on its own whatever num_retries says.
                max_retries=self.num_retries,
            )
        except openai_error as exc:
            raise SpeechToTextError(f"{self.name}: {type(exc).__name__}: {exc}") from exc


def _litellm() -> tuple[Any, type[Exception]]:
    # litellm fetches its model price list over the network at import unless told not to.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # the audio side's one home of litellm
    import openai  # litellm's exceptions subclass openai's

    return litellm, openai.OpenAIError


def _pieces(samples: NDArray[np.float32], chunk_seconds: float) -> list[tuple[int, int]]:
    """``[start, end)`` sample ranges of at most ``chunk_seconds``, each cut at the quietest
    10 ms frame in the ten seconds before the boundary (not mid-word, if there is a pause)."""
    limit, frame = int(chunk_seconds * SAMPLE_RATE), SAMPLE_RATE // 100
    cuts, start = [], 0
    while len(samples) - start > limit:
        window_start = start + max(frame, limit - int(_SEARCH_SECONDS * SAMPLE_RATE))
        window = samples[window_start : start + limit]
        frames = len(window) // frame
        energy = np.sum(window[: frames * frame].reshape(frames, frame) ** 2, axis=1)
        cut = window_start + int(np.argmin(energy)) * frame if frames else start + limit
        cuts.append((start, cut))
        start = cut
    cuts.append((start, len(samples)))
    return cuts


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _words(answer: Any, offset: float) -> tuple[list[Word], bool]:
    """The answer's words shifted by ``offset`` seconds, and whether they were spread
    evenly over segments because the service gave no word times."""
    raw = _field(answer, "words") or []
    if raw:
        return [_word(_field(w, "word"), _field(w, "start"), _field(w, "end"), offset)
                for w in raw if str(_field(w, "word") or "").strip()], False  # fmt: skip
    segments = _field(answer, "segments") or []
    if segments:
        return [w for s in segments for w in _spread(s, offset)], True
    if str(_field(answer, "text") or "").strip():
        raise SpeechToTextError(
            "the hosted model answered text without word or segment times; choose a model "
            "that supports response_format=verbose_json (e.g. whisper-1)"
        )
    return [], False


def _word(text: Any, start: Any, end: Any, offset: float) -> Word:
    # A leading space marks a new word, as Whisper writes them (see merge.spell).
    return Word(" " + str(text).strip(), float(start) + offset, float(end) + offset)


def _spread(segment: Any, offset: float) -> Sequence[Word]:
    tokens = str(_field(segment, "text") or "").split()
    start, end = float(_field(segment, "start") or 0.0), float(_field(segment, "end") or 0.0)
    step = (end - start) / len(tokens) if tokens else 0.0
    return [
        _word(token, start + k * step, start + (k + 1) * step, offset)
        for k, token in enumerate(tokens)
    ]
