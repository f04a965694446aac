"""Spoken words -> the home's entities and areas, when the words are not exactly a name.

The language model names what the user said ("wemo plug socket", "coffee", "bed room", "hall"); this finds what
the home calls it. Exact names and aliases are resolve.py's first choice; these rules only run when that finds
nothing, and each says how sure it is (`score`). Equal best scores are all returned: the caller asks which one
was meant rather than guess.

Rules, best first: the same words ignoring spaces, articles and plurals ("bed side lamps" = "bedside lamp"); the
home's name inside the spoken words ("the wemo plug socket" contains "wemo plug"); the spoken words inside a name
("coffee" in "coffee maker"); an area's name and a device noun ("kitchen light": the lights in the kitchen).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import Entity, Home

_FILLER = frozenset({"the", "my", "our", "a", "an", "this", "that", "these", "those", "your", "all", "of"})
NOUN_DOMAINS: dict[str, str] = {
    "light": "light", "lamp": "light", "lighting": "light", "bulb": "light",
    "fan": "fan", "speaker": "media_player", "tv": "media_player", "television": "media_player",
    "blind": "cover", "curtain": "cover", "shutter": "cover", "shade": "cover",
    "plug": "switch", "socket": "switch", "outlet": "switch", "heater": "climate", "thermostat": "climate",
    "heating": "climate", "heat": "climate", "ac": "climate", "aircon": "climate", "telly": "media_player",
    "tele": "media_player",
    "vacuum": "vacuum", "lock": "lock", "cleaner": "vacuum", "hoover": "vacuum", "robot": "vacuum",
    "music": "media_player", "stereo": "media_player", "radio": "media_player", "soundbar": "media_player",
    "valve": "valve", "sprinkler": "valve", "tap": "valve", "faucet": "valve",
}
"""Device nouns people use for a whole kind of device ("the kitchen lights")."""
_NUMBERS = {w: str(i) for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                               "nine", "ten", "eleven", "twelve"))}
"""Numbers said as words match the digits a home names rooms and devices with ("bedroom two" = "Bedroom 2")."""
MIN_SCORE = 0.5
GENERIC_PLACES = frozenset({"room", "area", "space", "floor", "house", "home", "place", "flat", "apartment"})


def words(text: str) -> list[str]:
    """Lower-case words without articles and possessives, each in the singular, numbers as digits ("the bed side
    lamps" -> ["bed", "side", "lamp"], "bedroom two" -> ["bedroom", "2"])."""
    cleaned = "".join(c if c.isalnum() or c == "'" else " " for c in text.casefold())
    said = [w for w in cleaned.split() if w not in _FILLER]
    # A number after a word ("bedroom two") is part of a name; first ("the one light") it is not.
    return [(i and _NUMBERS.get(w)) or _singular(w.removesuffix("'s")) for i, w in enumerate(said)]


@functools.lru_cache(maxsize=8)
def home_words(home: Home) -> frozenset[str]:
    """Every word of the home's entity names and aliases, areas, area aliases and floors (cached: the home is the
    same object from one sentence to the next, and a reload makes a new one)."""
    said = [*home.areas, *home.floors, *(a for a, _ in home.area_aliases), *(n for e in home.entities for n in e.names)]
    return frozenset(w for text in said for w in words(text))


@functools.lru_cache(maxsize=8)
def device_words(home: Home) -> frozenset[str]:
    """The words of the home's entity names and aliases that are no words of its areas, area aliases or floors
    ("blind" of "living room blinds"; cached like home_words)."""
    places = {w for p in (*home.areas, *home.floors, *(a for a, _ in home.area_aliases)) for w in words(p)}
    return frozenset(w for e in home.entities for n in e.names for w in words(n)) - places


def _singular(w: str) -> str:
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith(("ches", "shes", "sses", "xes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def is_plural(text: str) -> bool:
    """Whether the last word is a plural ("the blinds", "speakers"): a group, not one device."""
    last = text.casefold().split()[-1:] or [""]
    return _singular(last[0]) != last[0]


def _score(spoken: Sequence[str], name: Sequence[str]) -> float:
    if not spoken or not name:
        return 0.0
    if "".join(spoken) == "".join(name):
        return 1.0
    s, n = set(spoken), set(name)
    if n <= s:  # extra words said: "the wemo plug socket", "desk lamp one"
        return max(MIN_SCORE, 0.9 - 0.1 * len(s - n))
    if s <= n:  # fewer words said: "coffee" for "coffee maker"
        return 0.6 + 0.2 * len(s) / len(n)
    return 0.0


@dataclass(frozen=True)
class Match:
    entities: tuple[Entity, ...]
    score: float


def match_entities(home: Home, spoken: str, candidates: Iterable[Entity] | None = None) -> Match:
    """The entities whose name or alias best fits the spoken words (ties all kept); score 0 when none fits."""
    said = words(spoken)
    best: list[Entity] = []
    top = 0.0
    for e in candidates if candidates is not None else home.entities:
        score = max((_score(said, words(n)) for n in e.names), default=0.0)
        if score < MIN_SCORE or score < top:
            continue
        if score > top:
            best, top = [], score
        best.append(e)
    return Match(tuple(best), top)


def match_area(home: Home, spoken: str) -> str | None:
    """The one area the spoken words mean ("bed room" -> bedroom, "hall" -> hallway), or None."""
    found = match_areas(home, spoken)
    return found[0] if len(found) == 1 else None


def match_areas(home: Home, spoken: str) -> tuple[str, ...]:
    """Every area the spoken words may mean, best first: the one written the same ("bed room" -> bedroom), else
    each whose name holds the words or words they start ("hall" -> hallway; "bedroom" -> Bedroom 1 and Bedroom 2).
    "room" alone names none."""
    said = words(spoken)
    if not said:
        return ()
    names = [(a, words(a)) for a in home.areas] + [(a, words(alias)) for alias, a in home.area_aliases]
    exact = {a for a, w in names if "".join(w) == "".join(said)}
    if exact:
        return tuple(sorted(exact))
    if set(said) <= GENERIC_PLACES:
        return ()
    partial = {a for a, w in names if set(said) <= set(w) or all(any(x.startswith(s) for x in w) for s in said)}
    return tuple(sorted(partial))


def area_and_noun(home: Home, spoken: str) -> tuple[str, str] | None:
    """("kitchen", "light") for "kitchen lights" when the home has that area: an area's name and a device noun."""
    said = words(spoken)
    if len(said) < 2 or said[-1] not in NOUN_DOMAINS:
        return None
    area = match_area(home, " ".join(said[:-1]))
    return (area, NOUN_DOMAINS[said[-1]]) if area else None


def kind_domains(spoken: str) -> set[str]:
    """The domains of the kind of device the words are ("the vacuum" -> {vacuum}); empty when they name none: the
    words must be nothing but a device noun (with its own describing words: "robot vacuum")."""
    said = words(spoken)
    return {NOUN_DOMAINS[said[-1]]} if said and said[-1] in NOUN_DOMAINS and all(
        w in NOUN_DOMAINS for w in said) else set()


def names_a_kind(spoken: str, domains: Iterable[str]) -> bool:
    """Whether the words name a kind of device of these domains ("the vacuum cleaner", "the speakers")."""
    wanted = set(domains)
    return any(NOUN_DOMAINS.get(w) in wanted for w in words(spoken))
