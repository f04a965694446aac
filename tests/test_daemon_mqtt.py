"""End to end: the real daemon (`slm-voice run --config CFG`, a subprocess with real models) against mosquitto.

Spoken WAV → intent, event and device command on the broker; systemd notify (READY after warm-up, WATCHDOG
pings, STATUS, STOPPING on SIGTERM); say/set → reply audio in the sink; mute/set → muted state; SIGKILL →
the broker publishes the last will `offline`; SIGTERM → clean `offline`.

Two daemon runs, each shared by the tests of one scenario (model loading is the slow part).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest_broker import Mosquitto, MqttRecorder

pytestmark = [pytest.mark.models, pytest.mark.broker]

DEVICE = "e2e"
BASE = f"slm-voice/{DEVICE}"
LIGHT_TOPIC = "zigbee2mqtt/kitchen_light/set"
READY_TIMEOUT_S = 300.0  # every model loads and warms on 2 shared cores
WATCHDOG_USEC = 1_000_000  # pings expected every 0.5 s


def _daemon_cmd() -> list[str]:
    script = Path(sys.executable).parent / "slm-voice"
    return [str(script)] if script.exists() else [sys.executable, "-m", "slm_voice.daemon.cli"]


class NotifyListener:
    """A fake systemd: an AF_UNIX datagram socket collecting sd_notify messages with their arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._cond:
                for line in data.decode(errors="replace").splitlines():
                    self.messages.append((time.monotonic(), line))
                self._cond.notify_all()

    def wait_for(self, msg: str, timeout: float, count: int = 1, after: float = 0.0) -> list[float]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [t for t, m in self.messages if m == msg and t >= after]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {count}x {msg!r} within {timeout} s; got {self.lines()[-15:]}")
                self._cond.wait(left)

    def lines(self) -> list[str]:
        with self._cond:
            return [m for _, m in self.messages]

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self._sock.close()


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    notify: NotifyListener
    log: Path
    sink: Path
    started: float
    ready_at: float | None = None
    feeder: threading.Thread | None = None
    feeding: threading.Event = field(default_factory=threading.Event)

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        self.feeding.clear()
        if self.feeder is not None:
            self.feeder.join(5)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(15)
        if self.proc.stdin:
            with contextlib.suppress(OSError):  # the daemon is gone: flushing may hit a broken pipe
                self.proc.stdin.close()
        self.notify.close()


def render_command(path: Path) -> Path:
    """'Hey Jarvis. … Turn on the kitchen light.' rendered with Piper (the test corpus's reproducible voice: no
    generator noise, so every run hears the same audio), as a 16 kHz mono WAV."""
    from slm_voice.bench.corpus_audio import to_int16, write_wav
    from slm_voice.bench.synthesis import VOICES, default_piper_voice, synthesize

    def said(text: str) -> np.ndarray:
        return synthesize(text, VOICES["piper"], default_piper_voice())

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(round(16000 * seconds), np.float32)

    write_wav(path, to_int16(np.concatenate([silence(1.0), said("Hey Jarvis."), silence(0.5),
                                             said("Turn on the kitchen light."), silence(2.5)])))
    return path


def start_daemon(workdir: Path, broker: Mosquitto, source: str) -> Daemon:
    sink = workdir / "replies.wav"
    config = {
        "device_id": DEVICE,
        "device_name": "E2E satellite",
        "home": {
            "areas": ["kitchen"],
            "satellite_area": "kitchen",
            "entities": [{"id": "light.kitchen_ceiling", "name": "kitchen light", "area": "kitchen",
                          "command_topic": LIGHT_TOPIC}],
        },
        "audio": {"source": source, "sink": f"file:{sink}", "earcon": False},
        "wake": {"words": ["hey_jarvis"]},
        "slm": {"enabled": False},
        "mqtt": {"broker": "external", "host": broker.host, "port": broker.port},
        "models": {"dir": str(workdir / "models")},
        "debug": {"log_level": "INFO"},
        # Its own memory: a wake threshold or mute another test's daemon left behind must not carry over.
        "state_dir": str(workdir / "state"),
    }
    cfg = workdir / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    listener = NotifyListener(workdir / "notify.sock")
    log = workdir / "daemon.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(NOTIFY_SOCKET=str(listener.path), WATCHDOG_USEC=str(WATCHDOG_USEC), PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        proc = subprocess.Popen([*_daemon_cmd(), "run", "--config", str(cfg)], stdout=out, stderr=out,
                                stdin=subprocess.PIPE if source == "stdin" else subprocess.DEVNULL, env=env,
                                cwd=workdir)
    return Daemon(proc, listener, log, sink, time.monotonic())


def wait_ready(d: Daemon) -> None:
    try:
        d.ready_at = d.notify.wait_for("READY=1", READY_TIMEOUT_S)[0]
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- daemon log ---\n{d.log_tail()}") from None


def feed_silence(d: Daemon) -> None:
    """Play a quiet microphone into stdin at real speed (32 ms frames) until stopped."""
    frame = bytes(512 * 2)
    d.feeding.set()

    def run() -> None:
        next_t = time.monotonic()
        while d.feeding.is_set() and d.proc.poll() is None and d.proc.stdin:
            try:
                d.proc.stdin.write(frame)
                d.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            next_t += 0.032
            time.sleep(max(0.0, next_t - time.monotonic()))

    d.feeder = threading.Thread(target=run, daemon=True)
    d.feeder.start()


# --- scenario 1: a spoken command from a WAV file; ends with SIGKILL ----------------------------------------


@pytest.fixture(scope="module")
def spoken(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_module: Mosquitto
) -> Iterator[tuple[Daemon, MqttRecorder]]:
    workdir = tmp_path_factory.mktemp("daemon-file")
    wav = render_command(workdir / "command.wav")
    rec = MqttRecorder(mosquitto_module.port, [f"{BASE}/#", "homeassistant/#", LIGHT_TOPIC])
    d = start_daemon(workdir, mosquitto_module, f"file:{wav}")
    yield d, rec
    d.stop()
    rec.close()


def test_ready_after_warm_up_then_watchdog_and_status(spoken) -> None:
    d, rec = spoken
    wait_ready(d)
    d.notify.wait_for("WATCHDOG=1", 10, count=3, after=d.ready_at)
    lines = d.notify.lines()
    assert "STATUS=loading models" not in lines or lines.index("STATUS=loading models") < lines.index("READY=1")
    assert any(m.startswith("STATUS=") for m in lines[lines.index("READY=1"):])
    print(f"\ndaemon READY=1 {d.ready_at - d.started:.1f} s after start")


def test_spoken_command_publishes_intent(spoken) -> None:
    d, rec = spoken
    wait_ready(d)
    try:
        (msg,) = rec.wait_for(lambda t, p, r: t == f"{BASE}/intent", timeout=60)[:1]
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- daemon log ---\n{d.log_tail()}") from None
    intent = json.loads(msg[1])
    assert intent["intent"] == "HassTurnOn", intent
    assert intent["entity_ids"] == ["light.kitchen_ceiling"]
    assert "kitchen light" in intent["text"].lower()
    assert intent["tier"] == "template" and intent["reply"]
    event = json.loads(rec.wait_for(lambda t, p, r: t == f"{BASE}/event", timeout=10)[0][1])
    assert event["event_type"] == "HassTurnOn"
    assert rec.wait_for(lambda t, p, r: t == LIGHT_TOPIC, timeout=10)[0][1] == b"ON"
    rec.wait_for(lambda t, p, r: t == f"{BASE}/last_turn_ms" and p.isdigit(), timeout=30)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/transcript" and b"kitchen" in p.lower(), timeout=10)
    states = [p for t, p, r, _ in rec.messages if t == f"{BASE}/state"]
    assert b"listening" in states and b"thinking" in states, states


def test_discovery_and_birth(spoken) -> None:
    d, rec = spoken
    wait_ready(d)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/availability" and p == b"online", timeout=30)
    configs = rec.wait_for(lambda t, p, r: t.startswith("homeassistant/") and t.endswith("/config"), count=9)
    assert {json.loads(m[1])["device"]["name"] for m in configs} == {"E2E satellite"}


def test_sigkill_leaves_last_will(spoken) -> None:
    d, rec = spoken
    wait_ready(d)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/availability" and p == b"online", timeout=30)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(15)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/availability" and p == b"offline", timeout=30)


# --- scenario 2: a live (silent) stdin microphone and MQTT commands; ends with SIGTERM ------------------------


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, mosquitto_module: Mosquitto
) -> Iterator[tuple[Daemon, MqttRecorder]]:
    workdir = tmp_path_factory.mktemp("daemon-stdin")
    rec = MqttRecorder(mosquitto_module.port, [f"{BASE}/#"])
    d = start_daemon(workdir, mosquitto_module, "stdin")
    feed_silence(d)
    yield d, rec
    d.stop()
    rec.close()


def _wav_seconds(path: Path) -> tuple[float, float]:
    """(duration, RMS) of what the WAV sink has written so far."""
    with wave.open(str(path)) as w:
        n, rate = w.getnframes(), w.getframerate()
        x = np.frombuffer(w.readframes(n), "<i2").astype(np.float64)
    return n / rate, float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def test_say_command_speaks(live) -> None:
    d, rec = live
    wait_ready(d)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/availability" and p == b"online", timeout=30)
    rec.publish(f"{BASE}/say/set", "The washing machine has finished.")
    rec.wait_for(lambda t, p, r: t == f"{BASE}/reply" and p == b"The washing machine has finished.", timeout=30)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"speaking", timeout=30)
    deadline = time.monotonic() + 30
    seconds, loudness = 0.0, 0.0
    while time.monotonic() < deadline:
        if d.sink.exists() and d.sink.stat().st_size > 44:
            seconds, loudness = _wav_seconds(d.sink)
            if seconds > 1.0:
                break
        time.sleep(0.2)
    assert seconds > 1.0 and loudness > 100, (seconds, loudness, d.log_tail())


def test_watchdog_pings_while_audio_flows(live) -> None:
    d, rec = live
    wait_ready(d)
    now = time.monotonic()
    d.notify.wait_for("WATCHDOG=1", 10, count=4, after=now)


def test_mute_command(live) -> None:
    d, rec = live
    wait_ready(d)
    rec.publish(f"{BASE}/mute/set", "ON")
    rec.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"muted", timeout=30)
    rec.wait_for(lambda t, p, r: t == f"{BASE}/mute" and p == b"ON", timeout=10)
    rec.publish(f"{BASE}/mute/set", "OFF")
    rec.wait_for(lambda t, p, r: t == f"{BASE}/mute" and p == b"OFF", timeout=10)


def test_sigterm_stops_cleanly(live) -> None:
    d, rec = live
    wait_ready(d)
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"daemon ignored SIGTERM\n{d.log_tail()}") from None
    assert rc == 0, d.log_tail()
    assert "STOPPING=1" in d.notify.lines()
    offline = rec.wait_for(lambda t, p, r: t == f"{BASE}/availability" and p == b"offline", timeout=10)
    assert offline
