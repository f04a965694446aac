"""Home Assistant MQTT discovery: the retained config messages that make the satellite appear in HA.

Topics follow `<discovery_prefix>/<component>/<node_id>/<object_id>/config`. All entities share one
`device` block and the availability topic, and have unique ids derived from the device id only, so they
stay stable across restarts and config edits. An empty retained payload on the same topic deletes one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...pipeline.asking import STATUSES as ANSWER_STATUSES
from ...pipeline.events import TurnState
from ...pipeline.intent.intents import NAMES
from ..mqtt import OFFLINE, ONLINE, Topics

INTENT_NAMES: tuple[str, ...] = NAMES
"""The event types of the intent event entity: every intent the tiers can produce (pipeline.intent.intents). HA
ignores (and logs) an event whose type is not listed."""

STATES: tuple[str, ...] = tuple(s.value for s in TurnState)
"""Values of <base>/state."""

SAY_MAX_CHARS = 255
"""Home Assistant's limit for a text entity's value."""

STATUS_TOPIC_LEAF = "status"
"""HA publishes `online` on <discovery_prefix>/status when it (re)starts: discovery must be sent again."""


SATELLITE_MANUFACTURER = "slm-voice"
SATELLITE_MODEL = "slm-voice satellite"
"""What every slm-voice satellite's device says it is in Home Assistant's device registry."""


@dataclass(frozen=True)
class DeviceInfo:
    """What HA shows about the satellite."""

    device_id: str
    """Settings.device_id ([a-zA-Z0-9_-]); the root of every unique id."""
    name: str
    """Settings.device_name."""
    sw_version: str
    """Package version."""
    manufacturer: str = SATELLITE_MANUFACTURER
    model: str = SATELLITE_MODEL
    suggested_area: str | None = None
    """The area Home Assistant proposes for the device (the satellite's area)."""

    @property
    def node_id(self) -> str:
        return f"slm_voice_{self.device_id}"

    def block(self) -> dict[str, Any]:
        block: dict[str, Any] = {
            "identifiers": [self.node_id],
            "name": self.name,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "sw_version": self.sw_version,
        }
        if self.suggested_area:
            block["suggested_area"] = self.suggested_area
        return block


def status_topic(discovery_prefix: str) -> str:
    return f"{discovery_prefix}/{STATUS_TOPIC_LEAF}"


def _entities(
    topics: Topics, wake_words: Sequence[str], intent_names: Sequence[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(component, object_id, component-specific config) of every entity."""
    return [
        ("event", "intent", {
            "name": "Intent",
            "state_topic": topics.event,
            "event_types": list(intent_names),
            "icon": "mdi:account-voice",
        }),
        ("sensor", "state", {
            "name": "State",
            "state_topic": topics.state,
            "device_class": "enum",
            "options": list(STATES),
            "icon": "mdi:microphone-message",
        }),
        ("sensor", "transcript", {
            "name": "Last transcript",
            "state_topic": topics.transcript,
            "value_template": "{{ value[:255] }}",  # HA rejects states longer than 255 characters
            "icon": "mdi:text-recognition",
        }),
        ("sensor", "reply", {
            "name": "Last reply",
            "state_topic": topics.reply,
            "value_template": "{{ value[:255] }}",
            "icon": "mdi:message-reply-text",
        }),
        ("sensor", "last_turn_ms", {
            "name": "Last turn latency",
            "state_topic": topics.last_turn_ms,
            "unit_of_measurement": "ms",
            "device_class": "duration",
            "state_class": "measurement",
            "suggested_display_precision": 0,
            "entity_category": "diagnostic",
        }),
        ("switch", "mute", {
            "name": "Mute",
            "state_topic": topics.mute,
            "command_topic": topics.mute_set,
            "payload_on": "ON",
            "payload_off": "OFF",
            "icon": "mdi:microphone-off",
        }),
        ("number", "wake_threshold", {
            "name": "Wake word threshold",
            "state_topic": topics.wake_threshold,
            "command_topic": topics.wake_threshold_set,
            "min": 0.0,
            "max": 1.0,
            "step": 0.01,
            "mode": "slider",
            "entity_category": "config",
            "icon": "mdi:tune-variant",
        }),
        ("select", "wake_word", {
            "name": "Wake word",
            "state_topic": topics.wake_word,
            "command_topic": topics.wake_word_set,
            "options": list(wake_words),
            "entity_category": "config",
            "icon": "mdi:account-voice",
        }),
        ("button", "listen", {
            "name": "Start listening",
            "command_topic": topics.listen_set,
            "payload_press": "PRESS",
            "icon": "mdi:microphone",
        }),
        # Makes the satellite speak: text.set_value in a script or automation (MQTT notify entities need
        # Home Assistant 2024.5; text works from 2022.12).
        ("text", "say", {
            "name": "Say",
            "command_topic": topics.say_set,
            "min": 0,
            "max": SAY_MAX_CHARS,
            "mode": "text",
            "icon": "mdi:account-tie-voice",
        }),
        # The chime, then the text (as assist_satellite.announce); JSON {"message", "preannounce"} by mqtt.publish.
        ("text", "announce", {
            "name": "Announce",
            "command_topic": topics.announce_set,
            "min": 0,
            "max": SAY_MAX_CHARS,
            "mode": "text",
            "icon": "mdi:bullhorn",
        }),
        # A question whose answer is whatever is said; with answer ids (JSON by mqtt.publish) it is matched.
        ("text", "ask", {
            "name": "Ask",
            "command_topic": topics.ask_set,
            "min": 0,
            "max": SAY_MAX_CHARS,
            "mode": "text",
            "icon": "mdi:chat-question",
        }),
        ("event", "answer", {
            "name": "Answer",
            "state_topic": topics.answer,
            "event_types": list(ANSWER_STATUSES),
            "icon": "mdi:chat-processing",
        }),
    ]


def discovery_messages(
    topics: Topics,
    device: DeviceInfo,
    *,
    discovery_prefix: str = "homeassistant",
    wake_words: Sequence[str],
    intent_names: Sequence[str] = INTENT_NAMES,
) -> list[tuple[str, str]]:
    """(topic, JSON payload) for every entity; publish them retained."""
    if not wake_words:
        raise ValueError("wake_words: the wake word select needs at least one option")
    out = []
    for component, object_id, config in _entities(topics, wake_words, intent_names):
        payload = {
            **config,
            "unique_id": f"{device.node_id}_{object_id}",
            "availability_topic": topics.availability,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": device.block(),
            "origin": {"name": "slm-voice", "sw_version": device.sw_version},
        }
        if "command_topic" in config:
            payload["qos"] = 1
        out.append((_config_topic(discovery_prefix, component, device.node_id, object_id), json.dumps(payload)))
    return out


def removal_messages(device: DeviceInfo, *, discovery_prefix: str = "homeassistant") -> list[tuple[str, str]]:
    """(topic, "") for every entity: publishing these retained removes the device from HA."""
    topics = Topics("unused")  # config topics depend on the ids only, not on the state topics
    return [
        (_config_topic(discovery_prefix, component, device.node_id, object_id), "")
        for component, object_id, _ in _entities(topics, ["-"], INTENT_NAMES)
    ]


def _config_topic(prefix: str, component: str, node_id: str, object_id: str) -> str:
    return f"{prefix}/{component}/{node_id}/{object_id}/config"
