"""The one audio frame type and the event family that flows out of the pipeline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class Event:
    """Base of every pipeline event."""

    turn_id: str
    """Which turn the event belongs to ("" outside a turn)."""
    at: float = field(default_factory=time.monotonic, kw_only=True)
    """time.monotonic() when the event happened."""


@dataclass(frozen=True)
class StateChanged(Event):
    """The assistant moved to a new state: idle, awake, listening, thinking, speaking, muted."""

    state: str


@dataclass(frozen=True)
class WakeDetected(Event):
    """A wake word fired."""

    wake_word: str
    stream_s: float
    """Audio position where it fired."""


@dataclass(frozen=True)
class SpeechStarted(Event):
    """The endpointer heard the command begin."""

    stream_s: float


@dataclass(frozen=True)
class SpeechEnded(Event):
    """The endpointer committed the end of the command."""

    stream_s: float
    """Audio position of the end of the last speech frame."""
    reason: str = "silence"
    """Why the command ended: silence, semantic (the early transcript was a complete command), max_length, eof."""
    audio: bytes = field(default=b"", repr=False)
    """The command's audio (16 kHz mono int16), for debug recording."""


@dataclass(frozen=True)
class Transcript(Event):
    """What speech-to-text heard."""

    text: str


@dataclass(frozen=True)
class IntentRecognized(Event):
    """The intent tiers understood (or failed to understand) the transcript."""

    text: str
    understanding: Any
    """A pipeline.intent.model.Understanding (typed as Any to keep this module free of intent imports)."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Timings known so far: endpoint, stt, intent, speech_end_to_intent."""


@dataclass(frozen=True)
class ReplyStarted(Event):
    """The assistant starts speaking its reply."""

    text: str


@dataclass(frozen=True)
class ReplyFinished(Event):
    """The last reply audio was handed to the sink."""


@dataclass(frozen=True)
class TurnFinished(Event):
    """One whole turn, with everything an observer needs to log, publish or benchmark it."""

    wake_word: str | None
    transcript: str
    understanding: Any
    """A pipeline.intent.model.Understanding, or None when nothing was heard."""
    speech_end_s: float | None
    timings_ms: dict[str, float]
    """endpoint, stt, intent, tts_first_audio, speech_end_to_intent, speech_end_to_first_audio."""
    milestones: dict[str, float] = field(default_factory=dict)
    """time.monotonic() of speech_end, endpoint, transcript, intent, first_audio (for the benchmark)."""
