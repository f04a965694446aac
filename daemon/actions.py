"""Direct device commands: an intent turned into payloads for entities with their own command_topic.

For devices that listen on MQTT themselves (zigbee2mqtt, Tasmota), so a light switches even when Home
Assistant is down. Pure functions: the bridge publishes what they return.
"""

from __future__ import annotations

from collections.abc import Iterable

from slm_voice.daemon.settings import EntitySettings
from slm_voice.pipeline.intent.model import Intent


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
