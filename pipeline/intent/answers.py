"""Answers to questions that are not commands, only from sources: small talk written here, or an outside
conversation agent the user configured (Home Assistant's, e.g. a local Ollama or OpenAI agent), else an honest
"I can't look that up here". The small language model never states facts from its own memory: a 0.5B model's
"facts" were wrong often enough ("the capital of Nigeria is Lagos") that saying none is the only honest choice.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .verbs import words_of

_log = logging.getLogger(__name__)

CANNOT_LOOK_UP = "Sorry, I can't look that up here. I can control your home, tell the time and set timers."
"""Said to a question no source here answers."""
NOT_AN_AGENT_ANSWER = "Sorry, the conversation agent didn't answer."

AskAgent = Callable[[str], str | None]
"""Asks an outside conversation agent; its spoken reply, or None when it could not answer."""
Source = Callable[[str], str | None]
"""A source of the home's own data (the weather entity, a to-do list): its spoken answer to a question it knows,
None to one it does not."""

JOKES = (
    "Why did the smart light go to school? To get a little brighter.",
    "I told my thermostat a joke. It didn't get warm to it.",
    "Why don't robots panic? They have nerves of steel.",
    "What do you call a lazy light switch? A dimmer.",
)
"""Built-in jokes: the only ones the assistant tells without an agent."""

_SMALL_TALK: tuple[tuple[re.Pattern[str], str | tuple[str, ...]], ...] = tuple(
    (re.compile(p), r) for p, r in (
        (r"^(thanks|thank you|thank you very much|thanks a lot|cheers|much appreciated|ta)\b", "You're welcome."),
        (r"^(good night|goodnight|night night|nighty night)\b", "Good night. Sleep well."),
        (r"^(good morning)\b", "Good morning."),
        (r"^(good afternoon)\b", "Good afternoon."),
        (r"^(good evening)\b", "Good evening."),
        (r"^(hello|hi|hey there|hiya|howdy|greetings)\b", "Hello. What can I do for you?"),
        (r"^(bye|goodbye|see you|see ya|later)\b", "Goodbye."),
        (r"^how are you\b|^how's it going\b|^how are things\b|^how are you doing\b",
         "I'm fine, thank you. What can I do for you?"),
        (r"\b(tell|know) (me )?(a|another|any) (good |funny )?jokes?\b|^make me laugh\b|^say something funny\b",
         JOKES),
        (r"^(who|what) are you\b|^what's your name\b|^what is your name\b",
         "I'm the voice assistant of this home. I run here, on this device, without the cloud."),
        (r"^what can you do\b|^help\b|^how can you help\b",
         "I can turn things on and off, open and close things, set lights, timers and the temperature, add to "
         "your lists, and tell you the time or what state your devices are in."),
        (r"^(i love you|you're great|you are great|good job|well done|you're awesome|you are awesome)\b",
         "Thank you, that's kind of you."),
        (r"^(sorry|my bad|oops)\b", "No problem."),
        (r"^(you're|you are) (the best|a star|amazing|brilliant|so smart|clever|smart)\b|^you rock\b|^nice one\b",
         "Thank you, that's kind of you."),
        (r"^(you're|you are) (useless|stupid|dumb|terrible|rubbish|an idiot|hopeless|annoying)\b|^you suck\b",
         "Sorry about that. Tell me what went wrong and try again."),
        (r"^(ok|okay|cool|ok cool|okay cool|great|nice|got it|alright|all right|fine|perfect|awesome|sure|good)$",
         "Okay."),
    ))


def small_talk(text: str, *, pick: Callable[[tuple[str, ...]], str] = random.choice) -> str | None:
    """The built-in reply to small talk ("thanks", "good night", "tell me a joke"), or None when it is not."""
    said = words_of(text)
    for pattern, reply in _SMALL_TALK:
        if pattern.search(said):
            return pick(reply) if isinstance(reply, tuple) else reply
    return None


@dataclass
class SourcedAnswers:
    """The spoken answer to an open question, from a source only."""

    agent: AskAgent | None = None
    """An outside conversation agent (Home Assistant's conversation/process); None: there is none."""
    agent_name: str | None = None
    """How to name it when its answer is not local ("OpenAI"); None: say nothing about the source."""
    sources: tuple[Source, ...] = ()
    """The home's own data, asked before the agent (daemon/homeassistant/home_answers.py)."""

    def answer(self, text: str) -> Iterator[str]:
        """The answer, sentence by sentence: small talk, else the home's own data, else the agent's answer, else
        "I can't look that up"."""
        reply = small_talk(text)
        for source in self.sources:
            if reply is not None:
                break
            try:
                reply = source(text)
            except Exception:  # a source failing is the next one's turn, never a made-up answer
                _log.exception("answer source failed for %r", text[:80])
        if reply is not None:
            yield reply
            return
        if self.agent is not None:
            try:
                said = self.agent(text)
            except Exception:  # the agent failing is told, never papered over
                _log.exception("conversation agent failed for %r", text[:80])
                said = None
            if said and said.strip():
                yield f"{self.agent_name} says: {said.strip()}" if self.agent_name else said.strip()
                return
            yield NOT_AN_AGENT_ANSWER
            return
        yield CANNOT_LOOK_UP
