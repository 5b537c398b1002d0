"""Which transcriber a deployment uses, from its settings: a hosted model through litellm
when ``EVALUATOR_STT_MODEL`` names one, else local Whisper (the bundled ``base`` or the
folder of any CTranslate2 Whisper model)."""

from __future__ import annotations

from pathlib import Path

from evaluator.ingest.audio.litellm_stt import LiteLLMSTT
from evaluator.ingest.audio.model_files import BUILTIN_MODEL
from evaluator.ingest.audio.stt import SpeechToText, WhisperSettings, WhisperSTT

__all__ = ["speech_to_text"]


def speech_to_text(
    *,
    hosted_model: str | None = None,
    whisper_model: str = BUILTIN_MODEL,
    api_base: str | None = None,
    api_key: str | None = None,
    cache_dir: Path | None = None,
    language: str | None = "en",
    cpu_threads: int = 2,
) -> SpeechToText:
    """The transcriber for these settings. Nothing is loaded or contacted yet: Whisper loads
    on first use (or ``load()`` at start-up), a hosted model is called per channel."""
    if hosted_model:
        return LiteLLMSTT(hosted_model, api_base=api_base, api_key=api_key, language=language)
    settings = WhisperSettings(
        model=whisper_model, cache_dir=cache_dir, language=language, cpu_threads=cpu_threads
    )
    return WhisperSTT(settings)
