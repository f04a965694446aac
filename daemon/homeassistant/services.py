"""Which Home Assistant service each intent calls, and with what data: one table for the live link's executor
(Python) and the automation blueprint (Jinja), so the two cannot drift apart.

An intent's resolved entities are split by domain; every rule of the intent whose slots are present acts on the
entities of its domains (`ANY`: the domains no other rule of the intent names). Several rules may apply at once
("set the lights to red at 50 percent": brightness and colour).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...pipeline.intent.intents import INTENTS

ANY = "*"
"""Domain wildcard: every domain no other rule of the intent names."""
NO_TARGET = ""
"""A rule for an intent without entities (the shopping list integration)."""


@dataclass(frozen=True)
class Value:
    """How one service field is made from a slot: in Python and as the blueprint's Jinja."""

    slot: str | None
    """The slot it comes from; None: a constant."""
    python: Callable[[Any], Any]
    """Slot value -> field value (raises ValueError when the slot cannot be used)."""
    jinja: str
    """The same, as a Jinja expression over `slots` (inside {{ }})."""


def _percent_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    number = float(str(value).strip().rstrip("%").strip())
    if number != number:  # NaN
        raise ValueError("not a number")
    return max(0.0, min(100.0, number))


def percent(slot: str) -> Value:
    """0-100 as a whole number ("50%", 50.0 and "50" alike)."""
    return Value(slot, lambda v: round(_percent_number(v)),
                 f"[[(slots.{slot} | string | replace('%', '') | float(0)) | round(0) | int, 0] | max, 100] | min")


def fraction(slot: str) -> Value:
    """A 0-100 slot as 0-1 (media player volume)."""
    return Value(slot, lambda v: round(_percent_number(v) / 100, 2),
                 f"(([[(slots.{slot} | string | replace('%', '') | float(0)), 0] | max, 100] | min) / 100) | round(2)")


BRIGHTNESS_STEP = 25
"""Percent a "brighter" / "dimmer" (HassLightSet's brightness_step up / down) changes a light's brightness by."""


def step_percent(slot: str) -> Value:
    """up / down (or a signed number) as a signed brightness_step_pct."""
    def check(v: Any) -> int:
        if str(v).strip() in ("up", "down"):
            return BRIGHTNESS_STEP if str(v).strip() == "up" else -BRIGHTNESS_STEP
        return round(max(-100.0, min(100.0, float(str(v).strip().rstrip("%")))))

    return Value(slot, check, f"{BRIGHTNESS_STEP} if slots.{slot} == 'up' else -{BRIGHTNESS_STEP} if slots.{slot} == "
                              f"'down' else [[(slots.{slot} | float(0)) | round(0) | int, -100] | max, 100] | min")


def number(slot: str) -> Value:
    return Value(slot, lambda v: float(str(v).strip()), f"slots.{slot} | float")


def whole(slot: str) -> Value:
    return Value(slot, lambda v: int(float(str(v).strip())), f"slots.{slot} | int")


def text(slot: str) -> Value:
    def check(v: Any) -> str:
        if not str(v).strip():
            raise ValueError("empty")
        return str(v).strip()

    return Value(slot, check, f"slots.{slot} | string | trim")


def constant(value: bool | int | float | str) -> Value:
    return Value(None, lambda _v: value, repr(value).lower() if isinstance(value, bool) else repr(value))


@dataclass(frozen=True)
class Rule:
    """One intent -> service mapping for some domains."""

    intent: str
    domains: tuple[str, ...]
    """The entity domains it acts on; (ANY,) for the rest, (NO_TARGET,) for none."""
    service: str
    """domain.service"""
    data: tuple[tuple[str, Value], ...] = ()
    """Service data fields."""

    @property
    def required_slots(self) -> tuple[str, ...]:
        return tuple(v.slot for _, v in self.data if v.slot is not None)


def _rules(intent: str, service: str, *data: tuple[str, Value], domains: tuple[str, ...]) -> Rule:
    return Rule(intent, domains, service, tuple(data))


RULES: tuple[Rule, ...] = (
    _rules("HassTurnOn", "cover.open_cover", domains=("cover",)),
    _rules("HassTurnOn", "valve.open_valve", domains=("valve",)),
    _rules("HassTurnOn", "lock.lock", domains=("lock",)),
    _rules("HassTurnOn", "vacuum.start", domains=("vacuum",)),
    _rules("HassTurnOn", "button.press", domains=("button",)),
    _rules("HassTurnOn", "scene.turn_on", domains=("scene",)),
    _rules("HassTurnOn", "script.turn_on", domains=("script",)),
    _rules("HassTurnOn", "homeassistant.turn_on", domains=(ANY,)),
    _rules("HassTurnOff", "cover.close_cover", domains=("cover",)),
    _rules("HassTurnOff", "valve.close_valve", domains=("valve",)),
    _rules("HassTurnOff", "lock.unlock", domains=("lock",)),
    _rules("HassTurnOff", "vacuum.return_to_base", domains=("vacuum",)),
    _rules("HassTurnOff", "homeassistant.turn_off", domains=(ANY,)),
    _rules("HassLightSet", "light.turn_on", ("brightness_pct", percent("brightness")), domains=("light",)),
    _rules("HassLightSet", "light.turn_on", ("color_name", text("color")), domains=("light",)),
    _rules("HassLightSet", "light.turn_on", ("color_temp_kelvin", whole("temperature")), domains=("light",)),
    _rules("HassLightSet", "light.turn_on", ("brightness_step_pct", step_percent("brightness_step")),
           domains=("light",)),
    _rules("HassClimateSetTemperature", "climate.set_temperature", ("temperature", number("temperature")),
           domains=("climate",)),
    _rules("HassFanSetSpeed", "fan.set_percentage", ("percentage", percent("percentage")), domains=("fan",)),
    _rules("HassSetPosition", "cover.set_cover_position", ("position", percent("position")), domains=("cover",)),
    _rules("HassSetPosition", "valve.set_valve_position", ("position", percent("position")), domains=("valve",)),
    _rules("HassMediaPause", "media_player.media_pause", domains=("media_player",)),
    _rules("HassMediaUnpause", "media_player.media_play", domains=("media_player",)),
    _rules("HassMediaNext", "media_player.media_next_track", domains=("media_player",)),
    _rules("HassMediaPrevious", "media_player.media_previous_track", domains=("media_player",)),
    _rules("HassMediaPlayerMute", "media_player.volume_mute", ("is_volume_muted", constant(True)),
           domains=("media_player",)),
    _rules("HassMediaPlayerUnmute", "media_player.volume_mute", ("is_volume_muted", constant(False)),
           domains=("media_player",)),
    _rules("HassSetVolume", "media_player.volume_set", ("volume_level", fraction("volume_level")),
           domains=("media_player",)),
    _rules("HassVacuumStart", "vacuum.start", domains=("vacuum",)),
    _rules("HassVacuumReturnToBase", "vacuum.return_to_base", domains=("vacuum",)),
    _rules("HassListAddItem", "todo.add_item", ("item", text("item")), domains=("todo",)),
    _rules("HassShoppingListAddItem", "todo.add_item", ("item", text("item")), domains=("todo",)),
    _rules("HassShoppingListAddItem", "shopping_list.add_item", ("name", text("item")), domains=(NO_TARGET,)),
)
"""Every intent the home carries out, in order. HassSetVolumeRelative is special (see volume_step_calls)."""

RELATIVE_VOLUME = "HassSetVolumeRelative"
"""Turns the volume up or down: media_player.volume_up/volume_down, or volume_set by a number of percent."""

ACTION_INTENTS: frozenset[str] = frozenset({r.intent for r in RULES} | {RELATIVE_VOLUME})
"""Intents with a service (a test checks it is every home intent that is not a question)."""
QUERY_INTENTS: frozenset[str] = frozenset(i.name for i in INTENTS if i.where == "home" and i.query)
"""Home intents that only ask: answered from the state cache, no service."""


@dataclass(frozen=True)
class ServiceCall:
    """One call_service."""

    domain: str
    service: str
    data: Mapping[str, Any]
    entity_ids: tuple[str, ...]

    def message(self) -> dict[str, Any]:
        """The WebSocket API command."""
        msg: dict[str, Any] = {"type": "call_service", "domain": self.domain, "service": self.service}
        if self.data:
            msg["service_data"] = dict(self.data)
        if self.entity_ids:
            msg["target"] = {"entity_id": list(self.entity_ids)}
        return msg


def rules_for(intent: str) -> list[Rule]:
    return [r for r in RULES if r.intent == intent]


def calls_for(intent: str, slots: Mapping[str, Any], entity_ids: Sequence[str],
              volume_of: Callable[[str], float | None] = lambda _e: None) -> list[ServiceCall]:
    """The service calls carrying an intent out on its entities; [] when none applies (bad slots, wrong domains).

    volume_of: an entity's current volume (0-1), for "turn the volume up by 10 percent".
    """
    if intent == RELATIVE_VOLUME:
        return _volume_step_calls(slots, entity_ids, volume_of)
    rules = rules_for(intent)
    named = {d for r in rules for d in r.domains if d not in (ANY, NO_TARGET)}
    calls = []
    for rule in rules:
        if rule.domains == (NO_TARGET,):
            if entity_ids:
                continue
            targets: list[str] = []
        elif rule.domains == (ANY,):
            targets = [e for e in entity_ids if _domain(e) not in named]
        else:
            targets = [e for e in entity_ids if _domain(e) in rule.domains]
        if not targets and rule.domains != (NO_TARGET,):
            continue
        try:
            data = {name: value.python(slots.get(value.slot) if value.slot else None) for name, value in rule.data
                    if value.slot is None or slots.get(value.slot) not in (None, "")}
        except (TypeError, ValueError):
            continue
        if len(data) < len(rule.data):
            continue  # a slot this rule needs is missing
        domain, service = rule.service.split(".", 1)
        calls.append(ServiceCall(domain, service, data, tuple(targets)))
    return calls


def _volume_step_calls(slots: Mapping[str, Any], entity_ids: Sequence[str],
                       volume_of: Callable[[str], float | None]) -> list[ServiceCall]:
    players = tuple(e for e in entity_ids if _domain(e) == "media_player")
    step = slots.get("volume_step", "up")
    if not players:
        return []
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        calls = []
        for player in players:
            current = volume_of(player)
            if current is None:
                service = "volume_up" if step >= 0 else "volume_down"
                calls.append(ServiceCall("media_player", service, {}, (player,)))
            else:
                level = round(max(0.0, min(1.0, current + step / 100)), 2)
                calls.append(ServiceCall("media_player", "volume_set", {"volume_level": level}, (player,)))
        return calls
    direction = str(step).strip().lower()
    if direction not in ("up", "down"):
        return []
    return [ServiceCall("media_player", f"volume_{direction}", {}, players)]


def _domain(entity_id: str) -> str:
    return entity_id.split(".", 1)[0]
