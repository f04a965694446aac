"""The turn state machine: idle -> awake -> listening -> thinking -> speaking -> idle.

It owns the order of the stages (they never call each other), moves frames on the event loop, runs every model
call in one worker thread (so models never fight for the cores or block audio), has each action carried out
before the reply says it was, and reports what happens as events to observers, which must not block. Every stage
reports its own compute as StageTimed events: the log, MQTT and the benchmark are observers alike.

A turn reads: transcribe -> understand -> act -> reply. The steps' mechanics live beside it: hearing.py (speech to
text, speculative and rechecked), acting.py (timers, the executor's deadline), speaking.py (synthesis and playback
threads, the say queue), compute.py (the model thread and the stages' timing).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor as ThreadExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from .acting import Acting
from .asking import Answer, AnswerStatus, Question, match
from .bargein import ECHO_TAIL_S, STOP_PHRASES, BargeIn, Bursts, EchoReference, StopWords
from .compute import FrameClock, ModelThread
from .earcon import earcon as make_chime
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
from .frames import AudioFrame, OutputAudio
from .hearing import Heard, Hearing
from .intent.model import Home, Understanding
from .level import LevelMeter
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
    WakeEvidence,
    WakeWord,
)
from .speaking import SayQueue, Voice
from .timers import Timer, Timers
from .vad import Endpoint

log = logging.getLogger(__name__)
Observer = Callable[[Event], None]

FAILED = "Sorry, something went wrong."
"""Said when a stage fails in the middle of a turn."""
NOT_CONFIRMED = "Okay, I won't."
VERDICT_WAIT_S = 2.0
"""Longest an ended command waits for the arbiter's verdict; then this satellite answers (an arbiter must settle
sooner: this only keeps a broken one from hanging the turn)."""


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
    """How long follow-up listening (and the answer to "Did you mean ...?") waits for speech."""
    speculative_stt: bool = True
    """Transcribe at a short pause; keep the result when no speech follows."""
    semantic_endpoint: bool = True
    """Commit the command early when the speculative transcript is a complete template command."""
    reply_cache: bool = True
    """Reuse synthesized audio for short replies said before."""
    recheck_stt: bool = False
    """When templates find nothing in the transcript, ask the transcriber's second hearing (Whisper: its 30 s
    window after a short-window transcript) before the language model: the two mishear different commands."""
    stream_reply: bool = True
    """Play each sentence as soon as it is synthesized; False: synthesize the whole reply first (as Home
    Assistant's pipeline does), for the benchmark's baseline."""
    action_timeout_s: float = 10.0
    """Longest wait for an executor's answer before the reply says the action may not have happened."""
    barge_in: bool = True
    """The wake word (a command may follow) or a stop word said while it speaks or a timer rings stops it
    (bargein.py); its own voice never does."""
    stop_words: tuple[str, ...] = STOP_PHRASES
    """Heard by speech-to-text in speech bursts while it speaks; () turns the check off (the wake word still
    barges in)."""


@dataclass
class _Turn:
    id: str
    wake_word: str | None
    started: float = field(default_factory=time.monotonic)
    spec_task: asyncio.Task[Heard | None] | None = None
    spec_end_s: float | None = None
    """Audio position of speech end the speculative transcript covers; None once speech resumed."""
    awaiting: Understanding | None = None
    """An action waiting for the yes or no of this turn (asked "Did you mean ...?" in the turn before)."""
    mine: asyncio.Future[bool] | None = None
    """After a wake word: whether this satellite answers (roles.Arbiter); None: it does (no wake word)."""
    asked: tuple[Question, Callable[[Answer], None]] | None = None
    """The question (ask()) whose answer this turn hears, and who is told it; None: a command."""


class Assistant:
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
        options: AssistantOptions = AssistantOptions(),
        observers: Iterable[Observer] = (),
        heartbeat: Callable[[], None] | None = None,
        arbiter: Arbiter | None = None,
        echo_wake: WakeWord | None = None,
    ) -> None:
        """executor: carries actions out before the reply (None: nothing does, the tier's reply is spoken as is,
        for `process` and the bench). heartbeat: called for every frame (the systemd watchdog). arbiter: whether a
        wake word heard by several satellites is this one's to answer (None: always; may be set later, between
        turns). echo_wake: a second detector of the same wake words, run on what the assistant plays (its own voice
        saying the wake word must not barge in: bargein.EchoReference)."""
        self.wake = wake
        self.echo_wake = echo_wake
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
        self._bursts = Bursts()
        self._stop_words = StopWords(options.stop_words)
        self._checking = False
        self._quiet_turn: _Turn | None = None
        self.hearing = Hearing(stt, intents, self.models, self._emit, recheck=options.recheck_stt)
        self.state = TurnState.IDLE
        self.muted = False
        self._turn: _Turn | None = None
        self._awaiting: Understanding | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._says = SayQueue()
        self._idle = asyncio.Event()
        self._idle.set()  # no turn until run() starts one
        self._clocks = {s: FrameClock(s) for s in (StageName.WAKE, StageName.VAD)}
        self.timers = Timers(self._timer_done, on_missed=self._timer_missed)
        """The satellite's timers (they ring, or carry out a delayed command, when they end)."""
        self.acting = Acting(self.timers, executor, self._emit, timeout_s=options.action_timeout_s)

    # ---- start-up -------------------------------------------------------------------------------------------

    @property
    def stages(self) -> list[Any]:
        """Every stage with a model, in the order they load."""
        return [s for s in (self.wake, self.echo_wake, self.endpointer, self.stt, self.intents, self.tts) if s]

    def load(self) -> dict[str, float]:
        """Load and warm every model once; returns seconds per stage (blocking: call from a thread at start-up)."""
        took: dict[str, float] = {}
        for stage in self.stages:
            t0 = time.perf_counter()
            stage.load()
            stage.warm()
            took[stage.name] = time.perf_counter() - t0
        return took

    def close(self, *, wait: bool = True) -> None:
        """Stop timers and the worker threads (wait=False: a stop during loading does not wait for a model call)."""
        self.timers.close()
        self.models.close(wait=wait)
        self.voice.close(wait=wait)

    @property
    def model_thread(self) -> ThreadExecutor:
        """The one thread every model call runs in: whoever else calls the models (the Wyoming server) queues there,
        so two model calls never share the cores."""
        return self.models.executor

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
        self.level.reset()
        self.endpointer.reset()
        self._turn = None
        self._awaiting = None

    def _on_frame(self, frame: AudioFrame) -> None:
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
            self._listen_for_stop(frame)
        if self.wake is not None and not self.muted:
            # Fed in every state so its streaming features stay current; a hit counts only when idle, which is
            # also what keeps the assistant from waking itself up while it speaks.
            clock = self._clocks[StageName.WAKE]
            t0 = time.perf_counter()
            self.level.observe(frame)
            hits = list(self.wake.process(frame))
            clock.seconds += time.perf_counter() - t0
            clock.audio_s += frame.duration_s
            if hits and self.state == TurnState.IDLE:
                self._start_listening(hits[0].word, stream_s=hits[0].stream_s, probability=hits[0].probability)
            elif hits and speaking and self._barge is None:
                if self.echo.explains(frame.arrived):
                    log.info("wake word while speaking: its own voice (the played audio fires it too); ignored")
                else:
                    self._barge_in(BargeIn("wake", hits[0].word, hits[0].stream_s, hits[0].probability))

    # ---- barge-in (bargein.py) ------------------------------------------------------------------------------

    def _listen_for_stop(self, frame: AudioFrame) -> None:
        burst = self._bursts.observe(frame, self.endpointer.probability, ready=not self._checking)
        if burst is not None:  # one check at a time; the next one covers what came meanwhile
            self._checking = True
            self._spawn(self._check_stop(burst, frame.end_s, time.monotonic()))

    async def _check_stop(self, burst: bytes, end_s: float, ended_at: float) -> None:
        """Whisper on a speech burst heard while speaking: a stop word its own words do not explain stops it."""
        try:
            heard, stt_s = await self.models.timed("", StageName.STT, "stop", self.stt.transcribe, burst,
                                                   audio_s=len(burst) / 32000)
        except Exception:
            log.warning("stop word check failed", exc_info=True)
            return
        finally:
            self._checking = False
        phrase = self._stop_words.heard(heard.text, self.voice.saying)
        log.debug("stop word check: heard %r (%.0f ms)", heard.text, 1000 * stt_s)
        if phrase is None or self.state != TurnState.SPEAKING or self._barge is not None:
            return
        log.info("stop word %r heard (%r): stopped %.0f ms after the burst ended (speech-to-text %.0f ms)",
                 phrase, heard.text, 1000 * (time.monotonic() - ended_at), 1000 * stt_s)
        self._barge_in(BargeIn("stop", phrase, end_s))

    def _barge_in(self, barge: BargeIn) -> None:
        """Stop speaking now; the turn (reply, say, timer ring) ends and, after the wake word, a command is heard."""
        log.info("barge-in: %s %r at %.2f s; stop speaking", barge.kind, barge.word, barge.stream_s)
        self._barge = barge
        self._bursts.reset()
        self.voice.interrupt()

    # ---- controls -------------------------------------------------------------------------------------------

    def listen(self) -> None:
        """Start listening for a command without the wake word."""
        if self.state in (TurnState.IDLE, TurnState.MUTED):
            self._start_listening(None)

    def say(self, text: str) -> bool:
        """Speak a text (from MQTT say/set), after any turn in progress; False (and a warning) when
        speaking.MAX_QUEUED_SAYS texts already wait: a flood of them must not keep the assistant talking for minutes."""
        if not self._says.admit():
            return False
        self._spawn(self._say(text))
        return True

    def announce(self, text: str, *, chime: bool = True) -> bool:
        """say() with the chime first (MQTT announce/set, as Home Assistant's assist_satellite.announce)."""
        if not self._says.admit():
            return False
        self._spawn(self._say(text, chime=chime))
        return True

    def ask(self, question: Question, on_answer: Callable[[Answer], None]) -> bool:
        """Speak a question after any turn in progress, listen for the answer without the wake word and tell
        on_answer (on the event loop) what it was (asking.match), or that nothing was heard; queued with say()'s
        texts (False, and on_answer told BUSY, when too many wait)."""
        if not self._says.admit():
            on_answer(Answer(question, AnswerStatus.BUSY))
            return False
        self._spawn(self._ask(question, on_answer))
        return True

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
        turn = self._turn = _Turn(uuid.uuid4().hex[:12], wake_word, awaiting=self._awaiting)
        # After a barge-in the reply stopping says it was heard; a chime would only play over the command.
        self._quiet_turn = turn if barged_in else None
        self._awaiting = None
        self._idle.clear()
        if wake_word is not None:
            self._emit(WakeDetected(turn.id, wake_word=wake_word, stream_s=stream_s))
            self._set_state(TurnState.AWAKE)
            # Other satellites may have heard it too: the command is heard meanwhile, the earcon waits for the
            # verdict (at once for a lone satellite) and the turn's steps wait for it before transcribing.
            evidence = WakeEvidence(wake_word, probability, self.level.speech_db(), self.level.noise_db())
            try:
                turn.mine = self.arbiter.claim(turn.id, evidence)
            except Exception:  # a broken arbiter must not cost the user the command
                log.exception("turn %s: arbitration failed; answering alone", turn.id)
                turn.mine = AlwaysMine().claim(turn.id, evidence)
            if turn.mine.done():
                if not _is_mine(turn.mine):  # a better claim was already in
                    self._drop(turn)
                    return
                self._on_verdict(turn, turn.mine)
            else:
                turn.mine.add_done_callback(lambda mine: self._on_verdict(turn, mine))
        self._set_state(TurnState.LISTENING)
        # After a wake word, the command may have begun before the detection: start it at the pause after it.
        # Over its own voice the echo left no pause to find: the command is what follows the wake hit.
        after_s = stream_s + ECHO_TAIL_S if barged_in else None
        for endpoint in self.endpointer.begin(timeout_s, look_back=wake_word is not None, after_s=after_s):
            self._on_endpoint(endpoint)

    def _on_verdict(self, turn: _Turn, mine: asyncio.Future[bool]) -> None:
        """The arbiter decided: the earcon now, or (another satellite answers) back to idle without a sound."""
        if self._turn is not turn:
            return
        if _is_mine(mine):
            quiet = self._quiet_turn is turn
            if self.options.earcon is not None and not quiet and self.state in (TurnState.AWAKE, TurnState.LISTENING):
                self.voice.play_soon(self.options.earcon)
        elif self.state == TurnState.LISTENING:
            self.endpointer.finish("arbitration")  # the command heard so far is dropped
            self._drop(turn)
        # THINKING: _steps() sees the verdict before it transcribes.

    def _drop(self, turn: _Turn) -> None:
        log.info("turn %s: another satellite heard the wake word better and answers; back to idle", turn.id)
        if self._turn is turn:
            self._turn = None
        self._back_to_idle()

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

    async def _speculate(self, turn: _Turn, ep: Endpoint) -> Heard | None:
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

    async def _complete(self, turn: _Turn, ep: Endpoint, endpoint_at: float) -> None:
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

    async def _steps(self, turn: _Turn, ep: Endpoint, endpoint_at: float) -> None:
        speech_end_at = ep.arrived
        timings: dict[str, float] = {Timing.ENDPOINT: ms(endpoint_at - speech_end_at)}
        if turn.mine is not None:
            t0 = time.monotonic()
            if not turn.mine.done():  # a command shorter than the arbitration window
                await asyncio.wait([turn.mine], timeout=VERDICT_WAIT_S)
            timings[Timing.ARBITRATION] = ms(time.monotonic() - t0)
            if not turn.mine.done():
                log.warning("turn %s: no arbitration verdict within %.0f s; answering", turn.id, VERDICT_WAIT_S)
            elif not _is_mine(turn.mine):
                self._drop(turn)
                return
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

    async def _understand(self, turn: _Turn, heard: Transcription, quick: Understanding | None,
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

    async def _say(self, text: str, *, chime: bool = False) -> None:
        try:
            await self.wait_idle_turn()
        finally:
            self._says.leave()
        self._idle.clear()
        if chime:
            await self._chime()
        await self._speak("", [text])
        self._back_to_idle()

    async def _chime(self) -> None:
        """The chime before an announcement or a question (the earcon, also when the wake word goes without)."""
        self._set_state(TurnState.SPEAKING)
        await self.voice.play(self.options.earcon or make_chime())

    async def _ask(self, question: Question, on_answer: Callable[[Answer], None]) -> None:
        try:
            await self.wait_idle_turn()
        finally:
            self._says.leave()
        self._idle.clear()
        try:
            if question.preannounce:
                await self._chime()
            await self._speak("", [question.text])
        except Exception:
            log.exception("ask: the question could not be spoken")
            on_answer(Answer(question, AnswerStatus.FAILED))
            self._back_to_idle()
            return
        if self.muted:  # the microphone is off: nobody is listened to
            on_answer(Answer(question, AnswerStatus.MUTED))
            self._back_to_idle()
            return
        self._start_listening(None, timeout_s=question.timeout_s)
        if self._turn is not None:
            self._turn.asked = (question, on_answer)

    def _answer(self, turn: _Turn, text: str | None) -> None:
        """Tell an asked turn's caller its answer (text: what was heard; None: the turn failed), once."""
        if turn.asked is None:
            return
        (question, on_answer), turn.asked = turn.asked, None
        if text is None:
            answer = Answer(question, AnswerStatus.FAILED)
        else:
            status, answer_id = match(text, question.choices)
            answer = Answer(question, status, answer_id, text.strip())
        try:
            on_answer(answer)
        except Exception:
            log.exception("ask: the answer could not be told")

    # ---- timers and turns without audio ----------------------------------------------------------------------

    def _timer_done(self, timer: Timer) -> None:
        self._spawn(self._timer_turn(timer))

    def _timer_missed(self, timer: Timer) -> None:
        what = f"to {timer.command}" if timer.command else timer.describe()
        self.say(f"While I was not running, your timer {what} ended. I didn't do anything." if timer.command
                 else f"While I was not running, your {what} ended.")

    async def _timer_turn(self, timer: Timer) -> None:
        """A timer ended: carry its command out as if it were said now, or ring."""
        if timer.command:
            await self.command_turn(timer.command)
            return
        await self.wait_idle_turn()
        self._idle.clear()
        self._set_state(TurnState.SPEAKING)  # the ring can be stopped as a reply can
        epoch = self.voice.epoch
        try:
            if self.options.earcon is not None:
                for _ in range(3):
                    await self.voice.play(self.options.earcon, epoch=epoch)
            if self.voice.epoch == epoch:
                await self._speak("", [f"Your {timer.describe()} is done."])
        finally:
            self._back_to_idle()

    async def command_turn(self, text: str) -> Understanding:
        """A turn from text instead of speech (a delayed command): understand -> act -> reply, with its events."""
        await self.wait_idle_turn()
        turn_id = uuid.uuid4().hex[:12]
        self._idle.clear()
        self._set_state(TurnState.THINKING)
        try:
            understanding, intent_s = await self.models.timed(turn_id, StageName.INTENT, "understand",
                                                              self.intents.understand, text)
            timings = {Timing.INTENT: ms(intent_s)}
            recognized = IntentRecognized(turn_id, text=text, understanding=understanding, timings_ms=dict(timings))
            self._emit(recognized)
            understanding = await self._act(recognized, timings)
            _, understanding = await self._reply(turn_id, text, understanding)
            self._emit(TurnFinished(turn_id, wake_word=None, transcript=text, understanding=understanding,
                                    speech_end_s=None, timings_ms=timings))
            return understanding
        finally:
            self._back_to_idle()

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



def _is_mine(mine: asyncio.Future[bool]) -> bool:
    """The arbiter's verdict; an arbiter that failed leaves the turn to this satellite."""
    if mine.cancelled():
        return True
    if mine.exception() is not None:
        log.warning("arbitration failed; answering alone", exc_info=mine.exception())
        return True
    return bool(mine.result())
