"""Provider transcript formats, each a module of its own, found by a registry.

Adding a provider is one new module in this package that defines ``FORMAT``
(a :class:`TranscriptFormat`). Nothing outside this package branches on the provider.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any

from evaluator.contract import AUDIO_ONLY
from evaluator.errors import TranscriptFormatError, UnknownIdError
from evaluator.ingest.transcripts._common import ParseOptions, TranscriptFormat
from evaluator.transcript import Transcript

__all__ = [
    "ParseOptions",
    "TranscriptFormat",
    "detect_format",
    "known_formats",
    "parse_transcript",
    "transcript_types",
]

AUTO = "auto"


@cache
def _registry() -> dict[str, TranscriptFormat]:
    formats: dict[str, TranscriptFormat] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if not isinstance(fmt, TranscriptFormat):
            continue
        for name in (fmt.name, *fmt.aliases):
            formats[name] = fmt
    return formats


def known_formats() -> list[str]:
    """Every transcript format's name and alias, sorted."""
    return sorted(_registry())


def transcript_types() -> list[str]:
    """Every accepted ``transcript_type``: the formats, ``auto``, and audio-only."""
    return [*known_formats(), AUTO, AUDIO_ONLY]


def detect_format(payload: Any) -> str:
    """The one format whose shape fits ``payload``; an error listing candidates otherwise."""
    fitting = sorted(
        {fmt.name for fmt in _registry().values() if fmt.detect is not None and fmt.detect(payload)}
    )
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        names = sorted({f.name for f in _registry().values()})
        raise TranscriptFormatError(
            AUTO,
            "",
            "a payload shaped like one of " + ", ".join(names),
            payload,
            message="auto: the payload's shape fits no known transcript format; "
            "set transcript_type to one of " + ", ".join(known_formats()),
        )
    raise TranscriptFormatError(
        AUTO,
        "",
        "one format",
        payload,
        message="auto: the payload's shape is ambiguous; it fits "
        + ", ".join(fitting)
        + "; set transcript_type to the right one",
    )


def parse_transcript(
    transcript_type: str, payload: Any, options: ParseOptions | None = None
) -> Transcript:
    """Normalize ``payload`` of the named format (or ``auto``) into the canonical transcript.

    Every format's result must hold at least one turn: a call with nothing said (an empty list,
    or only empty messages) is a ``TranscriptFormatError``, checked here once for all formats.
    """
    opts = options or ParseOptions()
    name = transcript_type
    notes: tuple[str, ...] = ()
    if name == AUTO:
        if payload == [] or payload is None:
            raise _no_turns(AUTO, payload)
        name = detect_format(payload)
        notes = (f"transcript_type auto: detected {name}",)
    fmt = _registry().get(name)
    if fmt is None:
        raise UnknownIdError("transcript_type", name, [*_registry(), AUTO])
    transcript = fmt.parse(payload, opts)
    if not transcript.turns:
        raise _no_turns(name, payload)
    if notes:
        transcript = transcript.model_copy(update={"notes": notes + transcript.notes})
    return transcript


def _no_turns(name: str, payload: Any) -> TranscriptFormatError:
    return TranscriptFormatError(
        name,
        "transcript_json",
        "at least one turn (every message is empty or the list is empty)",
        payload,
    )
