"""The home the assistant serves and what the intent tiers produce."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Tier = Literal["template", "slm", "none"]


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity the assistant may act on."""

    id: str
    """Entity id, e.g. light.kitchen_ceiling; the domain is the part before the dot."""
    name: str
    """Spoken name, e.g. "kitchen light"."""
    aliases: tuple[str, ...] = ()
    """Other spoken names."""
    area: str | None = None
    """Area the entity is in."""
    device_class: str | None = None
    """Home Assistant device class (garage, door, temperature, ...); None: not known."""

    @property
    def domain(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Home:
    """The floors, areas and entities of the one home this assistant serves."""

    areas: tuple[str, ...] = ()
    """Area names, e.g. kitchen, bedroom."""
    entities: tuple[Entity, ...] = ()
    """Entities that can be named in commands."""
    satellite_area: str | None = None
    """Area this device stands in: the context for commands that name no area."""
    floors: tuple[str, ...] = ()
    """Floor names, e.g. ground floor, upstairs."""
    area_floors: tuple[tuple[str, str], ...] = ()
    """(area, floor) for each area that is on a known floor."""
    area_aliases: tuple[tuple[str, str], ...] = ()
    """(alias, area): other names of areas."""

    def entity(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def floor_of(self, area: str | None) -> str | None:
        """The floor an area is on, or None."""
        return next((f for a, f in self.area_floors if a == area), None) if area else None

    def areas_on(self, floor: str) -> tuple[str, ...]:
        """The areas on a floor."""
        return tuple(a for a, f in self.area_floors if f == floor)


@dataclass(frozen=True)
class Intent:
    """A recognised Home Assistant intent with its slots resolved to entity ids."""

    name: str
    """Home Assistant intent name, e.g. HassTurnOn."""
    slots: dict[str, Any] = field(default_factory=dict)
    """Slot values by Home Assistant slot name (name, area, domain, brightness, ...)."""
    entity_ids: tuple[str, ...] = ()
    """Entities the intent acts on, resolved from name/area/domain."""


@dataclass(frozen=True)
class Understanding:
    """What the intent tiers made of one transcript."""

    intent: Intent | None
    """The recognised intent, or None for chit-chat, a clarifying question or no understanding."""
    reply: str
    """The sentence to speak."""
    tier: Tier
    """Which tier answered: template, slm, or none."""
    confidence: float | None = None
    """How sure the tier is of the intent and its target, 0-1 (templates: 1); None: not measured."""
    confirm: Understanding | None = None
    """An action the tier is not sure enough of to take: this reply asks "Did you mean ...?", and the action (with
    its own reply) is taken only after a yes."""
    open_question: bool = False
    """No device intent: a question to answer in free text (from sources only: answers.py)."""
    unresolved: bool = False
    """The words were understood but name nothing this home has (the reply says so): a later tier may read them
    better."""


class IntentTier(Protocol):
    """One tier of understanding. Returns None when it cannot handle the text, so the next tier tries."""

    name: str

    def load(self) -> None: ...

    def warm(self) -> None: ...

    def set_home(self, home: Home) -> None:
        """Serve a changed home from the next call on."""
        ...

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding | None: ...


class StreamingReplyTier(IntentTier, Protocol):
    """A tier that can also stream a free-form spoken answer sentence by sentence (the language model)."""

    def stream_reply(self, text: str) -> Iterator[str]: ...
