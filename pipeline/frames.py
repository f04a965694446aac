"""The audio that moves through the pipeline: 32 ms frames of 16 kHz mono int16 in, chunks at any rate out.
(The events it reports are in events.py.)"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16_000
"""Every frame inside the pipeline is 16 kHz mono signed 16-bit little-endian PCM."""

SAMPLE_WIDTH = 2
FRAME_SAMPLES = 512
"""32 ms: Silero VAD's chunk size, and a multiple of the wake word front end's 10 ms step."""


@dataclass(frozen=True)
class AudioFrame:
    """A short slice of 16 kHz mono int16 audio."""

    pcm: bytes
    """Raw little-endian int16 samples."""
    stream_s: float
    """Position of the first sample in the source stream, in seconds (audio time, not wall time)."""
    arrived: float = field(default_factory=time.monotonic)
    """time.monotonic() when the frame entered the pipeline; latencies are measured from it."""

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / (SAMPLE_WIDTH * SAMPLE_RATE)

    @property
    def end_s(self) -> float:
        return self.stream_s + self.duration_s


@dataclass(frozen=True)
class OutputAudio:
    """A chunk of synthesized or played audio at its own sample rate (Piper speaks at 22 050 Hz)."""

    pcm: bytes
    """Raw little-endian int16 mono samples."""
    sample_rate: int
    """Samples per second of pcm."""
