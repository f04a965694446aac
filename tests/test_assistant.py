"""The turn machine with fake stages (tests/fakes.py): no models, runs in a second or two.

The tricky paths: a wake word while speaking, speech resuming after a speculative transcript, follow-up timeout,
mute, a stage raising, an executor that fails or never answers, and "Did you mean ...?" answered yes or no.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from slm_voice.pipeline.acting import NOT_DONE
from slm_voice.pipeline.assistant import FAILED, NOT_CONFIRMED, Assistant, AssistantOptions
from slm_voice.pipeline.events import (
    ActionDone,
    Event,
    StageName,
    StageTimed,
    StateChanged,
    Timing,
    Transcript,
    TurnFinished,
    TurnState,
    WakeDetected,
)
from slm_voice.pipeline.intent.model import Intent, Understanding
from slm_voice.pipeline.roles import ActionOutcome, Transcription
from tests.fakes import (
    WAKE,
    FakeExecutor,
    FakeStt,
    FakeTiers,
    FakeTts,
    FakeWake,
    Frames,
    RecordingSink,
    endpointer,
    turn_on_kitchen,
    until,
)

KITCHEN = "turn on the kitchen light"
GARAGE = "open the garage door"


class Rig:
    """An assistant over fake stages, its frame source and everything it reported."""

    def __init__(self, answers: dict[str, Understanding] | None = None, *, stt: FakeStt | None = None,
                 tts: FakeTts | None = None, executor: FakeExecutor | None = None, **options: object) -> None:
        self.frames = Frames()
        self.events: list[Event] = []
        self.stt = stt or FakeStt()
        self.tts = tts or FakeTts()
        self.sink = RecordingSink()
        self.executor = executor
        opts = {"speculative_stt": True, "semantic_endpoint": False, **options}
        self.assistant = Assistant(
            wake=FakeWake(), echo_wake=FakeWake(), endpointer=endpointer(), stt=self.stt,
            intents=FakeTiers(answers if answers is not None else {KITCHEN: turn_on_kitchen()}),
            tts=self.tts, sink=self.sink, executor=executor, options=AssistantOptions(**opts),  # type: ignore[arg-type]
            observers=[self.events.append],
        )

    def turns(self) -> list[TurnFinished]:
        return [e for e in self.events if isinstance(e, TurnFinished)]

    def states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, StateChanged)]

    def command(self, *words: int, silence: int = 14) -> None:
        """Wake word, then each word (8 frames of speech), then enough silence to end the command."""
        self.frames.add(0, 3)
        self.frames.add(WAKE)
        for w in words:
            self.frames.add(w, 8)
        self.frames.add(0, silence)


def run(rig: Rig, script: Callable[[Rig], Awaitable[None]]) -> Rig:
    async def go() -> None:
        task = asyncio.create_task(rig.assistant.run(rig.frames))  # type: ignore[arg-type]
        try:
            await script(rig)
        finally:
            rig.frames.end()
            await asyncio.wait_for(task, 10)
            rig.assistant.close()

    asyncio.run(go())
    return rig


def test_a_turn_goes_wake_listen_think_speak_idle_and_reports_its_stages() -> None:
    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1)

    r = run(Rig(), script)
    (turn,) = r.turns()
    assert turn.transcript == KITCHEN
    assert turn.understanding.intent.name == "HassTurnOn"
    assert r.states()[:6] == ["idle", "awake", "listening", "thinking", "speaking", "idle"]
    assert r.tts.said == ["Turned on the kitchen light."]
    assert {Timing.ENDPOINT, Timing.STT, Timing.INTENT, Timing.SPEECH_END_TO_FIRST_AUDIO} <= set(turn.timings_ms)
    timed = {(e.stage, e.call) for e in r.events if isinstance(e, StageTimed)}
    assert {(StageName.STT, "speculate"), (StageName.TTS, "chunk"), (StageName.WAKE, "frames"),
            (StageName.VAD, "frames")} <= timed


def test_the_wake_word_while_speaking_stops_the_reply_and_the_command_after_it_is_handled() -> None:
    """Barge-in: a person saying the wake word over the reply stops it at once; the command that follows (no second
    wake word) is a new turn."""

    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: r.assistant.state == TurnState.SPEAKING)
        r.command(1000)  # wake word, the command, silence
        await until(lambda: len(r.turns()) == 2 and r.assistant.state == TurnState.IDLE)

    r = run(Rig(tts=FakeTts(seconds_per_sentence=1.5)), script)  # room for a busy box to hear the wake word
    assert [t.transcript for t in r.turns()] == [KITCHEN, KITCHEN]
    assert sum(isinstance(e, WakeDetected) for e in r.events) == 2
    assert r.sink.stops == 1
    # The first reply was cut before it played; the second was said in full.
    assert len(r.sink.written) == 1 and r.tts.said == ["Turned on the kitchen light."] * 2
    assert r.states()[:8] == ["idle", "awake", "listening", "thinking", "speaking", "idle", "awake", "listening"]


def test_its_own_voice_saying_the_wake_word_never_stops_it() -> None:
    """The reply's audio fires the echo reference detector: the same wake word from the microphone at that moment is
    its own echo (a played chunk, then the microphone hearing it)."""
    from slm_voice.pipeline.frames import OutputAudio

    echo = OutputAudio(np.full(4 * 512, WAKE, dtype="<i2").tobytes(), 16000)

    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.sink.written) == 1)  # the reply is playing
        r.frames.add(WAKE)  # ... and comes back through the microphone
        r.frames.add(0, 3)
        await until(lambda: len(r.turns()) == 1 and r.assistant.state == TurnState.IDLE)
        await until(lambda: r.frames._queue.empty())
        await asyncio.sleep(0.05)

    class Slow(RecordingSink):
        def drain(self) -> None:
            threading.Event().wait(0.4)  # the reply plays for 0.4 s

    rig = Rig(tts=FakeTts(audio=echo))
    rig.assistant.sink = rig.assistant.voice.sink = rig.sink = Slow()
    r = run(rig, script)
    assert sum(isinstance(e, WakeDetected) for e in r.events) == 1 and r.sink.stops == 0
    assert len(r.turns()) == 1


@pytest.mark.parametrize("reply,stopped", [("Turned on the kitchen light.", True), ("Say stop to stop me.", False)])
def test_a_stop_word_while_speaking_stops_it_unless_its_own_reply_says_it(reply: str, stopped: bool) -> None:
    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: r.assistant.state == TurnState.SPEAKING)
        r.frames.add(8000, 6)  # "stop"
        r.frames.add(0, 8)
        await until(lambda: len(r.turns()) == 1 and r.assistant.state == TurnState.IDLE)
        r.command(1000)  # a new command right after
        await until(lambda: len(r.turns()) == 2 and r.assistant.state == TurnState.IDLE)

    kitchen = Understanding(turn_on_kitchen().intent, reply, "template", confidence=1.0)
    # 2 s of reply: room for a busy box to hear the burst before the reply would have ended anyway
    r = run(Rig({KITCHEN: kitchen}, tts=FakeTts(seconds_per_sentence=2.0)), script)
    assert "stop" in r.stt.calls  # the burst was heard
    # (stopped twice when a chunk was being handed over as it stopped: that one is taken back too)
    assert (r.sink.stops >= 1) if stopped else (r.sink.stops == 0)
    assert [t.transcript for t in r.turns()] == [KITCHEN, KITCHEN]


class LosesShortWords(FakeStt):
    """Whisper over the residue of its own echo: in a window longer than a second a short word is lost."""

    def hear_phrase(self, audio: bytes) -> Transcription:
        if len(audio) > 2 * 16_000:
            self.calls.append("(lost)")
            return Transcription("", 0.3)
        return super().hear_phrase(audio)


def test_a_stop_word_lost_in_a_long_window_is_heard_in_its_last_part() -> None:
    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: r.assistant.state == TurnState.SPEAKING)
        for value, n in [(2000, 40), (8000, 6), (0, 16)]:  # over a second of other speech ("please ..."), "stop"
            for _ in range(n):  # at a microphone's pace: two checks of one window take their time
                r.frames.add(value)
                await asyncio.sleep(0.032)
        await until(lambda: len(r.turns()) == 1 and r.assistant.state == TurnState.IDLE)

    kitchen = Understanding(turn_on_kitchen().intent, "Turned on the kitchen light.", "template", confidence=1.0)
    class Playing(RecordingSink):
        def drain(self) -> None:
            threading.Event().wait(4)  # the reply plays on while the person talks

    rig = Rig({KITCHEN: kitchen}, stt=LosesShortWords())
    rig.assistant.sink = rig.assistant.voice.sink = rig.sink = Playing()
    r = run(rig, script)
    assert "(lost)" in r.stt.calls  # whole windows were heard too, and lost the word
    assert "please stop" in r.stt.calls and r.sink.stops >= 1  # the window's last 0.7 s held it


def test_the_wake_word_stops_a_ringing_timer() -> None:
    from slm_voice.pipeline.earcon import earcon

    class Slow(RecordingSink):
        def write(self, audio) -> None:  # noqa: ANN001 - plays in real time (0.15 s a chime)
            super().write(audio)
            threading.Event().wait(0.15)

    async def script(r: Rig) -> None:
        r.assistant.timers.start(0.01, name="pasta")
        await until(lambda: len(r.sink.written) == 1)  # ringing
        r.frames.add(WAKE)
        await until(lambda: r.assistant.state == TurnState.LISTENING)
        r.frames.add(1000, 8)
        r.frames.add(0, 14)
        await until(lambda: len(r.turns()) == 1 and r.assistant.state == TurnState.IDLE)

    rig = Rig(earcon=earcon())
    rig.assistant.sink = rig.assistant.voice.sink = rig.sink = Slow()
    r = run(rig, script)
    assert r.sink.stops >= 1  # (twice: the chime being handed over when it was stopped is taken back too)
    chimes = [a for a in r.sink.written if any(a.pcm)]  # (the fake reply is silence)
    assert 1 <= len(chimes) < 3  # the ring stopped; no earcon over the command after a barge-in
    assert "Your pasta timer is done." not in r.tts.said  # the ring stopped before it was said
    assert r.turns()[0].transcript == KITCHEN and r.tts.said == ["Turned on the kitchen light."]


def test_speech_resuming_after_a_pause_throws_the_speculative_transcript_away() -> None:
    """"turn on the kitchen light ... please": the transcript at the pause must not become the command."""

    async def script(r: Rig) -> None:
        r.frames.add(0, 3)
        r.frames.add(WAKE)
        r.frames.add(1000, 8)
        r.frames.add(0, 5)  # 160 ms: a pause (speculation starts), not the end (320 ms)
        await until(lambda: KITCHEN in r.stt.calls)
        r.frames.add(2000, 8)
        r.frames.add(0, 14)
        await until(lambda: len(r.turns()) == 1)

    r = run(Rig(), script)
    assert r.stt.calls[0] == KITCHEN  # the speculation
    assert r.turns()[0].transcript == f"{KITCHEN} please"


def test_semantic_endpointing_commits_a_template_command_at_the_pause() -> None:
    async def script(r: Rig) -> None:
        r.frames.add(0, 3)
        r.frames.add(WAKE)
        r.frames.add(1000, 8)
        r.frames.add(0, 5)
        await until(lambda: len(r.turns()) == 1)

    r = run(Rig(semantic_endpoint=True), script)
    ended = [e for e in r.events if type(e).__name__ == "SpeechEnded"]
    assert ended[0].reason == "semantic"
    assert r.stt.calls == [KITCHEN]  # the speculative transcript is the command: no second transcription


def test_follow_up_listening_times_out_back_to_idle() -> None:
    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1)
        r.frames.add(0, 30)  # the room goes quiet: the follow-up hears nobody
        await until(lambda: len(r.turns()) == 2)

    r = run(Rig(follow_up=True, follow_up_timeout_s=0.5), script)
    first, follow = r.turns()
    assert first.transcript == KITCHEN
    assert follow.transcript == "" and follow.understanding is None and follow.wake_word is None
    assert r.states()[-1] == TurnState.IDLE


def test_muted_it_ignores_the_wake_word_but_listen_still_works() -> None:
    async def script(r: Rig) -> None:
        r.assistant.set_muted(True)
        r.command(1000)
        await until(lambda: r.frames._queue.empty())
        await asyncio.sleep(0.05)
        assert r.turns() == []
        r.assistant.listen()  # the Home Assistant button
        r.frames.add(1000, 8)
        r.frames.add(0, 14)
        await until(lambda: len(r.turns()) == 1)
        r.assistant.set_muted(False)

    r = run(Rig(), script)
    assert r.turns()[0].transcript == KITCHEN and r.turns()[0].wake_word is None
    assert TurnState.MUTED in r.states() and r.states()[-1] == TurnState.IDLE


def test_a_failing_stage_ends_the_turn_with_an_apology_and_the_next_wake_word_works() -> None:
    stt = FakeStt(fail=True)

    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1 and r.assistant.state == TurnState.IDLE)
        stt.fail = False
        r.command(1000)
        await until(lambda: len(r.turns()) == 2)

    r = run(Rig(stt=stt), script)
    failed, ok = r.turns()
    assert failed.understanding.reply == FAILED
    assert FAILED in r.tts.said
    assert ok.transcript == KITCHEN


def test_the_reply_waits_for_the_action_and_says_what_really_happened() -> None:
    executor = FakeExecutor(ActionOutcome(done=False, reply="Home Assistant doesn't know a kitchen light.",
                                          by="homeassistant"))

    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1)

    r = run(Rig(executor=executor), script)
    assert executor.done[0].name == "HassTurnOn"
    assert r.tts.said == ["Home Assistant doesn't know a kitchen light."]
    done = [e for e in r.events if isinstance(e, ActionDone)]
    assert len(done) == 1 and not done[0].outcome.done
    assert r.turns()[0].understanding.reply == "Home Assistant doesn't know a kitchen light."
    assert Timing.ACTION in r.turns()[0].timings_ms


def test_an_executor_that_never_answers_is_not_confirmed() -> None:
    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1, timeout=8)

    r = run(Rig(executor=FakeExecutor(hang=True), action_timeout_s=0.3), script)
    assert r.tts.said == [NOT_DONE]


def test_satellite_intents_and_open_questions_never_reach_the_executor() -> None:
    executor = FakeExecutor()
    answers = {KITCHEN: Understanding(Intent("HassGetCurrentTime"), "It is 9:00 AM.", "template"),
               "what is the meaning of life": Understanding(None, "", "slm", open_question=True)}

    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1)
        r.command(5000)
        await until(lambda: len(r.turns()) == 2)

    r = run(Rig(answers, executor=executor), script)
    assert executor.done == []
    assert r.tts.said == ["It is 9:00 AM.", "Forty-two.", "Or so they say."]
    assert r.turns()[1].understanding.reply == "Forty-two. Or so they say."


@pytest.mark.parametrize(("answer", "acted"), [(3000, True), (4000, False)])
def test_did_you_mean_waits_for_yes_before_acting(answer: int, acted: bool) -> None:
    garage = Understanding(Intent("HassTurnOn", {"name": "garage door"}, ("cover.garage_door",)),
                           "Opening the garage door.", "slm", confidence=0.6)
    ask = Understanding(None, "Did you mean: open the garage door?", "slm", confidence=0.6, confirm=garage)
    executor = FakeExecutor()

    async def script(r: Rig) -> None:
        r.command(6000)
        await until(lambda: len(r.turns()) == 1 and r.assistant.state == TurnState.LISTENING)
        r.frames.add(answer, 8)  # no wake word: the answer to the question
        r.frames.add(0, 14)
        await until(lambda: len(r.turns()) == 2)

    r = run(Rig({GARAGE: ask}, executor=executor), script)
    assert r.tts.said[0] == "Did you mean: open the garage door?"
    assert executor.done == ([garage.intent] if acted else [])
    assert r.tts.said[1] == ("Opening the garage door." if acted else NOT_CONFIRMED)
    assert r.turns()[1].wake_word is None


def test_no_answer_to_did_you_mean_does_nothing() -> None:
    garage = Understanding(Intent("HassTurnOn", {"name": "garage door"}, ("cover.garage_door",)), "Opening.", "slm")
    ask = Understanding(None, "Did you mean: open the garage door?", "slm", confirm=garage)
    executor = FakeExecutor()

    async def script(r: Rig) -> None:
        r.command(6000)
        await until(lambda: len(r.turns()) == 1)
        r.frames.add(0, 30)  # nobody answers
        await until(lambda: len(r.turns()) == 2)

    r = run(Rig({GARAGE: ask}, executor=executor, follow_up_timeout_s=0.4), script)
    assert executor.done == []
    assert r.assistant.state == TurnState.IDLE


def test_a_changed_home_reaches_understanding_and_speech_to_text() -> None:
    from slm_voice.pipeline.intent.model import Entity, Home

    class HomeStt(FakeStt):
        def __init__(self) -> None:
            super().__init__()
            self.homes: list[Home] = []

        def set_home(self, home: Home) -> None:
            self.homes.append(home)

    home = Home(("kitchen", "spa"), (Entity("switch.jacuzzi", "jacuzzi", (), "spa"),), "kitchen")

    async def script(r: Rig) -> None:
        await r.assistant.set_home(home)

    stt = HomeStt()
    r = run(Rig(stt=stt), script)
    assert stt.homes == [home]
    assert r.assistant.intents.home_changes == [home]  # type: ignore[attr-defined]


class MishearingStt(FakeStt):
    """Mishears the command the first time; its second hearing (the role's recheck) gets it right."""

    def transcribe(self, audio: bytes) -> Transcription:
        heard = super().transcribe(audio)
        return Transcription("turn on the kitten light", heard.confidence) if heard.text else heard

    def recheck(self, audio: bytes) -> Transcription | None:
        return super().transcribe(audio)


def test_a_second_hearing_is_asked_when_templates_find_nothing() -> None:
    async def script(r: Rig) -> None:
        r.command(1000)
        await until(lambda: len(r.turns()) == 1)

    r = run(Rig(stt=MishearingStt(), speculative_stt=False, recheck_stt=True), script)
    (turn,) = r.turns()
    assert turn.transcript == KITCHEN and turn.understanding.intent.name == "HassTurnOn"
    assert (StageName.STT, "recheck") in {(e.stage, e.call) for e in r.events if isinstance(e, StageTimed)}
    assert [e.text for e in r.events if isinstance(e, Transcript)] == ["turn on the kitten light", KITCHEN]
