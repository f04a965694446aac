"""The words a home's commands are made of, and how well a transcript fits them: the home's names, aliases, areas
and floors and every word of Home Assistant's English sentence templates. Speech-to-text uses it to choose among
Whisper's n best transcripts (pipeline/stt.py); the bench scores transcript confidences with it."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .intent.model import Home

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def spell(n: int) -> str:
    """A whole number 0-999 in words ("forty two"); larger numbers as digits."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell(n % 100))
    return str(n)


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, digits spelled out."""
    text = text.lower().replace("%", " percent ").replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {spell(int(m.group()))} ", text)
    return re.findall(r"[a-z']+", text)


@functools.lru_cache(maxsize=1)
def template_words(language: str = "en") -> frozenset[str]:
    """Every word of Home Assistant's sentence templates and their expansion rules and lists."""
    from home_assistant_intents import get_intents

    found: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, str):
            found.update(re.findall(r"[a-z']+", x.lower()))
        elif isinstance(x, Mapping):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, Iterable):
            for v in x:
                walk(v)

    walk(get_intents(language) or {})
    return frozenset(found)


def home_vocabulary(home: Home) -> frozenset[str]:
    """The words a command to this home is made of: names, aliases, areas, floors and the templates' words."""
    names = [n for e in home.entities for n in e.names] + list(home.areas) + list(home.floors)
    names += [a for a, _ in home.area_aliases]
    return template_words() | {w for n in names for w in words(n)}


def home_fit(transcript: str, vocabulary: frozenset[str]) -> float:
    """The share of the transcript's words that are in the vocabulary (0 for no words)."""
    ws = words(transcript)
    return sum(w in vocabulary for w in ws) / len(ws) if ws else 0.0
