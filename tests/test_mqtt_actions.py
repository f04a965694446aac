"""Actions over MQTT against a real mosquitto: delivered in time or not at all, an honest reply either way, an expiry
on every message, confirmation by the device's own state topic, and the outbox across a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from slm_voice.daemon.actions import UNREACHABLE, ActionRouter, MqttExecutor
from slm_voice.daemon.mqtt_bridge import MqttBridge
from slm_voice.daemon.settings import EntitySettings, MqttSettings
from slm_voice.daemon.state import Outbox
from slm_voice.pipeline.events import IntentRecognized
from slm_voice.pipeline.intent.model import Entity, Home, Intent, Understanding
from slm_voice.pipeline.roles import ActionOutcome
from tests.conftest_broker import Mosquitto

pytestmark = pytest.mark.broker

DEVICE = "act"
BASE = f"slm-voice/{DEVICE}"
ENTITIES = (
    EntitySettings(id="light.kitchen", name="kitchen light", area="kitchen", command_topic="z2m/kitchen/set"),
    EntitySettings(id="light.hall", name="hall light", command_topic="z2m/hall/set", state_topic="z2m/hall"),
    EntitySettings(id="switch.kettle", name="kettle"),
)
HOME = Home(areas=("kitchen",), entities=(Entity("light.kitchen", "kitchen light", (), "kitchen"),
                                          Entity("light.hall", "hall light"), Entity("switch.kettle", "kettle")))


class V5Recorder:
    """An MQTT 5 subscriber that keeps each message with its properties (to see the message expiry)."""

    def __init__(self, port: int, topics: list[str]) -> None:
        self.messages: list[tuple[str, bytes, Any, float]] = []
        self._cond = threading.Condition()
        ready = threading.Event()
        c = paho.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: ready.set()
        c.connect("127.0.0.1", port)
        c.loop_start()
        c.subscribe([(t, 1) for t in topics])
        assert ready.wait(5)
        self.client = c

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload, msg.properties, time.time()))
            self._cond.notify_all()

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10.0) -> list[tuple[str, bytes, Any, float]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(hits := [m for m in self.messages if m[0] == topic]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"no {count} message(s) on {topic}; got {[m[0] for m in self.messages]}"
                self._cond.wait(left)
            return hits

    def on(self, topic: str) -> list[bytes]:
        with self._cond:
            return [m[1] for m in self.messages if m[0] == topic]

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class NoControls:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a: None


@pytest.fixture
def bridge_for(tmp_path: Path) -> Iterator[Callable[..., MqttBridge]]:
    made: list[MqttBridge] = []

    def make(port: int, **kw: Any) -> MqttBridge:
        s = MqttSettings(broker="external", port=port, **kw)
        b = MqttBridge(s, DEVICE, "act", ["hey_jarvis"], NoControls(), "0", wake_threshold=0.5)  # type: ignore[arg-type]
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop(timeout=1.0)


@pytest.fixture
def recorder() -> Iterator[Callable[..., V5Recorder]]:
    made: list[V5Recorder] = []

    def make(port: int, topics: list[str]) -> V5Recorder:
        r = V5Recorder(port, topics)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def recognized(turn_id: str, name: str, ids: tuple[str, ...], slots: dict[str, Any] | None = None,
               reply: str = "Turned on the kitchen light.") -> IntentRecognized:
    u = Understanding(Intent(name, slots or {}, ids), reply, "template", 1.0)
    return IntentRecognized(turn_id, text="Turn on the kitchen light.", understanding=u, timings_ms={"stt": 100.0})


def executor(bridge: MqttBridge, tmp_path: Path, **kw: Any) -> MqttExecutor:
    kw.setdefault("delivery_timeout_s", 2.0)
    return MqttExecutor(bridge, lambda: HOME, ENTITIES, Outbox(tmp_path), **kw)


def test_delivered_action_says_it_was_sent_and_carries_an_expiry(mosquitto: Mosquitto, bridge_for, recorder,
                                                                  tmp_path: Path) -> None:
    rec = recorder(mosquitto.port, [f"{BASE}/#", "z2m/#"])
    bridge = bridge_for(mosquitto.port)
    ex = executor(bridge, tmp_path, expiry_s=30.0)
    bridge.start()
    assert bridge.link.protocol == "5"
    sent = time.monotonic()
    outcome = asyncio.run(ex.execute(recognized("t1", "HassTurnOn", ("light.kitchen",), {"name": "kitchen light"})))
    took = time.monotonic() - sent
    assert outcome == ActionOutcome(done=True, reply="I've sent the command to turn on the kitchen light.", by="mqtt")
    (intent,) = rec.wait_for(f"{BASE}/intent")
    msg = json.loads(intent[1])
    assert msg["intent"] == "HassTurnOn" and msg["handled"] is False and msg["text"] == "Turn on the kitchen light"
    assert msg["reply"] == outcome.reply
    expires = datetime.fromisoformat(msg["expires"]).timestamp()
    assert 25 < expires - datetime.fromisoformat(msg["timestamp"]).timestamp() <= 30.5
    assert 25 <= intent[2].MessageExpiryInterval <= 30  # MQTT 5: the broker drops it after that
    assert json.loads(rec.wait_for(f"{BASE}/event")[0][1])["event_type"] == "HassTurnOn"
    assert rec.wait_for("z2m/kitchen/set")[0][1] == b"ON"
    assert len(ex.outbox) == 0
    print(f"\nMQTT action: published and acknowledged in {took * 1000:.1f} ms (mosquitto, loopback)")


def test_a_device_that_reports_its_state_confirms_the_action(mosquitto: Mosquitto, bridge_for, recorder,
                                                              tmp_path: Path) -> None:
    device = recorder(mosquitto.port, ["z2m/hall/set"])
    device.client.on_message = lambda c, u, m: c.publish("z2m/hall", '{"state": "ON", "brightness": 254}', qos=1)
    bridge = bridge_for(mosquitto.port)
    ex = executor(bridge, tmp_path)
    bridge.start()
    assert bridge.wait_connected(10)
    outcome = asyncio.run(ex.execute(recognized("t2", "HassTurnOn", ("light.hall",), {"name": "hall light"})))
    assert outcome == ActionOutcome(done=True, reply=None, by="mqtt")  # the tier's "Turned on ..." holds
    # A question about it is answered from what it reported.
    ask = recognized("t3", "HassGetState", ("light.hall",), {"name": "hall light"}, reply="I don't know.")
    assert asyncio.run(ex.execute(ask)).reply == "The hall light is on."
    # Without an echo it is only "sent".
    device.client.on_message = lambda *a: None
    outcome = asyncio.run(ex.execute(recognized("t4", "HassTurnOff", ("light.hall",), {"name": "hall light"})))
    assert outcome.reply == "I've sent the command to turn off the hall light."


def test_broker_down_the_user_is_told_and_nothing_is_replayed(mosquitto: Mosquitto, bridge_for, recorder,
                                                               tmp_path: Path) -> None:
    bridge = bridge_for(mosquitto.port)
    ex = executor(bridge, tmp_path, delivery_timeout_s=1.0)
    bridge.start()
    assert bridge.wait_connected(10) and bridge.wait_delivered(10)
    mosquitto.stop()
    while bridge.connected:
        time.sleep(0.02)
    outcome = asyncio.run(ex.execute(recognized("down", "HassTurnOn", ("light.kitchen",), {"name": "kitchen light"})))
    assert outcome == ActionOutcome(done=False, reply=UNREACHABLE, by="none")
    assert bridge.link.undelivered == 0 and len(ex.outbox) == 0
    mosquitto.start()
    rec = recorder(mosquitto.port, [f"{BASE}/#", "z2m/#"])
    assert bridge.wait_connected(15)
    bridge.publish_intent([(f"{BASE}/intent", '{"marker": 1}')], time.time() + 5)  # sent after any replay would be
    rec.wait_for(f"{BASE}/intent")
    assert rec.on(f"{BASE}/intent") == [b'{"marker": 1}'] and not rec.on("z2m/kitchen/set")


def test_a_frozen_broker_the_action_is_taken_back_and_expires(mosquitto: Mosquitto, bridge_for, recorder,
                                                               tmp_path: Path) -> None:
    """The broker accepts the connection but does not acknowledge (SIGSTOP): after the deadline the messages are
    taken out of paho's queue (never resent), and what the broker may still have read carries a past expiry."""
    rec = recorder(mosquitto.port, [f"{BASE}/intent"])
    bridge = bridge_for(mosquitto.port)
    ex = executor(bridge, tmp_path, delivery_timeout_s=0.5, expiry_s=0.5)
    bridge.start()
    assert bridge.wait_connected(10) and bridge.wait_delivered(10)
    assert mosquitto.proc is not None
    os.kill(mosquitto.proc.pid, signal.SIGSTOP)
    try:
        outcome = asyncio.run(ex.execute(recognized("frozen", "HassTurnOn", ("light.kitchen",),
                                                    {"name": "kitchen light"})))
        assert outcome.reply == UNREACHABLE and not outcome.done
        with bridge.link.client._out_message_mutex:
            queued = [m.topic for m in bridge.link.client._out_messages.values()]
        assert not {f"{BASE}/intent", f"{BASE}/event", "z2m/kitchen/set"} & set(queued)  # nothing to resend
        time.sleep(1.0)
    finally:
        os.kill(mosquitto.proc.pid, signal.SIGCONT)
    bridge.publish_intent([(f"{BASE}/intent", '{"marker": 1}')], time.time() + 5)
    rec.wait_for(f"{BASE}/intent", count=1)
    for _topic, payload, _props, arrived in rec.messages:
        msg = json.loads(payload)
        if "expires" in msg:  # read by the broker after it thawed: already expired for the blueprint
            assert datetime.fromisoformat(msg["expires"]).timestamp() < arrived


def test_the_outbox_delivers_after_a_restart_what_has_not_expired(mosquitto: Mosquitto, bridge_for, recorder,
                                                                   tmp_path: Path) -> None:
    left = Outbox(tmp_path)  # what a daemon stopped mid-delivery left behind
    left.add([(f"{BASE}/intent", '{"turn_id": "alive"}')], time.time() + 60, "alive")
    left.add([(f"{BASE}/intent", '{"turn_id": "stale"}')], time.time() - 1, "stale")
    rec = recorder(mosquitto.port, [f"{BASE}/intent"])
    bridge = bridge_for(mosquitto.port)
    ex = executor(bridge, tmp_path)
    bridge.start()
    asyncio.run(ex.deliver_outbox())
    (msg,) = rec.wait_for(f"{BASE}/intent")
    assert json.loads(msg[1])["turn_id"] == "alive"
    assert 55 <= msg[2].MessageExpiryInterval <= 60
    bridge.publish_intent([(f"{BASE}/intent", '{"turn_id": "marker"}')], time.time() + 5)
    rec.wait_for(f"{BASE}/intent", count=2)
    assert [json.loads(p)["turn_id"] for p in rec.on(f"{BASE}/intent")] == ["alive", "marker"]
    assert len(Outbox(tmp_path)) == 0


def test_with_the_live_link_the_intent_is_published_marked_handled(mosquitto: Mosquitto, bridge_for, recorder,
                                                                    tmp_path: Path) -> None:
    class LinkDone:
        connected = True

        async def execute(self, event: IntentRecognized) -> ActionOutcome:
            return ActionOutcome(done=True, reply=None, by="homeassistant")

    rec = recorder(mosquitto.port, [f"{BASE}/intent", "z2m/#"])
    bridge = bridge_for(mosquitto.port)
    router = ActionRouter(LinkDone(), executor(bridge, tmp_path))  # type: ignore[arg-type]
    bridge.start()
    assert bridge.wait_connected(10)
    outcome = asyncio.run(router.execute(recognized("ha", "HassTurnOn", ("light.kitchen",), {"name": "x"})))
    assert outcome.by == "homeassistant"
    msg = json.loads(rec.wait_for(f"{BASE}/intent")[0][1])
    assert msg["handled"] is True and msg["done"] is True and msg["reply"] == "Turned on the kitchen light."
    assert not rec.on("z2m/kitchen/set")  # Home Assistant did it: no second command to the device


def test_home_assistant_unreachable_devices_with_their_own_topic_still_switch(mosquitto: Mosquitto, bridge_for,
                                                                              recorder, tmp_path: Path) -> None:
    class LinkDown:
        connected = False

        async def execute(self, event: IntentRecognized) -> ActionOutcome:
            return ActionOutcome(done=False, reply="I can't reach Home Assistant right now.")

    rec = recorder(mosquitto.port, [f"{BASE}/intent", "z2m/#"])
    bridge = bridge_for(mosquitto.port)
    router = ActionRouter(LinkDown(), executor(bridge, tmp_path))  # type: ignore[arg-type]
    bridge.start()
    assert bridge.wait_connected(10)
    kitchen = asyncio.run(router.execute(recognized("k", "HassTurnOn", ("light.kitchen",), {"name": "x"})))
    assert kitchen.done and kitchen.reply == "I've sent the command to turn on the kitchen light."
    assert rec.wait_for("z2m/kitchen/set")[0][1] == b"ON"
    kettle = asyncio.run(router.execute(recognized("s", "HassTurnOn", ("switch.kettle",), {"name": "kettle"})))
    assert not kettle.done and kettle.reply == "I can't reach Home Assistant right now."  # no topic of its own


def test_embedded_broker_speaks_3_1_1_and_actions_still_go_out(bridge_for, recorder, tmp_path: Path) -> None:
    from slm_voice.daemon.broker import EmbeddedBroker
    from tests.conftest_broker import MqttRecorder, free_port

    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    broker.start()
    try:
        rec = MqttRecorder(port, [f"{BASE}/intent"])
        b = MqttBridge(MqttSettings(broker="embedded", port=port), DEVICE, "act", ["hey_jarvis"], NoControls(),  # type: ignore[arg-type]
                       "0")
        assert b.link.protocol == "3.1.1"
        ex = executor(b, tmp_path)
        b.start()
        outcome = asyncio.run(ex.execute(recognized("emb", "HassTurnOff", ("switch.kettle",), {"name": "kettle"})))
        assert outcome.done and outcome.reply == "I've sent the command to turn off the kettle."
        assert json.loads(rec.wait_for(lambda t, p, r: True)[0][1])["turn_id"] == "emb"
        b.stop(timeout=1.0)
        rec.close()
    finally:
        broker.stop()
