"""The turn state machine: idle -> awake -> listening -> thinking -> speaking -> idle.

It owns the order of the stages (they never call each other), moves frames on the event loop, runs every model
call in one worker thread (so models never fight for the cores or block audio), has each action carried out
before the reply says it was, and reports what happens as events to observers, which must not block. Every stage
reports its own compute as StageTimed events: the log, MQTT and the benchmark are observers alike.

A turn reads: transcribe -> understand -> act -> reply. The steps' mechanics live beside it: hearing.py (speech to
text, speculative and rechecked), acting.py (timers, the executor's deadline), speaking.py (synthesis and playback
threads, the say queue), compute.py (the model thread and the stages' timing). Its other parts are mixed in, each
in its own module: arbitrating.py (which satellite answers), interrupting.py (barge-in), announcing.py (say,
announce, ask), timer_turns.py (turns without audio) and loading.py (start-up, shut-down); turn.py holds a
turn's bookkeeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from typing import Any

from .acting import Acting
from .announcing import Announcing
from .arbitrating import Arbitrating
from .assistant_options import AssistantOptions
from .bargein import ECHO_TAIL_S, BargeIn, Bursts, EchoReference, StopWords
from .compute import FrameClock, ModelThread
from .denoise import FrontEnd
from .events import (
    Event,
    IntentRecognized,
    Milestone,
    SpeechEnded,
    SpeechStarted,
    StageName,
    StateChanged,
    Timing,
    TurnFinished,
    TurnState,
    WakeDetected,
    ms,
)
from .frames import AudioFrame
from .hearing import Heard, Hearing
from .intent.model import Home, Understanding
from .interrupting import Interrupting
from .level import LevelMeter
from .loading import Loading
from .roles import (
    AlwaysMine,
    Arbiter,
    Endpointing,
    Executor,
    Sink,
    Synthesizer,
    Transcriber,
    Transcription,
    Understander,
    WakeWord,
)
from .speaking import SayQueue, Voice
from .timer_turns import TimerTurns
from .timers import Timers
from .turn import Turn
from .vad import Endpoint

__all__ = ["FAILED", "NOT_CONFIRMED", "Assistant", "AssistantOptions", "Observer"]

log = logging.getLogger(__name__)
Observer = Callable[[Event], None]

FAILED = "Sorry, something went wrong."
"""Said when a stage fails in the middle of a turn."""
NOT_CONFIRMED = "Okay, I won't."
VERDICT_WAIT_S = 2.0
"""Longest an ended command waits for the arbiter's verdict; then this satellite answers (an arbiter must settle
sooner: this only keeps a broken one from hanging the turn)."""
DEFAULT_OPTIONS = AssistantOptions()
"""Frozen: one instance serves every assistant built without options."""


class Assistant(Loading, Arbitrating, Interrupting, Announcing, TimerTurns):
    """Runs turns over a stream of frames. Controls (say, listen, mute, ...) must be called on the event loop."""

    def __init__(
        self,
        *,
        wake: WakeWord | None,
        endpointer: Endpointing,
        stt: Transcriber,
        intents: Understander,
        tts: Synthesizer,
        sink: Sink,
        executor: Executor | None = None,
        options: AssistantOptions = DEFAULT_OPTIONS,
        observers: Iterable[Observer] = (),
        heartbeat: Callable[[], None] | None = None,
        arbiter: Arbiter | None = None,
        echo_wake: WakeWord | None = None,
        frontend: FrontEnd | None = None,
    ) -> None:
        """executor: carries actions out before the reply (None: nothing does, the tier's reply is spoken as is,
        for `process` and the bench). heartbeat: called for every frame (the systemd watchdog). arbiter: whether a
        wake word heard by several satellites is this one's to answer (None: always; may be set later, between
        turns). echo_wake: a second detector of the same wake words, run on what the assistant plays (its own voice
        saying the wake word must not barge in: bargein.EchoReference). frontend: noise suppression and gain on
        every frame before the VAD and so speech-to-text (None: the frames as they come); the wake word, the level
        meter and the stop-word echo canceller take the frames as they came (see _on_frame)."""
        self.wake = wake
        self.echo_wake = echo_wake
        self.frontend = frontend
        self.endpointer = endpointer
        self.stt = stt
        self.intents = intents
        self.tts = tts
        self.sink = sink
        self.options = options
        self.observers = list(observers)
        self.heartbeat = heartbeat
        self.arbiter: Arbiter = arbiter or AlwaysMine()
        self.level = LevelMeter()
        """How loud the wake word was heard, over the noise (the arbiter's evidence)."""
        self.models = ModelThread(self._emit)
        self.echo = EchoReference(echo_wake)
        self.voice = Voice(tts, sink, self.models, self._emit, reply_cache=options.reply_cache,
                           stream_reply=options.stream_reply, echo=self.echo)
        self._barge: BargeIn | None = None
        """A barge-in whose speaking has not ended yet (a wake word's command is listened to when it has)."""
        # its own voice subtracted before the stop-word check, and bursts found in what is left
        self._bursts = Bursts(echo=self.echo, vad=endpointer.second_detector())
        self._stop_words = StopWords(options.stop_words)
        self._checking = False
        self._quiet_turn: Turn | None = None
        self.hearing = Hearing(stt, intents, self.models, self._emit, recheck=options.recheck_stt)
        self.state = TurnState.IDLE
        self.muted = False
        self._turn: Turn | None = None
        self._awaiting: Understanding | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._says = SayQueue()
        self._idle = asyncio.Event()
        self._idle.set()  # no turn until run() starts one
        self._clocks = {s: FrameClock(s) for s in (StageName.WAKE, StageName.VAD)}
        self.timers = Timers(self._timer_done, on_missed=self._timer_missed)
        """The satellite's timers (they ring, or carry out a delayed command, when they end)."""
        self.acting = Acting(self.timers, executor, self._emit, timeout_s=options.action_timeout_s)

    # ---- the frame loop -------------------------------------------------------------------------------------

    async def run(self, frames: AsyncIterator[AudioFrame]) -> None:
        """Consume frames until the source ends, then finish the turn in progress."""
        self._idle.set()
        self.state = TurnState.MUTED if self.muted else TurnState.IDLE
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
            if self.state == TurnState.LISTENING:
                self._finish_listening(self.endpointer.finish("eof"))
            if not self._tasks:
                break
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._idle.wait()
        self._report_frames("")

    async def wait_idle(self) -> None:
        """Wait until no turn is in progress."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._idle.wait()

    def reset(self) -> None:
        """Forget streaming state (between unrelated inputs, e.g. files)."""
        if self.wake is not None:
            self.wake.reset()
        if self.frontend is not None:
            self.frontend.reset()
        self.level.reset()
        self.endpointer.reset()
        self._turn = None
        self._awaiting = None

    def _on_frame(self, heard: AudioFrame) -> None:
        # The front end (noise suppression, gain) feeds the VAD and so what is transcribed. The wake word hears
        # the microphone as it is: on suppressed audio openWakeWord missed 7 of 102 phrases it caught without, and
        # fired on the phrase's last syllable (docs/hearing.md). So does the level meter (its speech-over-noise is
        # the arbiter's evidence of which satellite is nearest; gain and suppression would level it out) and the
        # echo canceller before the stop-word check (a linear filter: it must see the echo as the room made it).
        frame = heard if self.frontend is None else self.frontend.process(heard)
        vad = self._clocks[StageName.VAD]
        t0 = time.perf_counter()
        if self.state == TurnState.LISTENING:
            endpoints = list(self.endpointer.process(frame))
        else:
            endpoints = []
            self.endpointer.observe(frame)  # keeps the VAD current, so a command can begin before the wake hit
        vad.seconds += time.perf_counter() - t0
        vad.audio_s += frame.duration_s
        for endpoint in endpoints:
            self._on_endpoint(endpoint)
        speaking = self.state == TurnState.SPEAKING and self.options.barge_in and not self.muted
        if speaking and self._barge is None and self._stop_words.phrases:
            self._listen_for_stop(heard)
        if self.wake is not None and not self.muted:
            # Fed in every state so its streaming features stay current; a hit counts only when idle, which is
            # also what keeps the assistant from waking itself up while it speaks.
            clock = self._clocks[StageName.WAKE]
            t0 = time.perf_counter()
            self.level.observe(heard)
            hits = list(self.wake.process(heard))
            clock.seconds += time.perf_counter() - t0
            clock.audio_s += heard.duration_s
            if hits and self.state == TurnState.IDLE:
                self._start_listening(hits[0].word, stream_s=hits[0].stream_s, probability=hits[0].probability)
            elif hits and speaking and self._barge is None:
                if self.echo.explains(heard.arrived):
                    log.info("wake word while speaking: its own voice (the played audio fires it too); ignored")
                else:
                    self._barge_in(BargeIn("wake", hits[0].word, hits[0].stream_s, hits[0].probability))


    # ---- controls -------------------------------------------------------------------------------------------

    def listen(self) -> None:
        """Start listening for a command without the wake word."""
        if self.state in (TurnState.IDLE, TurnState.MUTED):
            self._start_listening(None)


    def set_muted(self, muted: bool) -> None:
        """Stop (or resume) listening for the wake word."""
        self.muted = muted
        if self.state in (TurnState.IDLE, TurnState.MUTED):
            self._set_state(TurnState.MUTED if muted else TurnState.IDLE)

    def set_wake_threshold(self, value: float | None) -> None:
        if self.wake is not None:
            self.wake.set_threshold(value)

    def set_wake_word(self, word: str) -> None:
        if self.wake is not None:
            self.wake.enable_only(word)

    # ---- listening ------------------------------------------------------------------------------------------

    def _start_listening(self, wake_word: str | None, *, stream_s: float = 0.0, timeout_s: float | None = None,
                         probability: float = 1.0, barged_in: bool = False) -> None:
        self._barge = None
        turn = self._turn = Turn(uuid.uuid4().hex[:12], wake_word, awaiting=self._awaiting)
        # After a barge-in the reply stopping says it was heard; a chime would only play over the command.
        self._quiet_turn = turn if barged_in else None
        self._awaiting = None
        self._idle.clear()
        if wake_word is not None:
            self._emit(WakeDetected(turn.id, wake_word=wake_word, stream_s=stream_s))
            self._set_state(TurnState.AWAKE)
            if not self._claim(turn, wake_word, probability):
                return  # another satellite's claim was better: the turn is dropped
        self._set_state(TurnState.LISTENING)
        # After a wake word, the command may have begun before the detection: start it at the pause after it.
        # Over its own voice the echo left no pause to find: the command is what follows the wake hit.
        after_s = stream_s + ECHO_TAIL_S if barged_in else None
        for endpoint in self.endpointer.begin(timeout_s, look_back=wake_word is not None, after_s=after_s):
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
            self._answer(turn, "")
            self._finish_turn(TurnFinished(turn.id, wake_word=turn.wake_word, transcript="", understanding=None,
                                           speech_end_s=None, timings_ms={}))
            self._back_to_idle()

    def _finish_listening(self, ep: Endpoint | None) -> None:
        turn = self._turn
        if turn is None:
            return
        if ep is None:  # the stream ended before anyone spoke
            self._turn = None
            self._answer(turn, "")
            self._back_to_idle()
            return
        self._set_state(TurnState.THINKING)
        self._spawn(self._complete(turn, ep, time.monotonic()))

    async def _speculate(self, turn: Turn, ep: Endpoint) -> Heard | None:
        """Transcribe at a pause; with semantic endpointing, commit at once if the text is a template command.
        None when it failed: the turn then transcribes the command the ordinary way."""
        try:
            heard = await self.hearing.speculate(turn.id, ep.audio,
                                                 quick_look=self.options.semantic_endpoint and turn.awaiting is None)
        except Exception:
            log.warning("turn %s: speculative transcription failed", turn.id, exc_info=True)
            return None
        still_paused = self._turn is turn and self.state == TurnState.LISTENING and turn.spec_end_s == ep.stream_s
        if heard.quick is not None and heard.quick.intent is not None and still_paused:
            self._finish_listening(self.endpointer.finish("semantic"))
        return heard

    # ---- the turn: transcribe -> understand -> act -> reply ---------------------------------------------------

    async def _complete(self, turn: Turn, ep: Endpoint, endpoint_at: float) -> None:
        try:
            await self._steps(turn, ep, endpoint_at)
        except Exception:
            # A stage failed: say so (if the voice still works), end the turn and listen for the next one.
            log.exception("turn %s failed", turn.id)
            self._answer(turn, None)
            if self._turn is turn:
                self._turn = None
            self._awaiting = None
            failed = Understanding(None, FAILED, "none")
            self._finish_turn(TurnFinished(turn.id, wake_word=turn.wake_word, transcript="", understanding=failed,
                                           speech_end_s=ep.stream_s, timings_ms={}))
            try:
                await self._speak(turn.id, [FAILED])
            except Exception:
                log.exception("turn %s: the apology could not be spoken either", turn.id)
            self._back_to_idle()

    async def _steps(self, turn: Turn, ep: Endpoint, endpoint_at: float) -> None:
        speech_end_at = ep.arrived
        timings: dict[str, float] = {Timing.ENDPOINT: ms(endpoint_at - speech_end_at)}
        if not await self._verdict(turn, timings, VERDICT_WAIT_S):
            return  # another satellite answers
        self._emit(SpeechEnded(turn.id, stream_s=ep.stream_s, reason=ep.reason, audio=ep.audio))
        milestones = {Milestone.SPEECH_END: speech_end_at, Milestone.ENDPOINT: endpoint_at}

        speculated = None
        if turn.spec_task is not None and turn.spec_end_s == ep.stream_s:
            # Nothing was said after the pause: the speculative transcript covers this very audio.
            speculated = await turn.spec_task
        hearing = await self.hearing.transcribe(turn.id, ep.audio, speculated, awaiting=turn.awaiting is not None)
        heard, quick = hearing.transcription, hearing.quick
        timings[Timing.STT] = ms(hearing.stt_s)
        if turn.asked is not None:  # the answer to ask()'s question: told, neither understood nor acted on
            self._answer(turn, heard.text)
            if self._turn is turn:
                self._turn = None
            self._finish_turn(TurnFinished(turn.id, wake_word=None, transcript=heard.text, understanding=None,
                                           speech_end_s=ep.stream_s, timings_ms=timings))
            self._back_to_idle()
            return
        milestones[Milestone.TRANSCRIPT] = time.monotonic()
        understanding = await self._understand(turn, heard, quick, timings)
        milestones[Milestone.INTENT] = intent_at = time.monotonic()
        timings[Timing.SPEECH_END_TO_INTENT] = ms(intent_at - speech_end_at)
        # The action goes out before any reply audio is synthesized.
        recognized = IntentRecognized(turn.id, text=heard.text, understanding=understanding,
                                      timings_ms=dict(timings), wake_word=turn.wake_word)
        self._emit(recognized)
        understanding = await self._act(recognized, timings)
        milestones[Milestone.ACTION] = acted_at = time.monotonic()
        first_audio_at, understanding = await self._reply(turn.id, heard.text, understanding)
        if first_audio_at is not None:
            milestones[Milestone.FIRST_AUDIO] = first_audio_at
            timings[Timing.TTS_FIRST_AUDIO] = ms(first_audio_at - acted_at)
            timings[Timing.SPEECH_END_TO_FIRST_AUDIO] = ms(first_audio_at - speech_end_at)
        if self._turn is turn:
            self._turn = None
        self._finish_turn(TurnFinished(turn.id, wake_word=turn.wake_word, transcript=heard.text,
                                       understanding=understanding, speech_end_s=ep.stream_s, timings_ms=timings,
                                       milestones=milestones))
        if self._barge is not None:  # stopped while it spoke: no follow-up (a wake word's command is heard)
            self._back_to_idle()
        elif understanding.confirm is not None:
            # "Did you mean ...?": the answer needs no wake word.
            self._awaiting = understanding.confirm
            self._start_listening(None, timeout_s=self.options.follow_up_timeout_s)
        elif self.options.follow_up and understanding.intent is not None and self.options.wake_word_required:
            self._start_listening(None, timeout_s=self.options.follow_up_timeout_s)
        else:
            self._back_to_idle()

    async def _understand(self, turn: Turn, heard: Transcription, quick: Understanding | None,
                          timings: dict[str, float]) -> Understanding:
        """What the words mean; the answer to a pending "Did you mean ...?" first."""
        if turn.awaiting is not None:
            answer, intent_s = await self.models.timed(turn.id, StageName.INTENT, "yes_or_no",
                                                       self.intents.yes_or_no, heard.text)
            if answer is not None:
                timings[Timing.INTENT] = ms(intent_s)
                return turn.awaiting if answer else Understanding(None, NOT_CONFIRMED, turn.awaiting.tier)
            # Neither yes nor no: a new command.
        if quick is not None and quick.intent is not None:
            timings[Timing.INTENT] = 0.0
            return self.intents.confirm_risky(quick, heard.confidence)  # a risky action in an uncertain transcript
        understanding, intent_s = await self.models.timed(
            turn.id, StageName.INTENT, "understand", self.intents.understand, heard.text,
            kwargs={"transcript_confidence": heard.confidence})
        timings[Timing.INTENT] = ms(intent_s)
        return understanding

    async def _act(self, recognized: IntentRecognized, timings: dict[str, float]) -> Understanding:
        return await self.acting.act(recognized, timings)

    async def _reply(self, turn_id: str, text: str, u: Understanding) -> tuple[float | None, Understanding]:
        """Speak the reply (an open question's answer as the language model generates it); returns when the first
        audio went out and the understanding with what was really said."""
        if u.open_question:
            first_audio_at, spoken = await self._speak(turn_id, self.intents.stream_reply(text))
            return first_audio_at, replace(u, reply=" ".join(spoken))
        first_audio_at, _ = await self._speak(turn_id, [u.reply])
        return first_audio_at, u
    async def set_home(self, home: Home) -> None:
        """Serve a changed home from now on (the understander rebuilds its lists and speech-to-text its hotwords in
        the model worker, between turns' model calls)."""
        for stage in (self.intents, self.stt):
            await self.models.start(stage.set_home, home)

    async def wait_idle_turn(self) -> None:
        while self.state not in (TurnState.IDLE, TurnState.MUTED):
            await self._idle.wait()
            await asyncio.sleep(0)

    async def _speak(self, turn_id: str, sentences: Iterable[str]) -> tuple[float | None, list[str]]:
        """Say sentences (speaking.Voice); the state turns SPEAKING with the first."""
        return await self.voice.speak(turn_id, sentences, on_start=lambda: self._set_state(TurnState.SPEAKING))

    # ---- plumbing -------------------------------------------------------------------------------------------

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
            self._awaiting = None
            self._back_to_idle()

    def _finish_turn(self, event: TurnFinished) -> None:
        self._report_frames(event.turn_id)
        self._emit(event)

    def _report_frames(self, turn_id: str) -> None:
        for clock in self._clocks.values():
            if (event := clock.report(turn_id)) is not None:
                self._emit(event)

    def _back_to_idle(self) -> None:
        barge, self._barge = self._barge, None
        self._set_state(TurnState.MUTED if self.muted else TurnState.IDLE)
        self._idle.set()
        if barge is not None and barge.kind == "wake" and not self.muted and self._turn is None:
            # The wake word stopped it: the command that follows (maybe begun already) is heard as after any.
            self._start_listening(barge.word, stream_s=barge.stream_s, probability=barge.probability, barged_in=True)

    def _set_state(self, state: TurnState) -> None:
        if state != self.state:
            self.state = state
            self._emit(StateChanged(self._turn.id if self._turn else "", state=state))

    def _emit(self, event: Event) -> None:
        for observer in self.observers:
            try:
                observer(event)
            except Exception:  # an observer's bug must never stop the audio loop
                log.exception("observer %r failed on %s", observer, type(event).__name__)
