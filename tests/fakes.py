"""Fake stages for the fast tests of the turn machine and the endpointer: no models, deterministic audio.

Audio is a code, not sound: a frame whose samples are all 0 is silence; a frame filled with a positive value is
speech of "word" value; WAKE fills the frame that makes the fake wake word fire. The fake transcriber reads the
values back, so what it "hears" is exactly which speech frames the endpointer handed it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from slm_voice.pipeline.events import IntentRecognized
from slm_voice.pipeline.frames import FRAME_SAMPLES, AudioFrame, OutputAudio
from slm_voice.pipeline.intent.model import Home, Intent, Understanding
from slm_voice.pipeline.intent.tiers import IntentTiers
from slm_voice.pipeline.roles import ActionOutcome, Transcription
from slm_voice.pipeline.vad import Endpointer
from slm_voice.pipeline.wake import WakeHit

WAKE = 7777
"""Sample value of a frame that makes FakeWake fire."""
FRAME_S = FRAME_SAMPLES / 16_000

WORDS = {1000: "turn on the kitchen light", 2000: "please", 3000: "yes", 4000: "no",
         5000: "what is the meaning of life", 6000: "open the garage door", 8000: "stop"}


def frame_of(value: int, index: int) -> AudioFrame:
    return AudioFrame(np.full(FRAME_SAMPLES, value, dtype="<i2").tobytes(), index * FRAME_S)


class Frames:
    """Hand-fed frame source: the test appends values; the assistant reads frames as the test releases them."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.count = 0

    def add(self, value: int, n: int = 1) -> None:
        for _ in range(n):
            self._queue.put_nowait(value)

    def end(self) -> None:
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[AudioFrame]:  # type: ignore[override]
        while (value := await self._queue.get()) is not None:
            frame = frame_of(value, self.count)
            self.count += 1
            yield frame
            await asyncio.sleep(0)  # let model calls and turn tasks run between frames, as a live source does


class FakeVad:
    """Speech probability 0.9 for a frame with any non-zero sample other than WAKE, else 0.02."""

    def load(self) -> None: ...

    def reset(self) -> None: ...

    def __call__(self, pcm: bytes) -> float:
        samples = np.frombuffer(pcm, dtype="<i2")
        return 0.9 if samples.any() and samples[0] != WAKE else 0.02

    def sibling(self) -> FakeVad:
        return FakeVad()


def endpointer(**kw: float | int | None) -> Endpointer:
    """The real Endpointer over the fake VAD (short timings so tests need few frames)."""
    options: dict = {"trailing_silence_ms": 320, "max_command_s": 3.0, "no_speech_timeout_s": 1.0, "pause_ms": 96,
                     "pre_roll_ms": 64, "tail_pad_ms": 0, "history_s": 1.0}
    options.update(kw)
    return Endpointer(FakeVad(), **options)  # type: ignore[arg-type]


class FakeWake:
    name = "wake"

    def __init__(self) -> None:
        self.threshold: float | None = None

    def load(self) -> None: ...

    def warm(self) -> None: ...

    def reset(self) -> None: ...

    def process(self, item: AudioFrame) -> Iterator[WakeHit]:
        if np.frombuffer(item.pcm, dtype="<i2")[0] == WAKE:
            yield WakeHit("hey_jarvis", item.end_s, 0.99)

    def set_threshold(self, threshold: float | None) -> None:
        self.threshold = threshold

    def threshold_for(self, word: str) -> float:
        return self.threshold or 0.5

    def enable_only(self, word: str) -> None: ...


class FakeStt:
    """Reads the word values back from the audio: consecutive runs of one value are one word."""

    name = "stt"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[str] = []
        self.release = threading.Event()
        self.release.set()

    def load(self) -> None: ...

    def warm(self) -> None: ...

    def recheck(self, audio: bytes) -> Transcription | None:
        return None

    def hear_phrase(self, audio: bytes) -> Transcription:
        return self.transcribe(audio)

    def set_home(self, home: Home) -> None: ...

    def transcribe(self, audio: bytes) -> Transcription:
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("speech-to-text broke")
        values = np.frombuffer(audio, dtype="<i2")[::FRAME_SAMPLES]
        words: list[str] = []
        for v in values:
            if v and v != WAKE and (not words or words[-1] != WORDS[int(v)]):
                words.append(WORDS[int(v)])
        text = " ".join(words)
        self.calls.append(text)
        return Transcription(text, 0.9)


class FakeTiers(IntentTiers):
    """The real yes/no reading and fallback over a table of answers (text -> Understanding)."""

    def __init__(self, answers: dict[str, Understanding]) -> None:
        super().__init__([])
        self.answers = answers
        self.name = "intent"
        self.home_changes: list[Home] = []

    def set_home(self, home: Home) -> None:
        self.home_changes.append(home)

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding:
        return self.answers.get(text, Understanding(None, "Sorry, I didn't understand.", "none"))

    def quick(self, text: str) -> Understanding | None:
        u = self.answers.get(text)
        return u if u is not None and u.tier == "template" else None

    def stream_reply(self, text: str) -> Iterator[str]:
        yield "Forty-two."
        yield "Or so they say."


class FakeTts:
    name = "tts"

    def __init__(self, seconds_per_sentence: float = 0.0, audio: OutputAudio | None = None) -> None:
        """audio: what each sentence sounds like (default: 0.1 s of silence)."""
        self.said: list[str] = []
        self.delay = seconds_per_sentence
        self.audio = audio or OutputAudio(bytes(2 * 2205), 22050)

    def load(self) -> None: ...

    def warm(self) -> None: ...

    def speak(self, text: str, *, cache: bool = False) -> Iterator[OutputAudio]:
        self.said.append(text)
        if self.delay:
            threading.Event().wait(self.delay)
        yield self.audio


@dataclass
class RecordingSink:
    written: list[OutputAudio] = field(default_factory=list)
    stops: int = 0

    def write(self, audio: OutputAudio) -> None:
        self.written.append(audio)

    def drain(self) -> None: ...

    def stop(self) -> None:
        self.stops += 1


class FakeExecutor:
    """Carries actions out by recording them; answers with a given outcome, or never (hang=True)."""

    def __init__(self, outcome: ActionOutcome | None = None, *, hang: bool = False) -> None:
        self.outcome = outcome or ActionOutcome(done=True, by="fake")
        self.hang = hang
        self.done: list[Intent] = []

    async def execute(self, event: IntentRecognized) -> ActionOutcome:
        if self.hang:
            await asyncio.sleep(3600)
        self.done.append(event.understanding.intent)
        return self.outcome


def turn_on_kitchen() -> Understanding:
    intent = Intent("HassTurnOn", {"name": "kitchen light"}, ("light.kitchen",))
    return Understanding(intent, "Turned on the kitchen light.", "template", confidence=1.0)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (on the loop) until condition() holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.001)
