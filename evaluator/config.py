"""Configuration, built once from the environment (``EVALUATOR_*``) and flags, then passed in."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evaluator.ingest.limits import Limits

if TYPE_CHECKING:  # the audio stack (PyAV, numpy, faster-whisper) loads only when used
    from evaluator.ingest.audio.decode import AudioLimits
    from evaluator.ingest.audio.fetch import FetchSettings
    from evaluator.ingest.audio.stt import SpeechToText
    from evaluator.store.db import Pool

__all__ = ["Settings", "builtin_dir"]


def builtin_dir(name: str) -> Path:
    """The shipped ``metrics``/``prompts`` folder: inside the wheel, or the source checkout."""
    package = Path(__file__).resolve().parent
    bundled = package / "_builtin" / name
    return bundled if bundled.is_dir() else package.parent / name


class Settings(BaseSettings):
    """Every knob, with its environment variable ``EVALUATOR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="EVALUATOR_", extra="ignore")

    model: str | None = Field(
        default=None, description="litellm model string; unset = offline model"
    )
    api_base: str | None = None
    api_key: str | None = None
    structured_mode: Literal["auto", "tools", "json_schema", "json", "constrained_json"] = "auto"
    timeout: float = 120.0
    num_retries: int = Field(default=3, ge=0)
    max_reasks: int = Field(default=2, ge=0)
    max_tokens: int = Field(default=4096, ge=64)
    temperature: float = 0.0
    # The judge's price in USD per million tokens, for a model litellm has no price for (a
    # self-hosted one: what its machines cost per token, or 0). Given, it overrides litellm's
    # price list; unset, a model litellm does not know reports its cost as unknown.
    input_cost_per_mtok: float | None = Field(default=None, ge=0)
    output_cost_per_mtok: float | None = Field(default=None, ge=0)
    concurrency: int = Field(default=8, ge=1)
    # After start-up, keep what it built out of the garbage collector's way (bootstrap's
    # settle_heap): a sixth of a busy worker's CPU went to collections that walked it.
    settle_heap: bool = True
    metrics_dirs: list[Path] = Field(default_factory=lambda: [builtin_dir("metrics")])
    prompts_dirs: list[Path] = Field(default_factory=lambda: [builtin_dir("prompts")])
    agents_dirs: list[Path] = Field(default_factory=lambda: [Path("agents")])
    offline_context: int = Field(default=16384, ge=2048)
    # The observe service (evaluator serve).
    database_url: str = "sqlite:///evaluator.db"
    api_keys: str = Field(default="", description="comma-separated keys accepted in X-API-Key")
    allow_unauthenticated: bool = False
    # /docs, /redoc and /openapi.json (they describe the routes, never data): off in a
    # deployment that should not advertise its API.
    docs: bool = True
    allow_duplicate_calls: bool = False
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # CPU-heavy steps of a large call (a body's parse, validation and redaction; a call's
    # computed metrics and prompts) run in this many worker processes, so they never hold
    # the GIL the event loop needs; 0 keeps them in threads. Bodies, and calls to evaluate,
    # under offload_min_bytes stay in a thread (the process hop costs more than it saves).
    cpu_processes: int = Field(default=2, ge=0)
    offload_min_bytes: int = Field(default=64 * 1024, ge=0)
    # Start those processes with the service (they import the pipeline once, in a forkserver)
    # rather than at the first large call, which would otherwise wait for them.
    offload_warm: bool = True
    # What one call may hold (evaluator/ingest/limits.py): each a 400 naming the field.
    max_depth: int = Field(default=32, ge=2, description="nesting of any JSON value")
    max_string_chars: int = Field(default=1_000_000, ge=1000, description="any one string")
    max_turns: int = Field(default=10_000, ge=1, description="turns per call")
    max_call_seconds: float = Field(default=24 * 3600.0, gt=0, description="turn times")
    max_feedback_chars: int = Field(default=10_000, ge=1)
    max_metadata_bytes: int = Field(
        default=64 * 1024, ge=2, description="metadata, dynamic_variables: each, as JSON"
    )
    max_turn_chars: int = Field(default=20_000, ge=1, description="one turn's content")
    max_transcript_chars: int = Field(default=400_000, ge=1, description="sent to the judge")
    max_call_tokens: int = Field(
        default=500_000, ge=1, description="judge budget per call, estimated before sending"
    )
    # Longest a request waits for the database (a SQLite writer, a lock, a pooled
    # PostgreSQL connection) before a 503.
    db_busy_timeout: float = Field(default=10.0, gt=0)
    # PostgreSQL connections per process (web process or Celery worker): this many kept,
    # up to db_max_overflow more while busy. Processes x (size + overflow), plus the
    # judgment cache's few, must stay under the server's max_connections.
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=5.0, ge=0)
    retry_max_seconds: float = Field(default=300.0, ge=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    poll_seconds: float = Field(default=1.0, gt=0)
    wait_timeout_seconds: float = Field(default=300.0, gt=0)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Alerts' webhooks may only go to URLs starting with one of these (comma-separated), and
    # a JSON delivery without its own secret is signed with alert_webhook_secret.
    alert_webhook_allow: str = "https://hooks.slack.com/"
    alert_webhook_secret: str | None = None
    # The review UI's session cookie: its lifetime, and Secure (set true behind HTTPS).
    ui_session_seconds: int = Field(default=8 * 3600, ge=60)
    ui_secure_cookie: bool = False
    # Audio (evaluator/ingest/audio/): speech to text, caps, where recordings are kept.
    stt_model: str | None = Field(
        default=None, description="hosted speech-to-text (litellm), e.g. openai/whisper-1"
    )
    stt_api_base: str | None = None
    stt_api_key: str | None = None
    whisper_model: str = Field(
        default="base", description="'base' (bundled) or a CTranslate2 Whisper model folder"
    )
    stt_language: str | None = "en"
    stt_cpu_threads: int = Field(default=2, ge=1)
    max_recording_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    max_recording_seconds: float = Field(default=4 * 3600.0, gt=0)
    recording_fetch_timeout: float = Field(default=60.0, gt=0)
    # Networks a voice_recording_url may resolve to besides public addresses (tests need
    # 127.0.0.0/8); comma-separated CIDRs. Private, loopback and link-local are refused.
    recording_allow_networks: str = ""
    blob_url: str = Field(default="evaluator-blobs", description="folder or fsspec URL")
    # A recording sent beside a transcript: measured for timing from the signal (a URL is
    # then fetched); false: only calls that came as audio alone are fetched and transcribed.
    recording_timing: bool = True
    # Also transcribe a recording sent beside a transcript, for the transcription-accuracy
    # metric (ours against the provider's): speech-to-text on every such call.
    transcription_check: bool = False
    # Recordings decoded and transcribed at once per process (each uses stt_cpu_threads).
    audio_concurrency: int = Field(default=1, ge=1)
    # Providers' end-of-call webhooks (POST /observability/v1/<provider>/observe/): with a
    # secret set, the provider's signature authenticates a request (a bad one is a 401);
    # without, the API key does.
    vapi_secret: str | None = None
    retell_api_key: str | None = None
    livekit_webhook_secret: str | None = None
    pipecat_webhook_secret: str | None = None
    # The judgment cache (evaluator/judge/cache.py): "sql" keeps answers in the store at
    # database_url (or cache_url), "redis" at cache_url (default redis://127.0.0.1:6379/0).
    cache: Literal["off", "sql", "redis"] = "sql"
    cache_url: str | None = None
    # Celery (evaluator/tasks/): with a broker, `evaluator worker` processes judge the calls
    # and `evaluator serve` only stores and publishes them (Redis or RabbitMQ URL).
    broker_url: str | None = None
    task_queue: str = Field(default="evaluator", description="calls; '<queue>.reevaluate' too")
    sweep_seconds: float = Field(default=10.0, gt=0, description="sweeper's interval")
    webhook_tries: int = Field(default=5, ge=1)
    # One rate limit for every worker (evaluator/judge/shared_limits.py), kept in Redis at
    # rate_limit_url (default: the broker's URL when it is Redis).
    rate_limit_url: str | None = None
    rate_limit_key: str = "evaluator:limits"
    rpm: float | None = Field(default=None, gt=0, description="requests/min, all workers")
    tpm: float | None = Field(default=None, gt=0, description="tokens/min, all workers")
    max_in_flight: int | None = Field(default=None, ge=1, description="requests, all workers")

    @model_validator(mode="after")
    def _price_whole(self) -> Settings:
        """A price is both halves or neither: half a price would report a wrong cost."""
        given = {
            "input_cost_per_mtok": self.input_cost_per_mtok,
            "output_cost_per_mtok": self.output_cost_per_mtok,
        }
        missing = [name for name, value in given.items() if value is None]
        if len(missing) == 1:
            present = next(name for name in given if name not in missing)
            raise ValueError(
                f"EVALUATOR_{missing[0].upper()} is required with EVALUATOR_{present.upper()}"
                " (a price has an input and an output rate; 0 is a rate)"
            )
        return self

    def judge_price(self) -> tuple[float, float] | None:
        """The declared price, USD per prompt token and per completion token (``None``:
        litellm's price list decides)."""
        if self.input_cost_per_mtok is None or self.output_cost_per_mtok is None:
            return None
        return self.input_cost_per_mtok / 1e6, self.output_cost_per_mtok / 1e6

    def db_pool(self) -> Pool:
        """The store's connection pool (``EVALUATOR_DB_POOL_SIZE``, ``_DB_MAX_OVERFLOW``)."""
        from evaluator.store.db import Pool

        return Pool(self.db_pool_size, self.db_max_overflow)

    def limits(self) -> Limits:
        """What one call may hold (``EVALUATOR_MAX_DEPTH``, ``EVALUATOR_MAX_TURNS``, ...), as
        intake takes it."""
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})

    def audio_limits(self) -> AudioLimits:
        """What one recording may be: ``EVALUATOR_MAX_RECORDING_BYTES`` and ``_SECONDS``."""
        from evaluator.ingest.audio.decode import AudioLimits

        return AudioLimits(self.max_recording_bytes, self.max_recording_seconds)

    def fetch_settings(self) -> FetchSettings:
        """How a ``voice_recording_url`` is downloaded: the size cap, the timeout, and the
        networks allowed besides public addresses (``EVALUATOR_RECORDING_ALLOW_NETWORKS``)."""
        from evaluator.ingest.audio.fetch import FetchSettings

        allowed = tuple(n.strip() for n in self.recording_allow_networks.split(",") if n.strip())
        return FetchSettings(max_bytes=self.max_recording_bytes,
                             timeout_seconds=self.recording_fetch_timeout,
                             allow_networks=allowed)  # fmt: skip

    def speech_to_text(self) -> SpeechToText:
        """The transcriber these settings name: hosted (``EVALUATOR_STT_MODEL``) or local
        Whisper (``EVALUATOR_WHISPER_MODEL``). Nothing is loaded until first use."""
        from evaluator.ingest.audio.select import speech_to_text

        return speech_to_text(
            hosted_model=self.stt_model, whisper_model=self.whisper_model,
            api_base=self.stt_api_base, api_key=self.stt_api_key,
            language=self.stt_language, cpu_threads=self.stt_cpu_threads,
        )  # fmt: skip
