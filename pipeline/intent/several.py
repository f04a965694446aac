"""Several targets in one sentence: "turn on the kitchen and living room lights", "turn off the fan and the lights".

The answer language and Home Assistant's templates name one target per command, so the sentence is split into one
command per target, each understood and checked on its own, and joined back into one action only when every part
is the same action ("turn on" here and there). A part that cannot be done stops the whole: nothing is done and
the reply says why. Two different actions ("turn off the lights and open the blinds") are asked for one at a time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import names
from .model import Home, Intent, Understanding
from .names import NOUN_DOMAINS
from .replies import ask_first
from .verbs import verb_of, words_of

MAX_PARTS = 4
ONE_AT_A_TIME = "Sorry, I can only do one kind of thing at a time. Please ask for them one after the other."
NOTHING_DONE = "I haven't done anything."

_VERB = re.compile(
    r"^(?P<verb>(?:(?:please|can you|could you|would you|will you|kindly)\s+)*"
    r"(?:turn on|turn off|switch on|switch off|power on|power off|shut off|open|close|shut|lock|unlock|start|stop|"
    r"pause|mute|unmute|dim|brighten|activate|deactivate|kill))\s+(?P<rest>.+)$")
_PARTICLE_LAST = re.compile(r"^(?P<verb>turn|switch|power)\s+(?P<rest>.+?)\s+(?P<particle>on|off)$")
_AND = re.compile(r"\s*,\s*and\s+|\s*,\s*|\s+and\s+|\s+as well as\s+")
_OTHER_PARTICLE = re.compile(r"^(on|off)\s+(.+)$")
_WHERE = re.compile(r"\s(?:in|on|at) (?:the )?[\w' ]+$|\s(?:upstairs|downstairs)$")
_NOT_A_LIST = re.compile(r"\b(timer|minutes?|hours?|seconds?|list|add|put|percent|degrees?)\b")


def split(text: str, home: Home | None = None) -> list[str] | None:
    """One command per target ("turn on the kitchen lights", "turn on the living room lights"), or None when the
    sentence names one target (or is not a command this splits: lists, timers, names with "and" in them)."""
    said = words_of(text)
    if " and " not in f" {said} " and "," not in text or _NOT_A_LIST.search(said):
        return None
    if home is not None and any(" and " in f" {n.casefold()} " for e in home.entities for n in e.names):
        return None
    particle = ""
    if (m := _VERB.match(said)) is not None:
        verb, rest = m.group("verb"), m.group("rest")
    elif (m := _PARTICLE_LAST.match(said)) is not None:
        verb, rest, particle = m.group("verb"), m.group("rest"), m.group("particle")
    else:
        return None
    parts = [p for p in _AND.split(rest) if p]
    if not 2 <= len(parts) <= MAX_PARTS:
        return None
    noun = _last_noun(parts[-1])
    where = _WHERE.search(parts[-1])
    if where is not None and _WHERE.search(" ".join(parts[:-1])) is None:
        # "the fan and the lights in bedroom 1": the place said last is every part's
        parts = [f"{p} {where.group(0).strip()}" for p in parts[:-1]] + [parts[-1]]
        noun = _last_noun(parts[-1][: where.start()].strip() or parts[-1])
    first_where = _WHERE.search(parts[0])
    if first_where is not None and home is not None:
        # "the lights in the kitchen and the living room": later bare places take the first part's device
        device = parts[0][: first_where.start()].strip()
        parts = [parts[0]] + [f"{device} in {p}" if _only_an_area(home, p) else p for p in parts[1:]]
    commands = []
    for part in parts:
        if verb_of(part) is not None:  # "... and open the blinds": a command of its own
            commands.append(part)
            continue
        if (flip := _OTHER_PARTICLE.match(part)) is not None and " " in verb:
            # "switch on the kitchen light and off the office light": the second part has its own particle
            commands.append(f"{verb.split()[-2]} {flip.group(1)} {flip.group(2)}")
            continue
        if noun and _last_noun(part) is None and home is not None and _only_an_area(home, part):
            part = f"{part} {noun}"  # "the kitchen and living room lights": the noun is shared
        commands.append(f"{verb} {part} {particle}".strip())
    return commands


def _only_an_area(home: Home, part: str) -> bool:
    """Whether the words name an area of the home and no device ("the kitchen", not "the coffee maker")."""
    return bool(names.match_areas(home, part)) and names.match_entities(home, part).score < 1.0


def _last_noun(part: str) -> str | None:
    last = part.split()[-1]
    singular = last[:-1] if last.endswith("s") else last
    return last if last in NOUN_DOMAINS or singular in NOUN_DOMAINS else None


def combine(parts: Sequence[Understanding], home: Home, *, said: Sequence[str] = ()) -> Understanding:
    """One understanding for the whole sentence: the parts' one action on all their targets, else why not. said:
    the parts' words; two verbs that differ ("open the garage door and turn on the lights") are two actions even
    where Home Assistant names both HassTurnOn."""
    tier = parts[0].tier
    for u in parts:
        if u.intent is None and u.confirm is None:
            reply = u.reply if u.reply.rstrip().endswith("?") else f"{u.reply} {NOTHING_DONE}"
            return Understanding(None, reply, u.tier, confidence=u.confidence)
    actions = [u.intent or u.confirm.intent for u in parts if (u.intent or (u.confirm and u.confirm.intent))]
    verbs = {v.action for p in said if (v := verb_of(p)) is not None}
    if len(actions) != len(parts) or len({a.name for a in actions}) != 1 or len(verbs) > 1:
        return Understanding(None, ONE_AT_A_TIME, tier)
    first = actions[0]
    slots = {k: v for k, v in first.slots.items() if k not in ("name", "area", "floor")}
    ids = tuple(sorted({i for a in actions for i in a.entity_ids}))
    merged = Intent(first.name, slots, ids)
    replies = [(u.intent and u.reply) or (u.confirm.reply if u.confirm else "") for u in parts]
    confidence = min((u.confidence for u in parts if u.confidence is not None), default=None)
    whole = Understanding(merged, " ".join(r for r in replies if r), tier, confidence=confidence)
    if any(u.confirm is not None for u in parts):
        return Understanding(None, ask_first(merged, home), tier, confidence=confidence, confirm=whole)
    return whole
