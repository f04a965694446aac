"""What the user's own words ask for, read by code before any tier's answer is trusted: the verb (which kind of
action, and so which domains it can touch) and whether the sentence asks for anything at all ("don't...", "should
I...", "no need to...").

The verb is read from the transcript, not from a tier's answer: a tier can misread "lock the door" as "on", the
words cannot. check.py holds every answer against it. Only verbs whose meaning is plain are listed; a sentence
whose verb is not here ("brew some coffee") is not constrained by this module (the tiers' own typing still is).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

Action = Literal["on", "off", "lock", "unlock", "open", "close", "start", "stop", "dock", "pause", "resume", "mute",
                 "unmute", "water", "remove"]

SWITCHABLE = frozenset({"light", "switch", "fan", "media_player", "input_boolean", "cover", "valve", "climate"})
"""Domains an on/off verb may act on (a lock needs lock/unlock; a vacuum starts or goes home)."""

ALLOWED: dict[Action, frozenset[tuple[str, str]]] = {}
"""For each action, the (Home Assistant intent, domain) pairs that carry it out; anything else contradicts it."""


def _pairs(intents: tuple[str, ...], domains: frozenset[str] | tuple[str, ...]) -> frozenset[tuple[str, str]]:
    return frozenset((i, d) for i in intents for d in domains)


ALLOWED.update({
    "on": _pairs(("HassTurnOn",), SWITCHABLE) | _pairs(("HassVacuumStart",), ("vacuum",))
    | _pairs(("HassMediaUnpause", "HassMediaPlayerUnmute"), ("media_player",)),
    "off": _pairs(("HassTurnOff",), SWITCHABLE) | _pairs(("HassVacuumReturnToBase",), ("vacuum",))
    | _pairs(("HassMediaPause", "HassMediaPlayerMute"), ("media_player",)),
    "lock": _pairs(("HassTurnOn",), ("lock",)),
    "unlock": _pairs(("HassTurnOff",), ("lock",)),
    "open": _pairs(("HassTurnOn", "HassSetPosition"), ("cover", "valve")),
    "close": _pairs(("HassTurnOff", "HassSetPosition"), ("cover", "valve")),
    "start": _pairs(("HassTurnOn",), ("switch", "fan", "media_player", "input_boolean", "valve", "climate"))
    | _pairs(("HassVacuumStart",), ("vacuum",)) | _pairs(("HassMediaUnpause",), ("media_player",)),
    "stop": _pairs(("HassTurnOff",), ("switch", "fan", "media_player", "input_boolean", "valve", "climate"))
    | _pairs(("HassVacuumReturnToBase",), ("vacuum",)) | _pairs(("HassMediaPause",), ("media_player",)),
    "dock": _pairs(("HassVacuumReturnToBase",), ("vacuum",)),
    "pause": _pairs(("HassMediaPause",), ("media_player",)),
    "resume": _pairs(("HassMediaUnpause",), ("media_player",)) | _pairs(("HassVacuumStart",), ("vacuum",)),
    "mute": _pairs(("HassMediaPlayerMute",), ("media_player",)),
    "unmute": _pairs(("HassMediaPlayerUnmute",), ("media_player",)),
    "water": _pairs(("HassTurnOn",), ("valve",)),
    "remove": frozenset(),  # taking things off a list: no supported intent does it
})

GUARDED_ACTIONS: frozenset[Action] = frozenset({"lock", "unlock", "open", "close", "water", "remove", "off", "stop"})
"""Verbs that constrain every answer, not only device actions: "lock the door" can never add "door" to a list, and
"power down the speaker" is no volume step."""
DEVICE_INTENTS: frozenset[str] = frozenset(i for pairs in ALLOWED.values() for i, _ in pairs)
"""The intents a verb speaks about; others (lists, timers, light settings) are not held against the verb."""

OPPOSITE: dict[Action, Action] = {"on": "off", "off": "on", "lock": "unlock", "unlock": "lock", "open": "close",
                                  "close": "open", "start": "stop", "stop": "start", "pause": "resume",
                                  "resume": "pause", "mute": "unmute", "unmute": "mute"}

# Words said before the verb that change nothing: "hey", "please", "can you", "I want you to", "go ahead and".
_LEAD = re.compile(
    r"^(?:(?:hey|ok|okay|so|now|and|then|um|uh|oh|alright|right|yes|yeah|please|kindly|quickly|just|go ahead and|"
    r"can you|could you|would you|will you|can u|would you mind|i want you to|i'd like you to|i would like you to|"
    r"i need you to|i want to|i'd like to|i need to|let's|lets|let us|time to|you can|you should|try to|help me)"
    r"\s+)*")
_PARTICLE = re.compile(r"^(?:turn|switch|power|flip|click|shut|cut|knock|fire|boot|start|take|cross|strike|roll|pull|"
                       r"bring|draw|wind|reel)"
                       r"\b(?:\s+(?!(?:on|off|up|down|out|in)\b)\S+){0,5}?\s+(on|off|up|down|out|in)\b")
"""A phrasal verb with its particle, possibly after its object: "turn the kitchen light off"."""

_PHRASAL: dict[tuple[str, str], Action] = {
    ("turn", "on"): "on", ("switch", "on"): "on", ("power", "on"): "on", ("flip", "on"): "on", ("click", "on"): "on",
    ("fire", "up"): "on", ("boot", "up"): "on", ("start", "up"): "start",
    ("turn", "off"): "off", ("switch", "off"): "off", ("power", "off"): "off", ("flip", "off"): "off",
    ("click", "off"): "off", ("shut", "off"): "off", ("shut", "down"): "off", ("power", "down"): "off",
    ("cut", "off"): "off", ("knock", "off"): "off", ("turn", "out"): "off",
    ("shut", "up"): "mute", ("take", "off"): "remove", ("cross", "off"): "remove", ("strike", "off"): "remove",
    ("take", "out"): "remove",
    ("roll", "in"): "close", ("roll", "out"): "open", ("roll", "up"): "open", ("roll", "down"): "close",
    ("pull", "in"): "close", ("pull", "up"): "open", ("pull", "down"): "close",
    ("bring", "in"): "close", ("draw", "in"): "close", ("wind", "in"): "close", ("reel", "in"): "close",
    ("wind", "out"): "open", ("draw", "out"): "open",
}
_SINGLE: dict[str, Action] = {
    "activate": "on", "enable": "on", "energize": "on",
    "deactivate": "off", "disable": "off", "kill": "off", "cut": "off", "extinguish": "off", "douse": "off",
    "snuff": "off",
    "lock": "lock", "bolt": "lock", "secure": "lock",
    "unlock": "unlock", "unbolt": "unlock",
    "open": "open", "close": "close", "shut": "close", "retract": "close", "extend": "open",
    "start": "start", "begin": "start", "launch": "start", "run": "start", "clean": "start", "hoover": "start",
    "stop": "stop", "halt": "stop", "end": "stop", "cease": "stop",
    "dock": "dock", "return": "dock", "recall": "dock",
    "pause": "pause", "resume": "resume", "unpause": "resume", "continue": "resume", "play": "resume",
    "mute": "mute", "silence": "mute", "unmute": "unmute",
    "water": "water", "irrigate": "water",
    "remove": "remove", "delete": "remove", "erase": "remove",
}


_QUESTION_WORDS = frozenset({"is", "are", "was", "were", "what", "which", "who", "why", "how", "when", "where", "do",
                             "does", "did", "can", "could", "should", "will", "would"})


@dataclass(frozen=True)
class Verb:
    """The action the user's words ask for."""

    action: Action
    """What kind of action: on, off, lock, unlock, open, close, start, stop, dock, pause, resume, mute, ..."""
    words: str
    """The verb as said ("turn ... off", "kill")."""


READING: dict[Action, tuple[str, tuple[str, ...]]] = {
    "lock": ("HassTurnOn", ("lock",)), "unlock": ("HassTurnOff", ("lock",)),
    "open": ("HassTurnOn", ("cover", "valve")), "close": ("HassTurnOff", ("cover", "valve")),
    "water": ("HassTurnOn", ("valve",)), "dock": ("HassVacuumReturnToBase", ("vacuum",)),
    "on": ("HassTurnOn", tuple(sorted(SWITCHABLE))), "off": ("HassTurnOff", tuple(sorted(SWITCHABLE))),
}
"""What a verb means by itself: the intent and the domains it acts on ("water the front yard": open a valve)."""


def target_words(text: str, verb: Verb) -> str:
    """The words after the verb, without its particle ("turn the patio light off" -> "the patio light")."""
    said = _LEAD.sub("", words_of(text))
    if verb.words in ("on", "off") and said.endswith(f" {verb.words}"):  # "desk lamp one off"
        return said.removesuffix(f" {verb.words}").strip()
    rest = said.split(" ", 1)[1] if " " in said else ""
    if " " in verb.words:
        particle = verb.words.split()[-1]
        rest = re.sub(rf"(^|\s){particle}(\s|$)", " ", rest, count=1).strip()
    return rest


_OF_FIRST = re.compile(r"^(\W*(?:please\s+)?(?:turn|switch|shut|power|flip|click|cut|knock))\s+of\b", re.IGNORECASE)
_OF_LAST = re.compile(r"^(\W*(?:please\s+)?(?:turn|switch|shut|power|flip|click)\s.+)\s+of((?:\W+please)?\W*)$",
                      re.IGNORECASE)


_SLIPS = tuple((re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"\bun (lock|mute|pause|bolt)\b", r"un\1"),  # "un lock the front door" was LOCKED
    (r"^(\W*(?:please\s+)?)clothes?\b", r"\1close"),  # "clothes the garage door" was asked as "open"
    (r"^(\W*(?:please\s+)?)(?:paws|pours|pores)\b", r"\1pause"),  # "paws the music" was "volume up?"
    (r"\bfor for ((?:minutes?|hours?|seconds?)\b)", r"for four \1"),  # "a timer for for minutes" was 1 minute
    (r"\bfor (?:to|too) ((?:minutes?|hours?|seconds?)\b)", r"for two \1"),
))
"""Words speech-to-text writes for the word said, where only that word can stand."""
_LOCK_OR_UNLOCK = re.compile(r"^\W*(?:and|an|in|on)\s+(lock|mute)\b", re.IGNORECASE)
_ON_OR_OFF = re.compile(r"^\W*(?:please\s+)?(?:turn|switch)\s+(?:(?:in|and|an)\s+\S|.+\s(?:in|and)\W*$|"
                        r"(?:on|off)\s.+\sand\s+of\s)", re.IGNORECASE)
"""... "turn on the office light and of the kitchen light" too: "of" may be "off", or "of the" may be what was said."""


def lock_or_unlock(text: str) -> str | None:
    """The question when the verb heard may be its opposite misheard: "and lock the front door" ("unlock"?),
    "turn in the kitchen light" / "turn the light in" ("on"? "off"?); else None."""
    if (m := _LOCK_OR_UNLOCK.match(text)) is not None:
        word = m.group(1).casefold()
        return f"Sorry, did you say {word} or un{word}?"
    if _ON_OR_OFF.match(text) is not None:
        return "Sorry, did you say on or off?"
    return None


def particle_of(text: str) -> str:
    """ "turn of the light", "turn the kitchen light of": speech-to-text writes "off" as "of" where only the
    particle can stand; read as "off" (left alone, "turn the light of" was read as "on"). Other such slips
    (_SLIPS: "un lock", "clothes the ...", "for for minutes") are read as the word meant too."""
    text = text.strip()
    for pattern, meant in _SLIPS:
        text = pattern.sub(meant, text)
    text = _OF_FIRST.sub(r"\1 off", text)
    if re.search(r"\b(?:on|off)\b", text, re.IGNORECASE):  # "turn on the light of ...": the particle is said
        return text
    return _OF_LAST.sub(r"\1 off\2", text)


def words_of(text: str) -> str:
    """Lower-case words with apostrophes kept and everything else a space ("Turn it OFF!" -> "turn it off")."""
    return " ".join(re.sub(r"[^\w' ]+", " ", text.replace("’", "'").casefold()).split())


_CUT_OFF = re.compile(r"^\W*([\w']+)\s*[,.;:!?]?\s+(.+)$")
_MEANINGFUL = frozenset({"don't", "dont", "do", "does", "did", "didn't", "never", "not", "no", "i", "we", "you", "they",
                         "he", "she", "it", "someone", "somebody", "should", "could", "would", "might", "must", "may",
                         "shall", "can", "can't", "cannot", "to", "who", "why", "when", "if", "what", "how", "let",
                         "lets", "let's", "only", "also", "again", "already", "almost"})
"""Words before a verb that change what the sentence asks: never dropped as a stray word."""


def command_start(text: str) -> tuple[str, str]:
    """(the command from its verb on, the words before it) when what comes first is filler ("and turn off the
    light") or one stray word ("floor, turn off the kitchen light": the tail of a wake phrase, or of the assistant's
    own voice heard after a barge-in) that changes nothing ("don't", "I", "should" do); else (text, "")."""
    said = words_of(text)
    rest = _LEAD.sub("", said)
    if rest and rest != said and verb_of(rest) is not None:
        return rest, said[: len(said) - len(rest)].strip()
    m = _CUT_OFF.match(text.strip())
    if m is not None and m.group(1).casefold() not in _MEANINGFUL and verb_of(m.group(2)) is not None:
        return m.group(2), m.group(1)
    return text, ""


def verb_of(text: str) -> Verb | None:
    """The leading verb of a command and the action it names, or None when the sentence does not start with a
    verb this module knows ("brew some coffee", "it's too dark in here", "is the door locked")."""
    said = _LEAD.sub("", words_of(text))
    if (m := _PARTICLE.match(said)) is not None:
        head = said.split()[0]
        action = _PHRASAL.get((head, m.group(1)))
        if action is not None:
            return Verb(action, f"{head} {m.group(1)}")
    first = said.split()[0] if said else ""
    if first in ("send", "bring", "take") and re.search(r"\b(home|back|to (its|the) (base|dock|charger))\b", said):
        return Verb("dock", first)
    if first in ("go", "get") and re.match(r"^(go|get) (back )?(home|to (its|the) (base|dock|charger))", said):
        return Verb("dock", first)
    action = _SINGLE.get(first)
    if action is None and re.search(r"\s(on|off)$", said) and first not in _QUESTION_WORDS:
        return Verb("on" if said.endswith("on") else "off", said.rsplit(" ", 1)[1])  # "kitchen light on"
    return Verb(action, first) if action is not None else None


# -- sentences that ask for no action -----------------------------------------------------------------------------

_NEGATED = re.compile(
    r"^(?:please\s+)?(?:don't|dont|do not|never|no need to|there's no need to|there is no need to|you don't need to|"
    r"you do not need to|you don't have to|you do not have to|no don't|i don't want you to|i do not want you to|"
    r"i don't need you to|i do not need you to|don't bother to|don't bother|no need|stop trying to|you shouldn't|"
    r"i don't want (?:the|any|my|it|that|them)|i do not want (?:the|any|my|it|that|them)|"
    r"you should not|we don't need to|we do not need to|i don't want to|i do not want to|let's not|lets not)\b")
_NOT_NEGATED = re.compile(r"^(?:please\s+)?(?:(?:don't|do not|never) (?:forget|hesitate)\b|never ?mind\b)")
"""Negations that still ask for something: "don't forget to add milk", "never mind" (take back what was asked)."""
_HYPOTHETICAL = re.compile(
    r"^(?:should i|should we|should you|shall i|what happens if|what would happen if|what if|do i need to|"
    r"do we need to|would it be|is it ok to|is it okay to|is it safe to|is it a good idea to|"
    r"how do i|how can i|how would i|why did you|why would you|why do you|why should|when should i|"
    r"would you recommend|i wonder if|i wonder whether|i was wondering|i'm thinking about|i am thinking about|"
    r"i'm thinking of|i am thinking of|i might|i may|maybe i should|maybe we should|i think i'll|i'll|"
    r"(?:tell me|show me|explain|do you know|can you tell me|teach me) how (?:to|do i|can i|you))\b")


_CONDITIONAL = re.compile(r"^(?:if|whenever|as soon as|once|in case|unless|when (?:it|i|we|you|they|he|she|the|someone|"
                          r"somebody|everyone|my|our))\b")
"""A command for later, on a condition ("if it gets cold later turn on the heater"): nothing here waits for one."""


_WONDERING = re.compile(
    r"\b(?:should i|should we|what happens if|what would happen if|what if|i wonder|wondering|curious|curiosity|"
    r"in theory|theoretically|hypothetically|imagine|suppose|supposing|pretend|let's say|lets say|were i to|"
    r"how would i|how do i|how can i|mind if i|mind if we|i guess i could|the point of|a good idea|a bad idea|"
    r"do you (?:think|reckon)(?! you (?:could|can|would))|is it (?:ok|okay|safe|wise|worth|better))\b")
"""A hypothetical or a question of advice anywhere in the sentence ("quick question, should I open the garage
door", "out of curiosity, what happens if I turn off the heater", "imagine turning off the kitchen light")."""


def asks_for_nothing(text: str) -> Literal["negated", "hypothetical", "conditional"] | None:
    """Whether the sentence asks for no action now: a negation ("don't turn on the lights", "no need to start the
    coffee maker"), a hypothetical or advice question ("should I open the window", "what happens if I unlock the
    door") or a condition ("if it gets cold, turn on the heater"); None for everything else."""
    said = _LEAD.sub("", words_of(text))
    if _NOT_NEGATED.match(said):
        return None
    if _NEGATED.match(said):
        return "negated"
    if _HYPOTHETICAL.match(said) or _WONDERING.search(said):
        return "hypothetical"
    if _CONDITIONAL.match(said):
        return "conditional"
    return None


_LEAVES_OUT = re.compile(r"\b(?:except|excepting|excluding|apart from|other than|besides|save for|but not|not the|"
                         r"(?:all|every|everything|each)\b.*\bbut|but (?:leave|keep)|and (?:leave|keep) \w+(?: \w+)* "
                         r"(?:on|off|open|closed|running|going))\b")
"""A command that leaves something out ("all the lights except the kitchen"): no intent here can, and acting on
the rest of the words does the opposite of what was asked for the place named."""


def leaves_out(text: str) -> bool:
    """Whether the sentence asks for everything but something ("turn on every light but the bedroom")."""
    return _LEAVES_OUT.search(words_of(text)) is not None


_PRONOUNS = frozenset({"it", "that", "this", "them", "those", "these", "that one", "this one", "it back", "that back",
                       "them back", "it all", "that thing", "this thing"})


def names_no_target(text: str) -> bool:
    """Whether the verb's object is only a pronoun ("switch it on", "turn that off"): with no conversation to point
    back to, the device is a guess."""
    verb = verb_of(text)
    said = _LEAD.sub("", words_of(text))
    if re.fullmatch(r"(?:turn |switch )?(?:on|off|up|down|open|close|start|stop)(?: please| now)?", said):
        return True  # "on", "off please": nothing named at all
    rest = target_words(text, verb) if verb is not None else said.split(" ", 1)[-1] if " " in said else ""
    words = re.sub(r"\b(?:please|now|for me|again|right now|thanks|thank you|up|down|on|off|a bit|a little)\b", " ",
                   rest)
    return " ".join(words.split()) in _PRONOUNS


_TIME_UNIT = re.compile(r"\b(?:sec|secs|second|seconds|min|mins|minute|minutes|hour|hours|hr|hrs|half an hour|"
                        r"quarter of an hour|an hour|half hour)\b")


def says_a_time_unit(text: str) -> bool:
    """Whether a timer's length was said with its unit ("set a timer for 5" was not: minutes or seconds?)."""
    return _TIME_UNIT.search(words_of(text)) is not None


_LIST_WORDS = re.compile(r"\b(?:add|adding|put|write|list|lists|need|needs|buy|get|grab|pick up|out of|low on|"
                         r"run out|running out|ran out|remember|note|include|stock up|tasks?|to ?dos?|groceries|"
                         r"shopping)\b")


def add_heard_as_and(text: str) -> bool:
    """Whether the sentence starts with "and", which Whisper writes for "add" ("and milk to my shopping list")."""
    return text.strip().casefold().startswith("and ")


def asks_to_add(text: str, list_names: tuple[str, ...] = ()) -> bool:
    """Whether the words ask to put something on a list ("add milk", "we're out of eggs", "trader joes: apples"),
    not, say, "make me a tea"."""
    said = words_of(text)
    return _LIST_WORDS.search(said) is not None or any(n and words_of(n) in said for n in list_names)


_QUESTION = re.compile(
    r"^(?:can|could|does|do|did|is|are|was|were|will|would|should|shall|may|might|must|has|have|had|how|why|when|"
    r"who|which|what|where|whose)\b"
    r"(?! (?:you|u|ya|ye|me|i get|i have|i please|we get|we have|somebody|someone|anyone|about|it possible|"
    r"there (?:any|a) way)\b)"
    r"(?! (?:don't|dont|not) you\b)")
"""A question about the home or a device ("can the vacuum clean upstairs", "how long does the vacuum take"), not
a request put as one ("can you turn on the fan", "could I have the lights on", "how about some light")."""


_PASSIVE_REQUEST = re.compile(r"^(?:can|could|would|will)\b.{0,60}?\bbe (?:\w+ed|put|set|shut|switched|turned|made)\b")
"""A request put as a question in the passive ("can the lights be changed to green")."""


def asks_about(text: str) -> bool:
    """Whether the sentence is a question, not a request: it may be answered, never carried out."""
    said = _LEAD.sub("", words_of(text))
    return _QUESTION.match(said) is not None and _PASSIVE_REQUEST.match(said) is None


_WEATHER = re.compile(r"\b(?:weather|forecast|rain|raining|rainy|snow|snowing|sunny|cloudy|windy|storm|stormy|"
                      r"umbrella|humid|humidity outside|degrees outside|temperature outside|cold outside|"
                      r"hot outside|warm outside|(?:cold|hot|warm|chilly|freezing) is it outside|"
                      r"outside temperature)\b")


_ASKS_FOR = re.compile(r"^(?:tell me|give me|get me|read me|check|what's|whats|any|(?:the )?(?:weather|forecast))\b")


def asks_the_weather(text: str, home_words: Collection[str] = ()) -> bool:
    """Whether the sentence asks about the weather ("what's the weather like", "will it rain tomorrow"): a question
    for a source (Home Assistant's agent), never a thermostat's reading. A command with a weather remark in it
    ("it's sunny, close the blinds") is no such question, nor one about a device named so ("is the rain sensor
    wet": "rain" among the home's words)."""
    said = _LEAD.sub("", words_of(text))
    found = _WEATHER.search(said)
    return (found is not None and found.group().split()[0] not in home_words
            and (asks_about(said) or _ASKS_FOR.match(said) is not None))


_READS = re.compile(r"^(?:what's|whats|what is|what are|what do (?:i|we) (?:have|need)|what have (?:i|we) got|read|"
                    r"read me|read out|tell me|check|list|show me|how many|how much|anything|is there anything)\b")
_CHANGES_A_LIST = re.compile(r"\b(?:add|put|remove|delete|take|cross|clear|empty)\b")


def reads_a_list(text: str, list_names: Collection[str] = ()) -> bool:
    """Whether the sentence asks what is on a list ("what's on my shopping list", "read me my tasks"): a question
    for the list itself (Home Assistant's to-do entity), never for the model."""
    said = _LEAD.sub("", words_of(text))
    if (_READS.match(said) is None and not asks_about(said)) or _CHANGES_A_LIST.search(said):
        return False
    return re.search(r"\blists?\b", said) is not None or any(
        re.search(rf"\b{re.escape(n.casefold())}\b", said) for n in list_names)


_OTHER_TIME = re.compile(
    r"\b(?:does|do|did|will|was|were|until|till|since|sun|sunset|sunrise|dawn|dusk|christmas|easter|birthday|"
    r"holiday|holidays|weekend|open|opens|close|closes|start|starts|end|ends|game|match|show|train|bus|flight|"
    r"(?:is it |it is )?in (?!here\b)[a-z]+)\b")
"""What makes a time or date question about something else ("what time does the sun set", "what day is
christmas", "what time is it in tokyo"): not the clock's to answer."""


def asks_the_clock(text: str) -> bool:
    """Whether a sentence read as the time or the date asks the time or date here and now."""
    return _OTHER_TIME.search(_LEAD.sub("", words_of(text))) is None


_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|weekday|weekdays"
_FOR_LATER = re.compile(
    r"\b(?:later|tomorrow|tonight|overnight|"
    r"this (?:evening|afternoon|morning|weekend)|in the (?:morning|evening|afternoon|night)|"
    r"(?:every|each) (?:morning|day|night|evening|afternoon|hour|time|" + _DAYS + r")|"
    r"(?:on|next|this) (?:" + _DAYS + r")|next (?:week|time|month)|"
    r"at (?:\d+(?:[ap]m)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon|midnight|night|dawn|"
    r"dusk|sunset|sunrise|bedtime)(?! (?:percent|per cent|degrees?|%))|"
    r"in (?:an?|one|two|three|four|five|ten|fifteen|twenty|thirty|forty|\d+|half an?|a few|a couple of?) "
    r"(?:\w+ )?(?:hours?|minutes?|mins?|seconds?|secs?)|"
    r"after (?:dinner|lunch|breakfast|work|school|the (?:movie|show|game|news)|i|we)|"
    r"before (?:i|we|dinner|bed|bedtime|lunch|breakfast|work|school|the)|"
    r"remind me|don't let me forget|i need to remember|i have to remember|(?:by|until|till) \d+)\b"
    r"(?! (?:percent|per cent|degrees?|%))")
"""When a command is for later ("later turn off the kitchen light", "every morning open the blinds", "after dinner
start the vacuum", "remind me to ..."): done now, it would be done at the wrong time."""


def for_later(text: str) -> bool:
    """Whether the sentence asks for something at another time than now."""
    return _FOR_LATER.search(words_of(text)) is not None


_DELAY = re.compile(r"\bin (?P<n>an?|one|two|three|four|five|ten|fifteen|twenty|thirty|forty|\d+|half an?) "
                    r"(?P<unit>hours?|minutes?|mins?|seconds?|secs?)\b")


def delay_last(text: str) -> str | None:
    """A command with a delay said the templates' way ("in an hour turn off the kitchen light" -> "turn off the
    kitchen light in one hour"), or None when it holds no delay."""
    said = _LEAD.sub("", words_of(text))
    m = _DELAY.search(said)
    if m is None:
        return None
    n, unit = m.group("n"), m.group("unit")
    delay = "in 30 minutes" if n.startswith("half") and unit.startswith("hour") else \
        f"in {'one' if n in ('a', 'an') else n} {unit}"
    rest = " ".join((said[: m.start()] + " " + said[m.end():]).split())
    return f"{rest} {delay}" if rest else None


_INTENDS = re.compile(r"^(?:i'd better|i had better|we'd better|we had better|i should|we should|i ought to|"
                      r"we ought to|i must|we must|i have to|we have to|i forgot to|we forgot to|i meant to|"
                      r"i wanted to|i gotta|we gotta|maybe|perhaps|we could|i could|you could|assuming|i guess)\b")
"""What the user says they mean to do ("I'd better turn off the kitchen light"): a request, perhaps, or a remark."""


def intends(text: str) -> bool:
    """Whether the sentence says what the user means to do rather than asking for it."""
    return _INTENDS.match(words_of(text)) is not None


_LIGHTING, _COOLING = frozenset({"light", "cover"}), frozenset({"fan", "climate", "cover", "switch"})
_HEATING, _SOUND = frozenset({"climate", "fan", "switch"}), frozenset({"media_player"})
_CONDITIONS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("dark", "dim", "gloomy", "bright", "darker", "brighter", "lighter"), _LIGHTING),
    **dict.fromkeys(("hot", "warm", "stuffy", "humid", "cooler"), _COOLING),
    **dict.fromkeys(("cold", "chilly", "freezing", "warmer"), _HEATING),
    **dict.fromkeys(("loud", "quiet", "louder", "quieter"), _SOUND), "noisy": _SOUND | {"fan"},
}
"""What a remark about the room can ask of it: "it's too dark" the lights or the blinds, "too hot" a fan, the
climate, the blinds or a switched heater, "too loud" a speaker."""
_CONDITION = re.compile(r"\b(?:it's|it is|its|getting|too|so|very|really|bit|little|make it|feels|is|way)\s+"
                        r"(?:too |so |very |really |a bit |a little |kind of |way too )?(" + "|".join(_CONDITIONS) +
                        r")\b")


def condition_domains(text: str) -> frozenset[str] | None:
    """The domains a remark about the room may act on ("it's too hot in here": fans, climate, covers, switches), or
    None when the sentence is no such remark."""
    m = _CONDITION.search(words_of(text))
    return _CONDITIONS[m.group(1)] if m else None


_TOO_MUCH = re.compile(r"\b(?:too|so|very|really|way too|overly)\s+(bright|loud|noisy)\b|\b(blinding|deafening)\b")
_TOO_LITTLE = re.compile(r"\b(?:too|so|very|really|way too)\s+(dark|dim|quiet|gloomy)\b|\bcan'?t (?:see|hear)\b")


def condition_wants(text: str) -> str | None:
    """"less" for a remark that the room has too much ("it's way too bright in here", "too loud"), "more" for too
    little ("too dark", "I can't hear"), else None: an answer going the other way is inverted."""
    said = words_of(text)
    if _TOO_MUCH.search(said):
        return "less"
    return "more" if _TOO_LITTLE.search(said) else None
