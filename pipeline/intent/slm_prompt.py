"""What the fine-tuned language model reads and writes: the prompt, the answer language and its grammar.

The model is fine-tuned (models/tune) to turn a command into one short line in a small answer language, e.g.

    off|domain=light|area=bed room        "can you please turn off the light of my bed room"
    light|area=all|color=blue             "make every light in the house blue"
    on|name=coffee                        "brew some coffee"
    volume|step=up                        "turn the sound up"
    answer                                "what is a fjord"      (an open question: answered in free text)
    ignore                                "my sister is coming over tomorrow"   (not meant for the assistant)

The first word is the intent (ANSWERS, each mapped to a Home Assistant intent), then `|key=value` slots in a fixed
order. Targets are the words the user said (name, area, floor) or a domain; `area=all` is the whole home. The
model never sees the home: code (resolve.py) turns the words into entities, so one fine-tune serves every home
and a device the home lacks gets an honest "I don't know a device called ..." instead of a guess.

Decoding is constrained by `GRAMMAR` (llguidance Lark): only these intents and slots can come out, numbers are
digits, words are lower-case letters. The prompt is ChatML (<|im_start|>role ... <|im_end|>), which both catalog
models (Qwen2.5, SmolLM2) use: a short fixed system line (the cached prefix: `intent_prefix()`), then the user's
words normalised by `normalize()` exactly as in training.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "warm white", "cold white")
"""Light colours the model may set (Home Assistant's colour names)."""
DOMAINS = ("light", "switch", "fan", "cover", "lock", "media_player", "vacuum", "climate", "valve", "todo",
           "sensor", "binary_sensor", "input_boolean")
"""Domains the model may name for "the lights", "the fans", ..."""
STATES = ("on", "off", "open", "closed", "locked", "unlocked")
ALL_AREAS = "all"
"""area=all: the whole home ("all the lights", "every light in the house")."""
MAX_WORDS = 40
"""Longest value of a words slot (name, area, item)."""
MAX_INPUT_WORDS = 40
"""The user's words are cut to this many words (a spoken command is a sentence or two)."""

SYSTEM = "Smart home command to intent."
"""The whole system prompt: the fine-tune needs no instructions, only a fixed marker of the task."""

Kind = Literal["words", "int", "enum"]


@dataclass(frozen=True)
class Slot:
    """One key of the answer language."""

    key: str
    kind: Kind
    values: tuple[str, ...] = ()
    """enum: the allowed values; int: extra words allowed besides digits (up, down)."""
    hass: str = ""
    """Home Assistant slot name ('' : the same as key)."""

    @property
    def slot_name(self) -> str:
        return self.hass or self.key


SLOTS: dict[str, Slot] = {s.key: s for s in (
    Slot("name", "words"),
    Slot("area", "words"),
    Slot("floor", "words"),
    Slot("domain", "enum", DOMAINS),
    Slot("brightness", "int", ("up", "down")),
    Slot("color", "enum", COLORS),
    Slot("state", "enum", STATES),
    Slot("temperature", "int"),
    Slot("percentage", "int"),
    Slot("position", "int"),
    Slot("level", "int", hass="volume_level"),
    Slot("step", "enum", ("up", "down"), hass="volume_step"),
    Slot("item", "words"),
    Slot("list", "words", hass="name"),
    Slot("hours", "int"),
    Slot("minutes", "int"),
    Slot("seconds", "int"),
)}
TARGET = ("name", "area", "floor", "domain")


@dataclass(frozen=True)
class AnswerDef:
    """One intent of the answer language."""

    key: str
    """What the model writes first (off)."""
    hass: str | None
    """Home Assistant intent (HassTurnOff); None for answer and ignore."""
    slots: tuple[str, ...] = ()
    """Keys it may carry, in the order they must come."""
    one_of: tuple[str, ...] = ()
    """Exactly one of these keys is required (a value to set)."""
    hass_by_slot: Mapping[str, str] = field(default_factory=dict)
    """Another Home Assistant intent when this key is present (volume|step=up: HassSetVolumeRelative)."""


ANSWERS: tuple[AnswerDef, ...] = (
    AnswerDef("on", "HassTurnOn", TARGET),
    AnswerDef("off", "HassTurnOff", TARGET),
    AnswerDef("light", "HassLightSet", ("name", "area", "floor", "brightness", "color"), ("brightness", "color")),
    AnswerDef("state", "HassGetState", (*TARGET, "state")),
    AnswerDef("temperature", "HassClimateGetTemperature", ("name", "area")),
    AnswerDef("set_temperature", "HassClimateSetTemperature", ("name", "area", "temperature"), ("temperature",)),
    AnswerDef("fan_speed", "HassFanSetSpeed", ("name", "area", "percentage"), ("percentage",)),
    AnswerDef("position", "HassSetPosition", ("name", "area", "position"), ("position",)),
    AnswerDef("pause", "HassMediaPause", ("name", "area")),
    AnswerDef("resume", "HassMediaUnpause", ("name", "area")),
    AnswerDef("next", "HassMediaNext", ("name", "area")),
    AnswerDef("previous", "HassMediaPrevious", ("name", "area")),
    AnswerDef("mute", "HassMediaPlayerMute", ("name", "area")),
    AnswerDef("unmute", "HassMediaPlayerUnmute", ("name", "area")),
    AnswerDef("volume", "HassSetVolume", ("name", "area", "level", "step"), ("level", "step"),
              {"step": "HassSetVolumeRelative"}),
    AnswerDef("vacuum", "HassVacuumStart", ("name", "area")),
    AnswerDef("dock", "HassVacuumReturnToBase", ("name",)),
    AnswerDef("add", "HassListAddItem", ("item", "list"), ("item",)),
    AnswerDef("timer", "HassStartTimer", ("hours", "minutes", "seconds")),
    AnswerDef("cancel_timer", "HassCancelTimer"),
    AnswerDef("cancel_all_timers", "HassCancelAllTimers"),
    AnswerDef("clock", "HassGetCurrentTime"),
    AnswerDef("date", "HassGetCurrentDate"),
    AnswerDef("nevermind", "HassNevermind"),
    AnswerDef("answer", None),
    AnswerDef("ignore", None),
)
BY_KEY: dict[str, AnswerDef] = {a.key: a for a in ANSWERS}
OPEN_QUESTION, NOT_FOR_ME = "answer", "ignore"


# ------------------------------------------------------------------------------------------------------------------
# Answers: parse and write
# ------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One parsed answer: the intent key and its slots (words as written, numbers as int)."""

    key: str
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def definition(self) -> AnswerDef:
        return BY_KEY[self.key]

    @property
    def hass(self) -> str | None:
        """The Home Assistant intent this answer means."""
        d = self.definition
        return next((h for k, h in d.hass_by_slot.items() if k in self.slots), d.hass)

    def hass_slots(self) -> dict[str, Any]:
        """Slots under Home Assistant's names (brightness up/down becomes brightness_step)."""
        out: dict[str, Any] = {}
        for k, v in self.slots.items():
            if k == "brightness" and isinstance(v, str):
                out["brightness_step"] = v
            else:
                out[SLOTS[k].slot_name] = v
        return out


class AnswerError(ValueError):
    """The text is not an answer of the answer language."""


_WORDS = re.compile(r"[a-z0-9][a-z0-9' -]*")


def parse(text: str) -> Answer:
    """The Answer a line of the answer language means; raises AnswerError for anything else."""
    parts = text.strip().split("|")
    key = parts[0]
    d = BY_KEY.get(key)
    if d is None:
        raise AnswerError(f"unknown intent {key!r}")
    slots: dict[str, Any] = {}
    order = -1
    for part in parts[1:]:
        k, eq, v = part.partition("=")
        if not eq or k not in d.slots:
            raise AnswerError(f"{key} takes no {k!r}")
        if d.slots.index(k) <= order:
            raise AnswerError(f"{k} is out of order or repeated")
        order = d.slots.index(k)
        slots[k] = _value(SLOTS[k], v.strip())
    present = [k for k in d.one_of if k in slots]
    if d.one_of and len(present) != 1:
        raise AnswerError(f"{key} needs exactly one of {', '.join(d.one_of)}")
    return Answer(key, slots)


def _value(slot: Slot, v: str) -> Any:
    if slot.kind == "int":
        if v.isdigit() and len(v) <= 3:
            return int(v)
        if v in slot.values:
            return v
        raise AnswerError(f"{slot.key}={v!r}: not a number")
    if slot.kind == "enum":
        if v not in slot.values:
            raise AnswerError(f"{slot.key}={v!r}: not one of {', '.join(slot.values)}")
        return v
    v = " ".join(v.split())
    if not _WORDS.fullmatch(v) or len(v) > MAX_WORDS:
        raise AnswerError(f"{slot.key}={v!r}: not plain words")
    return v


def write(key: str, **slots: Any) -> str:
    """The answer line for an intent key and slots (the slots' order is the language's, whatever the call's)."""
    d = BY_KEY[key]
    parts = [key]
    for k in d.slots:
        if slots.get(k) is not None and slots.get(k) != "":
            parts.append(f"{k}={slots[k]}")
    unknown = set(slots) - set(d.slots)
    if unknown:
        raise AnswerError(f"{key} takes no {sorted(unknown)}")
    line = "|".join(parts)
    parse(line)  # what we write is what we read
    return line


# ------------------------------------------------------------------------------------------------------------------
# The grammar (llguidance Lark): exactly the answers parse() accepts
# ------------------------------------------------------------------------------------------------------------------


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _slot_rule(slot: Slot) -> str:
    if slot.kind == "words":
        value = "WORDS"
    elif slot.kind == "int":
        value = " | ".join(["NUMBER", *(_lit(v) for v in slot.values)])
    else:
        value = " | ".join(_lit(v) for v in slot.values)
    return f"{_lit('|' + slot.key + '=')} ({value})"


def _grammar() -> str:
    lines: list[str] = []
    alts = []
    for i, d in enumerate(ANSWERS):
        parts = [_lit(d.key)]
        if d.one_of:
            # Keys before the required choice, the choice, keys after it: each optional key stays in order.
            first = min(d.slots.index(k) for k in d.one_of)
            last = max(d.slots.index(k) for k in d.one_of)
            parts += [f"s_{k}?" for k in d.slots[:first]]
            parts.append("(" + " | ".join(f"s_{k}" for k in d.one_of) + ")")
            parts += [f"s_{k}?" for k in d.slots[last + 1:] if k not in d.one_of]
        else:
            parts += [f"s_{k}?" for k in d.slots]
        lines.append(f"a{i}: " + " ".join(parts))
        alts.append(f"a{i}")
    lines.insert(0, "start: " + " | ".join(alts))
    for key, slot in SLOTS.items():
        lines.append(f"s_{key}: {_slot_rule(slot)}")
    lines.append(f"WORDS: /[a-z0-9][a-z0-9' -]{{0,{MAX_WORDS - 1}}}/")
    lines.append("NUMBER: /[0-9]{1,3}/")
    return "\n".join(lines) + "\n"


GRAMMAR = _grammar()
"""Lark grammar of every answer (the text after the assistant's header)."""


# ------------------------------------------------------------------------------------------------------------------
# The prompt
# ------------------------------------------------------------------------------------------------------------------

_NOT_SPOKEN = re.compile(r"[^a-z0-9' ]+")
_PERCENT = re.compile(r"(\d)\s*%")
_DEGREES = re.compile(r"(\d)\s*°\s*[cf]?")


def normalize(text: str) -> str:
    """The user's words as the model was trained on them: lower case, digits kept, punctuation gone
    ("Turn the lights to 20%." -> "turn the lights to 20 percent"), at most MAX_INPUT_WORDS words."""
    text = text.replace("’", "'").replace("&", " and ").casefold()
    text = _PERCENT.sub(r"\1 percent", _DEGREES.sub(r"\1 degrees", text))
    text = text.replace("<|", " ")
    words = _NOT_SPOKEN.sub(" ", text).replace(" '", " ").replace("' ", " ").split()
    return " ".join(words[:MAX_INPUT_WORDS])


def turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def intent_prefix() -> str:
    """The cached prefix of the intent generator (the same for every home and every turn)."""
    return turn("system", SYSTEM)


def user_turn(text: str) -> str:
    """One turn after the prefix: the user's words (normalised) and the assistant's header."""
    return turn("user", normalize(text)) + "<|im_start|>assistant\n"


def training_example(text: str, answer: str) -> dict[str, str]:
    """One training example as the model sees it at run time: prompt (not learned) and completion (learned)."""
    return {"prompt": intent_prefix() + user_turn(text), "completion": answer + "<|im_end|>"}


CHAT_SYSTEM = (
    "You are a friendly voice assistant in a smart home. Answer in one or two short spoken sentences: "
    "plain words, no lists, no markdown, no emojis. You cannot control devices here: never say you did."
)


def chat_prefix() -> str:
    """The cached prefix of the free-answer generator."""
    return turn("system", CHAT_SYSTEM)


def chat_turn(text: str) -> str:
    return turn("user", text) + "<|im_start|>assistant\n"
