"""PCM → WAV or FLAC bytes, in memory (PyAV). Used to send a channel to a hosted
speech-to-text service and to hand back a redacted recording: neither touches the disk."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal

import av
import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio.decode import SAMPLE_RATE

__all__ = ["AudioFormat", "encode_audio"]

AudioFormat = Literal["wav", "flac"]
_CODECS: dict[str, str] = {"wav": "pcm_s16le", "flac": "flac"}
_BLOCK = SAMPLE_RATE  # one second per frame keeps frames small for the encoder


def encode_audio(
    channels: Sequence[NDArray[np.float32]], fmt: AudioFormat = "flac", rate: int = SAMPLE_RATE
) -> bytes:
    """``channels`` (one or two float32 arrays of equal length at ``rate``) as 16-bit
    ``fmt`` file bytes."""
    if len(channels) not in (1, 2):
        raise ValueError(f"expected 1 or 2 channels, got {len(channels)}")
    layout = "mono" if len(channels) == 1 else "stereo"
    pcm = np.stack([np.clip(c, -1.0, 1.0) for c in channels])
    interleaved = (pcm.T * 32767.0).round().astype(np.int16).reshape(1, -1)
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(_CODECS[fmt], rate=rate, layout=layout)
        if not isinstance(stream, av.AudioStream):  # add_stream is typed for every kind
            raise TypeError(f"{_CODECS[fmt]} did not give an audio stream")
        width = len(channels)
        for at in range(0, interleaved.shape[1], _BLOCK * width):
            block = np.ascontiguousarray(interleaved[:, at : at + _BLOCK * width])
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
