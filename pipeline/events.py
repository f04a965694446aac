"""The event family that flows out of the pipeline (to the log, MQTT, the bench: observers alike), and the names
they share: turn states, timing keys, milestones, stage names."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TurnState(StrEnum):
    """Where the assistant is in a turn (published on MQTT as is)."""

    IDLE = "idle"
    AWAKE = "awake"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"


class Timing(StrEnum):
    """The keys of a turn's timings_ms: compute per stage and the latencies a user feels."""

    ENDPOINT = "endpoint"
    """Speech end (as the VAD saw it) to the decision that the command is over."""
    STT = "stt"
    """Speech-to-text compute on the turn's path."""
    INTENT = "intent"
    """Intent tiers compute."""
    ACTION = "action"
    """Carrying the action out (Home Assistant's answer, or the broker's acknowledgement)."""
    TTS_FIRST_AUDIO = "tts_first_audio"
    """Action done (or intent, when there is none) to the first reply audio."""
    ARBITRATION = "arbitration"
    """Speech end (as the endpoint was decided) to the other satellites' agreement that this one answers: what
    arbitration adds to the action (0 when it was settled while the command was still being said)."""
    SPEECH_END_TO_INTENT = "speech_end_to_intent"
    SPEECH_END_TO_FIRST_AUDIO = "speech_end_to_first_audio"


class Milestone(StrEnum):
    """Moments of a turn (time.monotonic()), for the benchmark's timelines."""

    SPEECH_END = "speech_end"
    ENDPOINT = "endpoint"
    TRANSCRIPT = "transcript"
    INTENT = "intent"
    ACTION = "action"
    FIRST_AUDIO = "first_audio"


class StageName(StrEnum):
    """The stages that report their own compute (StageTimed)."""

    WAKE = "wake"
    VAD = "vad"
    STT = "stt"
    INTENT = "intent"
    TTS = "tts"


def ms(seconds: float) -> float:
    """Seconds as milliseconds with one decimal (every timing in events and records)."""
    return round(seconds * 1000, 1)


@dataclass(frozen=True)
class Event:
    """Base of every pipeline event."""

    turn_id: str
    """Which turn the event belongs to ("" outside a turn)."""
    at: float = field(default_factory=time.monotonic, kw_only=True)
    """time.monotonic() when the event happened."""


@dataclass(frozen=True)
class StateChanged(Event):
    """The assistant moved to a new state."""

    state: TurnState


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
    confidence: float | None = None
    """How sure speech-to-text is, 0-1 (from Whisper's token log-probabilities); None: not known."""


@dataclass(frozen=True)
class IntentRecognized(Event):
    """The intent tiers understood (or failed to understand) the transcript."""

    text: str
    understanding: Any
    """A slm_voice.pipeline.intent.model.Understanding (typed as Any to keep this module free of intent imports)."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Timings known so far: endpoint, stt, intent, speech_end_to_intent (Timing keys)."""
    wake_word: str | None = None
    """The wake word that opened the turn (None: no wake word, e.g. a follow-up or MQTT listen)."""


@dataclass(frozen=True)
class ActionDone(Event):
    """The action of an intent was carried out, or could not be: what the reply then says."""

    outcome: Any
    """A pipeline.roles.ActionOutcome."""
    seconds: float
    """How long carrying it out took."""


@dataclass(frozen=True)
class StageTimed(Event):
    """A stage's own compute: one model call, or frames summed over a turn (wake word, VAD)."""

    stage: StageName
    call: str
    """What was computed: frames, transcribe, recheck, speculate, understand, quick, chunk."""
    started: float
    """time.monotonic() when the computation started (for frames: when the summed span began)."""
    seconds: float
    """Compute time."""
    audio_s: float = 0.0
    """Audio the call covered (heard or spoken), for the real-time factor."""
    on_path: bool = True
    """Whether the turn waited for it (a speculative transcription that was thrown away did not count)."""


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
    """A slm_voice.pipeline.intent.model.Understanding, or None when nothing was heard."""
    speech_end_s: float | None
    timings_ms: dict[str, float]
    """Timing keys to milliseconds."""
    milestones: dict[str, float] = field(default_factory=dict)
    """Milestone keys to time.monotonic() (for the benchmark)."""
