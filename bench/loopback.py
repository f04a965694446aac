"""A simulated sound card whose speaker its microphone hears, for barge-in on rendered speech (the tests and
`python -m slm_voice.bench.stopword`): the speaker and the microphone share one sample clock, and every 512-sample
microphone frame carries what the speaker played meanwhile (times the echo gain, one frame late) plus the person's
speech. How long audio kept playing after a word is counted in those samples, not in wall-clock time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from ..pipeline.assistant import Assistant
from ..pipeline.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, OutputAudio
from ..pipeline.pcm import RateMatcher


class Loopback:
    """A sound card whose speaker is heard by its microphone: write() queues audio (returns at once, as a speaker
    does), each microphone frame takes the next 512 samples of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued = np.zeros(0, np.int16)
        self._match = RateMatcher(SAMPLE_RATE)
        self.position = 0
        """Microphone samples so far (the card's clock)."""
        self.stops: list[int] = []
        """The clock when the assistant stopped playing (sink.stop())."""
        self.played: list[int] = []
        """Samples of the assistant's audio played in each microphone frame."""

    def write(self, audio: OutputAudio) -> None:
        pcm = self._match.convert(audio)
        with self._lock:
            self._queued = np.concatenate([self._queued, pcm])

    def drain(self) -> None:
        with self._lock:
            self._queued = np.concatenate([self._queued, self._match.flush()])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queued.size:
                    return
            time.sleep(0.005)

    def stop(self) -> None:
        with self._lock:
            self._queued = np.zeros(0, np.int16)
            self._match.flush()
            self.stops.append(self.position)

    def take(self) -> np.ndarray:
        with self._lock:
            out, self._queued = self._queued[:FRAME_SAMPLES], self._queued[FRAME_SAMPLES:]
            self.position += FRAME_SAMPLES
            self.played.append(len(out))
        return np.pad(out, (0, FRAME_SAMPLES - len(out)))

    def playing(self) -> bool:
        with self._lock:
            return bool(self._queued.size)


Script = Callable[[int, Loopback], "np.ndarray | None"]


async def mic(card: Loopback, near: Script, *, echo_gain: float, seconds: float) -> AsyncIterator[AudioFrame]:
    """Microphone frames at real pace: the person's speech (near(frame index, card)) plus the echo of what the
    speaker played one frame earlier."""
    echo = np.zeros(FRAME_SAMPLES, np.float32)
    t0 = time.monotonic()
    for i in range(round(seconds * SAMPLE_RATE / FRAME_SAMPLES)):
        if (wait := t0 + i * FRAME_SAMPLES / SAMPLE_RATE - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        person = near(i, card)
        x = echo_gain * echo + (person.astype(np.float32) if person is not None else 0)
        echo = card.take().astype(np.float32)
        pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
        yield AudioFrame(pcm, i * FRAME_SAMPLES / SAMPLE_RATE)
        await asyncio.sleep(0)


class Speech:
    """A rendered utterance said into the microphone from the frame where start() is called on."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples = samples
        self.first: int | None = None

    def start(self, i: int) -> None:
        if self.first is None:
            self.first = i

    def frame(self, i: int) -> np.ndarray | None:
        if self.first is None:
            return None
        k = (i - self.first) * FRAME_SAMPLES
        chunk = self.samples[k : k + FRAME_SAMPLES]
        return np.pad(chunk, (0, FRAME_SAMPLES - len(chunk))) if len(chunk) else None

    def at(self, seconds: float) -> int:
        """The card's clock when this utterance reaches `seconds` into its file."""
        assert self.first is not None
        return self.first * FRAME_SAMPLES + round(seconds * SAMPLE_RATE)


def run(assistant: Assistant, frames: AsyncIterator[AudioFrame], start: Callable[[Assistant], None]) -> None:
    """Run the assistant on the microphone frames; start() is called first (a reply, a timer); closed after."""
    async def go() -> None:
        start(assistant)
        await assistant.run(frames)

    try:
        asyncio.run(go())
    finally:
        assistant.close()
