"""The audio family of the package's exception tree.

Every error names the request field it is about (``voice_recording`` for the bytes,
``voice_recording_url`` for a download), so the service can answer a field-keyed 400 without
parsing messages, and says what was expected and how to fix it.
"""

from __future__ import annotations

from evaluator.errors import EvaluatorError

__all__ = [
    "AudioError",
    "AudioTooLargeError",
    "AudioTooLongError",
    "CorruptAudioError",
    "FetchError",
    "FetchRefusedError",
    "FetchStatusError",
    "FetchTimeoutError",
    "FetchTooLargeError",
    "FetchUnreachableError",
    "NotAudioError",
    "SilentAudioError",
    "SpeechToTextError",
    "UnsupportedAudioError",
]

RECORDING = "voice_recording"
RECORDING_URL = "voice_recording_url"


class AudioError(EvaluatorError):
    """A recording that cannot be used. ``field`` is the request field it came from."""

    def __init__(self, message: str, *, field: str = RECORDING) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotAudioError(AudioError):
    """The bytes are not a recording in any container the decoder knows, or hold no audio."""


class CorruptAudioError(AudioError):
    """A known container whose audio stream fails to decode part-way (truncated, damaged)."""


class UnsupportedAudioError(AudioError):
    """Audio in a codec or channel layout this engine does not read."""


class SilentAudioError(AudioError):
    """A recording with no sound in it, or no speech on any channel."""


class AudioTooLargeError(AudioError):
    """More bytes than the configured cap."""

    def __init__(self, size: int, limit: int, *, field: str = RECORDING) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"recording is over the size cap ({_mib(size)} > {_mib(limit)}); "
            "send a shorter or more compressed recording, or raise the cap",
            field=field,
        )


class AudioTooLongError(AudioError):
    """Longer than the configured duration cap."""

    def __init__(self, seconds: float, limit: float, *, field: str = RECORDING) -> None:
        self.seconds = seconds
        self.limit = limit
        super().__init__(
            f"recording is longer than the duration cap ({seconds:.0f} s > {limit:.0f} s); "
            "send a shorter recording, or raise the cap",
            field=field,
        )


class FetchError(AudioError):
    """``voice_recording_url`` could not be downloaded. ``url`` is the address that failed
    (after redirects, the hop that failed)."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{message} ({_short(url)})", field=RECORDING_URL)


class FetchRefusedError(FetchError):
    """Refused before any request: a scheme other than http(s), an address that is not
    public (private, loopback, link-local, ...) and not allowed, or too many redirects."""


class FetchStatusError(FetchError):
    """The server answered with a status other than 2xx (or a redirect we follow)."""

    def __init__(self, url: str, status: int) -> None:
        self.status = status
        super().__init__(url, f"the server answered HTTP {status}; expected 200 with the audio")


class FetchTimeoutError(FetchError):
    """No complete answer within the timeout."""


class FetchUnreachableError(FetchError):
    """The host name does not resolve, or nothing answers at its address."""


class FetchTooLargeError(FetchError):
    """The download passed the size cap (announced, or counted while streaming)."""

    def __init__(self, url: str, limit: int) -> None:
        self.limit = limit
        super().__init__(url, f"the recording is over the size cap of {_mib(limit)}")


class SpeechToTextError(AudioError):
    """The speech-to-text model is missing, misconfigured, or failed on this recording."""


def _mib(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size:.0f} bytes"


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
