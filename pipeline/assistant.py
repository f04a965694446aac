"""The turn state machine: idle -> awake -> listening -> thinking -> speaking -> idle.

It owns the order of the stages (they never call each other), moves frames on the event loop, runs every model
call in one worker thread (so models never fight for the cores or block audio), and reports what happens as
events to observers, which must not block.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol, TypeVar

from pipeline.frames import (
    AudioFrame,
    Event,
    IntentRecognized,
    OutputAudio,
    ReplyFinished,
    ReplyStarted,
    SpeechEnded,
    SpeechStarted,
    StateChanged,
    Transcript,
    TurnFinished,
    WakeDetected,
)
from pipeline.intent.model import Understanding
from pipeline.intent.tiers import IntentTiers
from pipeline.stt import SpeechToText
from pipeline.tts import TextToSpeech
from pipeline.vad import Endpoint, Endpointer
from pipeline.wake import WakeWordDetector

log = logging.getLogger(__name__)
T = TypeVar("T")
Observer = Callable[[Event], None]


class Sink(Protocol):
    def write(self, audio: OutputAudio) -> None: ...
    def drain(self) -> None: ...


@dataclass(frozen=True)
class AssistantOptions:
    """How turns behave (plain values: the daemon fills them from config)."""

    wake_word_required: bool = True
    """False: listen for a command without a wake word (each input is one command)."""
    earcon: OutputAudio | None = None
    """Played when the wake word is heard; None: silent."""
    follow_up: bool = False
    """After replying, listen for another command without the wake word."""
    follow_up_timeout_s: float = 4.0
    """How long follow-up listening waits for speech."""
    speculative_stt: bool = True
    """Transcribe at a short pause; keep the result when no speech follows."""
    semantic_endpoint: bool = True
    """Commit the command early when the speculative transcript is a complete template command."""
    reply_cache: bool = True
    """Reuse synthesized audio for short replies said before."""
    recheck_stt: bool = False
    """When templates find nothing in a short-window transcript, transcribe again with Whisper's 30 s window
    before asking the language model (the two windows mishear different commands)."""
    stream_reply: bool = True
    """Play each sentence as soon as it is synthesized; False: synthesize the whole reply first (as Home
    Assistant's pipeline does), for the benchmark's baseline."""


@dataclass
class _Turn:
    id: str
    wake_word: str | None
    started: float = field(default_factory=time.monotonic)
    spec_task: asyncio.Task[tuple[str, float, Understanding | None]] | None = None
    spec_end_s: float | None = None
    """Audio position of speech end the speculative transcript covers; None once speech resumed."""


class Assistant:
    """Runs turns over a stream of frames. Controls (say, listen, mute, ...) must be called on the event loop."""

    def __init__(
        self,
        *,
        wake: WakeWordDetector | None,
        endpointer: Endpointer,
        stt: SpeechToText,
        intents: IntentTiers,
        tts: TextToSpeech,
        sink: Sink,
        options: AssistantOptions = AssistantOptions(),
        observers: Iterable[Observer] = (),
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.wake = wake
        self.endpointer = endpointer
        self.stt = stt
        self.intents = intents
        self.tts = tts
        self.sink = sink
        self.options = options
        self.observers = list(observers)
        self.heartbeat = heartbeat
        # One worker for every model call: on 2 cores, parallel model calls only slow each other down.
        self._models = ThreadPoolExecutor(1, thread_name_prefix="models")
        self._audio_out = ThreadPoolExecutor(1, thread_name_prefix="sink")
        self._loop: asyncio.AbstractEventLoop | None = None
        self.state = "idle"
        self.muted = False
        self._turn: _Turn | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()  # no turn until run() starts one

    # ---- start-up -------------------------------------------------------------------------------------------

    def load(self) -> dict[str, float]:
        """Load and warm every model once; returns seconds per stage (blocking: call from a thread at start-up)."""
        took: dict[str, float] = {}
        stages: list[Any] = [self.wake, self.endpointer, self.stt, self.intents, self.tts]
        for stage in stages:
            if stage is None:
                continue
            t0 = time.perf_counter()
            stage.load()
            stage.warm()
            took[stage.name] = time.perf_counter() - t0
        return took

    def close(self) -> None:
        self._models.shutdown(wait=True, cancel_futures=True)
        self._audio_out.shutdown(wait=True, cancel_futures=True)

    # ---- the frame loop -------------------------------------------------------------------------------------

    async def run(self, frames: AsyncIterator[AudioFrame]) -> None:
        """Consume frames until the source ends, then finish the turn in progress."""
        self._loop = asyncio.get_running_loop()
        self._idle.set()
        self.state = "muted" if self.muted else "idle"
        self._emit(StateChanged("", state=self.state))  # observers learn the state they start in
        if not self.options.wake_word_required:
            self.listen()
        async for frame in frames:
            if self.heartbeat is not None:
                self.heartbeat()
            self._on_frame(frame)
        # The stream ended: what was heard is a command; a turn in flight may still open follow-up listening,
        # which hears nothing more now.
        while True:
            if self.state == "listening":
                self._finish_listening(self.endpointer.finish("eof"))
            if not self._tasks:
                break
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._idle.wait()

    async def wait_idle(self) -> None:
        """Wait until no turn is in progress."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._idle.wait()

    def reset(self) -> None:
        """Forget streaming state (between unrelated inputs, e.g. files)."""
        if self.wake is not None:
            self.wake.reset()
        self.endpointer.reset()
        self._turn = None

    def _on_frame(self, frame: AudioFrame) -> None:
        if self.state == "listening":
            for endpoint in self.endpointer.process(frame):
                self._on_endpoint(endpoint)
        else:
            self.endpointer.observe(frame)  # keeps the VAD current, so a command can begin before the wake hit
        if self.wake is not None and not self.muted:
            # Fed in every state so its streaming features stay current; a hit counts only when idle, which is
            # also what keeps the assistant from waking itself up while it speaks.
            hits = list(self.wake.process(frame))
            if hits and self.state == "idle":
                self._start_listening(hits[0].word, stream_s=hits[0].stream_s)

    # ---- controls -------------------------------------------------------------------------------------------

    def listen(self) -> None:
        """Start listening for a command without the wake word."""
        if self.state in ("idle", "muted"):
            self._start_listening(None)

    def say(self, text: str) -> None:
        """Speak a text (from MQTT say/set), after any turn in progress."""
        self._spawn(self._say(text))

    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) listening for the wake word."""
        self.muted = muted
        if self.state in ("idle", "muted"):
            self._set_state("muted" if muted else "idle")

    def set_wake_threshold(self, value: float | None) -> None:
        if self.wake is not None:
            self.wake.set_threshold(value)

    def set_wake_word(self, word: str) -> None:
        if self.wake is not None:
            self.wake.enable_only(word)

    # ---- the turn -------------------------------------------------------------------------------------------

    def _start_listening(self, wake_word: str | None, *, stream_s: float = 0.0, timeout_s: float | None = None) -> None:
        self._turn = _Turn(uuid.uuid4().hex[:12], wake_word)
        self._idle.clear()
        if wake_word is not None:
            self._emit(WakeDetected(self._turn.id, wake_word=wake_word, stream_s=stream_s))
            self._set_state("awake")
            if self.options.earcon is not None:
                self._audio_out.submit(self.sink.write, self.options.earcon)
        self._set_state("listening")
        # After a wake word, the command may have begun before the detection: start it at the pause after it.
        for endpoint in self.endpointer.begin(timeout_s, look_back=wake_word is not None):
            self._on_endpoint(endpoint)

    def _on_endpoint(self, ep: Endpoint) -> None:
        turn = self._turn
        assert turn is not None
        if ep.kind == "start":
            self._emit(SpeechStarted(turn.id, stream_s=ep.stream_s))
        elif ep.kind == "pause":
            if self.options.speculative_stt and turn.spec_task is None:
                turn.spec_end_s = ep.stream_s
                turn.spec_task = self._spawn(self._speculate(turn, ep))
        elif ep.kind == "resume":
            turn.spec_end_s = None
            if turn.spec_task is not None and turn.spec_task.done():
                turn.spec_task = None  # a new pause may start a fresh speculation
        elif ep.kind == "end":
            self._finish_listening(ep)
        elif ep.kind == "timeout":
            self._turn = None
            self._emit(TurnFinished(turn.id, wake_word=turn.wake_word, transcript="", understanding=None,
                                    speech_end_s=None, timings_ms={}))
            self._back_to_idle()

    def _finish_listening(self, ep: Endpoint | None) -> None:
        turn = self._turn
        if turn is None:
            return
        if ep is None:  # the stream ended before anyone spoke
            self._turn = None
            self._back_to_idle()
            return
        self._set_state("thinking")
        self._spawn(self._complete(turn, ep, time.monotonic()))

    async def _speculate(self, turn: _Turn, ep: Endpoint) -> tuple[str, float, Understanding | None]:
        """Transcribe at a pause; with semantic endpointing, commit at once if the text is a template command."""
        text, stt_s = await self._run_timed(self.stt.transcribe, ep.audio)
        quick = None
        if self.options.semantic_endpoint and text:
            quick, _ = await self._run_timed(self.intents.quick, text)
            still_paused = self._turn is turn and self.state == "listening" and turn.spec_end_s == ep.stream_s
            if quick is not None and quick.intent is not None and still_paused:
                self._finish_listening(self.endpointer.finish("semantic"))
        return text, stt_s, quick

    async def _complete(self, turn: _Turn, ep: Endpoint, endpoint_at: float) -> None:
        speech_end_at = ep.arrived
        self._emit(SpeechEnded(turn.id, stream_s=ep.stream_s, reason=ep.reason, audio=ep.audio))
        timings: dict[str, float] = {"endpoint": _ms(endpoint_at - speech_end_at)}
        milestones = {"speech_end": speech_end_at, "endpoint": endpoint_at}
        quick: Understanding | None = None
        if turn.spec_task is not None and turn.spec_end_s == ep.stream_s:
            # Nothing was said after the pause: the speculative transcript covers this very audio.
            text, stt_s, quick = await turn.spec_task
        else:
            text, stt_s = await self._run_timed(self.stt.transcribe, ep.audio)
        milestones["transcript"] = time.monotonic()
        timings["stt"] = _ms(stt_s)
        self._emit(Transcript(turn.id, text=text))
        if (quick is None or quick.intent is None) and self.options.recheck_stt:
            quick, intent_s = await self._run_timed(self.intents.quick, text)
            if quick is None or quick.intent is None:
                again, again_s = await self._run_timed(partial(self.stt.transcribe, short_window=False), ep.audio)
                timings["stt"] = _ms(stt_s + again_s)
                if again != text:
                    found, _ = await self._run_timed(self.intents.quick, again)
                    if found is not None and found.intent is not None:
                        text, quick = again, found
                        self._emit(Transcript(turn.id, text=text))
        if quick is not None and quick.intent is not None:
            understanding, intent_s = quick, 0.0
        else:
            understanding, intent_s = await self._run_timed(self.intents.understand, text)
        milestones["intent"] = intent_at = time.monotonic()
        timings["intent"] = _ms(intent_s)
        timings["speech_end_to_intent"] = _ms(intent_at - speech_end_at)
        # The action goes out before any reply audio is synthesized.
        self._emit(IntentRecognized(turn.id, text=text, understanding=understanding, timings_ms=dict(timings)))
        if self.intents.is_open_question(understanding):
            # An open question: the language model's answer is spoken sentence by sentence as it is generated.
            first_audio_at, spoken = await self._speak(turn.id, self.intents.stream_reply(text))
            understanding = replace(understanding, reply=" ".join(spoken))
        else:
            first_audio_at, _ = await self._speak(turn.id, [understanding.reply])
        if first_audio_at is not None:
            milestones["first_audio"] = first_audio_at
            timings["tts_first_audio"] = _ms(first_audio_at - intent_at)
            timings["speech_end_to_first_audio"] = _ms(first_audio_at - speech_end_at)
        if self._turn is turn:
            self._turn = None
        self._emit(TurnFinished(turn.id, wake_word=turn.wake_word, transcript=text, understanding=understanding,
                                speech_end_s=ep.stream_s, timings_ms=timings, milestones=milestones))
        if self.options.follow_up and understanding.intent is not None and self.options.wake_word_required:
            self._start_listening(None, timeout_s=self.options.follow_up_timeout_s)
        else:
            self._back_to_idle()

    async def _say(self, text: str) -> None:
        await self.wait_idle_turn()
        self._idle.clear()
        await self._speak("", [text])
        self._back_to_idle()

    async def wait_idle_turn(self) -> None:
        while self.state not in ("idle", "muted"):
            await self._idle.wait()
            await asyncio.sleep(0)

    async def _speak(self, turn_id: str, sentences: Iterable[str]) -> tuple[float | None, list[str]]:
        """Synthesize and play sentences as they come (a list, or the language model's stream).

        Returns when the first audio was handed to the sink (None if nothing was said) and what was said.
        """
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[OutputAudio | str | None] = asyncio.Queue()
        spoken: list[str] = []

        def synthesize() -> None:
            try:
                for sentence in sentences:
                    if not sentence.strip():
                        continue
                    spoken.append(sentence)
                    loop.call_soon_threadsafe(chunks.put_nowait, sentence)
                    for chunk in self.tts.speak(sentence, cache=self.options.reply_cache):
                        loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, None)

        producer = loop.run_in_executor(self._models, synthesize)
        if not self.options.stream_reply:
            await producer
        first: float | None = None
        started = False
        while (chunk := await chunks.get()) is not None:
            if isinstance(chunk, str):  # a sentence about to be synthesized
                if not started:
                    started = True
                    self._set_state("speaking")
                    self._emit(ReplyStarted(turn_id, text=chunk))
                continue
            if first is None:
                first = time.monotonic()
            await loop.run_in_executor(self._audio_out, self.sink.write, chunk)
        await producer
        if first is not None:
            await loop.run_in_executor(self._audio_out, self.sink.drain)
            self._emit(ReplyFinished(turn_id))
        return first, spoken

    # ---- plumbing -------------------------------------------------------------------------------------------

    async def _run_timed(self, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
        """Run a model call in the model worker; returns its result and its own compute time."""

        def timed() -> tuple[T, float]:
            t0 = time.perf_counter()
            return fn(*args), time.perf_counter() - t0

        return await asyncio.get_running_loop().run_in_executor(self._models, timed)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("turn failed", exc_info=task.exception())
            self._turn = None
            self._back_to_idle()

    def _back_to_idle(self) -> None:
        self._set_state("muted" if self.muted else "idle")
        self._idle.set()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._emit(StateChanged(self._turn.id if self._turn else "", state=state))

    def _emit(self, event: Event) -> None:
        for observer in self.observers:
            try:
                observer(event)
            except Exception:  # an observer's bug must never stop the audio loop
                log.exception("observer %r failed on %s", observer, type(event).__name__)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
