"""Answers from the home's own data (daemon/homeassistant/home_answers.py) with fake sources: the weather entity's
reading and a to-do list's items are said as they are, a question about the weather to come is answered with the
reading now and says so, and no list or no weather entity is never a made-up answer."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from slm_voice.daemon.homeassistant.entity_states import StateCache
from slm_voice.daemon.homeassistant.home_answers import ListItems, WeatherNow, items_sentence, which_list
from slm_voice.pipeline.intent.answers import CANNOT_LOOK_UP, SourcedAnswers
from slm_voice.pipeline.intent.model import Entity, Home
from slm_voice.pipeline.intent.tiers import IntentTiers

LISTS = Home(entities=(Entity("todo.shopping_list", "shopping list", ("grocery list",)),
                       Entity("todo.personal_tasks", "Personal tasks", ("my tasks",)),
                       Entity("light.kitchen", "kitchen light", (), "kitchen")), areas=("kitchen",))


def states_with(entity_id: str, state: str, **attributes: Any) -> StateCache:
    cache = StateCache()
    cache._on_event({"data": {"entity_id": entity_id, "new_state": {"state": state, "attributes": attributes}}})
    return cache


class Silent:
    """A tier that never understands: what the tiers do before any tier is asked."""

    name = "none"
    home = LISTS

    def load(self) -> None: ...
    def warm(self) -> None: ...
    def set_home(self, home: Home) -> None: ...
    def understand(self, text: str, *, transcript_confidence: float | None = None) -> None:
        return None


def answer(text: str, *sources: Any) -> str:
    tiers = IntentTiers([Silent()], home=LISTS, answers=SourcedAnswers(sources=tuple(sources)))
    u = tiers.understand(text)
    assert u.open_question and u.intent is None, u
    return " ".join(tiers.stream_reply(text))


def test_the_weather_now_is_read_from_the_weather_entity() -> None:
    weather = WeatherNow(states_with("weather.home", "partlycloudy", temperature=12.5))
    assert answer("what's the weather like", weather) == "It's partly cloudy and 12.5 degrees outside."
    assert answer("will it rain tomorrow", weather) == (
        "I can only tell you the weather now: it's partly cloudy and 12.5 degrees outside.")
    assert answer("is it raining", WeatherNow(states_with("weather.home", "rainy"))) == "It's raining outside."


def test_no_weather_entity_or_no_reading_is_never_a_made_up_forecast() -> None:
    assert answer("what's the weather like", WeatherNow(StateCache())) == CANNOT_LOOK_UP
    unknown = WeatherNow(states_with("weather.home", "unavailable"))
    assert answer("what's the weather like", unknown) == "Sorry, the weather isn't available right now."


def test_a_list_is_chosen_by_its_name_else_the_only_or_the_shopping_list() -> None:
    lists = [e for e in LISTS.entities if e.domain == "todo"]
    assert which_list("what's on my tasks", lists).id == "todo.personal_tasks"
    assert which_list("read me the grocery list", lists).id == "todo.shopping_list"
    assert which_list("what's on the list", lists).id == "todo.shopping_list"
    assert which_list("what's on the list", [lists[1]]).id == "todo.personal_tasks"
    assert which_list("what's on the list", [lists[1], Entity("todo.work", "work")]) is None


def test_items_are_said_and_a_long_list_is_counted() -> None:
    assert items_sentence("shopping list", []) == "Your shopping list is empty."
    assert items_sentence("shopping list", ["milk"]) == "Your shopping list has milk."
    assert items_sentence("shopping list", ["milk", "eggs", "bread"]) == "Your shopping list has milk, eggs and bread."
    many = items_sentence("shopping list", [f"item {i}" for i in range(11)])
    assert many.endswith("item 7 and 3 more.")


class FakeLink:
    def __init__(self, items: dict[str, list[str]] | None) -> None:
        self.items, self.calls = items, []

    async def call(self, msg: dict[str, Any], timeout: float = 10.0) -> Any:
        self.calls.append(msg)
        if self.items is None:
            raise ConnectionError("Home Assistant is not connected")
        entity_id = msg["target"]["entity_id"]
        return {"response": {entity_id: {"items": [{"summary": s, "status": "needs_action"}
                                                   for s in self.items.get(entity_id, [])]}}}


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.mark.parametrize(("text", "said"), [
    ("what's on my shopping list", "Your shopping list has milk and eggs."),
    ("read me my tasks", "Your Personal tasks has call the dentist."),
    ("is there anything on the grocery list", "Your shopping list has milk and eggs."),
])
def test_a_list_is_read_through_home_assistant(loop: Any, text: str, said: str) -> None:
    link = FakeLink({"todo.shopping_list": ["milk", "eggs"], "todo.personal_tasks": ["call the dentist"]})
    assert answer(text, ListItems(link, loop, lambda: LISTS)) == said
    assert link.calls[-1]["return_response"] is True and link.calls[-1]["service"] == "get_items"


def test_an_unreachable_home_assistant_is_said_never_an_empty_list(loop: Any) -> None:
    reply = answer("what's on my shopping list", ListItems(FakeLink(None), loop, lambda: LISTS))
    assert reply == "Sorry, I couldn't read your shopping list from Home Assistant."


def test_adding_to_a_list_is_no_question_about_it(loop: Any) -> None:
    link = FakeLink({})
    tiers = IntentTiers([Silent()], home=LISTS, answers=SourcedAnswers(sources=(ListItems(link, loop, lambda: LISTS),)))
    assert not tiers.understand("add milk to my shopping list").open_question
    assert link.calls == []
