"""Whether an answer's words were said: the language model copies the user's words into its answer, so a name,
an area or a number that is not in the sentence is its invention ("make it warmer" read as an area called "allude
to increase", "turn up the heat" as 100 degrees), and a device the words name in full is what they mean."""

from __future__ import annotations

import re
from typing import Any

from unicode_rbnf import RbnfEngine

from . import names
from . import slm_prompt as sp
from .model import Home
from .verbs import ALLOWED, verb_of

SAID_SLOTS = ("name", "area", "floor", "item", "list")
"""Slots whose words are copied from what the user said."""
NUMBER_SLOTS = ("temperature", "percentage", "position", "level", "brightness", "hours", "minutes", "seconds")
_IMPLIED = {100: ("full", "fully", "max", "maximum", "highest", "all the way", "completely", "loudest", "brightest",
                  "top"), 0: ("zero", "minimum", "lowest", "off", "closed", "quietest", "dimmest"),
            50: ("half", "halfway"), 30: ("half",), 15: ("quarter",), 25: ("quarter",), 1: ("a", "an", "one"),
            2: ("couple",), 90: ("hour and a half",)}
"""Words that say a number without its digits ("full brightness", "halfway", "in an hour")."""
_RBNF = RbnfEngine.for_language("en")


def number_said(n: int, words: str) -> bool:
    """Whether the number is in the words: as digits, in words ("twenty two") or by a word that implies it."""
    if re.search(rf"\b{n}\b", words):
        return True
    spoken = " ".join(_RBNF.format_number(n).text.replace("-", " ").split())
    return re.search(rf"\b{spoken}\b", words) is not None or any(
        re.search(rf"\b{w}\b", words) for w in _IMPLIED.get(n, ()))


def unsaid(answer: sp.Answer, said: str) -> str | None:
    """The first slot the user did not say, or None. Of a slot of words (name, area, ...) at least half must be
    in the sentence, or all of it with the spaces taken out ("bed room" for "bedroom"); a number must be said as
    digits or words ("set the heat to 100" for "turn up the heat" was the model's guess)."""
    heard = set(names.words(said))
    joined = "".join(c for c in said.casefold() if c.isalnum())
    plain = " ".join(re.sub(r"[^\w ]+", " ", said.casefold().replace("-", " ")).split())
    for key in NUMBER_SLOTS:
        value = answer.slots.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and not number_said(value, plain):
            return key
    for key in SAID_SLOTS:
        value = answer.slots.get(key)
        if not isinstance(value, str) or value in WHOLE_HOME_AREAS:
            continue
        words = names.words(value)
        if not words or "".join(c for c in value.casefold() if c.isalnum()) in joined:
            continue
        if 2 * sum(w in heard for w in words) < len(words):
            return key
    return None


def respelled(answer: sp.Answer, said: str) -> sp.Answer:
    """The answer with a word the model misspelt while copying it put back as said ("diswasher" for "dishwasher":
    one letter off a said word of five letters or more, and no other said word as near); anything else as it is."""
    heard = [w for w in re.findall(r"[a-z0-9']+", said.casefold()) if len(w) >= 5]
    slots = dict(answer.slots)
    for key in SAID_SLOTS:
        value = slots.get(key)
        if not isinstance(value, str):
            continue
        fixed = []
        for word in value.split():
            near = {h for h in heard if word not in heard and _one_letter_off(word, h)}
            fixed.append(near.pop() if len(near) == 1 else word)
        slots[key] = " ".join(fixed)
    return answer if slots == answer.slots else sp.Answer(answer.key, slots)


def _one_letter_off(a: str, b: str) -> bool:
    """One letter left out, added or changed."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def says(text: str, domain: str) -> bool:
    """Whether the words name the domain: one of its device nouns, or a verb that acts on it alone ("lock")."""
    if any(names.NOUN_DOMAINS.get(w) == domain for w in names.words(text)):
        return True
    verb = verb_of(text)
    return verb is not None and {d for _, d in ALLOWED[verb.action]} == {domain}


WHOLE_HOME_AREAS = frozenset({sp.ALL_AREAS, "all areas", "all rooms", "every room", "everywhere", "house",
                               "whole house", "entire house", "home", "whole home", "all the rooms"})
"""What the model writes for the whole home besides area=all."""
def named_in_full(home: Home, said: str, domain: Any) -> list[Any]:
    """The devices (of the domain, when one is given) whose whole name or alias is in the words."""
    words = " " + " ".join(names.words(said)) + " "
    return [e for e in home.entities if (not domain or e.domain == domain)
            and any((w := names.words(n)) and f" {' '.join(w)} " in words for n in e.names)]
