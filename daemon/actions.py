"""Carrying intents out over MQTT, and choosing who carries each one out.

- `device_commands()`: payloads for entities with their own command_topic (zigbee2mqtt, Tasmota), so a light
  switches even when Home Assistant is down. Pure.
- `MqttExecutor`: the action of an intent as MQTT messages (the device commands, <base>/intent for the blueprint,
  <base>/event). They carry an expiry (MQTT 5 message expiry, and `expires` in the JSON, which the blueprint
  checks); what the broker has not acknowledged within mqtt.delivery_timeout_s is taken back and the user hears
  "I can't reach Home Assistant right now". The reply then says the command was sent, not that it happened,
  unless the device echoes the new state on its state_topic.
- `ActionRouter`: the live Home Assistant link when there is one (the intent still goes out on MQTT for
  information, marked handled so the blueprint does not act twice), MQTT otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from ..pipeline.events import IntentRecognized
from ..pipeline.intent.intents import BY_NAME
from ..pipeline.intent.model import Home, Intent
from ..pipeline.intent.replies import reply_for, request_phrase
from ..pipeline.roles import ActionOutcome, LinkedExecutor
from .observers import turn_record
from .settings import EntitySettings
from .state import Outbox

log = logging.getLogger(__name__)

UNREACHABLE = "I can't reach Home Assistant right now."
"""Said when an action could not be handed over in time (nothing will act on it later)."""
NO_WAY = "Sorry, I can't do that: neither MQTT nor a Home Assistant link is set up."


class MqttSender(Protocol):
    """What MqttExecutor needs of the MQTT connection (daemon.mqtt_bridge.MqttBridge)."""

    def send_within(self, messages: Sequence[tuple[str, str | bytes]], deadline: float,
                    expires_at: float | None = None) -> bool: ...

    def publish_intent(self, messages: Sequence[tuple[str, str]], expires_at: float) -> None: ...

    def watch(self, topic: str, handler: Callable[[str, bytes], None]) -> None: ...

    @property
    def intent_topic(self) -> str: ...

    @property
    def event_topic(self) -> str: ...


def intent_message(event: IntentRecognized, *, reply: str, expires_at: float, handled: bool) -> dict[str, Any]:
    """The JSON published on <base>/intent: the turn record, the reply the user hears, when it stops being valid
    (`expires`, ISO 8601 UTC) and whether it was already carried out (`handled`: the blueprint then does nothing)."""
    msg = turn_record(event)
    msg["reply"] = reply
    msg["expires"] = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="milliseconds")
    msg["handled"] = handled
    return msg


def intent_messages(event: IntentRecognized, msg: dict[str, Any], intent_topic: str, event_topic: str
                    ) -> list[tuple[str, str]]:
    """(topic, payload) of the intent message and the event entity's event."""
    body = json.dumps(msg, default=str)
    return [(intent_topic, body), (event_topic, json.dumps({"event_type": msg["intent"], **msg}, default=str))]


class StateEchoes:
    """The last payload seen on each entity's state_topic, so a command can be confirmed by the device itself."""

    def __init__(self, entities: Iterable[EntitySettings]) -> None:
        self.by_topic = {e.state_topic: e for e in entities if e.state_topic}
        self._seen: dict[str, tuple[float, str]] = {}
        self._cond = threading.Condition()

    def on_message(self, topic: str, payload: bytes) -> None:
        with self._cond:
            self._seen[topic] = (time.monotonic(), payload.decode("utf-8", "replace")[:1024])
            self._cond.notify_all()

    def state(self, entity: EntitySettings) -> str | None:
        """"on"/"off" as last reported, None when unknown."""
        with self._cond:
            seen = self._seen.get(entity.state_topic or "")
        return _on_off(entity, seen[1]) if seen else None

    def wait(self, expected: Sequence[tuple[EntitySettings, str]], since: float, deadline: float) -> bool:
        """Whether every (entity, "on"/"off") was reported after `since` before `deadline`. Blocking."""
        with self._cond:
            while True:
                ok = all((seen := self._seen.get(e.state_topic or "")) is not None and seen[0] >= since
                         and _on_off(e, seen[1]) == want for e, want in expected)
                left = deadline - time.monotonic()
                if ok or left <= 0:
                    return ok
                self._cond.wait(left)


def _on_off(entity: EntitySettings, payload: str) -> str | None:
    text = payload.strip()
    if text.startswith("{"):
        try:
            text = str(json.loads(text).get("state", ""))
        except (ValueError, AttributeError):
            return None
    return "on" if text == entity.state_on else "off" if text == entity.state_off else None


class MqttExecutor:
    """Carries intents out over MQTT (no Home Assistant link, or for devices with their own topics)."""

    def __init__(
        self,
        sender: MqttSender,
        home: Callable[[], Home],
        entities: Sequence[EntitySettings],
        outbox: Outbox | None,
        *,
        delivery_timeout_s: float = 3.0,
        expiry_s: float = 10.0,
    ) -> None:
        """home: the current home (for replies). entities: the config's entities (command and state topics)."""
        self.sender = sender
        self.home = home
        self.entities = tuple(entities)
        self.outbox = outbox
        self.delivery_timeout_s = delivery_timeout_s
        self.expiry_s = max(expiry_s, delivery_timeout_s)
        self.echoes = StateEchoes(self.entities)
        for topic in self.echoes.by_topic:
            sender.watch(topic, self.echoes.on_message)

    async def execute(self, event: IntentRecognized) -> ActionOutcome:
        intent = event.understanding.intent
        spec = BY_NAME.get(intent.name)
        now = time.time()
        if spec is not None and spec.query:
            return self._answer(event, intent, now)
        commands = device_commands(intent, self.entities)
        sent_reply = f"I've sent the command to {request_phrase(intent, self.home())}."
        msg = intent_message(event, reply=sent_reply, expires_at=now + self.expiry_s, handled=False)
        messages = commands + intent_messages(event, msg, self.sender.intent_topic, self.sender.event_topic)
        pending = self.outbox.add(messages, now + self.expiry_s, event.turn_id) if self.outbox is not None else None
        sent_at = time.monotonic()
        deadline = sent_at + self.delivery_timeout_s
        try:
            delivered = await asyncio.to_thread(self.sender.send_within, messages, deadline, now + self.expiry_s)
        finally:
            if pending is not None and self.outbox is not None:
                self.outbox.remove(pending)
        if not delivered:
            log.warning("turn %s: %s not delivered within %.1f s: dropped, the user is told", event.turn_id,
                        intent.name, self.delivery_timeout_s)
            return ActionOutcome(done=False, reply=UNREACHABLE, by="none")
        echo = self._expected_echoes(intent)
        if echo and await asyncio.to_thread(self.echoes.wait, echo, sent_at, deadline):
            return ActionOutcome(done=True, reply=None, by="mqtt")  # the devices said so: the tier's reply holds
        return ActionOutcome(done=True, reply=sent_reply, by="mqtt")

    def inform(self, event: IntentRecognized, outcome: ActionOutcome) -> None:
        """Publish an intent another executor carried out, marked handled (for automations and the event entity;
        not waited for)."""
        now = time.time()
        reply = outcome.reply or event.understanding.reply
        msg = intent_message(event, reply=reply, expires_at=now + self.expiry_s, handled=True)
        msg["done"] = outcome.done
        self.sender.publish_intent(intent_messages(event, msg, self.sender.intent_topic, self.sender.event_topic),
                                   now + self.expiry_s)

    async def deliver_outbox(self) -> None:
        """After a restart: deliver what a stop interrupted, unless it expired (then it is only logged)."""
        if self.outbox is None or len(self.outbox) == 0:
            return
        alive, expired = self.outbox.take()
        for item in expired:
            log.warning("outbox: an action of turn %s expired while the daemon was stopped: not sent", item.turn_id)
        for item in alive:
            deadline = time.monotonic() + min(self.delivery_timeout_s, max(0.0, item.expires_at - time.time()))
            ok = await asyncio.to_thread(self.sender.send_within, item.messages, deadline, item.expires_at)
            log.log(logging.INFO if ok else logging.WARNING, "outbox: action of turn %s %s", item.turn_id,
                    "delivered after the restart" if ok else "could not be delivered before it expired: dropped")

    def _answer(self, event: IntentRecognized, intent: Intent, now: float) -> ActionOutcome:
        """A state question: answered from the devices' state topics when they all report one; published for
        information either way."""
        by_id = {e.id: e for e in self.entities}
        states = {i: self.echoes.state(by_id[i]) for i in intent.entity_ids if i in by_id and by_id[i].state_topic}
        reply = None
        if intent.entity_ids and len(states) == len(intent.entity_ids) and all(states.values()):
            reply = reply_for(intent, self.home(), now=datetime.now(), states=states.get)
        self.inform(event, ActionOutcome(done=reply is not None, reply=reply))
        return ActionOutcome(done=reply is not None, reply=reply, by="mqtt" if reply else "none")

    def _expected_echoes(self, intent: Intent) -> list[tuple[EntitySettings, str]]:
        """(entity, "on"/"off") the devices should report, when every target can (has a state_topic)."""
        want = {"HassTurnOn": "on", "HassTurnOff": "off", "HassLightSet": "on"}.get(intent.name)
        by_id = {e.id: e for e in self.entities}
        targets = [by_id.get(i) for i in intent.entity_ids]
        if want is None or not targets or any(t is None or not t.state_topic for t in targets):
            return []
        return [(t, want) for t in targets if t is not None]


class ActionRouter:
    """The executor the assistant gets: the Home Assistant link when configured, MQTT otherwise (or as the
    fallback for devices with their own command topic when Home Assistant cannot be reached)."""

    def __init__(self, homeassistant: LinkedExecutor | None, mqtt: MqttExecutor | None) -> None:
        self.homeassistant = homeassistant
        self.mqtt = mqtt

    async def execute(self, event: IntentRecognized) -> ActionOutcome:
        if self.homeassistant is None:
            if self.mqtt is None:
                return ActionOutcome(done=False, reply=NO_WAY)
            return await self.mqtt.execute(event)
        outcome = await self.homeassistant.execute(event)
        if not outcome.done and not self.homeassistant.connected and self.mqtt is not None \
                and device_commands(event.understanding.intent, self.mqtt.entities):
            log.info("turn %s: Home Assistant unreachable; sending to the devices' own topics", event.turn_id)
            return await self.mqtt.execute(event)
        if self.mqtt is not None:
            try:
                self.mqtt.inform(event, outcome)
            except Exception:  # information only: never let it change what the user hears
                log.exception("turn %s: could not publish the intent", event.turn_id)
        return outcome


def device_commands(intent: Intent, entities: Iterable[EntitySettings]) -> list[tuple[str, str]]:
    """(topic, payload) for every entity of the intent that has a command_topic.

    HassTurnOn → payload_on, HassTurnOff → payload_off, HassLightSet with a brightness slot →
    payload_brightness with {brightness} (0-100) and {brightness_255} (0-255) filled in. Other intents,
    and entities without a command_topic, give nothing.
    """
    by_id = {e.id: e for e in entities}
    brightness = _brightness(intent.slots.get("brightness")) if intent.name == "HassLightSet" else None
    out: list[tuple[str, str]] = []
    for entity_id in intent.entity_ids:
        e = by_id.get(entity_id)
        if e is None or e.command_topic is None:
            continue
        if intent.name == "HassTurnOn":
            out.append((e.command_topic, e.payload_on))
        elif intent.name == "HassTurnOff":
            out.append((e.command_topic, e.payload_off))
        elif brightness is not None:
            out.append((e.command_topic, brightness_payload(e.payload_brightness, brightness)))
    return out


def brightness_payload(template: str, brightness: int) -> str:
    """Fill {brightness} and {brightness_255} in template.

    Plain replacement, not str.format: the templates are JSON and full of other braces.
    """
    b255 = round(brightness * 255 / 100)
    return template.replace("{brightness_255}", str(b255)).replace("{brightness}", str(brightness))


def _brightness(value: object) -> int | None:
    """A brightness slot (50, "50", "50%", 50.0) as an int clamped to 0-100; None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        pct = float(str(value).strip().rstrip("%").strip())
    except ValueError:
        return None
    if pct != pct:  # NaN
        return None
    return max(0, min(100, round(pct)))
