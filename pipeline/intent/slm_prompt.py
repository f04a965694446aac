"""What the language model is told and what it may answer: the system prompt, few-shot examples and the output
schema, all built from the Home.

The model answers with one compact JSON object, e.g. {"intent":"turn_on","name":"kitchen light"}. Intent names are
short words the model reads easily; INTENTS maps them to Home Assistant intents and slots. Constrained decoding
(onnxruntime-genai guidance) forces the answer into `output_schema(home)`: intent names, entity names and areas are
enums from the Home, each intent has its own slots, numbers have ranges. So a name the home does not have cannot
come out, and every answer parses.

The prompt is ChatML (<|im_start|>role ... <|im_end|>), which both catalog models (Qwen2.5, SmolLM2) use. The system
prompt and the few-shot examples form one fixed prefix that the tier processes once and reuses every turn; each turn
adds only `user_turn(text)`. The examples are deliberately not Home Assistant's template phrasings: those never reach
this tier.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .model import Entity, Home

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white")
"""Light colours the model may set (Home Assistant's colour names)."""

MAX_ITEM_CHARS = 40
MAX_TEXT_CHARS = 80
TIMER_MAX = {"hours": 23, "minutes": 59 * 2, "seconds": 59 * 2}


@dataclass(frozen=True)
class IntentDef:
    """One intent the model can choose."""

    key: str
    """The word the model writes (turn_on)."""
    hass: str | None
    """Home Assistant intent name (HassTurnOn); None for answer and clarify."""
    doc: str
    """One line for the system prompt."""
    domains: tuple[str, ...] = ()
    """Domains its `name` may be; () means it takes no name."""
    target: str = "none"
    """none, optional (name or area may be given), required (name, or area/domain)."""


INTENTS: tuple[IntentDef, ...] = (
    IntentDef("turn_on", "HassTurnOn", "switch on, open", ("light", "switch", "fan", "cover", "media_player"),
              "required"),
    IntentDef("turn_off", "HassTurnOff", "switch off, close", ("light", "switch", "fan", "cover", "media_player"),
              "required"),
    IntentDef("light_set", "HassLightSet", "brightness 0-100 or color of lights", ("light",), "required"),
    IntentDef("get_state", "HassGetState", "is something on/off/open", ("light", "switch", "fan", "cover",
              "media_player", "lock", "sensor", "binary_sensor"), "required"),
    IntentDef("climate_set", "HassClimateSetTemperature", "set the heating to a temperature", ("climate",),
              "optional"),
    IntentDef("climate_get", "HassClimateGetTemperature", "current temperature", ("climate",), "optional"),
    IntentDef("start_timer", "HassStartTimer", "timer with hours/minutes/seconds"),
    IntentDef("cancel_timer", "HassCancelTimer", "stop the timer"),
    IntentDef("time", "HassGetCurrentTime", "what time it is"),
    IntentDef("date", "HassGetCurrentDate", "today's date"),
    IntentDef("pause", "HassMediaPause", "pause music", ("media_player",), "optional"),
    IntentDef("resume", "HassMediaUnpause", "resume music", ("media_player",), "optional"),
    IntentDef("next", "HassMediaNext", "next track", ("media_player",), "optional"),
    IntentDef("volume", "HassSetVolume", "volume 0-100", ("media_player",), "optional"),
    IntentDef("list_add", "HassListAddItem", "add an item to a list", ("todo",), "optional"),
    IntentDef("nevermind", "HassNevermind", "cancel, never mind"),
    IntentDef("answer", None, "chit-chat, questions, jokes: anything that is not a command"),
    IntentDef("clarify", None, "the device is unclear or not in the home: ask one short question"),
)
BY_KEY: dict[str, IntentDef] = {d.key: d for d in INTENTS}
BY_HASS: dict[str, IntentDef] = {d.hass: d for d in INTENTS if d.hass}

# Output keys that are Home Assistant slots under another name.
SLOT_NAMES = {"volume": "volume_level"}


def entity_names(home: Home, domains: Iterable[str] | None = None) -> list[str]:
    """Spoken names and aliases (unique, in home order) of the home's entities, optionally of some domains."""
    wanted = set(domains) if domains is not None else None
    seen: set[str] = set()
    names: list[str] = []
    for e in home.entities:
        if wanted is not None and e.domain not in wanted:
            continue
        for n in e.names:
            n = " ".join(n.split())
            if n and n.casefold() not in seen:
                seen.add(n.casefold())
                names.append(n)
    return names


def available_intents(home: Home) -> list[IntentDef]:
    """The intents that make sense for this home: those with a target need an entity of their domains."""
    domains = {e.domain for e in home.entities}
    return [d for d in INTENTS if d.target == "none" or domains & set(d.domains)]


# ------------------------------------------------------------------------------------------------------------------
# The output schema
# ------------------------------------------------------------------------------------------------------------------

# llguidance's JSON options: no whitespace at all (every space would be a decode step), fixed separators.
_COMPACT = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


def _obj(key: str, props: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"intent": {"const": key}, **props},
        "required": ["intent", *required],
        "additionalProperties": False,
    }


def _enum(values: list[str]) -> dict[str, Any]:
    return {"enum": values} if values else {"enum": [""]}


def _int(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi}


def output_schema(home: Home) -> dict[str, Any]:
    """JSON schema of one answer: anyOf one object per intent, with this home's names as enums."""
    areas = list(home.areas)
    variants: list[dict[str, Any]] = []
    for d in available_intents(home):
        names = entity_names(home, d.domains)
        domains = sorted({e.domain for e in home.entities if e.domain in d.domains})
        by_name = {"name": _enum(names)}
        by_area = {"area": _enum(areas), "domain": _enum(domains)} if areas else {"domain": _enum(domains)}
        if d.key in ("turn_on", "turn_off", "get_state"):
            variants += [_obj(d.key, by_name, ["name"]), _obj(d.key, by_area, ["domain"])]
        elif d.key == "light_set":
            for value in ({"brightness": _int(0, 100)}, {"color": _enum(list(COLORS))}):
                variants += [_obj(d.key, {**by_name, **value}, ["name", *value]),
                             _obj(d.key, {**({"area": _enum(areas)} if areas else {}), **value}, list(value))]
        elif d.key == "climate_set":
            variants.append(_obj(d.key, {**by_name, "temperature": _int(5, 35)}, ["temperature"]))
        elif d.key == "volume":
            variants.append(_obj(d.key, {**by_name, "volume": _int(0, 100)}, ["volume"]))
        elif d.key == "list_add":
            item = {"type": "string", "minLength": 1, "maxLength": MAX_ITEM_CHARS}
            variants.append(_obj(d.key, {"item": item, **by_name}, ["item"]))
        elif d.key == "start_timer":
            variants.append(_obj(d.key, {u: _int(0, hi) for u, hi in TIMER_MAX.items()}))
        elif d.key == "clarify":
            variants.append(_obj(d.key, {"text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS}},
                                 ["text"]))
        elif d.target == "optional":
            props = {**by_name, **({"area": _enum(areas)} if areas else {})}
            variants.append(_obj(d.key, props))
        else:
            variants.append(_obj(d.key, {}))
    return {"anyOf": variants, "x-guidance": _COMPACT}


# ------------------------------------------------------------------------------------------------------------------
# The prompt
# ------------------------------------------------------------------------------------------------------------------


def system_prompt(home: Home) -> str:
    """The instructions: intents with their keys, then the home's devices and areas."""
    lines = [
        "You are the voice assistant of a smart home. Turn what the user says into one JSON object.",
        "Intents (keys):",
    ]
    for d in available_intents(home):
        lines.append(f"- {d.key}: {d.doc}")
    lines.append("Target a device by name (its exact name below), or a whole area with area and domain.")
    lines.append("Devices (name: domain, area):")
    for e in home.entities:
        aliases = f" (also: {', '.join(e.aliases)})" if e.aliases else ""
        lines.append(f"- {e.name}{aliases}: {e.domain}" + (f", {e.area}" if e.area else ""))
    if home.areas:
        lines.append("Areas: " + ", ".join(home.areas) + ".")
    if home.satellite_area:
        lines.append(f"You stand in the {home.satellite_area}; \"here\" means no area.")
    return "\n".join(lines)


@dataclass(frozen=True)
class Example:
    """A few-shot example: what the user says and the JSON answer."""

    text: str
    answer: dict[str, Any]


def _first(home: Home, domain: str, *, skip: Entity | None = None) -> Entity | None:
    return next((e for e in home.entities if e.domain == domain and e is not skip), None)


def examples(home: Home) -> list[Example]:
    """Few-shot examples that use this home's names (an example is left out when the home lacks its device).

    Informal phrasings unlike Home Assistant's templates; none of them is a sentence of the evaluation set.
    """
    out: list[Example] = []
    light = _first(home, "light")
    light2 = _first(home, "light", skip=light) if light else None
    if light2 is not None:
        out.append(Example(f"could you get the {light2.name} going", {"intent": "turn_on", "name": light2.name}))
    if light is not None and light.area:
        out.append(Example(f"lights out in the {light.area} please",
                           {"intent": "turn_off", "area": light.area, "domain": "light"}))
        out.append(Example(f"make the {light.name} dimmer, like thirty percent",
                           {"intent": "light_set", "name": light.name, "brightness": 30}))
        out.append(Example(f"i want the {light.area} lights green",
                           {"intent": "light_set", "area": light.area, "color": "green"}))
    if light is not None:
        out.append(Example("it's a bit gloomy in here", {"intent": "turn_on", "domain": "light"}))
    switch = _first(home, "switch")
    if switch is not None:
        out.append(Example(f"no need for the {switch.name} anymore", {"intent": "turn_off", "name": switch.name}))
    cover = _first(home, "cover")
    if cover is not None:
        out.append(Example(f"did somebody leave the {cover.name} open?", {"intent": "get_state", "name": cover.name}))
    fan = _first(home, "fan")
    if fan is not None:
        out.append(Example(f"get some air moving with the {fan.name}", {"intent": "turn_on", "name": fan.name}))
    if _first(home, "climate") is not None:
        out.append(Example("i'm freezing, bump it up to twenty three degrees",
                           {"intent": "climate_set", "temperature": 23}))
        out.append(Example("how warm is it in the house", {"intent": "climate_get"}))
    out.append(Example("give me a shout in an hour and a half", {"intent": "start_timer", "hours": 1, "minutes": 30}))
    out.append(Example("forget the countdown", {"intent": "cancel_timer"}))
    out.append(Example("have you got the time", {"intent": "time"}))
    out.append(Example("which day of the month is it", {"intent": "date"}))
    if _first(home, "media_player") is not None:
        out.append(Example("hold the music a sec", {"intent": "pause"}))
        out.append(Example("skip this song, it's awful", {"intent": "next"}))
        out.append(Example("music at forty percent", {"intent": "volume", "volume": 40}))
    todo = _first(home, "todo")
    if todo is not None:
        out.append(Example("we're out of eggs", {"intent": "list_add", "item": "eggs", "name": todo.name}))
    out.append(Example("oh forget it", {"intent": "nevermind"}))
    out.append(Example("who wrote hamlet", {"intent": "answer"}))
    out.append(Example("how are you today", {"intent": "answer"}))
    out.append(Example("switch on the sprinklers",
                       {"intent": "clarify", "text": "There are no sprinklers here. Which device do you mean?"}))
    out.append(Example("turn it on", {"intent": "clarify", "text": "Which device should I turn on?"}))
    return out


def compact(answer: dict[str, Any]) -> str:
    """JSON as the model writes it: no whitespace."""
    return json.dumps(answer, separators=(",", ":"), ensure_ascii=False)


def turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def user_turn(text: str) -> str:
    """One turn's tokens: the user's words, then the assistant's header (the model answers after it)."""
    return turn("user", text) + "<|im_start|>assistant\n"


def intent_prefix(home: Home) -> str:
    """The cached prefix of the intent generator: system prompt and few-shot turns."""
    parts = [turn("system", system_prompt(home))]
    for ex in examples(home):
        parts.append(turn("user", ex.text) + turn("assistant", compact(ex.answer)))
    return "".join(parts)


CHAT_SYSTEM = (
    "You are a friendly voice assistant in a smart home. Answer in one or two short spoken sentences: "
    "plain words, no lists, no markdown, no emojis."
)


def chat_prefix() -> str:
    """The cached prefix of the free-answer generator."""
    return turn("system", CHAT_SYSTEM)
