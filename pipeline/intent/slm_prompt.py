"""What the language model is told and what it may answer: system prompt, few-shot examples and the output
grammar, all built from the Home.

The model answers with one compact JSON object, e.g. {"intent":"turn_on","name":"kitchen light"}. Intent keys are
short words the model reads easily; INTENTS maps them to Home Assistant intents. Constrained decoding
(onnxruntime-genai guidance, a Lark grammar) forces the answer into one of `variants(home)`: intent keys, entity
names and areas are enums from the Home, each intent has its own slots in a fixed order, numbers have ranges, and
there is no whitespace (each space would cost a decode step). A name the home does not have cannot come out, and
every answer parses.

The answer's fixed opening {"intent":" is part of the prompt (ANSWER_OPENING): processed with the user's words in
one batch instead of three decode steps. The grammar starts right after it.

The prompt is ChatML (<|im_start|>role ... <|im_end|>), which both catalog models (Qwen2.5, SmolLM2) use. The system
prompt and the few-shot examples form one fixed prefix that the tier processes once and reuses every turn; each turn
adds only `user_turn(text)`. The examples are deliberately not Home Assistant's template phrasings (those never reach
this tier) and none is a sentence of the evaluation set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .model import Entity, Home

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white")
"""Light colours the model may set (Home Assistant's colour names)."""

MAX_ITEM_CHARS = 40
"""Longest shopping-list item."""

ANSWER_OPENING = '{"intent":"'
"""The start of every answer, given to the model as part of its turn."""


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
    target: Literal["none", "optional", "required"] = "none"
    """Whether it acts on a device: required (a name, or an area and domain), optional, or none."""


_SWITCHABLE = ("light", "switch", "fan", "cover", "media_player", "input_boolean")

INTENTS: tuple[IntentDef, ...] = (
    IntentDef("turn_on", "HassTurnOn", "switch on, open or start a device (too dark: lights on)", _SWITCHABLE,
              "required"),
    IntentDef("turn_off", "HassTurnOff", "switch off, close, shut or stop a device", _SWITCHABLE, "required"),
    IntentDef("set_light", "HassLightSet", "set a light's brightness (0-100) or colour", ("light",), "required"),
    IntentDef("get_state", "HassGetState", "ask whether a device is on, off, open or closed",
              (*_SWITCHABLE, "lock", "sensor", "binary_sensor"), "required"),
    IntentDef("climate_set", "HassClimateSetTemperature", "set the heating to a temperature", ("climate",),
              "optional"),
    IntentDef("climate_get", "HassClimateGetTemperature", "ask how warm it is", ("climate",), "optional"),
    IntentDef("timer", "HassStartTimer", "start a timer, remind or wake me in some time"),
    IntentDef("timer_cancel", "HassCancelTimer", "cancel or stop the timer"),
    IntentDef("time", "HassGetCurrentTime", "any question about the current time or hour"),
    IntentDef("date", "HassGetCurrentDate", "any question about today's date or day"),
    IntentDef("pause", "HassMediaPause", "pause or stop the music", ("media_player",), "optional"),
    IntentDef("resume", "HassMediaUnpause", "resume or continue the music", ("media_player",), "optional"),
    IntentDef("next", "HassMediaNext", "skip to the next song", ("media_player",), "optional"),
    IntentDef("volume", "HassSetVolume", "set the music volume (0-100)", ("media_player",), "optional"),
    IntentDef("list_add", "HassListAddItem", "add something to buy to a list", ("todo",), "optional"),
    IntentDef("nevermind", "HassNevermind", "the user cancels or takes back what they just asked"),
    IntentDef("other", None, "anything else: general questions, jokes, chit-chat (you answer it later)"),
    IntentDef("clarify", None, "it is unclear which device is meant"),
)
BY_KEY: dict[str, IntentDef] = {d.key: d for d in INTENTS}
BY_HASS: dict[str, IntentDef] = {d.hass: d for d in INTENTS if d.hass}

SLOT_NAMES = {"volume": "volume_level"}
"""Answer keys that are Home Assistant slots under another name."""
TIMER_UNITS = ("hours", "minutes", "seconds")


# ------------------------------------------------------------------------------------------------------------------
# The shape of an answer
# ------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    """One key of an answer object."""

    key: str
    kind: Literal["enum", "int", "text"]
    values: tuple[str, ...] = ()
    """For enum: the allowed strings."""
    lo: int = 0
    hi: int = 0
    """For int: the inclusive range; for text: hi is the longest length."""
    optional: bool = False

    def accepts(self, value: Any, *, ranges: bool = True) -> bool:
        if self.kind == "enum":
            return isinstance(value, str) and value in self.values
        if self.kind == "int":
            return isinstance(value, int) and not isinstance(value, bool) and (
                not ranges or self.lo <= value <= self.hi
            )
        return isinstance(value, str) and 1 <= len(value) <= self.hi and '"' not in value and "\\" not in value


@dataclass(frozen=True)
class Variant:
    """One allowed answer shape: an intent key and its keys in order."""

    intent: str
    props: tuple[Prop, ...] = ()

    def accepts(self, obj: dict[str, Any], *, ranges: bool = True) -> bool:
        """Whether obj has this shape; ranges=False ignores the numbers' ranges."""
        keys = [k for k in obj if k != "intent"]
        order = [p.key for p in self.props if p.key in obj]
        if obj.get("intent") != self.intent or keys != order:
            return False
        return all(p.accepts(obj[p.key], ranges=ranges) for p in self.props if p.key in obj) and all(
            p.key in obj for p in self.props if not p.optional
        )


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
    """The intents that make sense for this home: those acting on devices need a device of their domains."""
    domains = {e.domain for e in home.entities}
    return [d for d in INTENTS if d.target == "none" or domains & set(d.domains)]


def variants(home: Home) -> list[Variant]:
    """Every answer shape for this home, one or more per intent."""
    areas = tuple(home.areas)
    out: list[Variant] = []
    for d in available_intents(home):
        name = Prop("name", "enum", tuple(entity_names(home, d.domains)))
        domains = tuple(sorted({e.domain for e in home.entities if e.domain in d.domains}))
        area = (Prop("area", "enum", areas, optional=True),) if areas else ()
        if d.key in ("turn_on", "turn_off", "get_state"):
            out += [Variant(d.key, (name,)), Variant(d.key, (*area, Prop("domain", "enum", domains)))]
        elif d.key == "set_light":
            for value in (Prop("brightness", "int", lo=0, hi=100), Prop("color", "enum", COLORS)):
                out += [Variant(d.key, (name, value))]
                if areas:  # by area, not no target at all: a small model drops the name when it may
                    out.append(Variant(d.key, (Prop("area", "enum", areas), value)))
        elif d.key == "climate_set":
            out.append(Variant(d.key, (_opt(name), Prop("temperature", "int", lo=5, hi=35))))
        elif d.key == "volume":
            out.append(Variant(d.key, (_opt(name), Prop("volume", "int", lo=0, hi=100))))
        elif d.key == "list_add":
            out.append(Variant(d.key, (Prop("item", "text", hi=MAX_ITEM_CHARS), _opt(name))))
        elif d.key == "timer":
            out.append(Variant(d.key, tuple(Prop(u, "int", lo=0, hi=99, optional=True) for u in TIMER_UNITS)))
        elif d.target == "optional":
            out.append(Variant(d.key, (_opt(name), *area)))
        else:
            out.append(Variant(d.key))
    return out


def _opt(p: Prop) -> Prop:
    return Prop(p.key, p.kind, p.values, p.lo, p.hi, optional=True)


def matching_variant(obj: Any, home_variants: Iterable[Variant], *, ranges: bool = True) -> Variant | None:
    """The variant an answer object fits exactly (ranges=False: but for the numbers' ranges), or None."""
    if not isinstance(obj, dict):
        return None
    return next((v for v in home_variants if v.accepts(obj, ranges=ranges)), None)


# ------------------------------------------------------------------------------------------------------------------
# The grammar (llguidance Lark), equivalent to variants(): the text after ANSWER_OPENING
# ------------------------------------------------------------------------------------------------------------------


def _lit(text: str) -> str:
    return json.dumps(text)  # a Lark string literal has JSON's escapes


def output_grammar(home: Home) -> str:
    """Lark grammar of everything the model may write after ANSWER_OPENING."""
    rules: list[str] = []
    terminals: dict[tuple[str, ...], str] = {}

    def terminal(values: tuple[str, ...]) -> str:
        if values not in terminals:
            terminals[values] = f"E{len(terminals)}"
        return terminals[values]

    alts = []
    for i, v in enumerate(variants(home)):
        parts = [_lit(v.intent + '"')]
        for p in v.props:
            if p.kind == "enum":
                piece = f'{_lit(f",{json.dumps(p.key)}:")} "\\"" {terminal(p.values)} "\\""'
            elif p.kind == "int":
                # Any number, not just the range: "250 percent" must not come out as a plausible 25. The
                # range is checked after decoding, so the reply can say what is wrong.
                piece = f"{_lit(f',{json.dumps(p.key)}:')} /(0|[1-9][0-9]{{0,2}})/"
            else:
                piece = f'{_lit(f",{json.dumps(p.key)}:")} "\\"" /[^"\\\\\\x00-\\x1f]{{1,{p.hi}}}/ "\\""'
            parts.append(f"({piece})?" if p.optional else piece)
        parts.append('"}"')
        rules.append(f"v{i}: " + " ".join(parts))
        alts.append(f"v{i}")
    lines = ["start: " + " | ".join(alts), *rules]
    for values, name in terminals.items():
        lines.append(f"{name}: " + " | ".join(_lit(s) for s in values))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------------------
# The prompt
# ------------------------------------------------------------------------------------------------------------------


def system_prompt(home: Home) -> str:
    """The instructions: intents with their keys, then the home's devices and areas."""
    lines = [
        "You are the voice assistant of a smart home. Turn what the user says into one JSON object.",
        "Intents:",
    ]
    for d in available_intents(home):
        lines.append(f"- {d.key}: {d.doc}")
    lines.append('Name a device with "name" (exactly as listed), or all devices of a kind with "domain" '
                 '(and "area").')
    lines.append("Devices (name: domain, area):")
    for e in home.entities:
        aliases = f" (or {', '.join(e.aliases)})" if e.aliases else ""
        lines.append(f"- {e.name}{aliases}: {e.domain}" + (f", {e.area}" if e.area else ""))
    if home.areas:
        lines.append("Areas: " + ", ".join(home.areas) + ".")
    if home.satellite_area:
        lines.append(f'You are in the {home.satellite_area}: "here" needs no area.')
    return "\n".join(lines)


@dataclass(frozen=True)
class Example:
    """A few-shot example: what the user says and the JSON answer."""

    text: str
    answer: dict[str, Any]


def _first(home: Home, domain: str, *, skip: Entity | None = None) -> Entity | None:
    return next((e for e in home.entities if e.domain == domain and e is not skip), None)


def examples(home: Home) -> list[Example]:
    """Few-shot examples with this home's names (an example is left out when the home lacks its device)."""
    out: list[Example] = []

    def add(text: str, **answer: Any) -> None:
        out.append(Example(text, answer))

    light = _first(home, "light")
    light2 = _first(home, "light", skip=light) if light else None
    switch, fan, cover = _first(home, "switch"), _first(home, "fan"), _first(home, "cover")
    if light2 is not None:
        add(f"could you get the {light2.name} going", intent="turn_on", name=light2.name)
    if light is not None and light.area:
        add(f"lights out in the {light.area} please", intent="turn_off", area=light.area, domain="light")
        add(f"make the {light.name} dimmer, like thirty percent", intent="set_light", name=light.name,
            brightness=30)
        add(f"i want the {light.area} lights green", intent="set_light", area=light.area, color="green")
    if light is not None:
        add("it's a bit gloomy in here", intent="turn_on", domain="light")
    if light2 is not None and light2.area:
        add(f"i can't see a thing in the {light2.area}", intent="turn_on", area=light2.area, domain="light")
        add(f"make the {light2.name} blue", intent="set_light", name=light2.name, color="blue")
    if switch is not None:
        add(f"get the {switch.name} started", intent="turn_on", name=switch.name)
        add(f"no need for the {switch.name} anymore", intent="turn_off", name=switch.name)
    if fan is not None:
        add(f"get some air moving with the {fan.name}", intent="turn_on", name=fan.name)
    if cover is not None:
        add(f"pull the {cover.name} down", intent="turn_off", name=cover.name)
        add(f"did somebody leave the {cover.name} open?", intent="get_state", name=cover.name)
    if light2 is not None:
        add(f"is the {light2.name} on or off", intent="get_state", name=light2.name)
    if _first(home, "climate") is not None:
        add("i'm freezing, bump it up to twenty three degrees", intent="climate_set", temperature=23)
        add("how warm is it in the house", intent="climate_get")
    add("three minute timer for the eggs", intent="timer", minutes=3)
    add("give me a shout in an hour and a half", intent="timer", hours=1, minutes=30)
    add("buzz me in 30 seconds", intent="timer", seconds=30)
    add("forget the countdown", intent="timer_cancel")
    add("what o'clock is it", intent="time")
    add("tell me today's date", intent="date")
    add("which day is it today", intent="date")
    if _first(home, "media_player") is not None:
        add("hold the music a sec", intent="pause")
        add("carry on with the song", intent="resume")
        add("skip this one, it's awful", intent="next")
        add("music at forty percent", intent="volume", volume=40)
    todo = _first(home, "todo")
    if todo is not None:
        add("we're out of eggs", intent="list_add", item="eggs", name=todo.name)
        add("put dish soap on the list", intent="list_add", item="dish soap", name=todo.name)
    add("oh forget it", intent="nevermind")
    add("stop, i didn't mean that", intent="nevermind")
    add("who wrote hamlet", intent="other")
    add("how are you today", intent="other")
    # add("switch on the sprinklers", intent="clarify")
    # add("turn it on", intent="clarify")
    return out


def compact(answer: dict[str, Any]) -> str:
    """JSON as the model writes it: no whitespace."""
    return json.dumps(answer, separators=(",", ":"), ensure_ascii=False)


def turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def user_turn(text: str) -> str:
    """One turn: the user's words, then the assistant's header and the answer's fixed opening."""
    return turn("user", text) + "<|im_start|>assistant\n" + ANSWER_OPENING


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


def chat_turn(text: str) -> str:
    return turn("user", text) + "<|im_start|>assistant\n"
