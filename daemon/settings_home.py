"""The home's settings: floors, areas and the entities voice commands may act on."""

from __future__ import annotations

from pydantic import field_validator

from .settings_values import check_topic, settings


@settings
class EntitySettings:
    """One entity of the home, in Home Assistant's terms."""

    id: str
    """Entity id, domain.object_id (e.g. light.kitchen_ceiling)."""
    name: str
    """The name people say."""
    aliases: tuple[str, ...] = ()
    """Other names people say."""
    area: str | None = None
    """Area the entity is in (must be one of home.areas)."""
    device_class: str | None = None
    """Home Assistant device class (garage, door, window, temperature, ...): "open the garage door" finds it."""
    command_topic: str | None = None
    """MQTT topic to publish actions to directly (zigbee2mqtt/Tasmota style); None: only <base>/intent."""
    payload_on: str = "ON"
    """Payload for turn on."""
    payload_off: str = "OFF"
    """Payload for turn off."""
    payload_brightness: str = '{"state": "ON", "brightness": {brightness_255}}'
    """Payload template for brightness; {brightness} is 0-100, {brightness_255} is 0-255."""
    state_topic: str | None = None
    """MQTT topic the device reports its state on: a command is confirmed as done only when this echoes it."""
    state_on: str = "ON"
    """State payload meaning on (or a JSON object whose "state" is this)."""
    state_off: str = "OFF"
    """State payload meaning off (or a JSON object whose "state" is this)."""

    @field_validator("id")
    @classmethod
    def _entity_id(cls, v: str) -> str:
        domain, _, obj = v.partition(".")
        if not domain or not obj or not all(c.isalnum() or c == "_" for c in domain + obj):
            raise ValueError(f"{v!r} is not an entity id of the form domain.object_id")
        return v

    @field_validator("command_topic", "state_topic")
    @classmethod
    def _topics(cls, v: str | None) -> str | None:
        return check_topic(v)


@settings
class AreaSettings:
    """An area with the floor it is on and other names for it."""

    name: str
    """The area's name."""
    floor: str | None = None
    """The floor it is on (must be one of home.floors)."""
    aliases: tuple[str, ...] = ()
    """Other names people say for it."""


@settings
class HomeSettings:
    """The fictional (or real) home: floors, areas and entities the assistant can name. With a Home Assistant link
    the home comes from Home Assistant and what is written here is added to it and wins where both name a thing."""

    floors: tuple[str, ...] = ()
    """Floor names ("ground floor", "upstairs")."""
    areas: tuple[str | AreaSettings, ...] = ()
    """Area names, or {name, floor, aliases}."""
    entities: tuple[EntitySettings, ...] = ()
    """Entities that voice commands may act on."""
    satellite_area: str | None = None
    """Area this device stands in; commands naming no area act here."""


def area_names(home: HomeSettings) -> list[str]:
    """The names of home.areas, whichever way each is written."""
    return [a if isinstance(a, str) else a.name for a in home.areas]

