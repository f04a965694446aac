"""Many rooms, one answer, end to end: three real daemons (`slm-voice run`, real models, `arbitration.enabled`) on
one real mosquitto, each with its own stdin microphone, fed the same rendered "Hey Jarvis. Turn on the kitchen
light." in lockstep at real time, at 0, -6 and -12 dB (a satellite near the speaker, one further away, one in the
next room).

- all three hear it: exactly one intent (and one light command) on the broker, from the loudest; the others stay
  silent (nothing in their reply sinks);
- the loudest hears nothing: the next one answers (the two that heard it arbitrate);
- the broker is stopped: each answers alone (it says it cannot reach the home) and none hangs.

The extra latency arbitration adds to the action is printed: the turn's own `arbitration` timing (how long the
action waited for the verdict after the end of speech) and the black box (end of speech written to the intent on
the broker).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import threading
import time
import wave
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest_broker import Mosquitto, MqttRecorder
from tests.test_daemon_mqtt import Daemon, NotifyListener, _daemon_cmd, render_command, wait_ready

pytestmark = [pytest.mark.models, pytest.mark.broker]

DEVICES = ("sat-a", "sat-b", "sat-c")
"""Loudest first in the first scenario (0, -6, -12 dB)."""
GAINS_DB = (0.0, -6.0, -12.0)
LIGHT_TOPIC = "zigbee2mqtt/kitchen_light/set"
ARBITRATION_TOPIC = "slm-voice/arbitration"
FRAME_BYTES = 512 * 2
QUIET_AFTER_S = 3.0
"""After the first intent, how long the test waits to be sure no second one comes."""


class LockstepFeeder:
    """One thread writes a 32 ms frame into every daemon's stdin at real time: its queued audio, else silence.
    Records when the frame holding the end of speech was written (the black box's zero)."""

    def __init__(self, daemons: list[Daemon]) -> None:
        self.daemons = daemons
        self.queues: list[deque[bytes]] = [deque() for _ in daemons]
        self.marks: dict[int, float] = {}
        self._mark_at: dict[int, int] = {}  # frame counter -> mark id
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def play(self, audio: list[np.ndarray | None], speech_end_sample: int) -> int:
        """Queue one clip per daemon (None: silence), starting on the same frame; returns the mark id of the end of
        speech."""
        with self._lock:
            start = self._count + 2
            for q, clip in zip(self.queues, audio, strict=True):
                q.clear()
                if clip is not None:
                    pcm = clip.astype("<i2").tobytes()
                    pcm += bytes(-len(pcm) % FRAME_BYTES)
                    q.extend(pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES))
            mark = len(self.marks) + len(self._mark_at)
            self._mark_at[start + speech_end_sample // 512] = mark
            self._start = start
            return mark

    def _run(self) -> None:
        silence = bytes(FRAME_BYTES)
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                self._count += 1
                live = self._count >= getattr(self, "_start", 0)
                frames = [q.popleft() if (q and live) else silence for q in self.queues]
                mark = self._mark_at.pop(self._count, None)
            for d, frame in zip(self.daemons, frames, strict=True):
                if d.proc.poll() is None and d.proc.stdin:
                    try:
                        d.proc.stdin.write(frame)
                        d.proc.stdin.flush()
                    except (BrokenPipeError, ValueError):
                        pass
            if mark is not None:
                self.marks[mark] = time.monotonic()
            next_t += 0.032
            time.sleep(max(0.0, next_t - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Rig:
    broker: Mosquitto
    daemons: list[Daemon]
    feeder: LockstepFeeder
    rec: MqttRecorder
    command: np.ndarray
    speech_end: int
    latencies: list[dict] = field(default_factory=list)

    def clip(self, gain_db: float | None) -> np.ndarray | None:
        if gain_db is None:
            return None
        return np.clip(self.command.astype(np.float64) * 10 ** (gain_db / 20), -32768, 32767)

    def sink_bytes(self) -> list[int]:
        return [d.sink.stat().st_size if d.sink.exists() else 0 for d in self.daemons]

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{d.log_tail(25)}" for name, d in zip(DEVICES, self.daemons, strict=True))

    def wait_all_idle(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for name in DEVICES:
            while True:
                states = self.rec.on(f"slm-voice/{name}/state")
                if states and states[-1] == b"idle":
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} not idle: {states[-5:]}\n{self.logs()}")
                time.sleep(0.05)


def start(workdir: Path, broker: Mosquitto, device: str) -> Daemon:
    sink = workdir / "replies.wav"
    config = {
        "device_id": device,
        "home": {"areas": ["kitchen"], "satellite_area": "kitchen",
                 "entities": [{"id": "light.kitchen_ceiling", "name": "kitchen light", "area": "kitchen",
                               "command_topic": LIGHT_TOPIC}]},
        "audio": {"source": "stdin", "sink": f"file:{sink}", "earcon": False},
        "wake": {"words": ["hey_jarvis"]},
        "slm": {"enabled": False},
        "stt": {"threads": 1},
        "mqtt": {"broker": "external", "host": broker.host, "port": broker.port, "discovery": False,
                 "delivery_timeout_s": 1.0},
        "arbitration": {"enabled": True, "window_ms": 300},
        "models": {"dir": str(workdir / "models")},
        "debug": {"log_level": "INFO"},
        "state_dir": str(workdir / "state"),
    }
    cfg = workdir / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    listener = NotifyListener(workdir / "notify.sock")
    log = workdir / "daemon.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(NOTIFY_SOCKET=str(listener.path), PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        proc = subprocess.Popen([*_daemon_cmd(), "run", "--config", str(cfg)], stdout=out, stderr=out,
                                stdin=subprocess.PIPE, env=env, cwd=workdir)
    return Daemon(proc, listener, log, sink, time.monotonic())


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, mosquitto_module: Mosquitto) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("arbitration")
    wav = render_command(root / "command.wav")
    with wave.open(str(wav)) as w:
        command = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    loud = np.flatnonzero(np.abs(command.astype(np.int32)) > 300)
    rec = MqttRecorder(mosquitto_module.port, ["slm-voice/+/intent", "slm-voice/+/state", ARBITRATION_TOPIC,
                                               LIGHT_TOPIC])
    daemons = []
    for name in DEVICES:
        (root / name).mkdir()
        daemons.append(start(root / name, mosquitto_module, name))
    feeder = None
    try:
        t0 = time.monotonic()
        for d in daemons:
            wait_ready(d)
        print(f"\nthree daemons ready in {time.monotonic() - t0:.1f} s")
        feeder = LockstepFeeder(daemons)
        r = Rig(mosquitto_module, daemons, feeder, rec, command, int(loud[-1]))
        r.wait_all_idle()
        yield r
        if r.latencies:
            waits = [x["arbitration"] for x in r.latencies]
            boxes = [x["black_box"] for x in r.latencies]
            print(f"\narbitration: the action waited {statistics.median(waits):.1f} ms (max {max(waits):.1f}) for "
                  f"the verdict after the end of speech; black box (end of speech -> intent on the broker, three "
                  f"daemons on 2 cores): median {statistics.median(boxes):.0f} ms")
    finally:
        if feeder is not None:
            feeder.close()
        for d in daemons:
            d.stop()
        rec.close()
        if not mosquitto_module.running:
            mosquitto_module.start()


def _scenario(rig: Rig, gains: tuple[float | None, ...]) -> tuple[list[tuple[str, dict]], list[int], int]:
    """Play the command at these gains (None: silence); returns the intents published (device, message), how much
    each daemon's reply sink grew, and the black box mark."""
    rig.wait_all_idle()
    before_msgs, before_sinks = len(rig.rec.messages), rig.sink_bytes()
    mark = rig.feeder.play([rig.clip(g) for g in gains], rig.speech_end)
    try:
        rig.rec.wait_for(lambda t, p, r: t.endswith("/intent"), timeout=40,
                         count=1 + sum(t.endswith("/intent") for t, *_ in rig.rec.messages[:before_msgs]))
    except AssertionError as e:
        raise AssertionError(f"{e}\n{rig.logs()}") from None
    time.sleep(QUIET_AFTER_S)
    rig.wait_all_idle()
    new = rig.rec.messages[before_msgs:]
    intents = [(t.split("/")[1], json.loads(p), at) for t, p, _, at in new if t.endswith("/intent")]
    grown = [b - a for a, b in zip(before_sinks, rig.sink_bytes(), strict=True)]
    claims = [json.loads(p) for t, p, *_ in new if t == ARBITRATION_TOPIC]
    print("\nclaims:", [(c["device"], c["score"], c["probability"], c["speech_db"]) for c in claims])
    if intents:
        device, msg, at = intents[0]
        rig.latencies.append({"arbitration": msg["timings_ms"].get("arbitration", float("nan")),
                              "black_box": (at - rig.feeder.marks[mark]) * 1000})
        box = rig.latencies[-1]["black_box"]
        print(f"{device}: {msg['text']!r} timings {msg['timings_ms']}, black box {box:.0f} ms")
    return [(d, m) for d, m, _ in intents], grown, mark


def test_three_satellites_one_answer_from_the_loudest(rig: Rig) -> None:
    intents, grown, _ = _scenario(rig, GAINS_DB)
    assert [d for d, _ in intents] == ["sat-a"], f"{intents}\n{rig.logs()}"
    assert intents[0][1]["intent"] == "HassTurnOn"
    assert [p for t, p, *_ in rig.rec.messages if t == LIGHT_TOPIC] == [b"ON"]
    assert grown[0] > 0 and grown[1:] == [0, 0], grown  # only the winner spoke
    assert rig.latencies[-1]["arbitration"] <= 150, rig.latencies


def test_with_the_loudest_silent_the_next_one_answers(rig: Rig) -> None:
    intents, grown, _ = _scenario(rig, (None, GAINS_DB[1], GAINS_DB[2]))
    assert [d for d, _ in intents] == ["sat-b"], f"{intents}\n{rig.logs()}"
    assert grown[1] > 0 and grown[0] == 0 and grown[2] == 0, grown
    assert rig.latencies[-1]["arbitration"] <= 150, rig.latencies


def test_broker_stopped_each_answers_alone_and_none_hangs(rig: Rig) -> None:
    rig.wait_all_idle()
    before_sinks = rig.sink_bytes()
    log_sizes = [len(d.log.read_text(errors="replace")) for d in rig.daemons]
    rig.broker.stop()
    try:
        deadline = time.monotonic() + 10
        for d, size in zip(rig.daemons, log_sizes, strict=True):
            while "lost connection" not in d.log.read_text(errors="replace")[size:]:
                assert time.monotonic() < deadline, rig.logs()
                time.sleep(0.05)
        t0 = time.monotonic()
        rig.feeder.play([rig.clip(g) for g in GAINS_DB], rig.speech_end)
        deadline = t0 + 40
        for d, size in zip(rig.daemons, log_sizes, strict=True):
            while True:
                text = d.log.read_text(errors="replace")[size:]
                turns = [line for line in text.splitlines() if "slm_voice.turn" in line or '"intent": "Hass' in line]
                if "answering alone" in text and any('"HassTurnOn"' in line for line in turns):
                    break
                assert time.monotonic() < deadline, f"no turn within 40 s\n{rig.logs()}"
                time.sleep(0.1)
        took = time.monotonic() - t0
        grown = [b - a for a, b in zip(before_sinks, rig.sink_bytes(), strict=True)]
        assert all(g > 0 for g in grown), grown  # each told its user it could not reach the home
        print(f"\nbroker stopped: all three answered alone within {took:.1f} s of the clip's start")
    finally:
        rig.broker.start()
    # Back on the broker, each says it is idle again (its retained state, republished on reconnect).
    after = MqttRecorder(rig.broker.port, ["slm-voice/+/state"])
    try:
        for name in DEVICES:
            after.wait_for(lambda t, p, r, name=name: t == f"slm-voice/{name}/state" and p == b"idle", timeout=20)
    finally:
        after.close()
