"""Turn an intent's name/area/domain/device_class slots into entity ids of the home, as Home Assistant does.

- A name picks the entities with that name or alias (HA matches by name, not id, because two entities
  may share a name); an area narrows them; a tie is broken by the satellite's area.
- No name: every entity of the domain (and cover device class) in the area.
- The area comes from the slots. The templates tier already copies the satellite area into the slots
  where HA's templates want it ("turn on the lights"); the language-model tier passes
  area_fallback=home.satellite_area to get the same behaviour.
A target that cannot be found gives an honest sentence in Resolution.problem instead of ids; several devices
for one name give a question that names them.

Names and areas that are not exactly the home's (the language model passes on the words the user said) are
matched by names.py: "bed room" is the bedroom, "coffee" the coffee maker, "the wemo plug socket" the wemo plug.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from . import names
from .intents import QUERIES, TARGETLESS, default_domain
from .model import Entity, Home
from .replies import device_class_noun, domain_noun, on_floor, which_of


@dataclass(frozen=True)
class Resolution:
    """The entities an intent targets, or why there are none."""

    entity_ids: tuple[str, ...] = ()
    """Sorted entity ids."""
    problem: str | None = None
    """A short spoken sentence when the target cannot be found ("Sorry, there is no light in the garage.")."""


def resolve(
    intent_name: str,
    slots: Mapping[str, Any],
    home: Home,
    *,
    domains: Collection[str] | None = None,
    area_fallback: str | None = None,
) -> Resolution:
    """Resolve an intent's target slots to entity ids of the home.

    domains: the domains a name may belong to (the matched template's requires_context), None: any.
    area_fallback: area to use when the slots name neither an entity nor an area (the satellite's area).
    """
    if intent_name in TARGETLESS:
        if intent_name == "HassShoppingListAddItem":
            # HA's shopping list integration; act on a todo list called "shopping list" when there is one.
            return Resolution(_ids(e for e in home.entities if e.domain == "todo" and _has_name(e, "shopping list")))
        return Resolution()

    areas = _areas(home, slots.get("area"))
    if isinstance(areas, str) and not slots.get("floor") and _canonical_floor(home, slots["area"]):
        slots = {**slots, "floor": slots["area"], "area": None}  # "the temperature upstairs": a floor, said as a place
        areas = ()
    if isinstance(areas, str):
        return Resolution(problem=areas)
    area = areas[0] if len(areas) == 1 else None
    floor = _canonical_floor(home, slots.get("floor"))
    if slots.get("floor") and floor is None:
        return Resolution(problem=_which_floor(home, str(slots["floor"])))
    if area and floor and home.floor_of(area) != floor:
        return Resolution(problem=f"Sorry, the {area} is not {on_floor(floor)}.")
    # A floor stands for its areas, and so does a plural the home has several of ("the bedrooms"); an area (or the
    # satellite's, below) narrows further.
    floor_areas = set(home.areas_on(floor)) if floor and not area else set(areas) if len(areas) > 1 else None

    name = slots.get("name")
    domain = slots.get("domain")
    if name:
        return _by_name(home, str(name), area, domain=domain, domains=domains, floor=floor, floor_areas=floor_areas,
                        query=intent_name in QUERIES)

    domain = domain or default_domain(intent_name)
    if not domain:
        return Resolution(problem="Sorry, I don't know which device you mean.")
    if floor_areas is None:
        area = area or _canonical_area(home, area_fallback)
    device_class = slots.get("device_class")
    found = [e for e in home.entities if e.domain == domain]
    if device_class:
        found = [e for e in found if _has_device_class(e, str(device_class))]
    if area:
        found = [e for e in found if e.area == area]
    elif floor_areas is not None:
        found = [e for e in found if e.area in floor_areas]
    if not found and area and not slots.get("area") and floor_areas is None:
        # "turn off the fan" where the satellite stands has none: the home's only one is the one meant.
        only = [e for e in home.entities if e.domain == domain
                and (not device_class or _has_device_class(e, str(device_class)))]
        found = only if len(only) == 1 else []
    if not found and intent_name == "HassClimateGetTemperature" and not slots.get("domain"):
        # No thermostat there: a temperature sensor answers "what's the temperature in the bedroom" as well.
        found = [e for e in home.entities if e.domain == "sensor" and e.device_class == "temperature"
                 and (e.area == area if area else floor_areas is None or e.area in floor_areas)]
    if found:
        return Resolution(_ids(found))
    noun = device_class_noun(str(device_class)) if device_class else domain_noun(str(domain))
    where = f" in the {area}" if area else f" {on_floor(floor)}" if floor else (
        f" in the {slots['area']}" if floor_areas else "")
    return Resolution(problem=f"Sorry, there is no {noun}{where}.")


def _by_name(home: Home, name: str, area: str | None, *, domain: Any, domains: Collection[str] | None,
             floor: str | None = None, floor_areas: set[str] | None = None,
             area_set: frozenset[str] = frozenset(), query: bool = False) -> Resolution:
    area_set = area_set or (frozenset({area}) if area else frozenset())
    found = [e for e in home.entities if _has_name(e, name)]
    if domain:
        found = [e for e in found if e.domain == domain]
    if domains is not None:
        found = [e for e in found if e.domain in domains]
    if not found:
        found = _spoken_name(home, name, domain=domain, domains=domains)
    # A domain the answer named is never dropped: "lock the door" with no lock is not the garage door.
    if not found and domain and not any(e.domain == domain for e in home.entities):
        return Resolution(problem=f"Sorry, there is no {domain_noun(str(domain))} here.")
    if not found and domain and query:
        found = [e for e in home.entities if _has_name(e, name)] or _spoken_name(home, name, domain=None,
                                                                                 domains=domains)
    if not found and domain and (named := [e for e in home.entities if _has_name(e, name)]
                                 or _spoken_name(home, name, domain=None, domains=domains)):
        what = f"the {named[0].name}" if len(named) == 1 else f"the {name}"
        return Resolution(problem=f"Sorry, I'm not sure what you want me to do with {what}.")
    if not found:
        kind = "list" if domains is not None and set(domains) <= {"todo"} else "device"
        return Resolution(problem=f"Sorry, I don't know a {kind} called {name}.")
    if area:
        found = [e for e in found if e.area in area_set]
        if not found:
            return Resolution(problem=f"Sorry, there is no {name} in the {area}.")
    elif floor_areas is not None:
        found = [e for e in found if e.area in floor_areas]
        if not found:
            return Resolution(problem=f"Sorry, there is no {name} {on_floor(floor or '')}.")
    if len(found) > 1 and (not names.is_plural(name) or not _names_a_place(home, name)):
        # Several entities share the name ("the blinds"): prefer the ones in the room the satellite stands in.
        here = [e for e in found if e.area is not None and e.area == home.satellite_area]
        found = here or found
    if len(found) > 1 and not names.is_plural(name):
        return Resolution(problem=_which_one(found, name))
    rooms = sorted({e.area for e in found if e.area})
    if len(rooms) > 1 and not area_set and floor_areas is None and not _names_a_place(home, name):
        # "open the blinds" with blinds in two rooms and none where the satellite stands: which room? A few
        # devices whose names do not say their room are named instead: "lock the doors" asks which lock.
        if 2 <= len(found) <= 4 and any(e.area and e.area.casefold() not in e.name.casefold() for e in found):
            return Resolution(problem=which_of(found))
        return Resolution(problem="Which room do you mean: " + _or(rooms) + "?")
    return Resolution(_ids(found))


def _spoken_name(home: Home, name: str, *, domain: Any, domains: Collection[str] | None) -> list[Entity]:
    """No exact name: the entities the spoken words mean (names.py: "coffee" -> the coffee maker, "kitchen
    lights" -> the lights in the kitchen), of the allowed domains."""
    pool = [e for e in home.entities if (not domain or e.domain == domain) and (domains is None or e.domain in domains)]
    match = names.match_entities(home, name, pool)
    if match.entities:
        return list(match.entities)
    split = names.area_and_noun(home, name)
    if split is not None:
        area, noun_domain = split
        return [e for e in pool if e.domain == noun_domain and e.area == area]
    said = names.words(name)  # "the upstairs lights": a floor and a device noun
    if len(said) >= 2 and said[-1] in names.NOUN_DOMAINS and (floor := _canonical_floor(home, " ".join(said[:-1]))):
        on_it = set(home.areas_on(floor))
        return [e for e in pool if e.domain == names.NOUN_DOMAINS[said[-1]] and e.area in on_it]
    return []


def _names_a_place(home: Home, spoken: str) -> bool:
    """Whether the words name an area or a floor ("the upstairs lights", "kitchen lights")."""
    said = names.words(spoken)
    return any(names.match_areas(home, " ".join(said[i:j])) or _canonical_floor(home, " ".join(said[i:j]))
               for i in range(len(said)) for j in range(i + 1, len(said) + 1)
               if not set(said[i:j]) <= set(names.NOUN_DOMAINS))


def _which_one(found: list[Entity], name: str) -> str:
    """A clarifying question that names the candidates (by room where they share a name)."""
    names_of = [" ".join(e.name.split()) for e in found]
    labels = sorted({f"the {n} in the {e.area}" if names_of.count(n) > 1 and e.area else f"the {n}"
                     for n, e in zip(names_of, found, strict=True)})
    if len(labels) < 2 or len(labels) > 4:
        return f"Sorry, there are several devices called {name}. Which one do you mean?"
    return "Which one do you mean: " + ", ".join(labels[:-1]) + f" or {labels[-1]}?"


def _ids(entities: Any) -> tuple[str, ...]:
    return tuple(sorted({e.id for e in entities}))


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _has_name(entity: Entity, name: str) -> bool:
    wanted = _norm(name)
    wanted = wanted.removeprefix("the ")
    return any(_norm(n) == wanted for n in entity.names)


def _canonical_exact_area(home: Home, area: Any) -> str | None:
    """The home's spelling of an area name or alias (slots may differ in case), or None."""
    wanted = _norm(str(area)).removeprefix("the ")
    found = next((a for a in home.areas if _norm(a) == wanted), None)
    return found or next((a for alias, a in home.area_aliases if _norm(alias) == wanted), None)


def _canonical_area(home: Home, area: Any) -> str | None:
    """The one area the words mean (exactly, or spoken: "bed room", "hall"), or None."""
    if not area:
        return None
    return _canonical_exact_area(home, area) or names.match_area(home, str(area))


def _areas(home: Home, spoken: Any) -> tuple[str, ...] | str:
    """The areas the words name: one, every one a plural names ("the bedrooms" with Bedroom 1 and 2), () for none
    said; or the sentence to say when that is unclear ("Which bedroom do you mean: ...?") or unknown."""
    if not spoken:
        return ()
    exact = _canonical_exact_area(home, spoken)
    if exact:
        return (exact,)
    found = names.match_areas(home, str(spoken))
    if len(found) == 1 or (found and names.is_plural(str(spoken))):
        return found
    if found:
        return f"Which {spoken} do you mean: " + _or(found) + "?"
    return f"Sorry, I don't know an area called {spoken}."


def _or(items: Collection[str]) -> str:
    items = sorted(items)
    return ", ".join(f"the {i}" for i in items[:-1]) + f" or the {items[-1]}" if len(items) > 1 else f"the {items[0]}"


_UP = frozenset({"upstairs", "upstair", "up stairs", "up stair", "top floor", "upper floor"})
_DOWN = frozenset({"downstairs", "downstair", "down stairs", "down stair", "ground floor", "bottom floor",
                   "lower floor", "main floor"})
FLOOR_WORDS = frozenset(w for said in _UP | _DOWN for w in said.split())
"""Every word people name a floor with ("up", "stairs", "ground", ...)."""


def floor_said(home: Home, said: str) -> str | None:
    """The one floor of the home the words name ("the temperature upstairs", "lights on the first floor"), or None."""
    words = f" {' '.join(names.words(said))} "
    found = {f for f in home.floors if f" {' '.join(names.words(f))} " in words}
    found |= {f for w in ("upstairs", "downstairs") if f" {w} " in words and (f := _canonical_floor(home, w))}
    return found.pop() if len(found) == 1 else None


def _canonical_floor(home: Home, floor: Any) -> str | None:
    """The home's floor the words name: its name ("the first floor"), or as people say it: "downstairs" is the
    lowest floor (floors are listed from the ground up, as Home Assistant orders them by level), "upstairs" the one
    above it when the home has just two; None when unknown or unclear."""
    if not floor:
        return None
    wanted = _norm(str(floor)).removeprefix("the ")
    exact = next((f for f in home.floors if _norm(f) == wanted), None)
    if exact or not home.floors:
        return exact
    said = " ".join(names.words(wanted))
    partial = [f for f in home.floors if said and said in " ".join(names.words(f))]
    if len(partial) == 1:
        return partial[0]
    if said in _DOWN or wanted in _DOWN:
        return home.floors[0]
    if (said in _UP or wanted in _UP) and len(home.floors) == 2:
        return home.floors[1]
    return None


def _which_floor(home: Home, spoken: str) -> str:
    said = _norm(spoken).removeprefix("the ")
    if said in _UP and len(home.floors) > 2:
        return "Which floor do you mean: " + _or(home.floors[1:]) + "?"
    return f"Sorry, I don't know a floor called {spoken}."


def _has_device_class(entity: Entity, device_class: str) -> bool:
    if entity.device_class is not None:
        return entity.device_class.casefold() == device_class.casefold()
    # A hand-written home may not record device classes: recognise them in the entity's id and names
    # (cover.garage_door, "garage door" for class garage).
    words = {device_class.casefold(), device_class_noun(device_class).casefold()}
    texts = [entity.id.split(".", 1)[1].replace("_", " ")] + [_norm(n) for n in entity.names]
    return any(w in t for w in words for t in texts)
