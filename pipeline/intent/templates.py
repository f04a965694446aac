"""First intent tier: Home Assistant's own English sentence templates, matched with hassil.

Fast (a few milliseconds a sentence) and exact: a transcript either matches a template of the
home-assistant-intents package, filled with this home's entity and area names, or the tier returns None
and the language model tries. Names unknown to the home ("turn on the jacuzzi") match no template,
so a misheard name gets its chance with the language model rather than a flat refusal here.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hassil import Intents, RecognizeResult, TextSlotList, filter_intents, recognize_best
from home_assistant_intents import get_intents

from . import names
from .intents import HOME_ACTIONS
from .model import Home, Intent, Understanding
from .replies import SUPPORTED_INTENTS, StateLookup, reply_for
from .resolve import resolve
from .verbs import add_heard_as_and, command_start

_log = logging.getLogger(__name__)

# Whisper writes what it hears as prose: unify what hassil's own normalisation does not.
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*")  # [BLANK_AUDIO], (music), *laughs*
_DEGREES = re.compile(r"(\d)\s*°\s*[cf]?\b|\bdegrees? (?:celsius|centigrade|fahrenheit)\b", re.IGNORECASE)
_NOTIFY_ME = re.compile(r"(please )?(alert|remind|wake|ping|notify|buzz|call|tell|warn) me( up)?")
"""What HA's delayed-command templates take for a command but is only a timer ("alert me in three hours")."""
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "&": " and "})


_LIST_INTENTS = frozenset({"HassListAddItem", "HassShoppingListAddItem"})


def normalize_transcript(text: str) -> str:
    """Tidy a transcript for template matching.

    hassil already ignores case, punctuation and skip words ("please") and reads "5" and "five" alike;
    this removes Whisper's sound annotations, curly quotes, and "21°C" / "degrees Celsius" spellings
    that the templates do not know. Returns "" when nothing speakable is left.
    """
    text = _ANNOTATION.sub(" ", text.translate(_QUOTES))
    text = _DEGREES.sub(lambda m: f"{m.group(1)} degrees" if m.group(1) else "degrees", text)
    text = " ".join(text.split())
    return text if any(c.isalnum() for c in text) else ""


@dataclass(frozen=True)
class TemplateMatch:
    """What a template matched, before the target is resolved to the home's entities."""

    intent: str
    """Home Assistant intent name."""
    slots: dict[str, Any]
    """Slot values as understand() passes them on (the satellite's area included where the template takes it)."""
    combination: str | None = None
    """Home Assistant's slot combination of the matched sentence block (e.g. floor_domain), when known."""


class TemplateTier:
    """Recognises Home Assistant intents with HA's English sentence templates (hassil).

    load() parses the templates once; understand() then matches a transcript in milliseconds.
    """

    name = "template"

    def __init__(
        self,
        home: Home,
        *,
        language: str = "en",
        clock: Callable[[], datetime] = datetime.now,
        states: StateLookup | None = None,
        intents: Collection[str] = SUPPORTED_INTENTS,
    ) -> None:
        """home: areas, entities and satellite area. clock: local time for time/date replies.
        states: optional entity id -> state lookup for state questions. intents: HA intent names to
        recognise (each needs a reply in replies.py)."""
        if language != "en":
            raise ValueError(f"language {language!r}: only English ('en') replies are implemented")
        unknown = set(intents) - SUPPORTED_INTENTS
        if unknown:
            raise ValueError(f"no replies for intents {sorted(unknown)}; supported: {sorted(SUPPORTED_INTENTS)}")
        self.home = home
        self.language = language
        self._clock = clock
        self._states = states
        self._intent_names = frozenset(intents)
        self._intents: Intents | None = None
        self._slot_lists: dict[str, Any] = {}
        self._context: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None
        """How long load() took (None until loaded)."""

    @property
    def loaded(self) -> bool:
        return self._intents is not None

    def load(self) -> None:
        """Parse HA's templates for this home's domains and build the name/area lists. Later calls do nothing."""
        with self._lock:
            if self._intents is not None:
                return
            start = time.perf_counter()
            data = get_intents(self.language)
            if data is None:
                raise ValueError(f"home-assistant-intents has no sentences for language {self.language!r}")
            intents = _select(Intents.from_dict(data), self._intent_names, _domains(self.home))
            _parse_all(intents)
            self._slot_lists = _slot_lists(self.home)
            self._context = _satellite_context(self.home)
            self._intents = intents
            self.load_seconds = time.perf_counter() - start
            _log.info(
                "templates: %d intents, %d sentence templates loaded in %.2f s",
                len(intents.intents),
                sum(len(d.sentence_texts) for i in intents.intents.values() for d in i.data),
                self.load_seconds,
            )

    def set_home(self, home: Home) -> None:
        """Serve a changed home (Home Assistant's registries changed): new name, area and floor lists at once; the
        sentence templates are selected again only when the home gained or lost a domain. Call it where
        understand() runs (the model worker), not concurrently with it."""
        if home == self.home and self._intents is not None:
            return
        if self._intents is None or _domains(home) != _domains(self.home):
            with self._lock:
                self._intents = None
            self.home = home
            self.load()
            return
        self._slot_lists = _slot_lists(home)
        self._context = _satellite_context(home)
        self.home = home

    def warm(self) -> None:
        """Match a few sentences so first-use costs (regex compilation, indexes) are paid now."""
        self.load()
        names = [e.name for e in self.home.entities]
        for text in ["what time is it", f"turn on the {names[0]}" if names else "turn on the lights"]:
            self._recognize(text)

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding | None:
        """The intent and reply for a transcript, or None when no template matches (a template match is certain:
        transcript_confidence does not change it)."""
        result = self._recognize(text)
        if result is None:
            start, before = command_start(text)
            # Words before the verb count for nothing only when none of them names a place or a device here
            # ("kitchen, turn off the light" is not "turn off the light").
            if before and not set(names.words(before)) & (names.home_words(self.home) - names.GENERIC_PLACES):
                result = self._recognize(start)
        if result is None and add_heard_as_and(text):
            # Whisper hears "add" as "and" ("and milk to my shopping list"): only a list template may take it
            added = self._recognize("add " + text.strip()[4:])
            result = added if added is not None and added.intent.name in _LIST_INTENTS else None
        if result is None:
            return None
        slots = _slots(result)
        if result.intent.name == "HassStartTimer" and slots.get("conversation_command"):
            return self._delayed(slots)
        resolution = resolve(result.intent.name, slots, self.home, domains=_required_domains(result))
        if resolution.problem is not None:
            # Understood but not actionable (no such device there): say so rather than guess.
            return Understanding(intent=None, reply=resolution.problem, tier="template", unresolved=True)
        intent = Intent(name=result.intent.name, slots=slots, entity_ids=resolution.entity_ids)
        reply = reply_for(intent, self.home, now=self._clock(), states=self._states, question=result.response)
        return Understanding(intent=intent, reply=reply, tier="template", confidence=1.0)

    def _delayed(self, slots: dict[str, Any]) -> Understanding:
        """"turn off the lights in 1 hour": a timer that carries the command out when it ends, as Home Assistant
        does. The command must be one this home can do now; it is understood again when the timer ends."""
        command = str(slots["conversation_command"]).strip()
        if _NOTIFY_ME.fullmatch(command.casefold()):  # "alert me in three hours": a plain timer, no command in it
            plain = {k: v for k, v in slots.items() if k != "conversation_command"}
            intent = Intent(name="HassStartTimer", slots=plain)
            return Understanding(intent, reply_for(intent, self.home, now=self._clock()), "template", confidence=1.0)
        inner = self.understand(command)
        if inner is None:
            return Understanding(None, f'Sorry, I don\'t understand "{command}", so I can\'t do it later.',
                                 "template")
        if inner.intent is None:
            return Understanding(None, inner.reply, "template")  # e.g. "Sorry, there is no light in the garage."
        if inner.intent.name not in HOME_ACTIONS:
            return Understanding(None, f'Sorry, I can\'t schedule "{command}".', "template")
        intent = Intent(name="HassStartTimer", slots=slots, entity_ids=inner.intent.entity_ids)
        return Understanding(intent=intent, reply=reply_for(intent, self.home, now=self._clock()), tier="template",
                             confidence=1.0)

    def matches(self, text: str) -> bool:
        """Whether a transcript matches a template (for ending a command early on a speculative transcript)."""
        return self._recognize(text) is not None

    def recognize(self, text: str) -> TemplateMatch | None:
        """The intent and slots a template matched, before they are resolved to entities (for measuring the
        templates against Home Assistant's own tests); None: no template matches."""
        result = self._recognize(text)
        if result is None:
            return None
        combination = (result.intent_metadata or {}).get("slot_combination")
        return TemplateMatch(result.intent.name, _slots(result), str(combination) if combination else None)

    def _recognize(self, text: str) -> RecognizeResult | None:
        if self._intents is None:
            self.load()
        assert self._intents is not None
        text = normalize_transcript(text)
        if not text:
            return None
        return recognize_best(
            text,
            self._intents,
            slot_lists=self._slot_lists,
            intent_context=self._context,
            language=self.language,
            best_slot_name="name",  # as HA: prefer a reading that names an entity over an area + domain one
        )


def _domains(home: Home) -> set[str]:
    return {e.domain for e in home.entities}


def _select(intents: Intents, names: Collection[str], domains: set[str]) -> Intents:
    """Keep the supported intents, and only sentence blocks for domains this home has (faster matching).

    Blocks that schedule a spoken command ("turn off the lights in 5 minutes") stay: the timer carries the
    command out when it ends (pipeline/timers.py).
    """
    return filter_intents(intents, domains=domains, intent_names=names)


def _satellite_context(home: Home) -> dict[str, Any] | None:
    """As HA does for a satellite with an area: templates like "turn on the lights" take the area from here."""
    area = home.satellite_area
    return {"area": {"value": area, "text": area}} if area else None


def _parse_all(intents: Intents) -> None:
    """Parse every template now (hassil parses lazily: the first sentence would otherwise pay ~0.4 s)."""
    for intent in intents.intents.values():
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            for sentence in data.sentences:
                sentence.get_required_clauses(rules)


def _slot_lists(home: Home) -> dict[str, TextSlotList]:
    """HA's runtime lists: entity names and aliases (context: domain and device class), areas and their aliases,
    floors.

    Values are the spoken names, not entity ids, as in HA: hassil returns only one value per list
    match, so entities sharing a name are found by resolve() from the name. An area alias gives the area's name.
    """
    names: list[tuple[str, str, dict[str, Any]]] = []
    for entity in home.entities:
        context: dict[str, Any] = {"domain": entity.domain}
        if entity.device_class:
            context["device_class"] = entity.device_class
        for name in _unique(entity.names):
            names.append((name, name, context))
    areas = [(a, a) for a in home.areas] + [(alias, area) for alias, area in home.area_aliases]
    return {
        "name": TextSlotList.from_tuples(names, allow_template=False, name="name"),
        "area": TextSlotList.from_tuples(areas, allow_template=False, name="area"),
        "floor": TextSlotList.from_tuples(((f, f) for f in home.floors), allow_template=False, name="floor"),
    }


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        name = " ".join(name.split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def _required_domains(result: RecognizeResult) -> list[str] | None:
    """The domains the matched template allows a {name} to be (HA's requires_context), None: any."""
    required = result.intent_data.requires_context.get("domain")
    if isinstance(required, dict):  # {"value": ..., "slot": ...}
        required = required.get("value")
    if required is None:
        return None
    return [required] if isinstance(required, str) else [str(d) for d in required]


def _slots(result: RecognizeResult) -> dict[str, Any]:
    """Slot values as plain JSON-able data: whole numbers as int, text stripped."""
    slots: dict[str, Any] = {}
    for entity in result.entities_list:
        value = entity.value
        if isinstance(value, dict):  # a context value {"value": ..., "text": ...}
            value = value.get("value")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            value = value.strip()
        elif not isinstance(value, (int, float)):
            value = None if value is None else str(value)
        if value is not None and value != "" and entity.name not in slots:
            slots[entity.name] = value
    return slots
