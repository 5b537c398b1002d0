"""Audio intake: a call's recording → timing metrics, and without a transcript, the transcript.

decode (PyAV, 16 kHz per channel) → voice activity per channel (Silero, edges on frame
levels) → speech-to-text with word timestamps (local Whisper, or hosted through litellm) →
the agent's channel (given, or detected) or, on mono, two voices told apart → words merged
into canonical turns → timing from the signal. ``fetch_recording`` downloads a
``voice_recording_url`` under SSRF rules; ``redact_recording`` silences redacted words.
"""

from evaluator.ingest.audio.channels import ChannelChoice, choose_agent_channel
from evaluator.ingest.audio.decode import SAMPLE_RATE, AudioLimits, DecodedAudio, decode_audio
from evaluator.ingest.audio.encode import encode_audio
from evaluator.ingest.audio.errors import (
    AudioError,
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    FetchError,
    FetchRefusedError,
    FetchStatusError,
    FetchTimeoutError,
    FetchTooLargeError,
    FetchUnreachableError,
    NotAudioError,
    SilentAudioError,
    SpeechToTextError,
    UnsupportedAudioError,
)
from evaluator.ingest.audio.fetch import FetchedRecording, FetchSettings, fetch_recording
from evaluator.ingest.audio.litellm_stt import LiteLLMSTT
from evaluator.ingest.audio.merge import TimedWord, words_to_turns
from evaluator.ingest.audio.model_files import default_cache_dir, resolve_whisper_model
from evaluator.ingest.audio.pipeline import (
    AudioSettings,
    AudioTranscription,
    CallAudio,
    ProgressCallback,
    measure_call_audio,
    transcribe_call,
)
from evaluator.ingest.audio.redact_audio import (
    pii_words,
    redact_recording,
    redacted_words,
    silence_spans,
)
from evaluator.ingest.audio.select import speech_to_text
from evaluator.ingest.audio.stt import SpeechToText, SttResult, WhisperSettings, WhisperSTT, Word
from evaluator.ingest.audio.timing import AudioTiming, AudioValue, measure_timing
from evaluator.ingest.audio.vad import SpeechInterval, VadSettings, speech_intervals
from evaluator.ingest.audio.wer import WordErrorRate, transcript_wer, word_error_rate

__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "AudioLimits",
    "AudioSettings",
    "AudioTiming",
    "AudioTooLargeError",
    "AudioTooLongError",
    "AudioTranscription",
    "AudioValue",
    "CallAudio",
    "ChannelChoice",
    "CorruptAudioError",
    "DecodedAudio",
    "FetchError",
    "FetchRefusedError",
    "FetchSettings",
    "FetchStatusError",
    "FetchTimeoutError",
    "FetchTooLargeError",
    "FetchUnreachableError",
    "FetchedRecording",
    "LiteLLMSTT",
    "NotAudioError",
    "ProgressCallback",
    "SilentAudioError",
    "SpeechInterval",
    "SpeechToText",
    "SpeechToTextError",
    "SttResult",
    "TimedWord",
    "UnsupportedAudioError",
    "VadSettings",
    "WhisperSTT",
    "WhisperSettings",
    "Word",
    "WordErrorRate",
    "choose_agent_channel",
    "decode_audio",
    "default_cache_dir",
    "encode_audio",
    "fetch_recording",
    "measure_call_audio",
    "measure_timing",
    "pii_words",
    "redact_recording",
    "redacted_words",
    "resolve_whisper_model",
    "silence_spans",
    "speech_intervals",
    "speech_to_text",
    "transcribe_call",
    "transcript_wer",
    "word_error_rate",
    "words_to_turns",
]
