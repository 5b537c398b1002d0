"""Intake's check of an upload (``check_audio``) refuses exactly what decoding would, with
the same error, without keeping the samples; and what it passes, it measures as decoding
does."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest

from evaluator.ingest.audio import (
    SAMPLE_RATE,
    AudioError,
    AudioLimits,
    decode_audio,
    encode_audio,
)
from evaluator.ingest.audio.decode import check_audio
from tests.ingest.audio.synth import SyntheticCall


def _unknown_codec(wav: bytes) -> bytes:
    unknown = bytearray(wav)
    unknown[20:22] = struct.pack("<H", 0x1234)
    return bytes(unknown)


BAD: dict[str, tuple[Callable[[bytes, bytes], bytes], AudioLimits]] = {
    "text": (lambda wav, mp3: b"just some text, not a recording\n" * 40, AudioLimits()),
    "image": (lambda wav, mp3: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, AudioLimits()),
    "damaged-mp3": (lambda wav, mp3: mp3[:3000] + bytes(range(256)) * 60 + mp3[20000:],
                    AudioLimits()),
    "truncated": (lambda wav, mp3: wav[:60], AudioLimits()),
    "unknown-codec": (lambda wav, mp3: _unknown_codec(wav), AudioLimits()),
    "silent": (lambda wav, mp3: encode_audio([np.full(SAMPLE_RATE, 1e-5, np.float32)], "wav"),
               AudioLimits()),
    "too-large": (lambda wav, mp3: wav, AudioLimits(max_bytes=4096)),
    "too-long": (lambda wav, mp3: wav, AudioLimits(max_seconds=10.0)),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(BAD))
def test_check_refuses_what_decoding_refuses_with_the_same_error(
    kind: str, stereo_wav: bytes, stereo_mp3: bytes
) -> None:
    make, limits = BAD[kind]
    data = make(stereo_wav, stereo_mp3)
    with pytest.raises(AudioError) as decoding:
        decode_audio(data, limits)
    with pytest.raises(AudioError) as checking:
        check_audio(data, limits)
    assert type(checking.value) is type(decoding.value)
    assert checking.value.field == "voice_recording"


@pytest.mark.parametrize("fixture", ["stereo_wav", "stereo_mp3", "ulaw_wav", "mono_wav"])
def test_check_measures_what_decoding_gives(fixture: str, request: pytest.FixtureRequest) -> None:
    data: bytes = request.getfixturevalue(fixture)
    decoded = decode_audio(data)
    info = check_audio(data)
    assert info.duration == pytest.approx(decoded.duration, abs=1e-6)
    assert info.channels == len(decoded.channels)
    assert (info.codec, info.container) == (decoded.codec, decoded.container)


def test_check_passes_a_call_just_under_the_duration_cap(
    stereo_wav: bytes, short_call: SyntheticCall
) -> None:
    info = check_audio(stereo_wav, AudioLimits(max_seconds=short_call.duration + 0.5))
    assert info.duration == pytest.approx(short_call.duration, abs=0.01)
