"""Deepgram pre-recorded (``/v1/listen``) output.

Three shapes: a diarized word list (``results.channels[0].alternatives[0].words``, each
``{word, start, end, confidence, speaker, punctuated_word}``); a whole response with
``results.utterances`` (``{start, end, channel, speaker, transcript}``), used when present; and
a ``multichannel`` response (one ``results.channels`` entry per channel, the channel being the
speaker). Consecutive words of one speaker form a turn (``punctuated_word`` when present).

Deepgram does not say who the agent is. With ``main_agent_channel_index`` the agent is that
channel (multichannel) or that diarized speaker; without it the agent is whoever speaks first
(agents usually greet first). The rule used is recorded in the transcript's ``notes``. Every
other speaker counts on the caller side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from evaluator.errors import TranscriptFormatError
from evaluator.ingest.transcripts._common import (
    ParseOptions,
    TranscriptFormat,
    all_dicts,
    expect_list,
    expect_object,
    finish,
    lookup,
    opt_str,
    req_number,
)
from evaluator.transcript import AGENT, CALLER, Transcript, Turn

PROVIDER = "deepgram"
MAX_SPEAKERS = 1000


class Piece(NamedTuple):
    """A word or an utterance: who said what, when, and where it sat in the payload."""

    speaker: int
    text: str
    start: float
    end: float
    base: str
    position: int

    @property
    def path(self) -> str:
        return f"{self.base}[{self.position}]"


def parse(payload: Any, options: ParseOptions) -> Transcript:
    """Read Deepgram words, utterances or a multichannel response into turns."""
    pieces, kind, are_words = _pieces(payload)
    _check_order(pieces)
    if not pieces:
        return Transcript(provider=PROVIDER)
    agent, rule = _agent(pieces, kind, options)
    turns: list[tuple[Turn, str]] = []
    # Words are pieces of utterances and merge into turns; Deepgram's utterances are turns.
    for group in _groups(pieces) if are_words else [[p] for p in pieces]:
        first = group[0]
        turn = Turn(
            role=AGENT if first.speaker == agent else CALLER,
            content=" ".join(p.text for p in group if p.text),
            start_time=first.start,
            end_time=max(p.end for p in group),
        )
        turns.append((turn, first.path))
    return finish(PROVIDER, turns, notes=[rule])


def _pieces(payload: Any) -> tuple[list[Piece], str, bool]:
    """The pieces, what their speaker numbers mean (``channel`` or ``speaker``), and whether
    they are words (rather than utterances)."""
    if isinstance(payload, list):
        return _words(payload, "", None), "speaker", True
    obj = expect_object(PROVIDER, payload, "transcript_json")
    results = expect_object(PROVIDER, obj.get("results"), "results")
    channels = expect_list(PROVIDER, results.get("channels") or [], "results.channels")
    multichannel = len(channels) > 1
    kind = "channel" if multichannel else "speaker"
    if results.get("utterances") is not None:
        items = expect_list(PROVIDER, results["utterances"], "results.utterances")
        utterances = [_utterance(u, "results.utterances", i, kind) for i, u in enumerate(items)]
        return utterances, kind, False
    if not channels:
        raise TranscriptFormatError(
            PROVIDER, "results", "channels or utterances", results, show_received=False
        )
    pieces: list[Piece] = []
    for index, raw in enumerate(channels):
        path = f"results.channels[{index}]"
        channel = expect_object(PROVIDER, raw, path)
        alternatives = expect_list(PROVIDER, channel.get("alternatives"), f"{path}.alternatives")
        if not alternatives:
            continue
        best = expect_object(PROVIDER, alternatives[0], f"{path}.alternatives[0]")
        words_path = f"{path}.alternatives[0].words"
        words = expect_list(PROVIDER, best.get("words"), words_path)
        pieces.extend(_words(words, words_path, index if multichannel else None))
    if multichannel:
        pieces.sort(key=lambda p: p.start)  # channels interleave in time
    return pieces, kind, True


def _words(words: list[Any], base: str, channel: int | None) -> list[Piece]:
    pieces: list[Piece] = []
    append = pieces.append
    for index, word in enumerate(words):
        # Fast path for a well-formed word (10,000 in an hour); anything else takes the strict
        # readers, which name the field that is wrong.
        if type(word) is dict:
            start, end = word.get("start"), word.get("end")
            speaker = channel if channel is not None else word.get("speaker")
            text = word.get("punctuated_word")
            if text is None:
                text = word.get("word")
            if (
                type(start) is float
                and type(end) is float
                and 0.0 <= start <= end < math.inf
                and type(speaker) is int
                and 0 <= speaker < MAX_SPEAKERS
                and type(text) is str
            ):
                append(Piece(speaker, text, start, end, base, index))
                continue
        append(_word(word, base, index, channel))
    return pieces


def _word(raw: Any, base: str, index: int, channel: int | None) -> Piece:
    path = f"{base}[{index}]"
    word = expect_object(PROVIDER, raw, path)
    text = opt_str(PROVIDER, word, "punctuated_word", path)
    if text is None:
        text = _text(word, "word", path)
    speaker = channel if channel is not None else _speaker(word, "speaker", path)
    start = req_number(PROVIDER, word, "start", path)
    end = req_number(PROVIDER, word, "end", path)
    return Piece(speaker, text, start, end, base, index)


def _utterance(raw: Any, base: str, index: int, kind: str) -> Piece:
    path = f"{base}[{index}]"
    utterance = expect_object(PROVIDER, raw, path)
    start = req_number(PROVIDER, utterance, "start", path)
    end = req_number(PROVIDER, utterance, "end", path)
    text = _text(utterance, "transcript", path)
    return Piece(_speaker(utterance, kind, path), text, start, end, base, index)


def _text(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, str):
        return value
    raise TranscriptFormatError(
        PROVIDER, f"{path}.{key}", "a string", value, show_received=key in obj
    )


def _speaker(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_SPEAKERS:
        return value
    hint = " (send a diarize=true response)" if key == "speaker" else ""
    raise TranscriptFormatError(
        PROVIDER, f"{path}.{key}", f"a {key} number{hint}", value, show_received=key in obj
    )


def _check_order(pieces: list[Piece]) -> None:
    previous: Piece | None = None
    for piece in pieces:
        if piece.end < piece.start:
            raise TranscriptFormatError(
                PROVIDER, f"{piece.path}.end", f"a time >= its start {piece.start:g}", piece.end
            )
        if previous is not None and piece.start < previous.start:
            raise TranscriptFormatError(
                PROVIDER,
                f"{piece.path}.start",
                f"times in order (>= the previous start {previous.start:g})",
                piece.start,
            )
        previous = piece


def _agent(pieces: list[Piece], kind: str, options: ParseOptions) -> tuple[int, str]:
    """Which speaker number is the agent, and the rule that said so."""
    index = options.main_agent_channel_index
    if index is not None:
        return index, f"deepgram: {kind} {index} is the agent (main_agent_channel_index)"
    first = pieces[0].speaker
    return first, (
        f"deepgram: {kind} {first} is the agent, being the first to speak "
        "(no main_agent_channel_index given)"
    )


def _groups(pieces: list[Piece]) -> list[list[Piece]]:
    """Runs of consecutive pieces from one speaker."""
    groups: list[list[Piece]] = []
    for piece in pieces:
        if groups and groups[-1][0].speaker == piece.speaker:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return groups


def detect(payload: Any) -> bool:
    """A list of word objects, or a response whose ``results`` hold channels or utterances."""
    if isinstance(payload, list):
        return all_dicts(payload) and all("word" in w and "start" in w for w in payload)
    results = lookup(payload, "results")
    return isinstance(results, dict) and ("channels" in results or "utterances" in results)


FORMAT = TranscriptFormat(name=PROVIDER, parse=parse, detect=detect)
