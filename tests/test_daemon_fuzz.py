"""The running daemon under fire: hundreds of random messages on every MQTT command topic, then reloads with broken
configs. It must stay up, answer afterwards, stop cleanly, and never log a traceback."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest_broker import Mosquitto, MqttRecorder
from tests.test_daemon_mqtt import BASE, feed_silence, start_daemon, wait_ready

pytestmark = [pytest.mark.models, pytest.mark.broker]

TOPICS = [f"{BASE}/say/set", f"{BASE}/listen/set", f"{BASE}/mute/set", f"{BASE}/wake_threshold/set",
          f"{BASE}/wake_word/set", f"{BASE}/announce/set", f"{BASE}/ask/set", "homeassistant/status"]


def payloads(rng: random.Random, n: int) -> list[bytes]:
    """Valid, nearly valid and hostile payloads, mixed."""
    fixed = [b"", b"\x00", b"ON\x00", b"\xff\xfe\xfa", b"NaN", b"nan", b"inf", b"-inf", b"-1", b"1e309", b"0.5",
             b"1", b"ON", b"OFF", b"on", b"PRESS", b"hey_jarvis", b"alexa", b"online", b"offline", b"{}",
             b'{"text": "hi"}', b"[1, 2]", "🙂".encode(), b"a" * 2000, b"a " * 1000, b"x" * 20_000,
             "ünïcødé sentence.".encode(), b"hello\nworld", b"\x1b[31mred",
             b'{"message": "hi", "preannounce": false}', b'{"question": "Yes?", "answers": [{"id": "yes"}]}',
             b'{"question": "Yes?", "answers": [{"id": "yes", "sentences": [null]}], "timeout_s": 1e309}']
    out = []
    for _ in range(n):
        if rng.random() < 0.6:
            out.append(rng.choice(fixed))
        else:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))
    return out


def test_random_commands_and_broken_reloads_never_crash_the_daemon(tmp_path: Path, mosquitto: Mosquitto) -> None:
    d = start_daemon(tmp_path, mosquitto, "stdin")
    rec = MqttRecorder(mosquitto.port, [f"{BASE}/#"])
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="fuzzer")
    try:
        wait_ready(d)
        feed_silence(d)
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        rng = random.Random(20261130)
        sent = 0
        for payload in payloads(rng, 400):
            client.publish(rng.choice(TOPICS), payload, qos=rng.choice([0, 1]))
            sent += 1
            time.sleep(0.01)
        time.sleep(2)
        assert d.proc.poll() is None, d.log_tail()

        cfg_path = tmp_path / "config.yaml"
        good = yaml.safe_load(cfg_path.read_text())
        broken = [
            "audio: [unclosed",
            yaml.safe_dump({**good, "mqtt": {**good["mqtt"], "base_topic": "a/+/b"}}),
            yaml.safe_dump({**good, "stt": {"compute_type": "int3"}}),
            yaml.safe_dump({**good, "wake": {"words": ["hey_siri"]}}),
            yaml.safe_dump({**good, "audio": {**good["audio"], "sink": "file:"}}),
        ]
        for text in broken:
            cfg_path.write_text(text)
            before = d.log.read_text(errors="replace").count("reload refused")
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while d.log.read_text(errors="replace").count("reload refused") == before:
                assert time.monotonic() < deadline, f"no refusal for {text[:60]!r}:\n{d.log_tail()}"
                assert d.proc.poll() is None, d.log_tail()
                time.sleep(0.1)
        cfg_path.write_text(yaml.safe_dump(good))
        time.sleep(1.5)  # the rate limit refills

        # Still answering: mute and unmute from MQTT, the state follows.
        client.publish(f"{BASE}/mute/set", b"ON", qos=1)
        rec.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"muted", timeout=30)
        client.publish(f"{BASE}/mute/set", b"OFF", qos=1)
        rec.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"idle", timeout=30)
        said = [p for t, p, _r, _ in rec.messages if t == f"{BASE}/reply"]
        assert all(len(p) <= 2000 and b"\x00" not in p for p in said)

        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(30) == 0
        log = d.log.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]
        assert "commands a second; dropping the excess" in log or sent < 60
        print("\n" + json.dumps({"messages": sent, "reloads_refused": log.count("reload refused")}))
    finally:
        client.loop_stop()
        client.disconnect()
        rec.close()
        d.stop()
