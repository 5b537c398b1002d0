"""``GET .../call-logs/{id}/voice_recording/``: the call's stored recording (the detail's
``voice_recording_url``), streamed from the blob store, with HTTP Range for players.

One byte range (``bytes=0-99``, ``bytes=100-``, ``bytes=-100``) answers 206 with
``Content-Range``; a range past the end or one that does not parse answers 416 with
``Content-Range: bytes */<size>`` (RFC 9110 §14). Several ranges at once, or another unit,
are ignored and the whole recording is sent (a server may always do that), so no player is
ever refused. The body is read from the blob store in chunks, in a thread each.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse, StreamingResponse

from evaluator.service.deps import AUTHORIZED, CallPk, Service, ServiceDep
from evaluator.service.errors import NOT_FOUND
from evaluator.service.schemas import Detail
from evaluator.service.views import RECORDING_PATH
from evaluator.store.blobs import BlobNotFoundError, BlobStore

__all__ = ["RangeNotSatisfiable", "byte_range", "recording_response", "router"]

router = APIRouter(tags=["call-logs"], dependencies=AUTHORIZED)
CHUNK = 1024 * 1024
_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/*": {}}, "description": "the whole recording"},
    206: {"content": {"audio/*": {}}, "description": "the byte range asked for"},
    404: {"model": Detail, "description": "no such call, or no recording stored"},
    416: {"description": "the range is past the end of the recording, or does not parse"},
}


class RangeNotSatisfiable(ValueError):
    """A ``Range`` of bytes this recording cannot answer."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of the one byte range ``header`` asks for, or None
    for the whole recording (no header, another unit, several ranges). Raises
    ``RangeNotSatisfiable`` for a bytes range that does not parse or lies past the end."""
    if header is None:
        return None
    unit, _, ranges = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None
    found = _SPEC.match(ranges)
    if found is None or not (found[1] or found[2]):
        raise RangeNotSatisfiable(header)
    first, last = found[1], found[2]
    if not first:  # a suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - length), size
    start = int(first)
    end = size if not last else int(last) + 1
    if start >= size or end <= start:
        raise RangeNotSatisfiable(header)
    return start, min(end, size)


@router.get(
    f"/{{id}}/{RECORDING_PATH}/",
    responses=RESPONSES,
    response_class=StreamingResponse,
)
async def voice_recording(
    service: ServiceDep,
    pk: CallPk,
    range_: Annotated[str | None, Header(alias="range", description="bytes=START-END")] = None,
) -> Response:
    """The call's recording as stored (silenced where PII was redacted), whole or one byte
    range of it."""
    # The same lookup as every call-log route: an unknown or deleted call is a 404.
    await asyncio.to_thread(service.store.get_call, pk)
    return await recording_response(service, pk, range_)


async def recording_response(service: Service, pk: int, range_: str | None) -> Response:
    """The stored recording of a call the caller may see, streamed whole or as the one byte
    range asked for (206; 416 for a range past the end). The API route and the review UI's
    player both answer with this."""
    ref = await asyncio.to_thread(service.store.recording, pk)
    if ref is None or ref.blob_key is None:
        return JSONResponse({"detail": NOT_FOUND}, status_code=404)
    blobs, key = service.recordings.blobs, ref.blob_key
    try:
        size = ref.size if ref.size is not None else await asyncio.to_thread(blobs.size, key)
    except BlobNotFoundError:
        return JSONResponse({"detail": NOT_FOUND}, status_code=404)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{key}"', "Cache-Control": "private",
               "X-Content-Type-Options": "nosniff"}  # fmt: skip
    try:
        chosen = byte_range(range_, size)
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    start, end = chosen if chosen is not None else (0, size)
    headers["Content-Length"] = str(end - start)
    if chosen is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        _chunks(blobs, key, start, end),
        status_code=206 if chosen is not None else 200,
        media_type=_media_type(ref.content_type),
        headers=headers,
    )


def _media_type(declared: str | None) -> str:
    """The type the uploader declared when it is audio (or a video's audio track), else
    octet-stream: a caller's ``text/html`` is never served from our origin as a page."""
    kind = (declared or "").split(";")[0].strip().lower()
    fine = kind.startswith(("audio/", "video/")) and re.fullmatch(r"[a-z]+/[\w.+-]+", kind)
    return kind if fine else "application/octet-stream"


async def _chunks(blobs: BlobStore, key: str, start: int, end: int) -> AsyncIterator[bytes]:
    at = start
    while at < end:
        piece = await asyncio.to_thread(blobs.read, key, at, min(at + CHUNK, end))
        if not piece:
            return
        yield piece
        at += len(piece)
