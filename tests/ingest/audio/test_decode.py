"""Decoding: every format intake meets, and a typed error for each way a recording is bad."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import numpy as np
import pytest

from evaluator.errors import EvaluatorError
from evaluator.ingest.audio import (
    SAMPLE_RATE,
    AudioLimits,
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    NotAudioError,
    SilentAudioError,
    UnsupportedAudioError,
    decode_audio,
    encode_audio,
)
from tests.ingest.audio.synth import SyntheticCall, write_audio


def test_stereo_wav_keeps_each_party_on_its_channel(
    stereo_wav: bytes, short_call: SyntheticCall
) -> None:
    decoded = decode_audio(stereo_wav)
    assert decoded.is_stereo and decoded.source_rate == SAMPLE_RATE
    assert decoded.duration == pytest.approx(short_call.duration, abs=0.01)
    assert np.max(np.abs(decoded.channels[0] - short_call.agent)) < 1e-3
    assert np.max(np.abs(decoded.channels[1] - short_call.caller)) < 1e-3


def test_telephony_ulaw_8khz_is_resampled_to_16khz(
    ulaw_wav: bytes, short_call: SyntheticCall
) -> None:
    decoded = decode_audio(ulaw_wav)
    assert (decoded.codec, decoded.source_rate) == ("pcm_mulaw", 8000)
    assert decoded.is_stereo
    assert len(decoded.channels[0]) == pytest.approx(len(short_call.agent), abs=SAMPLE_RATE // 50)


def test_mp3_decodes(stereo_mp3: bytes, short_call: SyntheticCall) -> None:
    decoded = decode_audio(stereo_mp3)
    assert decoded.container == "mp3" and decoded.is_stereo
    assert decoded.duration == pytest.approx(short_call.duration, abs=0.1)


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_encoded_audio_decodes_back_to_the_same_samples(
    short_call: SyntheticCall, fmt: str
) -> None:
    data = encode_audio([short_call.agent[: SAMPLE_RATE * 3]], fmt)  # type: ignore[arg-type]
    decoded = decode_audio(data)
    assert not decoded.is_stereo and decoded.container == fmt
    assert np.max(np.abs(decoded.channels[0] - short_call.agent[: SAMPLE_RATE * 3])) < 1e-4


@pytest.mark.parametrize("data", [b"", b"just some text, not a recording\n" * 40, b'{"a": 1}'])
def test_bytes_no_decoder_knows_are_not_audio(data: bytes) -> None:
    with pytest.raises(NotAudioError) as caught:
        decode_audio(data)
    assert caught.value.field == "voice_recording"
    assert isinstance(caught.value, EvaluatorError)


def test_an_image_holds_no_audio(audio_dir: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    with pytest.raises(NotAudioError, match="holds no audio"):
        decode_audio(png)


def test_damaged_mp3_is_corrupt(stereo_mp3: bytes) -> None:
    damaged = stereo_mp3[:3000] + bytes(range(256)) * 60 + stereo_mp3[20000:]
    with pytest.raises(CorruptAudioError, match="fails to decode"):
        decode_audio(damaged)


def test_truncated_wav_is_corrupt(stereo_wav: bytes) -> None:
    with pytest.raises(CorruptAudioError, match="truncated"):
        decode_audio(stereo_wav[:60])


def test_unknown_codec_is_unsupported(stereo_wav: bytes) -> None:
    unknown = bytearray(stereo_wav)
    unknown[20:22] = struct.pack("<H", 0x1234)  # the WAV format tag
    with pytest.raises(UnsupportedAudioError, match="codec"):
        decode_audio(bytes(unknown))


def test_more_than_two_channels_is_unsupported(short_call: SyntheticCall, audio_dir: Path) -> None:
    three = np.stack([short_call.agent, short_call.caller, short_call.agent])
    data = write_audio(audio_dir / "three.wav", three).read_bytes()
    with pytest.raises(UnsupportedAudioError, match="3 audio channels"):
        decode_audio(data)


def test_digital_silence_is_refused(audio_dir: Path) -> None:
    quiet = np.full(SAMPLE_RATE * 2, 1e-5, dtype=np.float32)  # -100 dBFS
    data = encode_audio([quiet], "wav")
    with pytest.raises(SilentAudioError, match="silent"):
        decode_audio(data)


def test_size_cap_is_checked_before_decoding(stereo_wav: bytes) -> None:
    with pytest.raises(AudioTooLargeError) as caught:
        decode_audio(stereo_wav, AudioLimits(max_bytes=len(stereo_wav) - 1))
    assert caught.value.size == len(stereo_wav)


def test_duration_cap(stereo_wav: bytes, short_call: SyntheticCall) -> None:
    with pytest.raises(AudioTooLongError) as caught:
        decode_audio(stereo_wav, AudioLimits(max_seconds=10.0))
    assert caught.value.seconds > 10.0
    assert decode_audio(stereo_wav, AudioLimits(max_seconds=short_call.duration + 1)).is_stereo


def test_duration_cap_holds_when_the_header_understates_the_length(
    short_call: SyntheticCall,
) -> None:
    # A bare AAC (ADTS) stream has no duration field: FFmpeg estimates about half of this
    # one's length from the first frames' bit rate, so only the decoded length catches it.
    data = _adts_aac(short_call.agent)
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is not None
        announced = container.duration / 1_000_000
    assert announced < 20.0 < short_call.duration
    with pytest.raises(AudioTooLongError) as caught:
        decode_audio(data, AudioLimits(max_seconds=20.0))
    assert caught.value.seconds > 20.0


def _adts_aac(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    pcm = (samples * 32767).astype(np.int16).reshape(1, -1)
    with av.open(out, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        assert isinstance(stream, av.AudioStream)
        for at in range(0, pcm.shape[1], SAMPLE_RATE):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, at : at + SAMPLE_RATE]), format="s16", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
