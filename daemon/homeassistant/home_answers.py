"""Answers from the home's own data in Home Assistant, for questions no device intent answers: the weather entity's
reading ("what's the weather like") and what is on a to-do list ("what's on my shopping list", through the
`todo.get_items` service). Each is a source for SourcedAnswers (pipeline/intent/answers.py): its answer to a
question it knows, None to any other, so the next source (the conversation agent) or "I can't look that up" follows.
Never a guess: no weather entity, no list, an unreachable Home Assistant are said as such.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from ...pipeline.intent.model import Entity, Home
from ...pipeline.intent.verbs import asks_the_weather, reads_a_list, words_of
from .entity_states import StateCache
from .link import HomeAssistantLink

log = logging.getLogger(__name__)

CONDITIONS = {"clear-night": "clear", "cloudy": "cloudy", "exceptional": "exceptional weather", "fog": "foggy",
              "hail": "hailing", "lightning": "stormy", "lightning-rainy": "stormy with rain",
              "partlycloudy": "partly cloudy", "pouring": "pouring with rain", "rainy": "raining",
              "snowy": "snowing", "snowy-rainy": "sleeting", "sunny": "sunny", "windy": "windy",
              "windy-variant": "windy and cloudy"}
"""Home Assistant's weather conditions, as said ("it's partly cloudy")."""
_LATER = re.compile(r"\b(?:tomorrow|tonight|later|this (?:afternoon|evening|weekend)|next|will|going to|forecast|"
                    r"week|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
"""A question about the weather to come: only the reading now is here, and it is said as that."""
MOST_ITEMS = 8
"""Items read out at most; the rest are counted."""
NO_LIST = "Which list do you mean?"


class WeatherNow:
    """The weather entity's reading now ("It's partly cloudy and 12 degrees outside.")."""

    def __init__(self, states: StateCache) -> None:
        self.states = states

    def __call__(self, text: str) -> str | None:
        if not asks_the_weather(text):
            return None
        ids = self.states.ids("weather")
        if not ids:
            return None  # no weather entity: Home Assistant's agent may know, else "I can't look that up"
        condition = self.states.state(ids[0])
        if condition is None:
            return "Sorry, the weather isn't available right now."
        now = f"it's {CONDITIONS.get(condition, condition.replace('-', ' '))}"
        temperature = self.states.attributes(ids[0]).get("temperature")
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
            now += f" and {temperature:g} degrees"
        if _LATER.search(words_of(text)):
            return f"I can only tell you the weather now: {now} outside."
        return f"{now[0].upper()}{now[1:]} outside."


class ListItems:
    """What is on one of the home's to-do lists, read through Home Assistant's todo.get_items; callable from the
    model worker thread (not the event loop)."""

    def __init__(self, link: HomeAssistantLink, loop: asyncio.AbstractEventLoop, home: Callable[[], Home], *,
                 timeout_s: float = 5.0) -> None:
        self.link, self.loop, self.home, self.timeout_s = link, loop, home, timeout_s

    def __call__(self, text: str) -> str | None:
        lists = [e for e in self.home().entities if e.domain == "todo"]
        if not reads_a_list(text, [n for e in lists for n in e.names]):
            return None
        chosen = which_list(text, lists)
        if chosen is None:
            return NO_LIST if lists else "Sorry, there is no list here."
        future = asyncio.run_coroutine_threadsafe(self.items(chosen.id), self.loop)
        try:
            items = future.result(self.timeout_s + 1.0)
        except Exception as e:  # unreachable, refused, timed out: said, never an empty list
            future.cancel()
            log.warning("todo.get_items %s: %s", chosen.id, e)
            return f"Sorry, I couldn't read your {chosen.name} from Home Assistant."
        return items_sentence(chosen.name, items)

    async def items(self, entity_id: str) -> list[str]:
        """The open items of a to-do entity, in its order."""
        result = await self.link.call({"type": "call_service", "domain": "todo", "service": "get_items",
                                       "target": {"entity_id": entity_id},
                                       "service_data": {"status": "needs_action"}, "return_response": True},
                                      timeout=self.timeout_s)
        found: Any = ((result or {}).get("response") or {}).get(entity_id) or {}
        return [str(i["summary"]) for i in found.get("items", []) if isinstance(i, dict) and i.get("summary")]


def which_list(text: str, lists: list[Entity]) -> Entity | None:
    """The list the words name (its name or alias), else the only list, else the shopping list; None: unclear."""
    said = f" {words_of(text)} "
    named = [e for e in lists if any(f" {words_of(n)} " in said for n in e.names)]
    if len(named) == 1:
        return named[0]
    if len(lists) == 1:
        return lists[0]
    shopping = [e for e in lists if "shopping list" in (n.casefold() for n in e.names)]
    return shopping[0] if len(shopping) == 1 and not named else None


def items_sentence(name: str, items: list[str]) -> str:
    """ "Your shopping list has milk, eggs and bread." (at most MOST_ITEMS named, the rest counted)."""
    if not items:
        return f"Your {name} is empty."
    shown = items[:MOST_ITEMS]
    rest = len(items) - len(shown)
    if rest:
        shown = [*shown, f"{rest} more"]
    said = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
    return f"Your {name} has {said}."
