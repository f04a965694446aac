"""Speaking: replies synthesized in the model thread and played in an audio thread of their own, sentence by
sentence, so the first sentence plays while the next is synthesized; and the queue of texts to say (MQTT say/set)
after the turn in progress."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from .bargein import EchoReference
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
                 reply_cache: bool = True, stream_reply: bool = True, echo: EchoReference | None = None) -> None:
        """reply_cache: reuse audio for short replies said before. stream_reply: False synthesizes the whole reply
        before playing it (as Home Assistant's pipeline does: the benchmark's baseline). echo: told what is played
        (bargein.py: the assistant's own voice must not barge in)."""
        self.tts = tts
        self.sink = sink
        self.models = models
        self._emit = emit
        self.reply_cache = reply_cache
        self.stream_reply = stream_reply
        # Its own thread: a sink's write may block for as long as the audio plays.
        self._audio_out = ThreadPoolExecutor(1, thread_name_prefix="sink")
        self.echo = echo or EchoReference(None)
        self.epoch = 0
        """Counts interrupt() calls: audio of an earlier epoch is not played any more."""
        self.saying = ""
        """The sentences of the speak() in progress (what a stop word heard meanwhile may be an echo of)."""
        self._waiting: asyncio.Queue[tuple[OutputAudio, list[float]] | str | None] | None = None

    def interrupt(self) -> None:
        """Stop now (barge-in, on the event loop): the sink drops what it holds, the speak() and play() in progress
        return without playing the rest, synthesis stops at the next sentence."""
        self.epoch += 1
        self.sink.stop()
        self.echo.stopped()
        if self._waiting is not None:
            self._waiting.put_nowait(None)  # the speak() in progress stops waiting for the next sentence

    def _write(self, audio: OutputAudio, hits: list[float], epoch: int) -> None:  # in the audio thread
        if epoch != self.epoch:
            return
        self.echo.played(audio, hits)
        self.sink.write(audio)
        if epoch != self.epoch:  # interrupted while it was being handed over: take it back
            self.sink.stop()

    def play_soon(self, audio: OutputAudio) -> None:
        """Play audio (the earcon) without waiting for it."""
        self._audio_out.submit(self.sink.write, audio)

    async def play(self, audio: OutputAudio, hits: list[float] | None = None, epoch: int | None = None) -> None:
        """Play audio and wait until the sink took it (nothing once the voice was interrupted after `epoch`)."""
        await asyncio.get_running_loop().run_in_executor(self._audio_out, self._write, audio, hits or [],
                                                         self.epoch if epoch is None else epoch)

    async def speak(self, turn_id: str, sentences: Iterable[str], on_start: Callable[[], None] = lambda: None
                    ) -> tuple[float | None, list[str]]:
        """Synthesize and play sentences as they come (a list, or the language model's stream); on_start is called
        before the first sentence is synthesized.

        Returns when the first audio was handed to the sink (None if nothing was said) and what was said.
        """
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[OutputAudio, list[float]] | str | None] = asyncio.Queue()
        spoken: list[str] = []
        epoch = self.epoch
        self.saying = ""

        def synthesize() -> None:  # in the model thread
            try:
                for sentence in map(clean_text, sentences):
                    if epoch != self.epoch:
                        break
                    if not sentence:
                        continue
                    spoken.append(sentence)
                    loop.call_soon_threadsafe(chunks.put_nowait, sentence)
                    audio = self.tts.speak(sentence, cache=self.reply_cache)
                    for chunk in self._timed_chunks(loop, turn_id, audio):
                        # Where its own audio fires the wake word, scanned before it plays.
                        loop.call_soon_threadsafe(chunks.put_nowait, (chunk, self.echo.scan(chunk)))
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, None)

        producer = self.models.start(synthesize)
        self._waiting = chunks
        if not self.stream_reply:
            await producer
        first: float | None = None
        started = False
        while (chunk := await chunks.get()) is not None:
            if isinstance(chunk, str):  # a sentence about to be synthesized
                self.saying = f"{self.saying} {chunk}"
                if not started:
                    started = True
                    on_start()
                    self._emit(ReplyStarted(turn_id, text=chunk))
                continue
            if epoch != self.epoch:
                continue  # interrupted: what is left is not played
            if first is None:
                first = time.monotonic()
            await self.play(*chunk, epoch=epoch)
        if epoch != self.epoch:  # interrupted: the sentence being synthesized is not waited for
            producer.add_done_callback(lambda f: f.cancelled() or f.exception())
            return first, spoken
        await producer
        if first is not None:
            if epoch == self.epoch:
                await loop.run_in_executor(self._audio_out, self._drain, epoch)
            self._emit(ReplyFinished(turn_id))
        return first, spoken

    def _drain(self, epoch: int) -> None:  # in the audio thread
        if epoch == self.epoch:
            self.sink.drain()

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
