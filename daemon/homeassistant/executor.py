"""Intents carried out by Home Assistant over the live link, confirmed by its answer.

Actions: the intent's resolved entities become service calls (services.py); the reply is spoken only after Home
Assistant answered. Success keeps the tier's confirmation; an entity Home Assistant does not have, an unavailable
one, or an error gives an honest sentence; no answer within homeassistant.timeout_s gives "Home Assistant didn't
answer"; no connection gives "I can't reach Home Assistant right now" at once (nothing is queued for later).
Questions ("is the garage door open") are answered from the live state cache.

Home Assistant answers success even for entities it does not have (it only logs "Referenced entities ... are
missing"), so targets are checked against its states first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from ...pipeline.events import IntentRecognized
from ...pipeline.intent.model import Home, Intent
from ...pipeline.intent.replies import reply_for, request_phrase
from ...pipeline.roles import ActionOutcome
from .entity_states import StateCache
from .link import HaError, HomeAssistantLink, LinkDown
from .services import QUERY_INTENTS, calls_for

log = logging.getLogger(__name__)

UNREACHABLE = "I can't reach Home Assistant right now."
NO_ANSWER = "Home Assistant didn't answer."


class HomeAssistantExecutor:
    """Executor (pipeline.roles) for the live Home Assistant link."""

    def __init__(self, link: HomeAssistantLink, states: StateCache, home: Callable[[], Home], *,
                 timeout_s: float = 5.0, clock: Callable[[], datetime] = datetime.now) -> None:
        """home: the home currently served (names for replies)."""
        self.link = link
        self.states = states
        self.home = home
        self.timeout_s = timeout_s
        self._clock = clock

    @property
    def connected(self) -> bool:
        return self.link.connected

    async def execute(self, event: IntentRecognized) -> ActionOutcome:
        intent: Intent = event.understanding.intent
        if not self.link.connected:
            return ActionOutcome(done=False, reply=UNREACHABLE, by="none")
        home = self.home()
        if self.states.ready:
            missing = [i for i in intent.entity_ids if not self.states.has(i)]
            if missing:
                log.warning("turn %s: Home Assistant has no %s", event.turn_id, ", ".join(missing))
                return ActionOutcome(done=False, reply=f"Home Assistant doesn't know {_things(missing, home)}.")
            down = [i for i in intent.entity_ids if self.states.raw_state(i) == "unavailable"]
            if down and intent.name not in QUERY_INTENTS:
                verb = "is" if len(down) == 1 else "are"
                return ActionOutcome(done=False, reply=_capital(f"{_things(down, home, definite=True)} {verb} "
                                                                 "unavailable in Home Assistant right now."))
        if intent.name in QUERY_INTENTS:
            return self._answer(intent, home)
        calls = calls_for(intent.name, intent.slots, intent.entity_ids, self.states.volume)
        if not calls:
            return ActionOutcome(done=False, reply=f"Sorry, Home Assistant can't {request_phrase(intent, home)}.")
        try:
            async with asyncio.timeout(self.timeout_s):
                for call in calls:
                    await self.link.call(call.message(), timeout=self.timeout_s)
        except TimeoutError:
            log.warning("turn %s: Home Assistant did not answer %s within %.1f s", event.turn_id, intent.name,
                        self.timeout_s)
            return ActionOutcome(done=False, reply=NO_ANSWER, by="none")
        except LinkDown:
            return ActionOutcome(done=False, reply=UNREACHABLE, by="none")
        except HaError as e:
            log.warning("turn %s: Home Assistant refused %s: %s", event.turn_id, intent.name, e)
            return ActionOutcome(done=False, reply=f"Home Assistant couldn't do that: {e.message.rstrip('.')}.")
        return ActionOutcome(done=True, reply=None, by="homeassistant")

    def _answer(self, intent: Intent, home: Home) -> ActionOutcome:
        lookup = self.states.temperature if intent.name == "HassClimateGetTemperature" else self.states.state
        return ActionOutcome(done=True, reply=reply_for(intent, home, now=self._clock(), states=lookup),
                             by="homeassistant")


def _things(entity_ids: list[str], home: Home, *, definite: bool = False) -> str:
    names = []
    for entity_id in entity_ids:
        entity = home.entity(entity_id)
        name = entity.name if entity is not None else entity_id
        article = "the" if definite or len(entity_ids) > 1 else ("an" if name[:1].lower() in "aeiou" else "a")
        names.append(f"{article} {name}")
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + (" and " if definite else " or ") + names[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
