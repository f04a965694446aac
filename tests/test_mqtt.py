"""MQTT, Home Assistant discovery and the embedded broker, against real brokers (mosquitto, amqtt)."""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slm_voice.daemon.actions import brightness_payload, device_commands
from slm_voice.daemon.broker import BrokerError, EmbeddedBroker
from slm_voice.daemon.homeassistant import discovery as ha
from slm_voice.daemon.mqtt import Topics
from slm_voice.daemon.mqtt_bridge import MqttBridge
from slm_voice.daemon.settings import ConfigError, EntitySettings, MqttSettings, TlsSettings
from slm_voice.pipeline.asking import Answer, AnswerChoice, AnswerStatus, Question
from slm_voice.pipeline.events import IntentRecognized, ReplyStarted, StateChanged, Transcript, TurnFinished
from slm_voice.pipeline.intent.model import Intent, Understanding

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[1]
DEVICE = "test_room"
BASE = f"slm-voice/{DEVICE}"
WAKE_WORDS = ("hey_jarvis", "okay_nabu")
ENTITIES = (
    EntitySettings(id="light.kitchen_ceiling", name="kitchen light", command_topic="zigbee2mqtt/kitchen/set"),
    EntitySettings(id="light.bedroom_lamp", name="bedroom lamp", command_topic="tasmota/bedroom/cmnd/POWER",
                   payload_on="1", payload_off="0", payload_brightness="{brightness}"),
    EntitySettings(id="switch.coffee_maker", name="coffee maker"),
)


class RecordingControls:
    """Controls that record each call (from paho's thread) for the test thread to inspect."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._cond = threading.Condition()

    def _add(self, name: str, value: Any = None) -> None:
        with self._cond:
            self.calls.append((name, value))
            self._cond.notify_all()

    def say(self, text: str) -> None:
        self._add("say", text)

    def announce(self, text: str, preannounce: bool) -> None:
        self._add("announce", (text, preannounce))

    def ask(self, question: Question, on_answer: Callable[[Answer], None]) -> None:
        self._add("ask", question)
        on_answer(Answer(question, AnswerStatus.ANSWERED, question.choices[0].id if question.choices else None,
                         "yes please"))

    def listen(self) -> None:
        self._add("listen")

    def set_muted(self, muted: bool) -> None:
        self._add("mute", muted)

    def set_wake_threshold(self, value: float) -> None:
        self._add("threshold", value)

    def set_wake_word(self, word: str) -> None:
        self._add("wake_word", word)

    def wait_for(self, name: str, timeout: float = 10.0) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(c[0] == name for c in self.calls):
                left = deadline - time.monotonic()
                assert left > 0, f"Controls.{name} never called; calls: {self.calls}"
                self._cond.wait(left)
            return list(self.calls)


def turn(turn_id: str, name: str = "HassGetCurrentTime", entity_ids: tuple[str, ...] = (),
         slots: dict[str, Any] | None = None, text: str = "what time is it") -> TurnFinished:
    """A finished turn; by default with an intent the satellite answers itself (the bridge publishes those; the
    home's intents go out through the executor, see tests/test_mqtt_actions.py)."""
    u = Understanding(intent=Intent(name, slots or {}, entity_ids), reply="Done.", tier="template")
    return TurnFinished(turn_id, wake_word="hey_jarvis", transcript=text, understanding=u, speech_end_s=1.5,
                        timings_ms={"stt": 410.0, "intent": 3.2, "speech_end_to_first_audio": 812.4})


def settings(port: int, **kw: Any) -> MqttSettings:
    kw.setdefault("broker", "external")
    kw.setdefault("host", "127.0.0.1")
    return MqttSettings(port=port, **kw)


@pytest.fixture
def make_bridge() -> Iterator[Callable[..., tuple[MqttBridge, RecordingControls]]]:
    made: list[MqttBridge] = []

    def make(s: MqttSettings, *, connect: bool = True, **kw: Any) -> tuple[MqttBridge, RecordingControls]:
        controls = RecordingControls()
        kw.setdefault("reconnect_min_s", 0.2)
        kw.setdefault("reconnect_max_s", 1.0)
        b = MqttBridge(s, DEVICE, "Test room", WAKE_WORDS, controls, "0.1.0-test", wake_threshold=0.5,
                       **kw)
        made.append(b)
        b.start()
        if connect:
            assert b.wait_connected(10), "bridge did not connect"
            assert b.wait_delivered(10), "birth, discovery and state not acknowledged"
        return b, controls

    yield make
    for b in made:
        b.stop(timeout=1.0)


def is_topic(topic: str) -> Callable[[str, bytes, bool], bool]:
    return lambda t, p, r: t == topic


# --- intents and device commands --------------------------------------------------------------------------


def test_satellite_intents_are_published_once_marked_handled(mosquitto, mqtt_client, make_bridge) -> None:
    rec = mqtt_client(mosquitto.port, [f"{BASE}/#"])
    bridge, _ = make_bridge(settings(mosquitto.port))
    bridge.on_event(turn("t1"))
    bridge.on_event(turn("t2", "HassStartTimer", (), {"minutes": 5}, "set a timer for 5 minutes."))
    assert bridge.wait_delivered(10)
    first, second = rec.wait_for(is_topic(f"{BASE}/intent"), count=2)[:2]
    msg = json.loads(first[1])
    assert not first[2]  # not retained
    assert set(msg) == {"turn_id", "timestamp", "wake_word", "intent", "slots", "entity_ids", "text", "reply",
                        "tier", "confidence", "timings_ms", "handled", "expires"}
    assert msg["turn_id"] == "t1" and msg["intent"] == "HassGetCurrentTime" and msg["handled"] is True
    assert msg["text"] == "what time is it" and msg["reply"] == "Done." and msg["tier"] == "template"
    assert msg["timings_ms"]["speech_end_to_first_audio"] == 812.4
    assert msg["timestamp"].endswith("+00:00")
    assert json.loads(second[1])["text"] == "set a timer for 5 minutes"  # Whisper's full stop is not published
    events = [json.loads(m[1]) for m in rec.wait_for(is_topic(f"{BASE}/event"), count=2)]
    assert [e["event_type"] for e in events] == ["HassGetCurrentTime", "HassStartTimer"]
    assert rec.on(f"{BASE}/last_turn_ms")[-1] == b"812"


def test_home_intents_are_left_to_the_executor(mosquitto, mqtt_client, make_bridge) -> None:
    rec = mqtt_client(mosquitto.port, [f"{BASE}/intent"])
    bridge, _ = make_bridge(settings(mosquitto.port))
    home = turn("h1", "HassTurnOn", ("light.kitchen_ceiling",), {"name": "kitchen light"})
    bridge.on_event(IntentRecognized("h1", text="turn on the kitchen light", understanding=home.understanding))
    bridge.on_event(home)
    bridge.on_event(turn("marker"))
    rec.wait_for(is_topic(f"{BASE}/intent"))
    assert [json.loads(p)["turn_id"] for p in rec.on(f"{BASE}/intent")] == ["marker"]


def test_intent_published_once_per_turn_at_recognition(mosquitto, mqtt_client, make_bridge) -> None:
    rec = mqtt_client(mosquitto.port, [f"{BASE}/intent"])
    bridge, _ = make_bridge(settings(mosquitto.port))
    finished = turn("t1")
    bridge.on_event(IntentRecognized("t1", text=finished.transcript, understanding=finished.understanding,
                                     timings_ms={"stt": 400.0, "speech_end_to_intent": 520.0}))
    bridge.on_event(finished)  # same turn: must not publish again
    bridge.on_event(turn("t2"))  # a marker: anything published before it has arrived once it arrives
    msgs = [json.loads(m[1]) for m in rec.wait_for(lambda t, p, r: json.loads(p)["turn_id"] == "t2")]
    got = [json.loads(p) for p in rec.on(f"{BASE}/intent")]
    assert [m["turn_id"] for m in got] == ["t1", "t2"], msgs
    assert got[0]["timings_ms"] == {"stt": 400.0, "speech_end_to_intent": 520.0}


def test_no_intent_publishes_nothing(mosquitto, mqtt_client, make_bridge) -> None:
    rec = mqtt_client(mosquitto.port, [f"{BASE}/intent", f"{BASE}/event"])
    bridge, _ = make_bridge(settings(mosquitto.port))
    bridge.on_event(TurnFinished("t0", wake_word="hey_jarvis", transcript="tell me a joke",
                                 understanding=Understanding(None, "I can't do that.", "none"),
                                 speech_end_s=1.0, timings_ms={}))
    bridge.on_event(TurnFinished("t00", wake_word="hey_jarvis", transcript="", understanding=None,
                                 speech_end_s=None, timings_ms={}))
    bridge.on_event(turn("t1"))
    rec.wait_for(is_topic(f"{BASE}/event"))
    assert [json.loads(p)["turn_id"] for p in rec.on(f"{BASE}/intent")] == ["t1"]


def test_publish_latency(mosquitto, mqtt_client, make_bridge) -> None:
    """Measures publish call → subscriber receipt for QoS 1 intents (printed; run with -s to see)."""
    rec = mqtt_client(mosquitto.port, [f"{BASE}/intent"])
    bridge, _ = make_bridge(settings(mosquitto.port))
    sent: dict[str, float] = {}
    for i in range(50):
        tid = f"lat{i}"
        sent[tid] = time.monotonic()
        bridge.on_event(turn(tid))
        time.sleep(0.01)
    msgs = rec.wait_for(is_topic(f"{BASE}/intent"), count=50)
    ids = [json.loads(m[1])["turn_id"] for m in msgs]
    assert ids == [f"lat{i}" for i in range(50)]  # QoS 1 from one client: in order, none lost
    lat = sorted((m[3] - sent[json.loads(m[1])["turn_id"]]) * 1000 for m in msgs)
    print(f"\nintent publish -> subscriber: median {statistics.median(lat):.2f} ms, "
          f"p95 {lat[int(0.95 * len(lat)) - 1]:.2f} ms, max {lat[-1]:.2f} ms (n=50, mosquitto, loopback)")


def test_on_event_never_raises_and_survives_odd_events(mosquitto, make_bridge) -> None:
    bridge, _ = make_bridge(settings(mosquitto.port))

    class Weird:
        intent = Intent("HassGetCurrentTime", {"obj": object()}, ())
        reply = "ok"
        tier = "template"

    bridge.on_event(TurnFinished("w", wake_word=None, transcript="x", understanding=Weird(), speech_end_s=None,
                                 timings_ms={}))  # slots that JSON cannot encode are stringified
    assert bridge.wait_delivered(10)


# --- retained state, availability, discovery --------------------------------------------------------------


def test_state_topics_are_retained(mosquitto, mqtt_client, make_bridge) -> None:
    bridge, _ = make_bridge(settings(mosquitto.port))
    bridge.on_event(StateChanged("t1", state="listening"))
    bridge.on_event(Transcript("t1", text="turn on the kitchen light"))
    bridge.on_event(ReplyStarted("t1", text="Turned on"))
    bridge.on_event(turn("t1"))  # the whole reply (a streamed answer is only known at the end of the turn)
    bridge.on_event(StateChanged("t1", state="idle"))
    assert bridge.wait_delivered(10)
    time.sleep(0.2)  # QoS 0 state messages are not tracked; give them a moment to reach the broker

    late = mqtt_client(mosquitto.port, [f"{BASE}/+"])  # subscribes after the fact: sees only retained ones
    want = {"state": b"idle", "transcript": b"turn on the kitchen light", "reply": b"Done.",
            "last_turn_ms": b"812", "availability": b"online", "mute": b"OFF", "wake_threshold": b"0.5",
            "wake_word": b"hey_jarvis"}
    late.wait_for(lambda t, p, r: t.rsplit("/", 1)[1] in want, count=len(want))
    for leaf, value in want.items():
        hits = [(p, r) for t, p, r, _ in late.messages if t == f"{BASE}/{leaf}"]
        assert hits and all(r for _, r in hits), leaf
        assert hits[-1][0] == value, leaf
    assert not late.on(f"{BASE}/intent")  # intents are not retained


def test_the_mute_switch_never_flaps(mosquitto, mqtt_client, make_bridge) -> None:
    """"Start listening" while muted passes through listening and back to muted: the switch stays ON."""
    bridge, _ = make_bridge(settings(mosquitto.port), muted=True)
    rec = mqtt_client(mosquitto.port, [f"{BASE}/mute", f"{BASE}/state"])
    assert rec.wait_for(is_topic(f"{BASE}/mute"))[0][1:3] == (b"ON", True)  # the retained initial value
    for state in ("muted", "listening", "thinking", "speaking", "muted"):
        bridge.on_event(StateChanged("", state=state))
    rec.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"speaking")
    rec.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"muted" and not r)
    assert rec.on(f"{BASE}/mute") == [b"ON"]


def test_stop_publishes_offline(mosquitto, mqtt_client, make_bridge) -> None:
    bridge, _ = make_bridge(settings(mosquitto.port))
    bridge.stop()
    late = mqtt_client(mosquitto.port, [f"{BASE}/availability"])
    assert late.wait_for(is_topic(f"{BASE}/availability"))[-1][1:3] == (b"offline", True)


def test_last_will_on_crash(mosquitto, mqtt_client, tmp_path: Path) -> None:
    """A process that dies without disconnecting leaves `offline` behind (the broker publishes the will)."""
    rec = mqtt_client(mosquitto.port, [f"{BASE}/availability"])
    script = tmp_path / "crash.py"
    script.write_text(
        "import sys, time\n"
        "from slm_voice.daemon.mqtt_bridge import MqttBridge\n"
        "from slm_voice.daemon.settings import MqttSettings\n"
        "class C:\n"
        "    def __getattr__(self, n): return lambda *a: None\n"
        f"b = MqttBridge(MqttSettings(port={mosquitto.port}, keepalive_s=5), {DEVICE!r}, 'x', ['hey_jarvis'],"
        " C(), '0')\n"
        "b.start(); assert b.wait_connected(10); print('up', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        rec.wait_for(lambda t, p, r: p == b"online")
        proc.kill()
        proc.wait(10)
        rec.wait_for(lambda t, p, r: p == b"offline")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _discovery(rec, count: int, retained: bool) -> dict[str, dict[str, Any]]:
    msgs = rec.wait_for(lambda t, p, r: t.endswith("/config") and r == retained, count=count)
    return {t: json.loads(p) for t, p, r, _ in msgs}


def test_discovery_payloads(mosquitto, mqtt_client, make_bridge) -> None:
    make_bridge(settings(mosquitto.port))
    n = len(ha.removal_messages(ha.DeviceInfo(DEVICE, "x", "0")))
    configs = _discovery(mqtt_client(mosquitto.port, ["homeassistant/#"]), n, retained=True)
    assert len(configs) == n == 13

    node = f"slm_voice_{DEVICE}"
    by_component: dict[str, list[dict[str, Any]]] = {}
    for topic, c in configs.items():
        prefix, component, node_id, object_id, leaf = topic.split("/")
        assert (prefix, node_id, leaf) == ("homeassistant", node, "config")
        assert c["unique_id"] == f"{node}_{object_id}"
        assert c["availability_topic"] == f"{BASE}/availability"
        assert c["device"] == {"identifiers": [node], "name": "Test room", "manufacturer": "slm-voice",
                               "model": "slm-voice satellite", "sw_version": "0.1.0-test"}
        assert c["name"]
        by_component.setdefault(component, []).append(c)
    assert len({c["unique_id"] for c in configs.values()}) == n
    assert sorted(by_component) == ["button", "event", "number", "select", "sensor", "switch", "text"]

    event, answer = sorted(by_component["event"], key=lambda c: c["unique_id"] != f"{node}_intent")
    assert event["state_topic"] == f"{BASE}/event" and "HassTurnOn" in event["event_types"]
    assert answer["state_topic"] == f"{BASE}/answer" and "answered" in answer["event_types"]
    assert {s["state_topic"] for s in by_component["sensor"]} == {
        f"{BASE}/state", f"{BASE}/transcript", f"{BASE}/reply", f"{BASE}/last_turn_ms"}
    (switch,) = by_component["switch"]
    assert (switch["command_topic"], switch["state_topic"]) == (f"{BASE}/mute/set", f"{BASE}/mute")
    (number,) = by_component["number"]
    assert (number["min"], number["max"], number["command_topic"]) == (0, 1, f"{BASE}/wake_threshold/set")
    (select,) = by_component["select"]
    assert select["options"] == list(WAKE_WORDS) and select["command_topic"] == f"{BASE}/wake_word/set"
    (button,) = by_component["button"]
    assert button["command_topic"] == f"{BASE}/listen/set"
    texts = {c["unique_id"].removeprefix(f"{node}_"): c for c in by_component["text"]}
    assert {k: c["command_topic"] for k, c in texts.items()} == {
        "say": f"{BASE}/say/set", "announce": f"{BASE}/announce/set", "ask": f"{BASE}/ask/set"}
    assert {c["max"] for c in texts.values()} == {255}

    removals = ha.removal_messages(ha.DeviceInfo(DEVICE, "x", "0"))
    assert {t for t, _ in removals} == set(configs) and all(p == "" for _, p in removals)


def test_remove_discovery_clears_retained_configs(mosquitto, mqtt_client, make_bridge) -> None:
    bridge, _ = make_bridge(settings(mosquitto.port))
    assert bridge.wait_delivered(10)
    bridge.remove_discovery()
    assert bridge.wait_delivered(10)
    late = mqtt_client(mosquitto.port, ["homeassistant/#", f"{BASE}/availability"])
    late.wait_for(is_topic(f"{BASE}/availability"))
    assert not [t for t, *_ in late.messages if t.endswith("/config")]


def test_ha_birth_republishes_discovery(mosquitto, mqtt_client, make_bridge) -> None:
    bridge, _ = make_bridge(settings(mosquitto.port))
    rec = mqtt_client(mosquitto.port, ["homeassistant/+/+/+/config"])
    _discovery(rec, 13, retained=True)
    assert not [m for m in rec.messages if not m[2]]
    rec.publish("homeassistant/status", "online")
    live = _discovery(rec, 13, retained=False)  # published again, arriving live
    assert len(live) == 13


def test_discovery_can_be_disabled(mosquitto, mqtt_client, make_bridge) -> None:
    bridge, _ = make_bridge(settings(mosquitto.port, discovery=False))
    rec = mqtt_client(mosquitto.port, ["homeassistant/#", f"{BASE}/availability"])
    rec.publish("homeassistant/status", "online")
    bridge.on_event(turn("t1"))
    rec.wait_for(is_topic(f"{BASE}/availability"))
    assert bridge.wait_delivered(10)
    assert [t for t, *_ in rec.messages if t != f"{BASE}/availability"] == ["homeassistant/status"]


# --- commands in ------------------------------------------------------------------------------------------


def test_commands_reach_controls(mosquitto, mqtt_client, make_bridge, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="slm_voice.daemon.mqtt_bridge")
    bridge, controls = make_bridge(settings(mosquitto.port))
    rec = mqtt_client(mosquitto.port, [f"{BASE}/mute", f"{BASE}/wake_threshold", f"{BASE}/wake_word"])
    for topic, payload in [
        ("say/set", "  Dinner is ready.  "),
        ("say/set", ""),  # ignored: empty
        ("say/set", b"\xff\xfe"),  # ignored: not UTF-8
        ("listen/set", "PRESS"),
        ("mute/set", "ON"),
        ("mute/set", "maybe"),  # ignored
        ("mute/set", "off"),
        ("wake_threshold/set", "0.7"),
        ("wake_threshold/set", "1.5"),  # ignored: out of range
        ("wake_threshold/set", "nan"),  # ignored
        ("wake_threshold/set", "loud"),  # ignored
        ("wake_word/set", "alexa"),  # ignored: not an option
        ("wake_word/set", "okay_nabu"),
        ("say/set", "last"),
    ]:
        rec.publish(f"{BASE}/{topic}", payload)
    deadline = time.monotonic() + 10
    while ("say", "last") not in controls.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    calls = controls.calls
    assert calls == [("say", "Dinner is ready."), ("listen", None), ("mute", True), ("mute", False),
                     ("threshold", 0.7), ("wake_word", "okay_nabu"), ("say", "last")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 7, warnings
    assert any("alexa" in w and "okay_nabu" in w for w in warnings)  # names the allowed options

    # Accepted values are echoed to the retained state topics HA reads.
    rec.wait_for(lambda t, p, r: t.endswith("wake_word") and p == b"okay_nabu")
    assert rec.on(f"{BASE}/mute")[-2:] == [b"ON", b"OFF"]
    assert rec.on(f"{BASE}/wake_threshold")[-1] == b"0.7"


def test_announce_and_ask_reach_controls_and_the_answer_is_published(mosquitto, mqtt_client, make_bridge,
                                                                    caplog) -> None:
    caplog.set_level(logging.WARNING, logger="slm_voice.daemon.mqtt_bridge")
    bridge, controls = make_bridge(settings(mosquitto.port))
    rec = mqtt_client(mosquitto.port, [f"{BASE}/answer"])
    ask = {"id": "garage", "question": "Close the garage?\x1b[2J", "timeout_s": 5, "preannounce": False,
           "answers": [{"id": "yes", "sentences": ["yes", "sure"]}, {"id": "no", "sentences": ["no"]}]}
    for topic, payload in [
        ("announce/set", " The washer is done.\x00 "),
        ("announce/set", json.dumps({"message": "Quiet one", "preannounce": False})),
        ("announce/set", json.dumps({"message": ""})),  # ignored: empty
        ("announce/set", "x" * 20000),  # ignored: too long
        ("ask/set", json.dumps({**ask, "answers": [{"id": "yes"}, {"id": "yes"}]})),  # ignored: an id twice
        ("ask/set", json.dumps({**ask, "timeout_s": 3600})),  # ignored: out of range
        ("ask/set", "{not json"),  # ignored
        ("ask/set", json.dumps(ask)),
        ("ask/set", "Anything else?"),
    ]:
        rec.publish(f"{BASE}/{topic}", payload)
    deadline = time.monotonic() + 10
    while sum(c[0] == "ask" for c in controls.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c for c in controls.calls if c[0] == "announce"] == [
        ("announce", ("The washer is done.", True)), ("announce", ("Quiet one", False))]
    first, second = (q for name, q in controls.calls if name == "ask")
    assert first == Question("Close the garage? [2J", (AnswerChoice("yes", ("yes", "sure")),
                                                       AnswerChoice("no", ("no",))), "garage", 5.0, False)
    assert second == Question("Anything else?")
    answers = [json.loads(m[1]) for m in rec.wait_for(is_topic(f"{BASE}/answer"), count=2)[:2]]
    assert answers[0] == {"event_type": "answered", "id": "garage", "answer": "yes", "sentence": "yes please",
                          "question": "Close the garage? [2J"}
    assert answers[1]["answer"] is None and answers[1]["id"] == ""
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5, warnings


def test_refused_command_is_not_echoed(mosquitto, mqtt_client, make_bridge, caplog) -> None:
    bridge, controls = make_bridge(settings(mosquitto.port))

    def refuse(word: str) -> None:
        raise ValueError(f"{word} is not loaded")

    controls.set_wake_word = refuse  # type: ignore[method-assign]
    rec = mqtt_client(mosquitto.port, [f"{BASE}/wake_word"])
    rec.wait_for(lambda t, p, r: r)
    rec.publish(f"{BASE}/wake_word/set", "okay_nabu")
    rec.publish(f"{BASE}/say/set", "marker")
    controls.wait_for("say")
    assert rec.on(f"{BASE}/wake_word") == [b"hey_jarvis"]
    assert any("okay_nabu is not loaded" in r.getMessage() for r in caplog.records)


# --- broker down, restarts, credentials, TLS --------------------------------------------------------------


def test_broker_restart_mid_run(mosquitto, mqtt_client, make_bridge) -> None:
    # A persistent session (saved by mosquitto on SIGTERM) keeps the watcher subscribed across the restart,
    # so it receives what the bridge sends after reconnecting, whichever of the two reconnects first.
    watcher = mqtt_client(mosquitto.port, [f"{BASE}/#", "homeassistant/#"], client_id="watcher",
                          clean_session=False)
    bridge, controls = make_bridge(settings(mosquitto.port), reconnect_max_s=None)  # the default: 1 s at most
    watcher.wait_for(lambda t, p, r: t.endswith("availability") and p == b"online")
    assert bridge.link.connects == 1

    mosquitto.stop()
    deadline = time.monotonic() + 10
    while bridge.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not bridge.connected
    for i in range(3):
        bridge.on_event(turn(f"down{i}"))  # an intent record while disconnected: dropped, never sent late
    bridge.on_event(StateChanged("", state="idle"))  # QoS 0 state: dropped now, republished on connect
    assert bridge.link.undelivered == 0
    time.sleep(1.5)  # let the back-off grow to its cap while the broker is away
    watcher.messages.clear()

    up = time.monotonic()
    mosquitto.start()
    assert bridge.wait_connected(15)
    reconnect_s = bridge.link.last_connected_at - up
    assert bridge.link.connects == 2
    # Birth and state republished live after the reconnect (not just the broker's retained copies).
    watcher.wait_for(lambda t, p, r: t.endswith("availability") and p == b"online" and not r)
    watcher.wait_for(lambda t, p, r: t == f"{BASE}/state" and p == b"idle")
    watcher.wait_for(lambda t, p, r: t.endswith("/config") and not r, count=10)
    # Subscriptions restored: commands work again.
    watcher.publish(f"{BASE}/say/set", "back again")
    assert ("say", "back again") in controls.wait_for("say")
    bridge.on_event(turn("after"))
    watcher.wait_for(lambda t, p, r: t == f"{BASE}/intent" and json.loads(p)["turn_id"] == "after")
    assert not [p for t, p, *_ in watcher.messages if t == f"{BASE}/intent" and b"down" in p]
    print(f"\nreconnect after broker restart: {reconnect_s * 1000:.0f} ms after the broker listened "
          "(back-off capped at 1 s, jittered)")


def test_broker_down_at_start(mosquitto, mqtt_client, make_bridge, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="slm_voice.daemon.mqtt")
    mosquitto.stop()
    bridge, _ = make_bridge(settings(mosquitto.port), connect=False, reconnect_min_s=0.3, reconnect_max_s=1.0)
    time.sleep(1.0)
    assert not bridge.connected
    assert any("cannot reach broker" in r.getMessage() for r in caplog.records)
    mosquitto.start()
    assert bridge.wait_connected(15)
    watcher = mqtt_client(mosquitto.port, [f"{BASE}/availability"])
    watcher.wait_for(lambda t, p, r: p == b"online")


def test_wrong_credentials_logged_and_retried(mosquitto_secure, make_bridge, caplog) -> None:
    caplog.set_level(logging.INFO, logger="slm_voice.daemon.mqtt")
    bridge, _ = make_bridge(settings(mosquitto_secure.port, username="slm", password="wrong"), connect=False,
                            reconnect_min_s=0.1, reconnect_max_s=0.2)
    deadline = time.monotonic() + 15
    while bridge.link.refused < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bridge.link.refused >= 3  # kept retrying
    assert not bridge.connected
    bridge.on_event(turn("t1"))  # still usable while refused
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors  # one clear line, not one per retry
    assert f"127.0.0.1:{mosquitto_secure.port}" in errors[0]
    assert "Not authorized" in errors[0] or "Bad user name or password" in errors[0]
    assert "username/password" in errors[0]
    assert bridge.link.client._thread is not None and bridge.link.client._thread.is_alive()


def test_password_and_tls(mosquitto_secure, tls_certs, mqtt_client, make_bridge) -> None:
    rec = mqtt_client(mosquitto_secure.port, [f"{BASE}/intent"], username="slm", password="secret")
    tls = TlsSettings(enabled=True, ca_file=str(tls_certs.ca))
    for host in ("localhost", "127.0.0.1"):  # both are in the server certificate's SAN
        bridge, _ = make_bridge(settings(mosquitto_secure.tls_port, host=host, username="slm", password="secret",
                                         tls=tls, client_id=f"tls-{host}"))
        bridge.on_event(turn(f"tls-{host}"))
        assert bridge.wait_delivered(10)
    rec.wait_for(is_topic(f"{BASE}/intent"), count=2)


def test_plain_mqtt_against_a_tls_listener_says_so(mosquitto_secure, make_bridge, caplog) -> None:
    """tls.enabled false against a TLS port once failed without a word."""
    caplog.set_level(logging.INFO, logger="slm_voice.daemon.mqtt")
    bridge, _ = make_bridge(settings(mosquitto_secure.tls_port, username="slm", password="secret"), connect=False,
                            reconnect_min_s=0.1, reconnect_max_s=0.2)
    deadline = time.monotonic() + 15
    while bridge.link.closed_early < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bridge.connected
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "mqtt.tls.enabled: true" in errors[0] and str(mosquitto_secure.tls_port) in errors[0]


def test_tls_rejects_unknown_ca(mosquitto_secure, make_bridge, caplog) -> None:
    """Without the CA the server certificate is not trusted: no connection, retries, no crash."""
    bridge, _ = make_bridge(settings(mosquitto_secure.tls_port, host="localhost", username="slm",
                                     password="secret", tls=TlsSettings(enabled=True)),
                            connect=False, reconnect_min_s=0.1, reconnect_max_s=0.2)
    deadline = time.monotonic() + 3
    while bridge.link.unreachable < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bridge.link.unreachable >= 2 and not bridge.connected
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "CERTIFICATE_VERIFY_FAILED" in error and "mqtt.tls" in error


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    tls = TlsSettings(enabled=True, ca_file=str(tmp_path / "missing-ca.crt"))
    with pytest.raises(ConfigError, match=r"mqtt\.tls: cannot load ca_file=.*missing-ca\.crt"):
        MqttBridge(settings(1883, tls=tls), DEVICE, "x", WAKE_WORDS, RecordingControls(), "0")


# --- embedded broker --------------------------------------------------------------------------------------


def test_embedded_broker_serves_the_bridge(mqtt_client, make_bridge) -> None:
    from tests.conftest_broker import free_port

    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    try:
        rec = mqtt_client(port, [f"{BASE}/intent", f"{BASE}/availability"])
        bridge, controls = make_bridge(settings(port, broker="embedded"))
        bridge.on_event(turn("emb"))
        msgs = rec.wait_for(is_topic(f"{BASE}/intent"))
        assert json.loads(msgs[0][1])["turn_id"] == "emb"
        rec.publish(f"{BASE}/listen/set", "PRESS")
        controls.wait_for("listen")

        with pytest.raises(BrokerError, match=rf"127\.0\.0\.1:{port}.*already in use"):
            EmbeddedBroker("127.0.0.1", port).start()
        bridge.stop()
    finally:
        broker.stop()
    assert not any(t.name == "mqtt-broker" for t in threading.enumerate())


def test_embedded_broker_port_taken_by_mosquitto(mosquitto) -> None:
    with pytest.raises(BrokerError, match="already in use"):
        EmbeddedBroker("127.0.0.1", mosquitto.port).start()


# --- pure parts -------------------------------------------------------------------------------------------


def test_device_commands() -> None:
    on = Intent("HassTurnOn", {"name": "kitchen light"}, ("light.kitchen_ceiling", "switch.coffee_maker",
                                                          "light.unknown"))
    assert device_commands(on, ENTITIES) == [("zigbee2mqtt/kitchen/set", "ON")]
    off = Intent("HassTurnOff", {}, ("light.bedroom_lamp",))
    assert device_commands(off, ENTITIES) == [("tasmota/bedroom/cmnd/POWER", "0")]
    for b, want in [(100, "255"), ("0", "0"), ("50%", "128"), (150, "255"), (-5, "0"), (33.4, "84")]:
        lightset = Intent("HassLightSet", {"brightness": b}, ("light.kitchen_ceiling",))
        assert device_commands(lightset, ENTITIES) == [
            ("zigbee2mqtt/kitchen/set", f'{{"state": "ON", "brightness": {want}}}')], b
    assert device_commands(Intent("HassLightSet", {"color": "red"}, ("light.kitchen_ceiling",)), ENTITIES) == []
    assert device_commands(Intent("HassLightSet", {"brightness": "bright"}, ("light.kitchen_ceiling",)),
                           ENTITIES) == []
    assert device_commands(Intent("HassGetState", {}, ("light.kitchen_ceiling",)), ENTITIES) == []
    assert brightness_payload("{brightness}/{brightness_255}", 40) == "40/102"


def test_topics() -> None:
    assert Topics.for_device(MqttSettings(), "kitchen").intent == "slm-voice/kitchen/intent"
    assert Topics.for_device(MqttSettings(base_topic="home/sat1/"), "x").say_set == "home/sat1/say/set"
    with pytest.raises(ValueError, match="base_topic"):
        Topics.for_device(MqttSettings(base_topic="home/+/x"), "x")
