"""The typed check between every answer (the templates' or the language model's) and any action.

An answer is carried out only when it fits three things at once:

1. its own intent: every entity is of a domain the intent can act on (a vacuum intent never lands on a plug), and
   of the domain the answer named (`domain=lock` never becomes a garage door);
2. the user's verb (verbs.py): "lock" only locks locks, "open"/"close" only move covers and valves, "stop the
   vacuum" only sends a vacuum home, and no answer can do the opposite of what was said ("kill the heater" is never
   "on");
3. the words' certainty: a lock, alarm, valve or a garage door, door or gate reached by part of its name ("the
   door" for "garage door") is asked about, and "the lights" with no area, no floor and no satellite area asks
   which room rather than switching the whole home.

An answer that fails becomes a question (when the words say plainly what was meant) or an honest refusal, never an
action.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from . import names
from .intents import ADD_INTENTS, BY_NAME, HOME_ACTIONS, RISKY_COVER_CLASSES, RISKY_DOMAINS
from .model import Entity, Home, Intent, Understanding
from .replies import ask_first, domain_noun, reply_for, which_of
from .resolve import FLOOR_WORDS, resolve
from .said import named_in_full
from .verbs import (
    ALLOWED,
    DEVICE_INTENTS,
    GUARDED_ACTIONS,
    OPPOSITE,
    READING,
    Action,
    Verb,
    asks_about,
    asks_to_add,
    condition_domains,
    condition_wants,
    names_no_target,
    says_a_time_unit,
    target_words,
    verb_of,
)

_FLIP = {"HassTurnOn": "HassTurnOff", "HassTurnOff": "HassTurnOn", "HassVacuumStart": "HassVacuumReturnToBase",
         "HassVacuumReturnToBase": "HassVacuumStart", "HassMediaPause": "HassMediaUnpause",
         "HassMediaUnpause": "HassMediaPause", "HassMediaPlayerMute": "HassMediaPlayerUnmute",
         "HassMediaPlayerUnmute": "HassMediaPlayerMute"}
_GUARDED_DOMAINS = RISKY_DOMAINS | {"valve"}
_ACTS = frozenset({"on", "off", "lock", "unlock", "open", "close", "start", "stop", "dock", "water"})
UNIT_UNSAID = "How long should the timer be? Please say the minutes or seconds."
CANNOT_DO = "Sorry, I can't do that."
WHICH_DEVICE = "Which device do you mean?"
ON_OR_OFF = "Sorry, did you want it on or off?"
_TURN_WAYS = frozenset({"on", "off", "up", "down", "to", "into", "over", "out", "around", "back", "onto"})
"""Words that finish "turn" / "switch" (which way it goes); without one the way is unsaid."""
FOR_A_WHILE = ("Sorry, I can't do that for a while only. I can do it now, or in so many minutes: for example, turn "
               "it off in ten minutes.")
_FOR_A_WHILE = re.compile(r"\bfor (?:(?:another|the next|about|around) )?(?:\d+|an?|one|two|three|four|five|six|"
                          r"seven|eight|nine|ten|fifteen|twenty|thirty|forty|half an?|a few|a couple of|some) "
                          r"(?:more )?(?:minutes?|mins?|hours?|hrs?|seconds?|secs?)\b")
BY_DEGREES = "Sorry, I can only set the temperature to a number of degrees, for example: set the heating to 20."
_BY_DEGREES = re.compile(r"\b(?:up|down|higher|lower|warmer|cooler|colder|raise|increase|decrease|drop|bump)\b"
                         r".*\b(?:degrees?|notch(?:es)?)\b|\bby (?:\d+|an?|one|two|three|four|five|a few|a couple)\b")
_TO_DEGREES = re.compile(r"\bto (?:\d+|[a-z]+(?:[ -][a-z]+)?) degrees?\b|\bto \d+")
"""A temperature to set ("up to 22 degrees"): no change by so many degrees."""
WARMTH = "Sorry, I can't change how warm or cool a light's colour is, only its brightness and colour."
_COLOUR_WARMTH = re.compile(r"\b(?:warmer|cooler|colder|warm white|cool white|cold white|daylight|warm light|"
                            r"cool light|colou?r temperature|kelvin)\b")
_UP = re.compile(r"\b(?:up|louder|loud|raise|increase|boost|high|higher|more|crank|pump|brighter|brighten|bright|"
                 r"max|maximum|maximi[sz]e|loudest|brightest|full|stronger)\b")
_DOWN = re.compile(r"\b(?:down|quieter|quiet|softer|low|lower|decrease|reduce|less|dim|dimmer|darker|min|minimum|"
                   r"minimi[sz]e|quietest|lowest|weaker)\b")
_NEXT = re.compile(r"\b(?:next|skip|forward|another|following|change|different|new)\b")
_PREVIOUS = re.compile(r"\b(?:previous|back|last|before|earlier|again|replay|rewind)\b")
_TRACK = {"HassMediaNext": _NEXT, "HassMediaPrevious": _PREVIOUS}
_WHOLE_HOME = re.compile(r"\b(all|every|everything|everywhere|whole|entire|house|home|apartment|flat)\b")
_VERB_WORD: dict[Action, str] = {"on": "turn on", "off": "turn off", "dock": "send home", "resume": "resume",
                                 "water": "water", "remove": "take things off"}
_VERB_DOMAINS: dict[Action, str] = {"lock": "lock", "unlock": "lock", "dock": "vacuum cleaner",
                                    "mute": "speaker", "unmute": "speaker", "water": "valve"}


def check(text: str, u: Understanding, home: Home) -> Understanding:
    """The understanding as it may be carried out: unchanged when it passes, else a question or a refusal."""
    intent = u.intent or (u.confirm.intent if u.confirm is not None else None)
    if intent is not None and intent.name == "HassStartTimer" and not says_a_time_unit(text):
        return _refuse(u, UNIT_UNSAID)  # "a timer for 5": five minutes or five seconds is a guess
    if intent is None or not intent.entity_ids:
        return u
    spec = BY_NAME.get(intent.name)
    if spec is None:
        return u
    entities = [e for i in intent.entity_ids if (e := home.entity(i)) is not None]
    domains = {i.split(".", 1)[0] for i in intent.entity_ids}
    if intent.name in ADD_INTENTS and not asks_to_add(text, tuple(n for e in entities for n in e.names)):
        return _refuse(u, CANNOT_DO)  # "make me a tea" is no shopping list item
    if not spec.query and names_no_target(text):
        return _refuse(u, WHICH_DEVICE)  # "switch it on": with nothing said before, "it" is a guess
    left = _named_and_left_out(text, intent, home)
    if left is not None:  # "turn the desk strip blue and the office light red": the office light was dropped
        return _refuse(u, f"Sorry, I can only do one of those at a time. Please ask for the {left.name} again.")
    other = _named_elsewhere(text, entities, home)
    if other is not None:  # "turn the heating up" read as the garage door
        return _refuse(u, f"Sorry, I'm not sure what you want me to do with the {other.name}.")

    if intent.name in DEVICE_INTENTS and _FOR_A_WHILE.search(text.casefold()):
        return _refuse(u, FOR_A_WHILE)  # "turn on the heater for 10 minutes" would stay on
    if (intent.name == "HassClimateSetTemperature" and _BY_DEGREES.search(text.casefold())
            and not _TO_DEGREES.search(text.casefold())):
        return _refuse(u, BY_DEGREES)  # "turn the heating down two degrees" is no setting of 2 degrees
    if intent.name == "HassLightSet" and _COLOUR_WARMTH.search(text.casefold()):
        return _refuse(u, WARMTH)  # "make the light warmer" is its colour, not its brightness
    unsaid = _step_unsaid(text, intent)
    if unsaid is not None:  # "the volume" (was it "lower the volume"?): a way up or down never said is a guess
        return _refuse(u, unsaid)
    if intent.name in ("HassTurnOn", "HassTurnOff") and _turn_unsaid(text):
        return _refuse(u, ON_OR_OFF)  # "turn, living room light," (was it "... lights red"?): on or off is a guess
    if intent.name in _TRACK and not _TRACK[intent.name].search(text.casefold()):
        return _refuse(u, "Sorry, I'm not sure what you want me to do with the music.")  # "switch the light stop"

    if spec.domains and not domains <= set(spec.domains):
        return _refuse(u, f"Sorry, I can't do that with {_target(entities)}.")
    named = intent.slots.get("domain")
    if named and domains != {named} and not spec.query:  # asking changes nothing: the device named is the answer
        return _refuse(u, f"Sorry, {_target(entities)} is not a {domain_noun(str(named))}.")
    elsewhere = _place_left_out(text, entities, home)
    if isinstance(elsewhere, str):
        return _refuse(u, elsewhere)
    if elsewhere is not None:  # the answer went wider than the place said: ask about that place alone
        return _ask(u, Intent(intent.name, dict(intent.slots), tuple(sorted(e.id for e in elsewhere))), home)
    wider = _whole_home_left_out(text, intent, entities, home)
    if wider is not None:  # "the lights in the house" answered with one room's: ask about the whole home
        return _ask(u, wider, home)
    verb = verb_of(text)
    turned = _way_turned(text) if verb is None or verb.action not in ("on", "off") else None
    if turned is not None and intent.name in ("HassTurnOn", "HassTurnOff"):
        # "clean turned off the smart plug" ("please" misheard): the verb read first is a stray word's, and the
        # way said with "turn" is the one the answer is held to (an answer of "on" is asked about as "off").
        verb = Verb(turned, f"turn {turned}")
    if not spec.query and u.tier == "template" and asks_about(text):
        # "is the heating on" matched as "turn the heating on": a question; the model reads it as one
        return replace(_refuse(u, "Sorry, I didn't understand."), unresolved=True)
    if spec.query:
        if verb is not None and verb.action in _ACTS and u.tier == "template":
            # "turn every light on" matched as a state question: the verb asks for an action; the model reads it
            return replace(_refuse(u, "Sorry, I didn't understand."), unresolved=True)
        if verb is not None and verb.action in _ACTS and not asks_about(text):
            # "unlock the tv" answered with the tv's state: a command is never a question; what the verb alone
            # means is asked about, else it is refused plainly
            meant = _reread(text, verb, home)
            return _ask(u, meant, home) if meant is not None else _refuse(u, _cannot(verb.action, verb.words,
                                                                                      entities, home))
        return u
    if verb is None and intent.name in DEVICE_INTENTS and _only_names(text, home):
        # "kettle", "the desk lamp": a name alone says nothing of what to do with it
        return _ask(u, intent, home)
    wanted = condition_domains(text) if verb is None else None
    if wanted is not None and not domains & wanted:  # "it's too hot in the living room" is no light to turn on
        return _refuse(u, "Sorry, I'm not sure what you want me to do about that.")
    wants = condition_wants(text) if verb is None else None
    if wants is not None and _goes(intent) == {"less": "more", "more": "less"}[wants]:
        return _refuse(u, "Sorry, I'm not sure what you want me to do about that.")  # "too bright" is never "on"
    if (verb is None and wanted is None and intent.name in DEVICE_INTENTS and u.intent is not None
            and not _names_a_device(text, home) and not _verb_later(text)):
        # "make the living room cosy" read as opening its blinds: no verb, no device said, no condition: a guess
        return _ask(u, intent, home)

    if verb is not None and spec.where == "home" and (intent.name in DEVICE_INTENTS or verb.action in GUARDED_ACTIONS):
        done = {(intent.name, d) for d in domains}
        if not done <= ALLOWED[verb.action]:
            opposite = OPPOSITE.get(verb.action)
            flipped = _FLIP.get(intent.name)
            if opposite and flipped and done <= ALLOWED[opposite] and {(flipped, d) for d in domains} <= ALLOWED[
                    verb.action]:
                # The answer did the opposite of the verb said: ask about what was said, never do either.
                meant = Intent(flipped, dict(intent.slots), intent.entity_ids)
                return _ask(u, meant, home)
            meant = _reread(text, verb, home)
            if meant is not None:  # what the verb and its words alone name: asked about, never done unasked
                return _ask(u, meant, home)
            return _refuse(u, _cannot(verb.action, verb.words, entities, home))

    position = _position_said(text, intent, domains)
    if isinstance(position, str):
        return _refuse(u, position)
    if position is not None and u.intent is None:  # already a question: about the position said
        return _ask(u, position, home)
    if position is not None:  # "open the blinds halfway" is no "open them fully"
        intent = position
        u = replace(u, intent=position, reply=reply_for(position, home, now=datetime.now()))

    guarded = [e for e in entities if _guarded(e)]
    name = intent.slots.get("name")
    if name and u.confirm is None and _stray_word(str(name), entities, home):
        return _ask(u, intent, home)  # "turn, living room light, bed" (for "... lights red"): "bed" is no name's
    if guarded and name and u.confirm is None and not all(_exact(str(name), e) for e in guarded):
        return _ask(u, intent, home)  # "the door" is not enough for a garage door or a lock

    if (not name and not intent.slots.get("area") and not intent.slots.get("floor") and not home.satellite_area
            and len({e.area for e in entities}) > 1 and not _WHOLE_HOME.search(text.casefold())):
        if domains != {"light"} and 2 <= len(entities) <= 4:  # "lock up": which lock, not which room
            return _refuse(u, which_of(entities))
        rooms = sorted({e.area for e in entities if e.area})
        return _refuse(u, _which_room(rooms))
    return u


_NOT_FOUND = ("Sorry, I don't know a", "Sorry, there is no", "Sorry, there's no", "Sorry, I can't find",
              "Sorry, I'm not sure what you want me to do with", "Sorry, I can't do that with")
"""Refusals of a target not found or of the wrong type, which the verb alone may read again."""


def second_reading(text: str, u: Understanding, home: Home) -> Understanding:
    """A refusal ("I don't know a device called front yard") read again by the verb alone ("water the front yard":
    the front yard valve): a question when exactly one device fits, else the refusal as it was."""
    if u.intent is not None or u.confirm is not None or u.open_question or u.reply.rstrip().endswith("?"):
        return u
    if not u.reply.startswith(_NOT_FOUND):  # the check's own refusals ("for a while only") are final
        return u
    verb = verb_of(text)
    if verb is not None and verb.action in READING and verb.action not in ("on", "off") and not target_words(
            text, verb):
        return _verb_alone(u, verb, home)
    if names_no_target(text):  # "turn it off" read as a device called "it"
        return _refuse(u, WHICH_DEVICE)
    if verb is None:
        return u
    if not ALLOWED[verb.action]:  # "remove oat milk from the list" is no device called oat milk
        return _refuse(u, _cannot(verb.action, verb.words, [], home))
    meant = _reread(text, verb, home)
    return _ask(u, meant, home) if meant is not None else u


_PERCENT = re.compile(r"\b(\d{1,3}) ?(?:%|percent\b|per cent\b)|\b(percent|per cent)\b")
_HALFWAY = re.compile(r"\b(?:halfway|half way|half)\b")
_PARTLY = re.compile(r"\b(?:a little|a bit|slightly|a crack|a touch|a tad|partly|partially|part way|partway|"
                     r"some of the way|a few inches)\b")


def _position_said(text: str, intent: Intent, domains: set[str]) -> Intent | str | None:
    """The position an open or close of a cover or valve said ("open the blinds halfway", "to 30 percent"), as
    Home Assistant's set position; a question when the amount is not plain ("close them thirty percent": closed
    by 30 or to 30?); None when no amount was said."""
    if intent.name not in ("HassTurnOn", "HassTurnOff") or not domains or not domains <= {"cover", "valve"}:
        return None
    said = text.casefold()
    amount = _PERCENT.search(said)
    if amount is not None and amount.group(1) and intent.name == "HassTurnOn" and int(amount.group(1)) <= 100:
        return Intent("HassSetPosition", {**intent.slots, "position": int(amount.group(1))}, intent.entity_ids)
    if amount is not None:
        return "How far open should it be, in percent?"
    if _HALFWAY.search(said):
        return Intent("HassSetPosition", {**intent.slots, "position": 50}, intent.entity_ids)
    if _PARTLY.search(said):  # "open the window a little": how far is a guess
        return "How far open should it be, in percent?"
    return None


def _verb_alone(u: Understanding, verb: Verb, home: Home) -> Understanding:
    """ "unlock", "open": the one device the verb can act on is asked about, several are named in a question, and
    none is said plainly; never a device called "unlock"."""
    intent_name, domains = READING[verb.action]
    found = [e for e in home.entities if e.domain in domains]
    if len(found) == 1:
        return _ask(u, Intent(intent_name, {}, (found[0].id,)), home)
    if 2 <= len(found) <= 4:
        return _refuse(u, which_of(found))
    if found:
        return _refuse(u, f"What should I {verb.words}?")
    return _refuse(u, f"Sorry, there is nothing here I can {verb.words}.")


def _reread(text: str, verb: Verb, home: Home) -> Intent | None:
    """The one action the verb alone means for the words after it ("water the front yard": open the front yard
    valve), found by name, else by area; None when there is not exactly one reading."""
    if verb.action not in READING:
        return None
    intent_name, domains = READING[verb.action]
    words = target_words(text, verb)
    if not words:
        return None
    for slots in ({"name": words}, {"area": words, "domain": domains[0]} if len(domains) == 1 else None):
        if slots is None:
            continue
        found = resolve(intent_name, slots, home, domains=domains)
        if found.problem is None and found.entity_ids:
            return Intent(intent_name, slots, found.entity_ids)
    return None


_OUTSIDE = re.compile(r"\b(outside|outdoors?)\b")
_LOCATIVE = re.compile(r"\b(?:in|inside|at|of) (?P<place>\w+(?: \w+)?)(?= (?:please|now|too|and|then)\b| ?$)")
"""A place said after "in"/"at"/"of" at the end of the command ("dim the lights in the hall")."""


def _place_left_out(text: str, entities: list[Entity], home: Home) -> str | list[Entity] | None:
    """Why the answer cannot be right when the words name a place it left out ("the temperature outside" answered
    from the office, "the kitchen fan" from the bedroom), or the answer's devices in that place when it went wider
    ("dim the lights in the hall" answered for the whole home). A place inside a device's own name does not count."""
    said = " " + " ".join(names.words(text)) + " "
    for e in entities:
        for n in e.names:
            said = said.replace(" " + " ".join(names.words(n)) + " ", " ")
    areas = {e.area for e in entities}
    named: set[str] = set()
    for area in home.areas:
        spoken = [area] + [alias for alias, a in home.area_aliases if a == area]
        if any(f" {' '.join(names.words(w))} " in said for w in spoken if names.words(w)):
            if area not in areas:
                return f"Sorry, I can't find that in the {area}."
            named.add(area)
    if named and not areas <= named and not _HOUSE.search(text.casefold()):
        return [e for e in entities if e.area in named]  # "dim the office" answered for every room
    for m in _LOCATIVE.finditer(said):  # "in the hall": a place said as people say it (the hallway)
        named = set(names.match_areas(home, m.group("place")))
        if named and not areas <= named:
            inside = [e for e in entities if e.area in named]
            return inside or f"Sorry, I can't find that in the {' or the '.join(sorted(named))}."
    if _OUTSIDE.search(said) and not any(_OUTSIDE.search(a.casefold()) for a in areas if a):
        return "Sorry, I don't have anything outside that can do that."
    return None


_HOUSE = re.compile(r"\b(in|of|around|throughout) (the|my|our) (whole |entire )?(house|home|flat|apartment)\b|"
                    r"\b(whole|entire) (house|home|flat|apartment)\b|\beverywhere\b")


def _whole_home_left_out(text: str, intent: Intent, entities: list[Entity], home: Home) -> Intent | None:
    """The whole-home action when the words say "in the house" but the answer kept to one room."""
    if not _HOUSE.search(text.casefold()) or any(intent.slots.get(k) for k in ("name", "area", "floor")):
        return None
    domains = {e.domain for e in entities}
    every = tuple(sorted(e.id for e in home.entities if e.domain in domains))
    if set(every) == {e.id for e in entities}:
        return None
    return Intent(intent.name, dict(intent.slots), every)


def _named_elsewhere(text: str, entities: list[Entity], home: Home) -> Entity | None:
    """A device the words name in full (its name or an alias) when the answer acts on another kind of device
    instead ("turn the heating up" answered with the garage door); None when the answer is of its kind."""
    domains = {e.domain for e in entities}
    named = named_in_full(home, text, None)
    if not named or any(e in entities for e in named) or any(e.domain in domains for e in named):
        return None
    return max(named, key=lambda e: max(len(n) for n in e.names))


_FILLER_WORDS = frozenset({"please", "now", "thanks", "thank", "you", "hey", "ok", "okay", "um", "uh", "so", "the"})


def _named_and_left_out(text: str, intent: Intent, home: Home) -> Entity | None:
    """A device named in full beside another ("... and ...") that the answer leaves out, or None."""
    if " and " not in f" {text.casefold()} ":
        return None
    named = named_in_full(home, text, None)
    full = [e for e in named if not any(e is not o and _inside(e, o) for o in named)]
    if len(full) < 2:
        return None
    return next((e for e in full if e.id not in intent.entity_ids), None)


def _inside(entity: Entity, other: Entity) -> bool:
    """Whether every name of the entity is part of one of the other's names ("kitchen light" in "kitchen light 2")."""
    mine = [" ".join(names.words(n)) for n in entity.names]
    theirs = [f" {' '.join(names.words(n))} " for n in other.names]
    return all(any(f" {m} " in t for t in theirs) for m in mine)


def _verb_later(text: str) -> bool:
    """Whether a verb this module knows starts at a later word ("set mute until said otherwise")."""
    words = text.casefold().split()
    return any(verb_of(" ".join(words[i:])) is not None for i in range(1, len(words)))


def _names_a_device(text: str, home: Home) -> bool:
    """Whether the words name a device or a kind of device ("coffee", "the lights"), not only places."""
    devices = names.device_words(home)
    return any(w in devices or w in names.NOUN_DOMAINS for w in names.words(text))


def _only_names(text: str, home: Home) -> bool:
    """Whether the words are nothing but names of the home's devices, areas or kinds ("kettle", "lights")."""
    said = [w for w in names.words(text) if w not in _FILLER_WORDS]
    if not said:
        return False
    return all(w in names.home_words(home) or w in names.NOUN_DOMAINS for w in said)


_MORE = frozenset({"HassTurnOn", "HassMediaUnpause", "HassMediaPlayerUnmute"})
_LESS = frozenset({"HassTurnOff", "HassMediaPause", "HassMediaPlayerMute"})


def _goes(intent: Intent) -> str | None:
    """Whether an action gives the room more light or sound ("more"), less ("less"), or neither says (None)."""
    step = intent.slots.get("brightness_step") or intent.slots.get("volume_step")
    if intent.name in _MORE or step == "up":
        return "more"
    return "less" if intent.name in _LESS or step == "down" else None


def _step_unsaid(text: str, intent: Intent) -> str | None:
    """The question to ask when a step up or down (volume, brightness) goes a way the words never say: neither way
    said, or only the other way; None when they say it (a word, or a remark such as "too loud")."""
    kind = "volume_step" if "volume_step" in intent.slots else "brightness_step"
    step = intent.slots.get(kind)
    if step not in ("up", "down") or condition_wants(text) is not None:
        return None
    said = text.casefold()
    up, down = bool(_UP.search(said)), bool(_DOWN.search(said))
    if (up if step == "up" else down):
        return None
    return ("Sorry, did you want it louder or quieter?" if kind == "volume_step"
            else "Sorry, did you want it brighter or dimmer?")


def one_of_several(intent: Intent, home: Home) -> bool:
    """Whether the answer changes one device named by its room and its kind ("the bedroom light") in a room with
    more of that kind: "the bedroom lights", all of them, differ from it by one faint "s"."""
    name = intent.slots.get("name")
    entity = home.entity(intent.entity_ids[0]) if len(intent.entity_ids) == 1 else None
    if intent.name not in HOME_ACTIONS or not name or entity is None or not entity.area:
        return False
    said = names.words(str(name))
    if said[:-1] != names.words(entity.area) or names.NOUN_DOMAINS.get(said[-1]) != entity.domain:
        return False
    return sum(e.area == entity.area and e.domain == entity.domain for e in home.entities) > 1


_TURNED = re.compile(r"\b(?:turn|turned|turning|switch|switched|switching)\s+(on|off)\b")


def _way_turned(text: str) -> str | None:
    """The one way ("on" or "off") that "turn" or "switch" is said with, in any tense, anywhere in the sentence;
    None when neither is said, or both are."""
    ways = set(_TURNED.findall(text.casefold()))
    return ways.pop() if len(ways) == 1 else None


def _turn_unsaid(text: str) -> bool:
    """Whether "turn" or "switch" was said with no word after it that says which way (on, off, up, to ...)."""
    said = set(names.words(text))
    return bool(said & {"turn", "switch"}) and verb_of(text) is None and not said & _TURN_WAYS


def _refuse(u: Understanding, reply: str) -> Understanding:
    return Understanding(None, reply, u.tier, confidence=u.confidence)


def _ask(u: Understanding, intent: Intent, home: Home) -> Understanding:
    """ "Do you want me to ...?" with the action held for a yes."""
    action = Understanding(intent, reply_for(intent, home, now=datetime.now()), u.tier, confidence=u.confidence)
    return replace(u, intent=None, reply=ask_first(intent, home), confirm=action)


def _guarded(entity: Entity) -> bool:
    """A device that guards the home or water: a lock, an alarm, a valve, a garage door, door or gate."""
    if entity.domain in _GUARDED_DOMAINS:
        return True
    if entity.domain != "cover":
        return False
    if entity.device_class:
        return entity.device_class in RISKY_COVER_CLASSES
    text = " ".join([entity.id.split(".", 1)[1].replace("_", " "), *entity.names]).casefold()
    return any(w in text.split() for w in ("garage", "door", "gate"))


def _stray_word(spoken: str, entities: list[Entity], home: Home) -> bool:
    """Whether the name given has a word none of the devices' names, aliases, rooms or kind nouns explains: the
    answer kept a word it could not place, so the device is a guess."""
    known = set(names.NOUN_DOMAINS) | names.GENERIC_PLACES | _FILLER_WORDS | FLOOR_WORDS
    for e in entities:
        known.update(w for n in (*e.names, e.area or "", home.floor_of(e.area) or "") for w in names.words(n))
        known.update(w for alias, area in home.area_aliases if area == e.area for w in names.words(alias))
    return any(w not in known and not w.isdigit() for w in names.words(spoken))


def _exact(spoken: str, entity: Entity) -> bool:
    """Whether the words are the entity's whole name or an alias (articles, plurals and spacing aside), perhaps
    followed by the noun of its kind ("the front door lock" for the lock "front door")."""
    said = names.words(spoken)
    whole = {"".join(said)}
    if len(said) > 1 and names.NOUN_DOMAINS.get(said[-1]) == entity.domain:
        whole.add("".join(said[:-1]))
    return any("".join(names.words(n)) in whole for n in entity.names)


def _target(entities: list[Entity]) -> str:
    if len(entities) == 1:
        return f"the {entities[0].name}"
    return "those devices"


def _cannot(action: Action, said: str, entities: list[Entity], home: Home) -> str:
    """Why the verb cannot be done to what the answer found."""
    kind = _VERB_DOMAINS.get(action)
    wanted = {d for _, d in ALLOWED[action]}
    if action == "remove":
        return "Sorry, I can't take things off a list yet."
    if not any(e.domain in wanted for e in home.entities):
        noun = kind or "device"
        return f"Sorry, there's no {noun} here that I can {_VERB_WORD.get(action, action)}."
    return f"Sorry, I can't {_VERB_WORD.get(action, said)} {_target(entities)}."


def _which_room(rooms: list[str]) -> str:
    if 2 <= len(rooms) <= 4:
        return "Which room do you mean: " + ", ".join(f"the {r}" for r in rooms[:-1]) + f" or the {rooms[-1]}?"
    return "Which room do you mean?"
