"""Sample conversion and resampling: int16 PCM <-> float32, channel downmix, streaming soxr resampling."""

from __future__ import annotations

import numpy as np
import soxr

from .frames import OutputAudio


def to_float32(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    """int16 little-endian PCM bytes to float32 in [-1, 1) (what Whisper wants); an odd last byte is dropped."""
    buf = memoryview(pcm).cast("B")
    return np.frombuffer(buf[: len(buf) - len(buf) % 2], dtype="<i2").astype(np.float32) / 32768.0


def float_to_int16(x: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] to int16 (the one scale every writer uses: x * 32768, rounded, clipped)."""
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def int16_from_bytes(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")


class StreamResampler:
    """Streaming mono float32 resampler (soxr HQ); a pass-through when the rates are equal.

    Output of chunked calls plus flush() is identical to resampling the whole signal at once.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._rs = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32")

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x if self._rs is None else self._rs.resample_chunk(x)

    def flush(self) -> np.ndarray:
        """Return the samples still held back by the filter and get ready for a new, unrelated signal."""
        if self._rs is None:
            return np.zeros(0, dtype=np.float32)
        tail = self._rs.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._rs.clear()
        return tail


class RateMatcher:
    """Brings OutputAudio chunks of any rate to one output rate, keeping the signal continuous."""

    def __init__(self, out_rate: int) -> None:
        self.out_rate = out_rate
        self._rs: StreamResampler | None = None

    def convert(self, audio: OutputAudio) -> np.ndarray:
        pcm = int16_from_bytes(audio.pcm)
        if self._rs is not None and self._rs.in_rate != audio.sample_rate:
            head = self.flush()  # the previous rate's held-back tail must come out before this chunk
        else:
            head = np.zeros(0, dtype=np.int16)
        if audio.sample_rate == self.out_rate:
            return np.concatenate([head, pcm]) if head.size else pcm
        if self._rs is None:
            self._rs = StreamResampler(audio.sample_rate, self.out_rate)
        return np.concatenate([head, float_to_int16(self._rs.process(pcm.astype(np.float32) / 32768.0))])

    def flush(self) -> np.ndarray:
        if self._rs is None:
            return np.zeros(0, dtype=np.int16)
        tail = float_to_int16(self._rs.flush())
        self._rs = None
        return tail


def downmix(block: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 to mono by averaging the channels."""
    return block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)

