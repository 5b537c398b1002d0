"""Reading an observe request off the wire: JSON, form-urlencoded or multipart (as Cekura's
server takes them), into a call ready to store.

The body is kept as received (JSON text; form fields re-encoded as JSON), less any unknown
fields, with a hash of the raw body for idempotency: a byte-identical JSON re-post hashes the
same. Form values are text: nested fields (``transcript_json``, ``metadata``, ...) are JSON
text, and an empty value means absent, as DRF reads forms. Every field then goes through
intake's one walk (``ingest.limits.check_fields``): NUL (PostgreSQL cannot store it), lone
surrogates, non-finite numbers, nesting and sizes are 400s naming the field, on every route
that takes a body.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request

from evaluator.catalogue.definitions import Catalogue
from evaluator.contract import ObserveRequest, ignored_fields
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import read_request
from evaluator.ingest.limits import Limits, check_fields, decode_text, loads_json
from evaluator.ingest.transcripts import transcript_types
from evaluator.store.calls import NewCall
from evaluator.tasks.recordings import Upload
from evaluator.transcript import format_duration

__all__ = [
    "OBSERVE_BODY",
    "ObserveBody",
    "intake_json",
    "read_json_body",
    "read_observe_body",
    "stored_call",
]

# Form fields that carry JSON when posted as multipart/form-data.
JSON_FORM_FIELDS = ("transcript_json", "metadata", "dynamic_variables", "redact_fields")
RECORDING_FIELD = "voice_recording"

_schema = ObserveRequest.model_json_schema()
# The accepted types come from the provider registry (one module per provider).
_schema["properties"]["transcript_type"]["enum"] = transcript_types()
_multipart_schema = {
    **_schema,
    "properties": {
        **_schema["properties"],
        RECORDING_FIELD: {"type": "string", "format": "binary"},
    },
}
OBSERVE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _schema},
            "application/x-www-form-urlencoded": {"schema": _schema},
            "multipart/form-data": {"schema": _multipart_schema},
        },
    }
}


@dataclass(frozen=True)
class ObserveBody:
    data: dict[str, Any]
    text: str
    sha256: str
    recording: Upload | None
    # A large JSON body left unparsed for intake to read in a process (service/offload.py);
    # ``data`` and ``text`` are then empty.
    raw: bytes | None = None


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError({"non_field_errors": [message]})


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Fields and parts of one form: a call has about twenty fields; nothing takes two files.
MAX_FORM_FIELDS = 100
MAX_FORM_FILES = 1


async def read_observe_body(
    request: Request,
    max_bytes: int,
    *,
    repeated_as_list: bool = False,
    limits: Limits | None = None,
    defer_from: int | None = None,
) -> ObserveBody:
    """The request's fields, whichever content type carried them, each checked against
    ``limits`` when given (depth, NUL, lone surrogates, non-finite numbers, sizes: one walk
    per field, off the event loop; the observe route leaves the walk to intake, which does
    the same with the same limits). Every failure, a body that cannot be read included, is a
    400 keyed by field. ``repeated_as_list``: a form field given more than once is a list
    (``call_logs=1&call_logs=2``). ``defer_from``: a JSON body of at least this many bytes is
    returned unread (``raw``), for ``intake_json`` to read where the caller chooses."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in FORM_TYPES:
            form = await _read_form(request, max_bytes)
            body = await _form(form, repeated_as_list)
        elif content_type in ("application/json", ""):
            raw = await request.body()
            if defer_from is not None and len(raw) >= defer_from:
                return ObserveBody({}, "", "", None, raw)
            body = await asyncio.to_thread(_json_body, raw)
        else:
            raise _invalid(f"unsupported content type {content_type!r}: send application/json, "
                           "application/x-www-form-urlencoded or multipart/form-data")  # fmt: skip
    except ClientDisconnect:
        raise _invalid("the client disconnected before sending the whole body") from None
    if not isinstance(body.data, dict):
        raise _invalid("expected a JSON object")
    if limits is not None:  # the observe route's intake walks the fields itself
        await asyncio.to_thread(check_fields, body.data, limits)
    _recording_named(body)
    return body


def intake_json(raw: bytes) -> ObserveBody:
    """A deferred JSON body read as ``read_observe_body`` reads one (CPU work: not on the
    event loop)."""
    body = _json_body(raw)
    if not isinstance(body.data, dict):
        raise _invalid("expected a JSON object")
    _recording_named(body)
    return body


def _json_body(raw: bytes) -> ObserveBody:
    text = decode_text(raw)
    data = loads_json(text)
    return ObserveBody(data, text, hashlib.sha256(raw).hexdigest(), None)


async def _read_form(request: Request, max_bytes: int) -> FormData:
    """The form, or the multipart parser's complaint (too many files or fields, a missing
    boundary, a part over the limit) as a field-keyed 400 instead of a bare ``detail``."""
    try:
        return await request.form(
            max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=max_bytes
        )
    except (HTTPException, MultiPartException) as exc:
        message = str(getattr(exc, "detail", None) or getattr(exc, "message", exc))
        raise _invalid(f"multipart body refused: {message}") from None


def _recording_named(body: ObserveBody) -> None:
    """``voice_recording`` names the uploaded file: an upload's name, null or empty, never a
    value without an upload (DRF: "the submitted data was not a file")."""
    named = body.data.get(RECORDING_FIELD)
    if body.recording is not None:
        body.data[RECORDING_FIELD] = body.recording.filename or "upload"
    elif named in (None, ""):
        body.data.pop(RECORDING_FIELD, None)
    else:
        raise RequestValidationError({RECORDING_FIELD: [
            "expected an uploaded audio file (multipart/form-data) or null; send a link "
            "as voice_recording_url"]})  # fmt: skip


async def read_json_body(
    request: Request, max_bytes: int, limits: Limits | None = None
) -> dict[str, Any]:
    """A body of one of the other endpoints (JSON, form or multipart, no file) as a dict."""
    body = await read_observe_body(
        request, max_bytes, repeated_as_list=True, limits=limits or Limits()
    )
    if body.recording is not None:
        raise RequestValidationError({RECORDING_FIELD: ["this endpoint takes no file"]})
    return body.data


async def _form(form: FormData, repeated_as_list: bool) -> ObserveBody:
    data: dict[str, Any] = {}
    recording = None
    for key in dict.fromkeys(form.keys()):
        values = form.getlist(key)
        if key == RECORDING_FIELD:
            upload = values[0]
            if isinstance(upload, str) and not upload.strip():
                continue  # an empty field is no file, as a null is
            if not isinstance(upload, UploadFile):
                raise RequestValidationError({key: ["expected an uploaded audio file"]})
            audio = await upload.read()
            recording = Upload(upload.filename, upload.content_type,
                               hashlib.sha256(audio).hexdigest(), audio)  # fmt: skip
            continue
        texts = [v for v in values if isinstance(v, str)]
        if len(texts) != len(values):
            raise RequestValidationError({key: ["expected a text field, not a file"]})
        if repeated_as_list and len(texts) > 1:
            data[key] = texts
        else:
            data[key] = await asyncio.to_thread(_form_value, key, texts)
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode())
    if recording is not None:
        digest.update(recording.sha256.encode())
    return ObserveBody(data, canonical, digest.hexdigest(), recording)


def _form_value(key: str, texts: list[str]) -> Any:
    if key == "redact_fields" and len(texts) > 1:
        return texts
    text = texts[-1]
    if not text.strip() and key != "call_id":
        return None  # an empty form value means absent, as DRF reads forms
    if key in JSON_FORM_FIELDS and not (key == "redact_fields" and not text.startswith("[")):
        return loads_json(text, key)
    if key == "redact_fields":
        return [p.strip() for p in text.split(",") if p.strip()]
    return text


def stored_call(body: ObserveBody, catalogue: Catalogue, limits: Limits) -> NewCall:
    """Validate the call completely against ``limits`` (raises the field-keyed error) and
    shape it for the store, in the agent's project. A call that came as audio only is stored
    with no transcript yet: the worker transcribes its recording (tasks/recordings.py). The
    upload itself is the caller's to reference (``Recordings.accept_upload``)."""
    prepared = read_request(body.data, catalogue, limits, awaiting_audio=True)
    request, transcript = prepared.request, prepared.transcript
    text = body.text
    if request.redact_fields:
        text = json.dumps(prepared.stored_request())
    elif unknown := ignored_fields(body.data):
        text = json.dumps({k: v for k, v in body.data.items() if k not in unknown})
    return NewCall(
        call_id=request.call_id,
        agent_id=prepared.agent.id,
        agent_name=prepared.agent.name,
        trace_id=request.trace_id,
        # Nothing a caller asked to redact, and no unknown field, is stored: the redacted
        # request (or the body less those fields) replaces the body. The hash stays the raw
        # body's, so an identical re-post is still recognised.
        body=text,
        body_hash=body.sha256,
        request=request.model_dump(mode="json"),
        occurred_at=request.timestamp or datetime.now(UTC),
        duration=format_duration(transcript.duration_seconds),
        transcript_text=transcript.to_text(),
        transcript_object=transcript.to_object(),
        notes=prepared.notes,
        project_id=prepared.agent.project,
    )
