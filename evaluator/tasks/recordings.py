"""A call's recording in the service: checked at intake; fetched, decoded, transcribed,
redacted and kept once in the blob store off the event loop; read back by our route.

Intake (``accept_upload``): the upload is checked in a thread (``check_audio``), so a file
that is not audio, is corrupt, silent or over a cap is a 400 naming ``voice_recording``
before anything is stored. Without ``redact_fields`` it goes into the blob store at once
and the call's row references it.

With ``redact_fields`` the unredacted audio is never written to the blob store or the
database. The call is stored *held* (``NewCall.hold_until``: no worker claims it yet) with
a recording row that has no blob; this process transcribes and silences the upload from
memory (``redact_upload``), keeps only the silenced audio, then releases the call to the
queue, where any worker (this process, another one) finds the analysis and judges it. If
the process stops first, the hold runs out and a worker fails the call saying to post it
again: the upload is gone, as promised. (While the request is read, Starlette spools a
multipart file over 1 MiB to a temporary file of the server's, deleted when the request
ends; it is never part of our storage.)

Worker (``prepare``): the recording of a claimed call as a ``RecordingOutcome``. Processed
once: the analysis (timing inputs, our redacted transcript) is kept beside the blob, so a
re-evaluation reads it and neither downloads nor transcribes again. A call that came as
audio only fails when its recording cannot be used (``RecordingFailed``: a download that may
work later is retried, the rest fail at once; both can be re-run); a call that came with a
transcript is judged on it alone, its notes saying why the recording was not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from evaluator.catalogue.definitions import Catalogue
from evaluator.config import Settings
from evaluator.contract import ObserveRequest, parse_request
from evaluator.errors import EvaluatorError, RequestValidationError
from evaluator.ingest.audio.decode import check_audio
from evaluator.ingest.audio.errors import (
    RECORDING,
    RECORDING_URL,
    AudioError,
    FetchStatusError,
    FetchTimeoutError,
    FetchUnreachableError,
    SpeechToTextError,
)
from evaluator.ingest.audio.fetch import fetch_recording
from evaluator.ingest.audio.stored import RecordingAnalysis, analysis_from_json, analysis_to_json
from evaluator.ingest.audio.stt import SpeechToText
from evaluator.ingest.recording import (
    RecordingOutcome,
    agent_description,
    audio_only,
    process_recording,
)
from evaluator.store.blobs import BlobNotFoundError, BlobStore
from evaluator.store.calls import Claim, NewCall, RecordingRef, Store
from evaluator.transcript import format_duration

__all__ = ["RecordingFailed", "Recordings", "Upload", "audio_only"]

log = logging.getLogger("evaluator.tasks.recordings")

# Failures a later attempt can cure: the file is not there yet, the host is down or slow,
# the hosted transcriber is busy. Everything else (refused address, caps, not audio, ...)
# fails at once.
_TRANSIENT = (FetchStatusError, FetchTimeoutError, FetchUnreachableError, SpeechToTextError)
LOST_UPLOAD = (
    "voice_recording: the upload was held in memory until its PII was silenced, and the "
    "service stopped before that was done; post the call again"
)


class RecordingFailed(EvaluatorError):
    """A call's recording could not be used; ``retryable`` when a later attempt may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        self.message = message
        self.retryable = retryable
        super().__init__(message)


@dataclass(frozen=True)
class Upload:
    """A ``voice_recording`` file as received (multipart), held in memory."""

    filename: str | None
    content_type: str | None
    sha256: str
    data: bytes


class Recordings:
    """Recordings of one process: intake checks, the redaction of held uploads, the worker's
    recording step, and the blob store they are kept in."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        stt: SpeechToText | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._blobs = blobs
        self.limits = settings.audio_limits()
        self._stt = stt
        # Decoding and speech-to-text are CPU-bound: a few at once per process, the rest wait
        # here (without holding a thread).
        self._slots = asyncio.Semaphore(settings.audio_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def scoped(self, project_id: int | None) -> Recordings:
        """The same recordings (slots, tasks, blob store shared) over a store handle that sees
        only ``project_id``'s calls (``Service.scoped``); ``None``: every project."""
        if project_id == self.store.project_id:
            return self
        view = copy.copy(self)
        view.store = self.store.scoped(project_id)
        return view

    @property
    def blobs(self) -> BlobStore:
        """The blob store at ``EVALUATOR_BLOB_URL``, opened on first use (a service that
        never sees a recording never creates its folder)."""
        if self._blobs is None:
            self._blobs = BlobStore(self.settings.blob_url)
        return self._blobs

    def speech_to_text(self) -> SpeechToText:
        """The transcriber, built on first use (the local model loads on its first call)."""
        if self._stt is None:
            self._stt = self.settings.speech_to_text()
        return self._stt

    # Intake

    async def accept_upload(self, new: NewCall, upload: Upload) -> NewCall:
        """The call with its upload checked (a 400 naming the field when it is not usable
        audio) and referenced: stored in the blob store, or, with ``redact_fields``, held
        for ``redact_upload`` and not stored at all."""
        try:
            info = await asyncio.to_thread(check_audio, upload.data, self.limits)
        except AudioError as exc:
            raise RequestValidationError({exc.field: [exc.message]}) from None
        ref = RecordingRef("upload", upload.filename, upload.content_type, upload.sha256)
        if new.request.get("redact_fields"):
            # Long enough to transcribe the call on a slow CPU; a process that dies lets it
            # run out, and a worker then fails the call with LOST_UPLOAD.
            hold = timedelta(seconds=120 + 3 * info.duration)
            return replace(new, recording=ref, hold_until=datetime.now(UTC) + hold)
        stored = await asyncio.to_thread(self.blobs.put, upload.data)
        return replace(new, recording=replace(ref, blob_key=stored.key, size=stored.size))

    def redact_upload(self, pk: int, upload: Upload, catalogue: Catalogue) -> None:
        """Silence the PII of a held upload in the background of this process, keep only
        that, and release the call to the queue."""
        task = asyncio.create_task(self._redact_upload(pk, upload, catalogue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _redact_upload(self, pk: int, upload: Upload, catalogue: Catalogue) -> None:
        base = RecordingRef("upload", upload.filename, upload.content_type, upload.sha256)
        try:
            request = parse_request(await asyncio.to_thread(self.store.stored_request, pk))
            await self._process_and_keep(pk, upload.data, base, request, catalogue)
        except Exception as exc:  # the call must fail with the reason, never wait forever
            if not isinstance(exc, AudioError | RecordingFailed):
                log.exception("redacting the recording of call %s failed", pk)
            reason = f"{exc}; the upload was not kept (redact_fields): post the call again"
            failed = replace(base, analysis={"failed": reason})
            with contextlib.suppress(EvaluatorError):  # the call was deleted meanwhile
                await asyncio.to_thread(self.store.save_recording, pk, failed, duration=None)
        with contextlib.suppress(EvaluatorError):  # unreachable store: the hold runs out
            await asyncio.to_thread(self.store.release_hold, pk)

    async def delete_calls(self, pks: list[int], *, retain_evaluations: bool) -> None:
        """``Store.delete_calls``, then the recordings no call references any more are
        removed from the blob store (a call deleted with its evaluations retained keeps its
        recording: its row stays)."""
        keys = await asyncio.to_thread(self.store.blob_keys, pks)
        await asyncio.to_thread(self.store.delete_calls, pks, retain_evaluations=retain_evaluations)
        for key in keys:
            if not await asyncio.to_thread(self.store.blob_in_use, key):
                await asyncio.to_thread(self.blobs.delete, key)

    async def close(self) -> None:
        """Stop redactions in flight (their calls fail once their hold runs out)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # The worker's step

    async def prepare(self, claim: Claim, catalogue: Catalogue) -> RecordingOutcome | None:
        """What the claimed call's recording says, or None when it has none to use. Raises
        ``RecordingFailed`` for a call that came as audio only and whose recording cannot
        be used."""
        if not claim.recorded and claim.recording_url is None:
            return None  # nothing stored, nothing to fetch: no lookup, the request not decoded
        try:
            request = await asyncio.to_thread(_request_of, claim)
        except RequestValidationError:
            return None  # intake's read_request answers for the request itself
        try:
            return await self._outcome(claim.call_pk, request, catalogue)
        except (AudioError, RecordingFailed, BlobNotFoundError) as exc:
            failure = _failure(exc)
        except Exception as exc:  # a bug must not lose the call: a failed attempt says what
            log.exception("the recording of call %s raised", claim.call_pk)
            why = f"internal error: {type(exc).__name__}: {exc}"
            failure = RecordingFailed(why, retryable=True)
        if not audio_only(request):
            return RecordingOutcome.unused(failure.message)
        raise failure

    async def _outcome(
        self, pk: int, request: ObserveRequest, catalogue: Catalogue
    ) -> RecordingOutcome | None:
        ref = await asyncio.to_thread(self.store.recording, pk)
        if ref is not None and ref.analysis is not None:
            if "failed" in ref.analysis:
                raise RecordingFailed(str(ref.analysis["failed"]), retryable=False)
            return _from_analysis(ref, request)
        if not audio_only(request) and not self.settings.recording_timing:
            return None
        if ref is not None and ref.blob_key is not None:
            data = await asyncio.to_thread(self.blobs.read, ref.blob_key)
        elif ref is not None:
            raise RecordingFailed(LOST_UPLOAD, retryable=False)
        elif request.voice_recording_url is not None:
            fetched = await fetch_recording(
                str(request.voice_recording_url), self.settings.fetch_settings()
            )
            data, digest = fetched.data, hashlib.sha256(fetched.data).hexdigest()
            ref = RecordingRef("url", _name_of(fetched.url), fetched.content_type, digest)
        else:
            return None
        return await self._process_and_keep(pk, data, ref, request, catalogue)

    async def _process_and_keep(
        self,
        pk: int,
        data: bytes,
        ref: RecordingRef,
        request: ObserveRequest,
        catalogue: Catalogue,
    ) -> RecordingOutcome:
        """Decode, measure, transcribe and redact in a thread, then keep what may be kept:
        the (silenced) audio in the blob store, the analysis and our transcript in the
        database."""
        description = agent_description(catalogue, request)
        async with self._slots:
            try:
                outcome = await asyncio.to_thread(
                    process_recording, data, ref.content_type, request,
                    stt=self.speech_to_text, limits=self.limits, agent_description=description,
                    check_transcript=self.settings.transcription_check,
                )  # fmt: skip
            except AudioError as exc:
                if ref.source != "url" or exc.field != RECORDING:
                    raise
                # Downloaded bytes: the field the caller can fix is the URL.
                raise RecordingFailed(f"{RECORDING_URL}: {exc.message}",
                                      retryable=isinstance(exc, _TRANSIENT)) from exc  # fmt: skip
        audio = outcome.audio
        if audio is None:  # process_recording always measures; kept for the type
            raise RecordingFailed("the recording gave no timing", retryable=False)
        stored = await asyncio.to_thread(self.blobs.put, outcome.stored)
        model = outcome.transcription.stt_model if outcome.transcription else None
        analysis = analysis_to_json(RecordingAnalysis(audio, outcome.heard, model))
        kept = replace(ref, blob_key=stored.key, size=stored.size,
                       content_type=outcome.content_type, analysis=analysis)  # fmt: skip
        ours = outcome.transcript
        await asyncio.to_thread(
            self.store.save_recording, pk, kept, duration=format_duration(audio.duration),
            transcript=(ours.to_text(), ours.to_object()) if ours is not None else None,
        )  # fmt: skip
        return outcome


def _from_analysis(ref: RecordingRef, request: ObserveRequest) -> RecordingOutcome:
    """The outcome of a recording processed before, from its stored analysis."""
    analysis = analysis_from_json(ref.analysis or {})
    only = audio_only(request)
    return RecordingOutcome(
        audio=analysis.audio,
        content_type=ref.content_type,
        transcript=analysis.heard if only else None,
        heard=analysis.heard,
        notes=() if only and analysis.heard is not None else analysis.audio.notes,
    )


def _failure(exc: Exception) -> RecordingFailed:
    if isinstance(exc, RecordingFailed):
        return exc
    if isinstance(exc, BlobNotFoundError):
        return RecordingFailed(f"voice_recording: the stored recording is gone ({exc})",
                               retryable=False)  # fmt: skip
    return RecordingFailed(str(exc), retryable=isinstance(exc, _TRANSIENT))


def _name_of(url: str) -> str | None:
    """The last path segment of a download's URL (its file name), without the query."""
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name[:255] or None


def _request_of(claim: Claim) -> ObserveRequest:
    """The claimed call's request, parsed (CPU work over the whole call: in a thread)."""
    return parse_request(claim.effective_request())
