"""Intent tiers in order: the first tier that understands the text answers (templates, then the language model).

Around the tiers, code that reads the user's own words: a sentence that asks for nothing ("don't...", "should
I...") is never acted on; every tier's answer passes the typed check (check.py) before it can act; a template that
matches but cannot be resolved in this home gives the language model its turn; several targets in one sentence
("the kitchen and living room lights") are understood one by one (several.py); open questions are answered only
from sources (answers.py); and no reply ever speaks the model's answer language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace

from . import names, several
from .answers import SourcedAnswers, small_talk
from .check import check, one_of_several, second_reading
from .intents import ADD_INTENTS, HOME_ACTIONS, is_risky
from .model import Home, IntentTier, Understanding
from .replies import ask_first
from .slm_prompt import BY_KEY
from .verbs import (
    DEVICE_INTENTS,
    add_heard_as_and,
    asks_about,
    asks_for_nothing,
    asks_the_clock,
    asks_the_weather,
    delay_last,
    for_later,
    intends,
    leaves_out,
    lock_or_unlock,
    particle_of,
    reads_a_list,
    verb_of,
)

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = "Sorry, I didn't understand."
DIDNT_CATCH = "Sorry, I didn't catch that. Could you say it again?"
"""Said instead of a refusal when the transcript itself is unsure: the words may not be what was said."""
LEAVE_AS_IS = "Okay, I'll leave everything as it is."
"""Said to a negated command ("don't turn on the lights", "no need to start the coffee maker")."""
NO_ADVICE = "I can't advise on that, so I'll leave everything as it is."
ON_A_CONDITION = "I can't do things on a condition, so I'll leave everything as it is. You can ask me when it's time."
"""Said to a command for later on a condition ("if it gets cold, turn on the heater")."""
"""Said to a hypothetical or advice question ("should I open the window", "what happens if I unlock the door")."""
FOR_LATER = ("I can't do that later, only now or in so many minutes, so I'll leave everything as it is. "
             "Say, for example, turn it off in ten minutes.")
"""Said to a command for later ("tomorrow morning open the blinds", "remind me to turn off the oven")."""
_CLOCK_INTENTS = frozenset({"HassGetCurrentTime", "HassGetCurrentDate"})
NOT_ALL_BUT = "Sorry, I can't leave things out. Please ask for the rooms or devices one by one."
"""Said to "all the lights except the kitchen": acting on the words would do the opposite for the place named."""
_ANSWER_LANGUAGE = re.compile(r"\|\s*[a-z_]+\s*=|^\W*(" + "|".join(map(re.escape, BY_KEY)) + r")\W*$", re.IGNORECASE)
"""A reply that is (or holds) a line of the language model's answer language: never spoken."""
_WAKE_PHRASE = re.compile(
    r"^\W*(?:(?:(?:hey|hi)[\s,]+)?(?:jarvis|mycroft|rhasspy)|(?:okay|ok)[\s,]+nabu|alexa)\b[\s,.!?]*", re.IGNORECASE)
"""A wake phrase Whisper heard at the start of the command (the endpointer cut a little early), or its last word:
not a word of the command."""


_MISHEARD_WAKE = re.compile(r"^\W*(?:hey|hi|hay)[\s,]+[a-z'-]+\s*,\s*(?=\w)", re.IGNORECASE)
"""'Hey' and one word set off by a comma at the start: the wake phrase misheard ("hey George, what's the date",
"hey jokes, turn ...": babble hides the pause after it, so the command starts inside it); no command starts so."""


def without_wake_phrase(text: str) -> str:
    """The command without a leading wake phrase ("Hey Jarvis, what is the temperature?", "Hey George, ...")."""
    text = _WAKE_PHRASE.sub("", text.strip(), count=1).strip()
    return _MISHEARD_WAKE.sub("", text, count=1).strip()


SURE_SLIP_CONFIDENCE = 0.8
"""A word read as another one Whisper often writes for it ("and milk to my list" for "add milk ...") is acted on
only above this transcript confidence; below it the action is asked about: the verb itself was never heard."""
RISKY_TRANSCRIPT_CONFIDENCE = 0.6
"""Whisper's confidence (stt.confidence: mean token probability times the chance that speech was there) below
which a transcript counts as uncertain for risky actions."""

_YES = re.compile(r"^(yes|yeah|yep|yup|sure|ok|okay|correct|right|exactly|please do|do it|go ahead|affirmative|"
                  r"that's right|that is right|yes please|of course)\b")
_NO = re.compile(r"^(no|nope|nah|don't|do not|cancel|never ?mind|stop|wrong|negative|not that)\b")


class IntentTiers:
    """Transcript -> Understanding, asking each tier in turn."""

    name = "intent"

    def __init__(self, tiers: Sequence[IntentTier], *, fallback_reply: str = NOT_UNDERSTOOD,
                 risky_transcript: float = RISKY_TRANSCRIPT_CONFIDENCE, home: Home | None = None,
                 answers: SourcedAnswers | None = None) -> None:
        """risky_transcript: below this transcript confidence (Whisper's, 0-1) a risky action is confirmed first.
        home: the home the tiers serve (default: the first tier's). answers: where open questions are answered
        from (default: small talk only)."""
        self.tiers = list(tiers)
        self.fallback_reply = fallback_reply
        self.risky_transcript = risky_transcript
        self.home = home or next((h for t in self.tiers if isinstance(h := getattr(t, "home", None), Home)), Home())
        self.answers = answers or SourcedAnswers()

    def set_answers(self, answers: SourcedAnswers) -> None:
        """Where open questions are answered from from now on (the session's conversation agent, or none)."""
        self.answers = answers

    def load(self) -> None:
        for tier in self.tiers:
            tier.load()

    def warm(self) -> None:
        for tier in self.tiers:
            tier.warm()

    def set_home(self, home: Home) -> None:
        """Every tier serves the changed home from now on (call it between model calls)."""
        self.home = home
        for tier in self.tiers:
            tier.set_home(home)

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding:
        """What to do and say: an action that passed the check, a question, or an honest reply (tier "none" when no
        tier understood)."""
        text = particle_of(without_wake_phrase(text))
        if not text:
            return Understanding(None, self.fallback_reply, "none")
        if (unclear := lock_or_unlock(text)) is not None:  # "and lock" may be "unlock" misheard: never guessed
            return Understanding(None, unclear, "none")
        nothing = asks_for_nothing(text)
        if nothing is not None:
            return Understanding(None, {"negated": LEAVE_AS_IS, "hypothetical": NO_ADVICE}.get(nothing, ON_A_CONDITION),
                                 "none")
        if leaves_out(text):
            return Understanding(None, NOT_ALL_BUT, "none")
        if reads_a_list(text, [n for e in self.home.entities if e.domain == "todo" for n in e.names]):
            return Understanding(None, "", "none", open_question=True)  # what is on a list: the list's to say
        if asks_the_weather(text, names.home_words(self.home)):
            # a thermostat's reading is no forecast: answered from sources, or "I can't look that up"
            return Understanding(None, "", "none", open_question=True)
        parts = several.split(text, self.home)
        if parts is not None:
            return several.combine([self._one(p, transcript_confidence) for p in parts], self.home, said=parts)
        return self._one(text, transcript_confidence)

    def _one(self, text: str, transcript_confidence: float | None) -> Understanding:
        """One command through the tiers and the check; an unsure transcript is never acted on without a verb that
        was heard, and its refusals are "didn't catch that" (not "I don't know a device called front")."""
        u = self._as_asked(text, self._tiers(text, transcript_confidence), transcript_confidence)
        if (u.intent is not None and u.intent.name in ADD_INTENTS and add_heard_as_and(text)
                and transcript_confidence is not None and transcript_confidence < SURE_SLIP_CONFIDENCE):
            # "and nope to my grocery list" (was it "add milk"?): "add" was not heard, the item may be misheard too
            return Understanding(None, ask_first(u.intent, self.home), u.tier, confidence=u.confidence, confirm=u)
        if transcript_confidence is None or transcript_confidence >= self.risky_transcript:
            return u
        if u.intent is None and u.confirm is None and not u.open_question and u.tier != "none":
            return replace(u, reply=DIDNT_CATCH)
        if u.intent is not None and u.intent.name in DEVICE_INTENTS and verb_of(text) is None:
            # "build the office heater" (was it "kill"?): the action is asked about, never guessed
            return Understanding(None, ask_first(u.intent, self.home), u.tier, confidence=u.confidence, confirm=u)
        if u.intent is not None and one_of_several(u.intent, self.home):
            # "turn off the bedroom light" heard unsure: was it "lights", the room's every light? Asked, not guessed
            return Understanding(None, ask_first(u.intent, self.home), u.tier, confidence=u.confidence, confirm=u)
        return u

    def _as_asked(self, text: str, u: Understanding, transcript_confidence: float | None) -> Understanding:
        """An action only when it is asked for now: a question is answered, never carried out ("can the vacuum
        clean upstairs"); a command for later is not done now ("every morning open the blinds"; "in an hour turn off
        the light" is the delayed command it means); an intention is asked about ("I'd better lock the door"). The
        clock answers only for the time here and now ("what time does the sun set" is looked up, from sources)."""
        acting = u.intent or (u.confirm.intent if u.confirm is not None else None)
        if acting is None:
            return self._delayed(text, transcript_confidence) or u
        if acting.name in _CLOCK_INTENTS and not asks_the_clock(text):
            return Understanding(None, "", u.tier, confidence=u.confidence, open_question=True)
        if acting.name not in HOME_ACTIONS:
            return u
        if asks_about(text):  # answered from sources (small talk, Home Assistant's agent), never by doing it
            return Understanding(None, "", u.tier, confidence=u.confidence, open_question=True)
        if for_later(text):
            return self._delayed(text, transcript_confidence) or Understanding(None, FOR_LATER, u.tier,
                                                                              confidence=u.confidence)
        if intends(text) and u.intent is not None:
            return Understanding(None, ask_first(u.intent, self.home), u.tier, confidence=u.confidence, confirm=u)
        return u

    def _delayed(self, text: str, transcript_confidence: float | None) -> Understanding | None:
        """The delayed command a delay said first or in other words means ("in an hour turn off the light" is
        "turn off the light in one hour", a timer that does it), or None."""
        reordered = delay_last(text) if for_later(text) else None
        if reordered is None or reordered == text:
            return None
        delayed = self._tiers(reordered, transcript_confidence)
        return delayed if delayed.intent is not None and delayed.intent.name == "HassStartTimer" else None

    def _tiers(self, text: str, transcript_confidence: float | None) -> Understanding:
        unresolved: Understanding | None = None
        for tier in self.tiers:
            found = tier.understand(text, transcript_confidence=transcript_confidence)
            if found is None:
                continue
            checked = check(text, found, self.home)
            if checked is not found and found.tier == "template":
                checked = replace(checked, unresolved=True)  # a template read that fails the check: ask the model
            found = checked
            if found.unresolved and unresolved is None:
                unresolved = found  # the template matched but found nothing here: the model may read it better
                continue
            if (unresolved is not None and found.intent is None and found.confirm is None
                    and not found.reply.startswith("Which ")):
                found = unresolved  # neither acts: the template's reason is the better-typed one, unless the
                # model's answer asks which of this home's devices was meant (it found them, the template did not)
            found = second_reading(text, found, self.home)
            return self._spoken(text, self.confirm_risky(found, transcript_confidence))
        if unresolved is not None:
            return second_reading(text, unresolved, self.home)
        return self._spoken(text, Understanding(None, self.fallback_reply, "none"))

    def _spoken(self, text: str, u: Understanding) -> Understanding:
        """Small talk answered as such; never a reply in the answer language."""
        if u.intent is None and u.confirm is None and not u.open_question:
            talk = small_talk(text)
            if talk is not None:
                return replace(u, reply=talk)
        if _ANSWER_LANGUAGE.search(u.reply):
            log.warning("a reply in the answer language was not spoken: %r", u.reply[:80])
            return replace(u, reply=self.fallback_reply)
        return u

    def confirm_risky(self, u: Understanding, transcript_confidence: float | None) -> Understanding:
        """A risky action (a lock, a garage door, an alarm: intents.is_risky) heard in an uncertain transcript is
        asked about first ("Do you want me to open the garage door?"); anything else is returned as it is."""
        if u.intent is None or transcript_confidence is None or transcript_confidence >= self.risky_transcript:
            return u
        if not is_risky(u.intent, self.home):
            return u
        return Understanding(None, ask_first(u.intent, self.home), u.tier, confidence=u.confidence, confirm=u)

    def stream_reply(self, text: str) -> Iterator[str]:
        """The answer to an open question, sentence by sentence, from sources only (answers.py); never the answer
        language."""
        for sentence in self.answers.answer(text):
            yield self.fallback_reply if _ANSWER_LANGUAGE.search(sentence) else sentence

    def quick(self, text: str) -> Understanding | None:
        """Only the first (fast, template) tier: used to decide whether a partial transcript is already a command."""
        text = particle_of(without_wake_phrase(text))
        if (not self.tiers or not text or asks_for_nothing(text) or leaves_out(text) or add_heard_as_and(text)
                or several.split(text, self.home) is not None):
            return None  # the whole way: negations, exclusions, several targets, "and milk to my list"
        found = self.tiers[0].understand(text)
        if found is None or check(text, found, self.home) is not found:
            return None  # anything the check would change goes the whole way too
        if found.intent is not None and found.intent.name in DEVICE_INTENTS and verb_of(text) is None:
            return None  # no verb heard: whether to ask depends on the transcript's confidence (_one)
        if found.intent is not None and one_of_several(found.intent, self.home):
            return None  # "the bedroom light" or "lights": that too depends on the transcript's confidence (_one)
        return found

    def yes_or_no(self, text: str) -> bool | None:
        """The answer to "Did you mean ...?": True, False, or None when the words are neither (a new command)."""
        words = " ".join(re.sub(r"[^\w' ]+", " ", text.casefold()).split())
        if _NO.match(words):
            return False
        if _YES.match(words):
            return True
        return None
