"""Many rooms, one answer, with fakes: the arbiter's decision over an in-memory broker, the evidence (level meter),
and the turn machine's hook (a loser goes back to idle without a sound; the winner's earcon waits for the verdict)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import numpy as np
import pytest

from slm_voice.daemon.arbitration import Claim, MqttArbiter, rounded
from slm_voice.pipeline.assistant import Assistant, AssistantOptions
from slm_voice.pipeline.events import Event, IntentRecognized, StateChanged, Timing, TurnFinished, TurnState
from slm_voice.pipeline.frames import FRAME_SAMPLES, AudioFrame, OutputAudio
from slm_voice.pipeline.level import NOISE_FLOOR_DB, LevelMeter
from slm_voice.pipeline.roles import AlwaysMine, WakeEvidence
from tests.fakes import (
    WAKE,
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

WINDOW_S = 1.0
# Generous for a shared 2-core box: the claims' spacing below is a fraction of it, and a late asyncio wake-up must
# not move a claim across a window's edge.


class Bus:
    """An in-memory broker: every link's publish reaches every subscriber (itself too), after `delay_s`."""

    def __init__(self, delay_s: float = 0.005) -> None:
        self.delay_s = delay_s
        self.handlers: list[tuple[str, Callable[[str, bytes], None]]] = []

    def link(self, connected: bool = True) -> FakeLink:
        return FakeLink(self, connected)


class FakeLink:
    def __init__(self, bus: Bus, connected: bool) -> None:
        self.bus, self.connected, self.sent = bus, connected, []
        self.fail = False

    def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> int | None:
        if self.fail:
            raise OSError("socket gone")
        self.sent.append((topic, payload, qos, retain))
        data = payload.encode() if isinstance(payload, str) else payload
        loop = asyncio.get_running_loop()
        for t, handler in self.bus.handlers:
            if t == topic:
                loop.call_later(self.bus.delay_s, handler, topic, data)
        return None

    def subscribe(self, topic: str, handler: Callable[[str, bytes], None]) -> None:
        self.bus.handlers.append((topic, handler))


def evidence(score: float) -> WakeEvidence:
    """Evidence whose score is `score` (probability 1, speech `score` times the floor)."""
    return WakeEvidence("hey_jarvis", 1.0, NOISE_FLOOR_DB + 20 * np.log10(score), NOISE_FLOOR_DB)


def arbiters(bus: Bus, *devices: str, window_s: float = WINDOW_S) -> list[MqttArbiter]:
    loop = asyncio.get_running_loop()
    made = [MqttArbiter(bus.link(), d, "slm-voice/arbitration", window_s, loop) for d in devices]
    for a in made:
        a.start()
    return made


async def claims(pairs: list[tuple[MqttArbiter, float, float]]) -> list[tuple[bool, float]]:
    """Each arbiter claims with its score after its own delay; returns (verdict, seconds from its claim)."""

    async def one(a: MqttArbiter, score: float, after_s: float) -> tuple[bool, float]:
        await asyncio.sleep(after_s)
        t0 = time.monotonic()
        mine = await a.claim(f"turn-{a.device_id}", evidence(score))
        return mine, time.monotonic() - t0

    return list(await asyncio.gather(*(one(a, s, d) for a, s, d in pairs)))


# ---- the decision ---------------------------------------------------------------------------------------------


def test_the_best_heard_wins_and_the_others_know_early() -> None:
    async def go() -> list[tuple[bool, float]]:
        a, b, c = arbiters(Bus(), "kitchen", "hall", "bedroom")
        return await claims([(a, 40.0, 0.0), (b, 20.0, 0.01), (c, 10.0, 0.03)])

    (a, ta), (b, tb), (c, tc) = asyncio.run(go())
    assert (a, b, c) == (True, False, False)
    assert ta >= WINDOW_S - 0.01  # the winner waits the window out (a timer never fires early)
    assert tb < ta and tc < ta  # a loser stops as soon as it sees a better claim, before the window ends


def test_with_the_best_silent_the_next_one_answers() -> None:
    async def go() -> list[tuple[bool, float]]:
        _, b, c = arbiters(Bus(), "kitchen", "hall", "bedroom")  # the kitchen heard nothing
        return await claims([(b, 20.0, 0.02), (c, 10.0, 0.0)])

    assert [mine for mine, _ in asyncio.run(go())] == [True, False]


def test_a_later_better_claim_within_the_window_still_wins() -> None:
    async def go() -> list[tuple[bool, float]]:
        a, b = arbiters(Bus(), "kitchen", "hall")
        return await claims([(a, 10.0, 0.0), (b, 30.0, WINDOW_S * 0.8)])

    assert [mine for mine, _ in asyncio.run(go())] == [False, True]


def test_a_late_satellite_yields_to_an_earlier_better_claim() -> None:
    """A busy satellite that hears the wake word after the others' window closed still stays silent."""

    async def go() -> list[tuple[bool, float]]:
        a, b = arbiters(Bus(), "kitchen", "hall")
        return await claims([(a, 30.0, 0.0), (b, 10.0, WINDOW_S * 1.5)])

    assert [mine for mine, _ in asyncio.run(go())] == [True, False]


def test_claims_further_apart_than_the_look_back_are_separate_wake_words() -> None:
    async def go() -> list[tuple[bool, float]]:
        a, b = arbiters(Bus(), "kitchen", "hall")
        return await claims([(a, 30.0, 0.0), (b, 10.0, WINDOW_S * 2.5)])

    assert [mine for mine, _ in asyncio.run(go())] == [True, True]


def test_equal_scores_go_to_the_smaller_device_id_on_every_satellite() -> None:
    async def go() -> list[tuple[bool, float]]:
        a, b = arbiters(Bus(), "b-hall", "a-kitchen")
        return await claims([(a, 12.34567, 0.0), (b, 12.34561, 0.0)])  # equal to four digits

    assert [mine for mine, _ in asyncio.run(go())] == [False, True]
    x, y = Claim("a", "1", 5.0), Claim("b", "2", 5.0)
    assert x.beats(y) and not y.beats(x)
    assert rounded(float("nan")) == 0.0 and rounded(-1.0) == 0.0 and rounded(1234.5678) == 1235.0


def test_a_lone_satellite_answers_after_the_window_at_most() -> None:
    async def go() -> list[tuple[bool, float]]:
        (a,) = arbiters(Bus(), "kitchen")
        return await claims([(a, 1.0, 0.0)])

    ((mine, took),) = asyncio.run(go())
    assert mine and took < WINDOW_S + 0.1


def test_broker_down_answers_alone_at_once() -> None:
    async def go() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        link = Bus().link(connected=False)
        a = MqttArbiter(link, "kitchen", "slm-voice/arbitration", WINDOW_S, loop)
        a.start()
        t0 = time.monotonic()
        mine = await a.claim("t", evidence(1.0))
        assert link.sent == []
        return mine, time.monotonic() - t0

    mine, took = asyncio.run(go())
    assert mine and took < 0.05


def test_a_claim_that_cannot_be_sent_answers_alone() -> None:
    async def go() -> bool:
        link = Bus().link()
        link.fail = True
        a = MqttArbiter(link, "kitchen", "slm-voice/arbitration", WINDOW_S, asyncio.get_running_loop())
        return await a.claim("t", evidence(1.0))

    assert asyncio.run(go())


def test_malformed_claims_are_ignored() -> None:
    async def go() -> bool:
        (a,) = arbiters(Bus(), "kitchen")
        for junk in (b"not json", b"{}", b'{"device": "x", "turn": "1", "score": "high"}', b"[1]"):
            a._on_message("slm-voice/arbitration", junk)
        return await a.claim("t1", evidence(5.0))

    assert asyncio.run(go())


def test_claim_payload_carries_the_evidence() -> None:
    async def go() -> dict:
        link = Bus().link()
        a = MqttArbiter(link, "kitchen", "slm-voice/arbitration", 0.05, asyncio.get_running_loop())
        await a.claim("t1", WakeEvidence("hey_jarvis", 0.9, -20.0, -60.0))
        ((topic, payload, qos, retain),) = link.sent
        assert (topic, qos, retain) == ("slm-voice/arbitration", 0, False)
        return json.loads(payload)

    msg = asyncio.run(go())
    assert msg["device"] == "kitchen" and msg["turn"] == "t1" and msg["wake_word"] == "hey_jarvis"
    assert msg["score"] == pytest.approx(90.0) and msg["speech_db"] == -20.0 and msg["noise_db"] == -60.0


# ---- the evidence ---------------------------------------------------------------------------------------------


def _tone(db: float, n: int) -> list[AudioFrame]:
    amp = 32768 * 10 ** (db / 20) * np.sqrt(2)
    x = (amp * np.sin(np.arange(FRAME_SAMPLES) * 0.3)).astype("<i2")
    return [AudioFrame(x.tobytes(), i * 0.032) for i in range(n)]


def test_level_meter_reads_speech_over_noise() -> None:
    m = LevelMeter()
    assert m.speech_db() == NOISE_FLOOR_DB and m.noise_db() == NOISE_FLOOR_DB
    for f in _tone(-40.0, 100) + _tone(-10.0, 20):  # 3.2 s of room noise, then a wake phrase
        m.observe(f)
    assert m.speech_db() == pytest.approx(-10.0, abs=0.5)
    assert m.noise_db() == pytest.approx(-40.0, abs=0.5)
    quiet = WakeEvidence("w", 0.9, m.speech_db() - 6, m.noise_db())
    loud = WakeEvidence("w", 0.9, m.speech_db(), m.noise_db())
    assert loud.score == pytest.approx(2 * quiet.score, rel=0.01)  # 6 dB is twice the amplitude
    silent_room = WakeEvidence("w", 0.9, -20.0, NOISE_FLOOR_DB)
    assert silent_room.score == pytest.approx(90.0)


# ---- the turn machine's hook --------------------------------------------------------------------------------


class FakeArbiter:
    """Answers each claim with `verdict` after `after_s` (None: never, until the test settles it)."""

    def __init__(self, verdict: bool, after_s: float | None = 0.05) -> None:
        self.verdict, self.after_s = verdict, after_s
        self.claims: list[tuple[str, WakeEvidence]] = []

    def claim(self, turn_id: str, ev: WakeEvidence) -> asyncio.Future[bool]:
        self.claims.append((turn_id, ev))
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self.after_s == 0.0:
            fut.set_result(self.verdict)
        elif self.after_s is not None:
            asyncio.get_running_loop().call_later(self.after_s, fut.set_result, self.verdict)
        return fut


EARCON = OutputAudio(b"\x01\x00" * 100, 16000)


def _run(arbiter: object, script: Callable[[Assistant, Frames], object], **options: object
         ) -> tuple[list[Event], FakeTts, RecordingSink]:
    events: list[Event] = []
    tts, sink, frames = FakeTts(), RecordingSink(), Frames()
    assistant = Assistant(wake=FakeWake(), endpointer=endpointer(), stt=FakeStt(),
                          intents=FakeTiers({"turn on the kitchen light": turn_on_kitchen()}), tts=tts, sink=sink,
                          options=AssistantOptions(earcon=EARCON, semantic_endpoint=False, **options),  # type: ignore[arg-type]
                          observers=[events.append], arbiter=arbiter)  # type: ignore[arg-type]

    async def go() -> None:
        task = asyncio.create_task(assistant.run(frames))  # type: ignore[arg-type]
        try:
            await script(assistant, frames)  # type: ignore[misc]
        finally:
            frames.end()
            await asyncio.wait_for(task, 10)
            assistant.close()

    asyncio.run(go())
    return events, tts, sink


def _command(frames: Frames) -> None:
    frames.add(0, 3)
    frames.add(WAKE)
    frames.add(1000, 8)
    frames.add(0, 14)


async def _settle(assistant: Assistant, frames: Frames) -> None:
    await until(lambda: frames._queue.empty())
    await asyncio.sleep(0.3)
    await assistant.wait_idle()


def test_a_satellite_that_lost_goes_back_to_idle_without_a_sound() -> None:
    async def script(a: Assistant, frames: Frames) -> None:
        _command(frames)
        await _settle(a, frames)
        assert a.state == TurnState.IDLE

    arbiter = FakeArbiter(False, after_s=0.01)
    events, tts, sink = _run(arbiter, script)
    assert len(arbiter.claims) == 1 and arbiter.claims[0][1].probability == pytest.approx(0.99)
    assert not any(isinstance(e, IntentRecognized | TurnFinished) for e in events)
    assert tts.said == [] and sink.written == []  # no earcon, no reply


def test_a_loss_known_at_the_wake_word_does_not_even_listen() -> None:
    async def script(a: Assistant, frames: Frames) -> None:
        _command(frames)
        await _settle(a, frames)

    events, tts, sink = _run(FakeArbiter(False, after_s=0.0), script)
    assert TurnState.LISTENING not in [e.state for e in events if isinstance(e, StateChanged)]
    assert tts.said == [] and sink.written == []


def test_a_loss_decided_after_the_command_ended_is_silent_too() -> None:
    """A command shorter than the window: the turn's steps wait for the verdict before transcribing."""

    async def script(a: Assistant, frames: Frames) -> None:
        _command(frames)
        await _settle(a, frames)

    events, tts, sink = _run(FakeArbiter(False, after_s=1.5), script)
    assert not any(isinstance(e, IntentRecognized | TurnFinished) for e in events)
    assert tts.said == [] and sink.written == []


def test_the_winner_answers_with_the_earcon_after_the_verdict() -> None:
    async def script(a: Assistant, frames: Frames) -> None:
        frames.add(0, 3)
        frames.add(WAKE)
        await asyncio.sleep(0.2)  # the command is still being said when the verdict comes
        assert a.sink.written == [EARCON]  # type: ignore[attr-defined]
        frames.add(1000, 8)
        frames.add(0, 14)
        await _settle(a, frames)

    arbiter = FakeArbiter(True, after_s=0.05)
    events, tts, sink = _run(arbiter, script)
    (turn,) = [e for e in events if isinstance(e, TurnFinished)]
    assert turn.understanding.intent.name == "HassTurnOn"
    assert turn.timings_ms[Timing.ARBITRATION] < 50  # settled while the command was being said
    assert sink.written[0] == EARCON and tts.said == ["Turned on the kitchen light."]


def test_an_arbiter_that_never_answers_does_not_hang_the_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("slm_voice.pipeline.assistant.VERDICT_WAIT_S", 0.2)

    async def script(a: Assistant, frames: Frames) -> None:
        _command(frames)
        await _settle(a, frames)

    events, tts, _ = _run(FakeArbiter(False, after_s=None), script)
    assert tts.said == ["Turned on the kitchen light."]


def test_a_broken_arbiter_leaves_the_turn_to_this_satellite() -> None:
    class Broken:
        def claim(self, turn_id: str, ev: WakeEvidence) -> asyncio.Future[bool]:
            raise RuntimeError("arbiter bug")

    async def script(a: Assistant, frames: Frames) -> None:
        _command(frames)
        await _settle(a, frames)

    events, tts, _ = _run(Broken(), script)
    assert tts.said == ["Turned on the kitchen light."]


def test_always_mine_is_the_default_and_changes_nothing() -> None:
    async def script(a: Assistant, frames: Frames) -> None:
        assert isinstance(a.arbiter, AlwaysMine)
        _command(frames)
        await _settle(a, frames)

    events, tts, sink = _run(None, script)
    (turn,) = [e for e in events if isinstance(e, TurnFinished)]
    assert turn.timings_ms[Timing.ARBITRATION] == 0.0
    assert sink.written[0] == EARCON and tts.said == ["Turned on the kitchen light."]
