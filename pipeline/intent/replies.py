"""Short spoken English replies for recognised intents, phrased like Home Assistant's responses.

Shared by both intent tiers: the templates tier and the language-model tier build an Intent and ask
reply_for() what to say. Replies are spoken, so they stay one short sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .intents import NAMES
from .model import Entity, Home, Intent

StateLookup = Callable[[str], "str | None"]
"""Entity id -> current state string ("on", "closed", "21.5"), or None when unknown."""

# Spoken nouns per Home Assistant domain: (singular, plural).
_DOMAIN_NOUNS: dict[str, tuple[str, str]] = {
    "light": ("light", "lights"),
    "switch": ("switch", "switches"),
    "fan": ("fan", "fans"),
    "climate": ("thermostat", "thermostats"),
    "cover": ("cover", "covers"),
    "media_player": ("media player", "media players"),
    "todo": ("list", "lists"),
    "lock": ("lock", "locks"),
    "sensor": ("sensor", "sensors"),
    "binary_sensor": ("sensor", "sensors"),
    "valve": ("valve", "valves"),
    "vacuum": ("vacuum cleaner", "vacuum cleaners"),
    "scene": ("scene", "scenes"),
    "script": ("script", "scripts"),
    "input_boolean": ("switch", "switches"),
}
# Domains people address as a group by area ("the lights in the kitchen"), even when there is one.
_GROUP_DOMAINS = frozenset({"light", "switch", "fan"})
# Cover device classes as people say them (HA's cover_classes list maps "garage door" -> garage).
_DEVICE_CLASS_NOUNS: dict[str, tuple[str, str]] = {"garage": ("garage door", "garage doors")}

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def domain_noun(domain: str, *, plural: bool = False) -> str:
    """The spoken noun for a domain: light/lights, climate -> thermostat, media_player -> media player."""
    singular, plurals = _DOMAIN_NOUNS.get(domain, (domain.replace("_", " "), domain.replace("_", " ") + "s"))
    return plurals if plural else singular


def on_floor(floor: str) -> str:
    """Where on a floor, as people say it: "on the first floor", "upstairs", "in the basement"."""
    last = floor.casefold().split()[-1:] or [""]
    if last[0] in ("upstairs", "downstairs"):
        return floor
    return f"in the {floor}" if last[0] in ("basement", "cellar", "attic", "loft") else f"on the {floor}"


def device_class_noun(device_class: str, *, plural: bool = False) -> str:
    """The spoken noun for a cover device class: garage -> garage door, blind -> blind."""
    singular, plurals = _DEVICE_CLASS_NOUNS.get(device_class, (device_class, device_class + "s"))
    return plurals if plural else singular


def number(value: Any) -> str:
    """21.0 -> "21", 21.5 -> "21.5"; other values as text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def reply_for(
    intent: Intent,
    home: Home,
    *,
    now: datetime,
    states: StateLookup | None = None,
    question: str | None = None,
) -> str:
    """The short sentence to speak for a recognised intent.

    intent.entity_ids should already be resolved (see resolve.py); names come from the home.
    now: the local time, for HassGetCurrentTime/Date. states: optional live-state lookup for
    HassGetState/HassClimateGetTemperature; without it those answers say the state is unknown.
    question: the kind of state question where the words tell it (Home Assistant's response key of the matched
    template: "all" for "are all the doors locked", which is answered by the ones that are not).
    """
    handler = _HANDLERS.get(intent.name)
    if handler is None:
        return "Okay."
    return handler(_Ctx(intent, home, now, states, question))


class _Ctx:
    """What a reply handler needs, with the entity lookups done once."""

    def __init__(self, intent: Intent, home: Home, now: datetime, states: StateLookup | None,
                 question: str | None = None) -> None:
        self.intent = intent
        self.question = question
        self.slots = intent.slots
        self.home = home
        self.now = now
        self.states = states
        self.entities: list[Entity] = [e for i in intent.entity_ids if (e := home.entity(i)) is not None]

    def target(self) -> str:
        """The thing acted on, with its article: "the kitchen light", "the lights in the kitchen"."""
        slots = self.slots
        if len(self.entities) == 1 and (
            "name" in slots or "area" not in slots or self.entities[0].domain not in _GROUP_DOMAINS
        ):
            return f"the {_spoken(self.entities[0])}"
        if not self.entities and slots.get("name"):
            return f"the {slots['name']}"
        if slots.get("device_class"):
            noun = device_class_noun(str(slots["device_class"]), plural=len(self.entities) != 1)
        else:
            domain = slots.get("domain") or (self.entities[0].domain if self.entities else None)
            noun = domain_noun(str(domain), plural=True) if domain else "devices"
        area = slots.get("area")
        if area:
            # the home's own name for the room ("bedroom two" said: "the Bedroom 2")
            rooms = {e.area for e in self.entities}
            return f"the {noun} in the {rooms.pop() if len(rooms) == 1 and None not in rooms else area}"
        return f"the {noun} {on_floor(str(slots['floor']))}" if slots.get("floor") else f"the {noun}"

    def state_of(self, entity: Entity) -> str | None:
        if self.states is None:
            return None
        state = self.states(entity.id)
        return None if state is None or state.strip() == "" else state.strip()

    def said(self, entity: Entity, state: str) -> str:
        """A state as people say it: a door sensor's "on" is "open"."""
        return spoken_state(entity, state)


def _turn(on: bool) -> Callable[[_Ctx], str]:
    def reply(c: _Ctx) -> str:
        domains = {e.domain for e in c.entities} or {c.slots.get("domain")}
        if domains == {"cover"} or domains == {"valve"}:
            return f"{'Opening' if on else 'Closing'} {c.target()}."
        if domains == {"lock"}:
            return f"{'Locking' if on else 'Unlocking'} {c.target()}."
        return f"Turned {'on' if on else 'off'} {c.target()}."

    return reply


def _light_set(c: _Ctx) -> str:
    if c.slots.get("brightness_step") in ("up", "down"):  # relative: "a bit brighter", "dim the lights"
        return f"{'Brightened' if c.slots['brightness_step'] == 'up' else 'Dimmed'} {c.target()}."
    if "brightness" in c.slots:
        return f"Set {c.target()} to {number(c.slots['brightness'])} percent."
    if "color" in c.slots:
        return f"Set {c.target()} to {c.slots['color']}."
    if "temperature" in c.slots:
        value = c.slots["temperature"]
        unit = " kelvin" if isinstance(value, (int, float)) else ""
        return f"Set {c.target()} to {number(value)}{unit}."
    return "Okay."


def _get_state(c: _Ctx) -> str:
    wanted = str(c.slots["state"]).lower() if "state" in c.slots else None
    if not c.entities:
        return f"I don't know the state of {c.target()}."
    known = {e.id: c.state_of(e) for e in c.entities}
    if len(c.entities) == 1 and "name" in c.slots:
        entity, state = c.entities[0], known[c.entities[0].id]
        if state is None:
            return f"I don't know the state of the {_spoken(entity)}."
        if wanted is None:
            return f"The {_spoken(entity)} is {c.said(entity, state)}."
        yes = state.lower() == wanted
        return f"{'Yes' if yes else 'No'}, the {_spoken(entity)} is {c.said(entity, state)}."
    if wanted is None:
        if any(s is None for s in known.values()):
            return f"I don't know the state of {c.target()}."
        return _sentence(_join([f"the {_spoken(e)} is {c.said(e, known[e.id] or '')}" for e in c.entities]))
    matched = [e for e in c.entities if (known[e.id] or "").lower() == wanted]
    said = c.said(c.entities[0], wanted)
    if c.question == "all":  # answered by the ones that are not: listing the locked doors would hide the open one
        if any(s is None for s in known.values()):
            return f"I don't know the state of {c.target()}."
        if len(matched) == len(c.entities):
            several = len(matched) > 1
            return f"Yes, {'all of ' if several else ''}{c.target()} {'are' if several else 'is'} {said}."
        others: dict[str, list[str]] = {}  # spoken state -> the ones in it
        for e in c.entities:
            if e not in matched:
                others.setdefault(c.said(e, known[e.id] or ""), []).append(f"the {_spoken(e)}")
        return "No, " + _join([f"{_join(names)} {'is' if len(names) == 1 else 'are'} {state}"
                               for state, names in others.items()]) + "."
    if matched:
        verb = "is" if len(matched) == 1 else "are"
        return _sentence(f"{_join(['the ' + _spoken(e) for e in matched])} {verb} {said}")
    if any(s is None for s in known.values()):
        return f"I don't know the state of {c.target()}."
    return f"No, none of {c.target()} {'is' if len(c.entities) == 1 else 'are'} {said}."


def _climate_get(c: _Ctx) -> str:
    where = f" in the {c.slots['area']}" if c.slots.get("area") and "name" not in c.slots else ""
    for entity in c.entities:
        state = c.state_of(entity)
        if state is not None and _is_number(state):
            value = number(float(state))
            return f"It is {value} degree{'' if value == '1' else 's'}{where}."
    subject = f"in the {c.slots['area']}" if where else f"of {c.target()}"
    return f"I don't know the temperature {subject}."


def _climate_set(c: _Ctx) -> str:
    value = number(c.slots.get("temperature", "?"))
    target = c.target() if c.entities or "name" in c.slots else "the temperature"
    return f"Set {target} to {value} degree{'' if value == '1' else 's'}."


def _timer_start(c: _Ctx) -> str:
    parts = [
        f"{number(c.slots[unit])} {unit[:-1] if number(c.slots[unit]) == '1' else unit}"
        for unit in ("hours", "minutes", "seconds")
        if unit in c.slots
    ]
    if c.slots.get("conversation_command") and parts:
        return f"Okay, I'll {c.slots['conversation_command']} in {_join(parts)}."
    named = f" named {c.slots['name']}" if c.slots.get("name") else ""
    return f"Timer set for {_join(parts)}{named}." if parts else f"Timer set{named}."


def _time(c: _Ctx) -> str:
    hour = c.now.hour % 12 or 12
    return f"It is {hour}:{c.now.minute:02d} {'AM' if c.now.hour < 12 else 'PM'}."


def _date(c: _Ctx) -> str:
    d = c.now
    return f"Today is {_WEEKDAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}."


def _list_add(c: _Ctx) -> str:
    item = c.slots.get("item", "that")
    name = _spoken(c.entities[0]) if c.entities else str(c.slots.get("name") or "shopping list")
    return f"Added {item} to your {name}."


def _volume_set(c: _Ctx) -> str:
    return f"Volume set to {number(c.slots.get('volume_level', '?'))} percent."


def _volume_step(c: _Ctx) -> str:
    step = c.slots.get("volume_step", "up")
    if isinstance(step, (int, float)):
        direction = "up" if step >= 0 else "down"
        return f"Turned the volume {direction} by {number(abs(step))} percent."
    return f"Turned the volume {step}."


def _percent_of(slot: str) -> Callable[[_Ctx], str]:
    def reply(c: _Ctx) -> str:
        return f"Set {c.target()} to {number(c.slots.get(slot, '?'))} percent."

    return reply


def _fixed(text: str) -> Callable[[_Ctx], str]:
    return lambda _c: text


_HANDLERS: dict[str, Callable[[_Ctx], str]] = {
    "HassTurnOn": _turn(True),
    "HassTurnOff": _turn(False),
    "HassLightSet": _light_set,
    "HassGetState": _get_state,
    "HassClimateGetTemperature": _climate_get,
    "HassClimateSetTemperature": _climate_set,
    "HassStartTimer": _timer_start,
    "HassCancelTimer": _fixed("Timer cancelled."),
    "HassCancelAllTimers": _fixed("All timers cancelled."),
    "HassGetCurrentTime": _time,
    "HassGetCurrentDate": _date,
    "HassMediaPause": _fixed("Paused."),
    "HassMediaUnpause": _fixed("Resumed."),
    "HassMediaNext": _fixed("Playing the next track."),
    "HassMediaPrevious": _fixed("Playing the previous track."),
    "HassMediaPlayerMute": _fixed("Muted."),
    "HassMediaPlayerUnmute": _fixed("Unmuted."),
    "HassSetVolume": _volume_set,
    "HassSetVolumeRelative": _volume_step,
    "HassListAddItem": _list_add,
    "HassShoppingListAddItem": _list_add,
    "HassFanSetSpeed": _percent_of("percentage"),
    "HassSetPosition": _percent_of("position"),
    "HassVacuumStart": _fixed("Starting the vacuum cleaner."),
    "HassVacuumReturnToBase": _fixed("Sending the vacuum cleaner back to its dock."),
    "HassNevermind": _fixed("Okay."),
}

def ask_first(intent: Intent, home: Home) -> str:
    """The question asked instead of acting: "Do you want me to open the garage door?" (a yes carries it out)."""
    return f"Do you want me to {request_phrase(intent, home)}?"


def request_phrase(intent: Intent, home: Home) -> str:
    """What was asked, as an instruction ("turn on the kitchen light"), for replies that can only say a command
    was sent, not that it happened."""
    c = _Ctx(intent, home, datetime.now(), None)
    slots = intent.slots
    domains = {e.domain for e in c.entities} or {slots.get("domain")}
    name = intent.name
    if name in ("HassTurnOn", "HassTurnOff"):
        on = name == "HassTurnOn"
        verb = ("open" if on else "close") if domains <= {"cover", "valve"} else (
            ("lock" if on else "unlock") if domains == {"lock"} else ("turn on" if on else "turn off"))
        return f"{verb} {c.target()}"
    if name == "HassLightSet":
        if slots.get("brightness_step") in ("up", "down"):
            return f"{'brighten' if slots['brightness_step'] == 'up' else 'dim'} {c.target()}"
        what = (f"{number(slots['brightness'])} percent" if "brightness" in slots else
                str(slots.get("color") or number(slots.get("temperature", ""))))
        return f"set {c.target()} to {what}"
    if name == "HassClimateSetTemperature":
        target = c.target() if c.entities or "name" in slots else "the temperature"
        return f"set {target} to {number(slots.get('temperature', '?'))} degrees"
    if name in ("HassFanSetSpeed", "HassSetPosition"):
        value = slots.get("percentage" if name == "HassFanSetSpeed" else "position", "?")
        return f"set {c.target()} to {number(value)} percent"
    if name == "HassSetVolume":
        return f"set the volume to {number(slots.get('volume_level', '?'))} percent"
    if name in ("HassListAddItem", "HassShoppingListAddItem"):
        return _lowered(_list_add(c)).removesuffix(".").replace("added", "add", 1)
    fixed = {
        "HassMediaPause": "pause the music", "HassMediaUnpause": "resume the music",
        "HassMediaNext": "skip to the next track", "HassMediaPrevious": "go back to the previous track",
        "HassMediaPlayerMute": "mute the speaker", "HassMediaPlayerUnmute": "unmute the speaker",
        "HassVacuumStart": "start the vacuum cleaner", "HassVacuumReturnToBase": "send the vacuum cleaner home",
        "HassSetVolumeRelative": _lowered(_volume_step(c)).removesuffix(".").replace("turned", "turn", 1),
        "HassStartTimer": _lowered(_timer_start(c)).removesuffix(".").replace("timer set", "set a timer", 1),
        "HassCancelTimer": "cancel the timer", "HassCancelAllTimers": "cancel all timers",
        "HassGetCurrentTime": "tell you the time", "HassGetCurrentDate": "tell you the date",
        "HassGetState": f"check {c.target()}", "HassClimateGetTemperature": "tell you the temperature",
        "HassNevermind": "cancel that",
    }
    return fixed.get(name, "do that")


def _lowered(text: str) -> str:
    return text[:1].lower() + text[1:]


# Binary sensor device classes whose "on" people call open (HA's bs_open_states list).
_OPENING_CLASSES = frozenset({"door", "garage_door", "opening", "window"})


def spoken_state(entity: Entity, state: str) -> str:
    """A state as people say it: a door or window sensor's on/off is open/closed; other states as they are."""
    if entity.domain == "binary_sensor" and (entity.device_class or "") in _OPENING_CLASSES:
        return {"on": "open", "off": "closed"}.get(state.lower(), state)
    return state


SUPPORTED_INTENTS: frozenset[str] = frozenset(NAMES)
"""Intent names the tiers may produce (pipeline.intent.intents); every one has a reply here (a test checks)."""


def _join(parts: Sequence[str]) -> str:
    """["a"] -> "a"; ["a", "b"] -> "a and b"; ["a", "b", "c"] -> "a, b and c"."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _spoken(entity: Entity) -> str:
    return " ".join(entity.name.split())


def _sentence(text: str) -> str:
    """Capitalise the first letter only (str.capitalize would lower-case names) and end with a period."""
    return text[:1].upper() + text[1:] + "."


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def which_of(devices: Sequence[Entity]) -> str:
    """The question that names every candidate, in the home's order."""
    return "Which one do you mean: " + ", ".join(f"the {e.name}" for e in devices[:-1]) + \
        f" or the {devices[-1].name}?"
