"""The one list of intents slm-voice supports. Templates, the language model's schema, replies, target resolution,
Home Assistant's event entity and the automation blueprint all derive from it (tests fail when one drifts).

Names are Home Assistant's intent names, so an intent means what it means in Home Assistant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .model import Home, Intent

Where = Literal["home", "satellite"]


@dataclass(frozen=True)
class IntentSpec:
    """One supported intent."""

    name: str
    """Home Assistant's intent name, e.g. HassTurnOn."""
    summary: str
    """What it does, in a few words."""
    where: Where = "home"
    """home: acts on (or asks about) the home's devices, carried out by Home Assistant or MQTT; satellite: this
    device answers it itself (time, date, timers, "never mind")."""
    domains: tuple[str, ...] = ()
    """Domains its target may be; the first is the default when the words name no device and no domain."""
    target: Literal["none", "optional", "required"] = "required"
    """Whether it needs a target: a name, or an area and a domain."""
    query: bool = False
    """It asks for the home's state and changes nothing."""
    risky: bool = False
    """It can open or unlock the home (a lock, a garage door, an alarm): after an uncertain transcript or a
    doubtful reading it is confirmed before it is carried out (see is_risky)."""


_SWITCHABLE = ("light", "switch", "fan", "cover", "media_player", "input_boolean", "lock", "valve", "vacuum",
               "climate")

INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec("HassTurnOn", "switch on, open, lock or start a device", domains=_SWITCHABLE, risky=True),
    IntentSpec("HassTurnOff", "switch off, close, unlock or stop a device", domains=_SWITCHABLE, risky=True),
    IntentSpec("HassLightSet", "set a light's brightness or colour", domains=("light",)),
    IntentSpec("HassGetState", "ask whether a device is on, off, open, closed or locked",
               domains=(*_SWITCHABLE, "sensor", "binary_sensor"), query=True),
    IntentSpec("HassClimateGetTemperature", "ask the temperature", domains=("climate", "sensor"), target="optional",
               query=True),
    IntentSpec("HassClimateSetTemperature", "set the heating to a temperature", domains=("climate",),
               target="optional"),
    IntentSpec("HassFanSetSpeed", "set a fan's speed", domains=("fan",)),
    IntentSpec("HassSetPosition", "open a cover or valve to a position", domains=("cover", "valve"), risky=True),
    IntentSpec("HassMediaPause", "pause the music", domains=("media_player",), target="optional"),
    IntentSpec("HassMediaUnpause", "resume the music", domains=("media_player",), target="optional"),
    IntentSpec("HassMediaNext", "skip to the next track", domains=("media_player",), target="optional"),
    IntentSpec("HassMediaPrevious", "go back to the previous track", domains=("media_player",), target="optional"),
    IntentSpec("HassMediaPlayerMute", "mute the speaker", domains=("media_player",), target="optional"),
    IntentSpec("HassMediaPlayerUnmute", "unmute the speaker", domains=("media_player",), target="optional"),
    IntentSpec("HassSetVolume", "set the volume to a level", domains=("media_player",), target="optional"),
    IntentSpec("HassSetVolumeRelative", "turn the volume up or down", domains=("media_player",), target="optional"),
    IntentSpec("HassVacuumStart", "start the vacuum cleaner", domains=("vacuum",), target="optional"),
    IntentSpec("HassVacuumReturnToBase", "send the vacuum cleaner back to its dock", domains=("vacuum",),
               target="optional"),
    IntentSpec("HassListAddItem", "add an item to a to-do list", domains=("todo",), target="optional"),
    IntentSpec("HassShoppingListAddItem", "add an item to the shopping list", domains=("todo",), target="none"),
    IntentSpec("HassStartTimer", "start a timer", where="satellite", target="none"),
    IntentSpec("HassCancelTimer", "cancel a timer", where="satellite", target="none"),
    IntentSpec("HassCancelAllTimers", "cancel every timer", where="satellite", target="none"),
    IntentSpec("HassGetCurrentTime", "tell the time", where="satellite", target="none", query=True),
    IntentSpec("HassGetCurrentDate", "tell the date", where="satellite", target="none", query=True),
    IntentSpec("HassNevermind", "take back what was just asked", where="satellite", target="none"),
)

BY_NAME: dict[str, IntentSpec] = {i.name: i for i in INTENTS}
NAMES: tuple[str, ...] = tuple(i.name for i in INTENTS)
"""Every supported intent name, in the list's order."""
HOME_INTENTS: frozenset[str] = frozenset(i.name for i in INTENTS if i.where == "home")
"""Intents carried out by (or asked of) the home: Home Assistant or MQTT devices."""
ADD_INTENTS = frozenset({"HassListAddItem", "HassShoppingListAddItem"})
"""Adding an item to a list: the item is free text, the home does not check its words."""
SATELLITE_INTENTS: frozenset[str] = frozenset(i.name for i in INTENTS if i.where == "satellite")
"""Intents the satellite answers itself."""
TARGETLESS: frozenset[str] = frozenset(i.name for i in INTENTS if i.target == "none")
"""Intents that act on no entity."""
QUERIES: frozenset[str] = frozenset(i.name for i in INTENTS if i.query)
"""Intents that ask and change nothing."""
HOME_ACTIONS: frozenset[str] = HOME_INTENTS - QUERIES
"""Intents that change something in the home (not a state asked of it)."""


def default_domain(intent_name: str) -> str | None:
    """The domain an intent acts on when its words name neither a device nor a domain (HassLightSet: light)."""
    spec = BY_NAME.get(intent_name)
    if spec is None or spec.name in ("HassTurnOn", "HassTurnOff", "HassGetState") or not spec.domains:
        return None
    return spec.domains[0]


RISKY_DOMAINS = frozenset({"lock", "alarm_control_panel"})
"""Domains whose devices guard the home: any action on them is risky."""
RISKY_COVER_CLASSES = frozenset({"garage", "garage_door", "door", "gate"})
"""Covers that open the home (Home Assistant device classes; without one, the entity's id and names tell)."""


def is_risky(intent: Intent, home: Home) -> bool:
    """Whether carrying the intent out could open or unlock the home: a risky intent (IntentSpec.risky) on a lock,
    an alarm panel, or a garage door, door or gate cover."""
    spec = BY_NAME.get(intent.name)
    if spec is None or not spec.risky:
        return False
    for entity_id in intent.entity_ids:
        domain = entity_id.split(".", 1)[0]
        if domain in RISKY_DOMAINS:
            return True
        if domain == "cover":
            entity = home.entity(entity_id)
            if entity is not None and entity.device_class:
                if entity.device_class in RISKY_COVER_CLASSES:
                    return True
                continue
            text = " ".join([entity_id.split(".", 1)[1].replace("_", " "),
                             *(entity.names if entity is not None else ())]).casefold()
            if any(word in text.split() for word in ("garage", "door", "gate")):
                return True
    return False
