"""What the assistant needs of each stage: one small Protocol per role, so a fake stage in a test (or another
engine) only has to provide these methods.

Every model stage loads once and warms once (`Model`); the assistant calls nothing else on it but the methods of
its role. Frame stages (wake word, endpointer) see every 32 ms frame on the event loop and must stay cheap; model
calls (transcribe, understand, speak) run in the assistant's model worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .events import IntentRecognized
from .frames import AudioFrame, OutputAudio
from .intent.model import Home, Understanding
from .vad import Endpoint
from .wake import WakeHit


class Model(Protocol):
    """A stage with a model: loaded once at start-up, then warmed so the first turn pays no first-call costs."""

    name: str

    def load(self) -> None: ...

    def warm(self) -> None: ...


class WakeWord(Model, Protocol):
    """Frames in, a hit when a wake word fires (run on every frame, in every state)."""

    def process(self, item: AudioFrame) -> Iterator[WakeHit]: ...

    def reset(self) -> None: ...

    def set_threshold(self, threshold: float | None) -> None: ...

    def threshold_for(self, word: str) -> float: ...

    def enable_only(self, word: str) -> None: ...


class Endpointing(Model, Protocol):
    """Frames in, where a command starts, pauses and ends."""

    def observe(self, item: AudioFrame) -> None:
        """A frame heard while not listening (keeps the voice activity history current)."""

    def begin(self, timeout_s: float | None = None, *, look_back: bool = False, after_s: float | None = None
              ) -> list[Endpoint]:
        """Start collecting a command; look_back: it may already have begun (after a wake word); after_s: it began
        after this audio position (a wake word heard over the assistant's voice)."""

    def process(self, item: AudioFrame) -> Iterator[Endpoint]: ...

    @property
    def probability(self) -> float:
        """The speech probability of the last frame seen (observed or processed)."""

    def second_detector(self) -> Callable[[bytes], float]:
        """Speech probability for another stream of frames (the microphone with the assistant's own voice taken out,
        for the stop-word check): the same model, its own state."""

    def finish(self, reason: str = "eof") -> Endpoint | None:
        """End the command now; None when nobody spoke."""

    def reset(self, timeout_s: float | None = None) -> None: ...


@dataclass(frozen=True)
class Transcription:
    """What speech-to-text heard."""

    text: str
    confidence: float | None = None
    """0-1 from the decoder's average token log-probability and Whisper's no-speech probability; None: unknown."""


class Transcriber(Model, Protocol):
    """Command audio (16 kHz mono int16 bytes) in, text out."""

    def transcribe(self, audio: bytes) -> Transcription: ...

    def hear_phrase(self, audio: bytes) -> Transcription:
        """A few words, as fast as the engine can (a stop word said over the reply), not the home's command."""

    def recheck(self, audio: bytes) -> Transcription | None:
        """A second hearing of the same audio that mishears other commands, asked when templates find nothing in
        the first transcript (Whisper: its full 30 s window after a short-window transcript); None: the engine has
        none."""

    def set_home(self, home: Home) -> None:
        """Hear a changed home's names from the next call on (called in the model thread, between model calls)."""


class Understander(Model, Protocol):
    """Text in, an intent (or an honest reply) out; and a free answer to an open question."""

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding: ...

    def quick(self, text: str) -> Understanding | None:
        """The fast tier only (templates): is a partial transcript already a whole command?"""

    def stream_reply(self, text: str) -> Iterator[str]:
        """The free answer to an open question, sentence by sentence as it is generated."""

    def yes_or_no(self, text: str) -> bool | None:
        """The answer to a yes/no question ("Did you mean ...?"): True, False, or None when it is neither."""

    def confirm_risky(self, u: Understanding, transcript_confidence: float | None) -> Understanding:
        """A risky action (a lock, a garage door) heard in an uncertain transcript becomes a question first ("Do you
        want me to open the garage door?"); anything else is returned as it is."""

    def set_home(self, home: Home) -> None:
        """Serve a changed home from the next call on (called in the model thread, between model calls)."""


class Synthesizer(Model, Protocol):
    """Reply text in, audio chunks out (one per sentence), so playback starts before synthesis ends."""

    def speak(self, text: str, *, cache: bool = False) -> Iterator[OutputAudio]: ...


class Sink(Protocol):
    """Where reply audio goes (a speaker, a file, nothing)."""

    def write(self, audio: OutputAudio) -> None: ...

    def drain(self) -> None: ...

    def stop(self) -> None:
        """Stop playing at once and drop what is queued (barge-in); called on the event loop, also while another
        thread is inside write() or drain()."""


@dataclass(frozen=True)
class ActionOutcome:
    """What became of an intent's action; the reply the user hears follows from it."""

    done: bool
    """True when the action was carried out (or, with no way to confirm it, handed over for sure)."""
    reply: str | None = None
    """Replaces the tier's reply when set: an honest sentence ("Home Assistant didn't answer") or an answer
    read from the home's state ("The front door is locked")."""
    by: str = "none"
    """Who carried it out: homeassistant, mqtt, satellite (timers, time, date), or none."""


class Executor(Protocol):
    """Carries an intent's action out before the reply is spoken, and says what really happened."""

    async def execute(self, event: IntentRecognized) -> ActionOutcome: ...


class LinkedExecutor(Executor, Protocol):
    """An executor that reaches what carries actions out over a link (Home Assistant's websocket)."""

    @property
    def connected(self) -> bool:
        """Whether the link is up now; when it is not, actions may take another way (the devices' own topics)."""


@dataclass(frozen=True)
class WakeEvidence:
    """How well this satellite heard a wake word: what it brings when several satellites heard the same one."""

    wake_word: str
    probability: float
    """The wake word model's probability when it fired (0-1)."""
    speech_db: float
    """The wake phrase's level, dB full scale (pipeline/level.py)."""
    noise_db: float
    """The room's noise level before it, dB full scale, never under level.NOISE_FLOOR_DB."""

    @property
    def score(self) -> float:
        """Wake probability times the speech's amplitude over the noise: higher is heard better."""
        return self.probability * 10 ** ((self.speech_db - self.noise_db) / 20)


class Arbiter(Protocol):
    """Decides whether this satellite handles a command other satellites may have heard too."""

    def claim(self, turn_id: str, evidence: WakeEvidence) -> asyncio.Future[bool]:
        """Called on the event loop when the wake word fired. The future is True when this satellite handles the
        turn (at once for a lone satellite), False when another heard it better: the turn then ends silently. It
        must settle within a bounded time whatever the network does."""


class AlwaysMine:
    """The lone satellite's arbiter: every wake word is its own."""

    def claim(self, turn_id: str, evidence: WakeEvidence) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        done.set_result(True)
        return done
