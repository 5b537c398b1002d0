"""From a request to a call ready to judge: the agent resolved, the transcript normalized, the
metrics chosen. Every problem is collected into one field-keyed ``RequestValidationError``
before anything is stored or sent anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from evaluator.catalogue.definitions import (
    GOAL_METRIC_ID,
    AgentDefinition,
    Catalogue,
    MetricDefinition,
)
from evaluator.contract import ObserveRequest, ignored_fields, parse_request
from evaluator.errors import RequestValidationError, TranscriptFormatError, UnknownIdError
from evaluator.ingest.audio.pipeline import CallAudio
from evaluator.ingest.injection import injection_notes
from evaluator.ingest.limits import Limits, check_fields, check_transcript
from evaluator.ingest.recording import RecordingOutcome
from evaluator.ingest.transcripts import ParseOptions, parse_transcript, transcript_types
from evaluator.redact.mask import RedactionReport, redact_call
from evaluator.transcript import Transcript

__all__ = ["PreparedCall", "prepare_call", "read_request", "read_transcript"]


@dataclass(frozen=True)
class PreparedCall:
    request: ObserveRequest
    agent: AgentDefinition
    transcript: Transcript
    metrics: tuple[MetricDefinition, ...]
    redaction: RedactionReport | None = None
    limits: Limits = field(default_factory=Limits)
    # What the recording says (duration, timing by voice activity), when the call has one:
    # timing metrics then come from the signal instead of the transcript's timestamps.
    audio: CallAudio | None = None
    # Our transcript of the recording, beside the call's own (the transcription-accuracy
    # metric compares them); redacted as the call's transcript is.
    heard: Transcript | None = None
    # How the request was read: the unknown fields that were ignored, say.
    notes: tuple[str, ...] = ()

    def stored_request(self) -> dict[str, Any]:
        """The request body to store: ``request`` is already redacted by ``prepare_call``
        (transcript_json, metadata, dynamic_variables) and parses again as a request."""
        return self.request.model_dump(mode="json", exclude_defaults=True)


def read_request(
    data: Any,
    catalogue: Catalogue,
    limits: Limits | None = None,
    *,
    recording: RecordingOutcome | None = None,
    awaiting_audio: bool = False,
    stored: bool = False,
) -> PreparedCall:
    """Validate a raw request body all the way (every value's shape and size, the contract,
    agent, metrics, transcript). ``limits`` default to the settings' defaults. ``recording``
    is what the call's recording said (``ingest.recording.process_recording``).
    ``awaiting_audio``: a call that came as audio only is valid with no transcript yet (the
    service stores it before its recording is fetched and transcribed); its transcript is
    empty until then. Unknown fields are ignored, as Cekura's server ignores them, and
    named in ``notes``. ``stored``: the body is a call read back from the store, whose
    values were walked at intake (depth, sizes, characters); they are not walked again."""
    limits = limits or Limits()
    if isinstance(data, Mapping) and not stored:
        check_fields(data, limits)
    prepared = _prepare(parse_request(data), catalogue, limits, recording, awaiting_audio)
    notes = tuple(f"ignored unknown field {name!r}" for name in ignored_fields(data))
    return replace(prepared, notes=(*notes, *prepared.notes)) if notes else prepared


def read_transcript(data: Any, limits: Limits | None = None) -> tuple[ObserveRequest, Transcript]:
    """A raw request body validated as far as its transcript (no agent or metrics, so no
    catalogue): what ``evaluator transcript`` prints. A transcript that does not fit its
    format raises ``TranscriptFormatError``; everything else ``RequestValidationError``."""
    limits = limits or Limits()
    if isinstance(data, Mapping):
        check_fields(data, limits)
    request = parse_request(data)
    transcript = parse_transcript(
        request.transcript_type,
        request.transcript_json,
        ParseOptions(main_agent_channel_index=request.main_agent_channel_index),
    )
    problems = check_transcript(transcript, limits)
    if problems:
        raise RequestValidationError({"transcript_json": problems})
    return request, transcript


def prepare_call(
    request: ObserveRequest,
    catalogue: Catalogue,
    limits: Limits | None = None,
    *,
    recording: RecordingOutcome | None = None,
) -> PreparedCall:
    """Resolve what a parsed request names; errors are keyed by the field that named it."""
    limits = limits or Limits()
    check_fields({name: getattr(request, name) for name in type(request).model_fields}, limits)
    return _prepare(request, catalogue, limits, recording)


def _prepare(
    request: ObserveRequest,
    catalogue: Catalogue,
    limits: Limits,
    recording: RecordingOutcome | None = None,
    awaiting_audio: bool = False,
) -> PreparedCall:
    errors: dict[str, list[str]] = {}
    agent = _resolve_agent(request, catalogue, errors)
    metrics: tuple[MetricDefinition, ...] = ()
    if agent is not None:
        metrics = _select_metrics(request, agent, catalogue, errors)
    transcript = Transcript()
    if recording is not None and recording.transcript is not None:
        transcript = recording.transcript  # the call came as audio only: ours is its text
        problems = check_transcript(transcript, limits)
        if problems:
            errors.setdefault("voice_recording", []).extend(problems)
    elif request.transcript_json is None:
        if not awaiting_audio:
            errors.setdefault("voice_recording", []).append(
                "this call has no transcript: its recording must be transcribed first"
            )
    elif request.transcript_type not in transcript_types():
        known = ", ".join(transcript_types())
        errors.setdefault("transcript_type", []).append(
            f"expected one of {known}; got {request.transcript_type!r}"
        )
    else:
        transcript = _parse(request, errors, limits)
    if errors or agent is None:
        raise RequestValidationError(errors)
    # Before anything reads the transcript: prompts, computed metrics and the stored result.
    redacted, transcript, redaction = redact_call(request, transcript)
    notes = injection_notes(redacted, transcript)
    if notes:
        transcript = transcript.model_copy(update={"notes": (*transcript.notes, *notes)})
    audio = recording.audio if recording is not None else None
    heard = recording.heard if recording is not None else None
    return PreparedCall(
        redacted, agent, transcript, metrics, redaction, limits=limits, audio=audio, heard=heard,
        notes=recording.notes if recording is not None else (),
    )  # fmt: skip


def _parse(request: ObserveRequest, errors: dict[str, list[str]], limits: Limits) -> Transcript:
    try:
        transcript = parse_transcript(
            request.transcript_type,
            request.transcript_json,
            ParseOptions(main_agent_channel_index=request.main_agent_channel_index),
        )
    except (TranscriptFormatError, UnknownIdError) as exc:
        errors.setdefault("transcript_json", []).append(str(exc))
        return Transcript()
    problems = check_transcript(transcript, limits)
    if problems:
        errors.setdefault("transcript_json", []).extend(problems)
    return transcript


def _resolve_agent(
    request: ObserveRequest, catalogue: Catalogue, errors: dict[str, list[str]]
) -> AgentDefinition | None:
    by_id = by_assistant = None
    try:
        if request.agent is not None:
            by_id = catalogue.agent(request.agent)
    except UnknownIdError as exc:
        errors.setdefault("agent", []).append(str(exc))
    try:
        if request.assistant_id is not None:
            by_assistant = catalogue.agent_by_assistant(request.assistant_id)
    except UnknownIdError as exc:
        errors.setdefault("assistant_id", []).append(str(exc))
    if by_id is not None and by_assistant is not None and by_id.id != by_assistant.id:
        errors.setdefault("assistant_id", []).append(
            f"assistant_id {request.assistant_id!r} belongs to agent {by_assistant.id}, "
            f"but agent is {by_id.id}"
        )
        return None
    return by_id or by_assistant


def _select_metrics(
    request: ObserveRequest,
    agent: AgentDefinition,
    catalogue: Catalogue,
    errors: dict[str, list[str]],
) -> tuple[MetricDefinition, ...]:
    own = catalogue.agent_metrics(agent)
    if request.metric_ids is None:
        return tuple(own)
    chosen: list[MetricDefinition] = []
    own_ids = {m.id for m in own}
    for wanted in request.metric_ids:
        try:
            metric = catalogue.metric(wanted)
        except UnknownIdError as exc:
            errors.setdefault("metric_ids", []).append(str(exc))
            continue
        if metric.id not in own_ids:
            errors.setdefault("metric_ids", []).append(
                f"metric {wanted!r} is not one of agent {agent.id}'s metrics"
            )
            continue
        chosen.append(metric)
    # The success rubric reads its metrics: they run even when metric_ids leaves them out,
    # or success would be decided on rules silently skipped.
    rubric_ids = (
        [r.metric for r in agent.success] if agent.success is not None else [GOAL_METRIC_ID]
    )
    chosen.extend(catalogue.metric(i) for i in rubric_ids if i in catalogue.metrics)
    return tuple({m.id: m for m in chosen}.values())
