"""Speaking: replies synthesized in the model thread and played in an audio thread of their own, sentence by
sentence, so the first sentence plays while the next is synthesized; and the queue of texts to say (MQTT say/set)
after the turn in progress."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from .compute import ModelThread
from .events import Event, ReplyFinished, ReplyStarted, StageName, StageTimed
from .frames import OutputAudio
from .roles import Sink, Synthesizer
from .tts import clean_text

log = logging.getLogger(__name__)

MAX_QUEUED_SAYS = 3
"""Texts from say() that may wait for their turn to be spoken; more are dropped with a warning."""


class Voice:
    """Says sentences through the synthesizer and the sink; reports ReplyStarted/ReplyFinished and each chunk's
    compute. Call its coroutines on the event loop."""

    def __init__(self, tts: Synthesizer, sink: Sink, models: ModelThread, emit: Callable[[Event], None], *,
                 reply_cache: bool = True, stream_reply: bool = True) -> None:
        """reply_cache: reuse audio for short replies said before. stream_reply: False synthesizes the whole reply
        before playing it (as Home Assistant's pipeline does: the benchmark's baseline)."""
        self.tts = tts
        self.sink = sink
        self.models = models
        self._emit = emit
        self.reply_cache = reply_cache
        self.stream_reply = stream_reply
        # Its own thread: a sink's write may block for as long as the audio plays.
        self._audio_out = ThreadPoolExecutor(1, thread_name_prefix="sink")

    def play_soon(self, audio: OutputAudio) -> None:
        """Play audio (the earcon) without waiting for it."""
        self._audio_out.submit(self.sink.write, audio)

    async def play(self, audio: OutputAudio) -> None:
        """Play audio and wait until the sink took it."""
        await asyncio.get_running_loop().run_in_executor(self._audio_out, self.sink.write, audio)

    async def speak(self, turn_id: str, sentences: Iterable[str], on_start: Callable[[], None] = lambda: None
                    ) -> tuple[float | None, list[str]]:
        """Synthesize and play sentences as they come (a list, or the language model's stream); on_start is called
        before the first sentence is synthesized.

        Returns when the first audio was handed to the sink (None if nothing was said) and what was said.
        """
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[OutputAudio | str | None] = asyncio.Queue()
        spoken: list[str] = []

        def synthesize() -> None:  # in the model thread
            try:
                for sentence in map(clean_text, sentences):
                    if not sentence:
                        continue
                    spoken.append(sentence)
                    loop.call_soon_threadsafe(chunks.put_nowait, sentence)
                    audio = self.tts.speak(sentence, cache=self.reply_cache)
                    for chunk in self._timed_chunks(loop, turn_id, audio):
                        loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, None)

        producer = self.models.start(synthesize)
        if not self.stream_reply:
            await producer
        first: float | None = None
        started = False
        while (chunk := await chunks.get()) is not None:
            if isinstance(chunk, str):  # a sentence about to be synthesized
                if not started:
                    started = True
                    on_start()
                    self._emit(ReplyStarted(turn_id, text=chunk))
                continue
            if first is None:
                first = time.monotonic()
            await self.play(chunk)
        await producer
        if first is not None:
            await loop.run_in_executor(self._audio_out, self.sink.drain)
            self._emit(ReplyFinished(turn_id))
        return first, spoken

    def _timed_chunks(self, loop: asyncio.AbstractEventLoop, turn_id: str, chunks: Iterator[OutputAudio]
                      ) -> Iterator[OutputAudio]:
        """The synthesizer's chunks, each reported with its compute time (runs in the model thread; observers are
        called on the event loop)."""
        while True:
            started, t0 = time.monotonic(), time.perf_counter()
            chunk = next(chunks, None)
            if chunk is None:
                return
            event = StageTimed(turn_id, stage=StageName.TTS, call="chunk", started=started,
                               seconds=time.perf_counter() - t0, audio_s=len(chunk.pcm) / 2 / chunk.sample_rate)
            loop.call_soon_threadsafe(self._emit, event)
            yield chunk

    def close(self, *, wait: bool = True) -> None:
        self._audio_out.shutdown(wait=wait, cancel_futures=True)


class SayQueue:
    """Counts the texts waiting to be said after the turn in progress: a flood of them (MQTT say) must not keep the
    assistant talking for minutes."""

    def __init__(self, limit: int = MAX_QUEUED_SAYS) -> None:
        self.limit = limit
        self.waiting = 0

    def admit(self) -> bool:
        """One more text may wait; False (and a warning) when `limit` already do."""
        if self.waiting >= self.limit:
            log.warning("say: %d texts already waiting to be spoken; this one is dropped", self.waiting)
            return False
        self.waiting += 1
        return True

    def leave(self) -> None:
        """A text stopped waiting (its turn came, or it was cancelled)."""
        self.waiting -= 1
