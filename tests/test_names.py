"""Spoken words to the home's devices and rooms (names.py through resolve.py): what people say is found, and
several candidates give a question that names them, never a guess."""

from __future__ import annotations

import pytest

from slm_voice.pipeline.intent import names
from slm_voice.pipeline.intent.model import Entity, Home
from slm_voice.pipeline.intent.resolve import resolve

HOME = Home(
    areas=("kitchen", "living room", "bedroom", "hallway", "office", "garage"),
    entities=(
        Entity("light.kitchen", "kitchen light", (), "kitchen"),
        Entity("light.living_room", "living room light", (), "living room"),
        Entity("light.floor_lamp", "floor lamp", (), "living room"),
        Entity("light.bedroom", "bedroom light", (), "bedroom"),
        Entity("light.bedside_lamp", "bedside lamp", (), "bedroom"),
        Entity("light.desk_lamp", "desk lamp", (), "office"),
        Entity("light.hallway", "hallway light", (), "hallway"),
        Entity("switch.plug", "smart plug", ("wemo plug",), "living room"),
        Entity("switch.coffee", "coffee maker", ("coffee machine",), "kitchen"),
        Entity("cover.garage_door", "garage door", (), "garage"),
        Entity("light.garage", "garage light", (), "garage"),
        Entity("media_player.speaker", "living room speaker", ("speaker",), "living room"),
        Entity("cover.bedroom_blinds", "bedroom blinds", (), "bedroom"),
        Entity("cover.office_blinds", "office blinds", (), "office"),
    ),
    satellite_area="living room",
)


@pytest.mark.parametrize(("slots", "ids"), [
    ({"name": "coffee"}, ("switch.coffee",)),
    ({"name": "the wemo plug socket"}, ("switch.plug",)),
    ({"name": "wemo"}, ("switch.plug",)),
    ({"name": "desk lamp one"}, ("light.desk_lamp",)),
    ({"name": "bed side lamps"}, ("light.bedside_lamp",)),
    ({"name": "speakers"}, ("media_player.speaker",)),
    ({"name": "kitchen lights"}, ("light.kitchen",)),
    ({"name": "garage", "domain": "cover"}, ("cover.garage_door",)),
    ({"area": "bed room", "domain": "light"}, ("light.bedroom", "light.bedside_lamp")),
    ({"area": "hall", "domain": "light"}, ("light.hallway",)),
    ({"name": "lamp", "area": "office"}, ("light.desk_lamp",)),
])
def test_spoken_words_find_the_device(slots: dict, ids: tuple[str, ...]) -> None:
    res = resolve("HassTurnOn", slots, HOME, area_fallback=HOME.satellite_area)
    assert res.problem is None, res.problem
    assert res.entity_ids == ids


def test_exact_names_still_come_first() -> None:
    assert resolve("HassTurnOn", {"name": "floor lamp"}, HOME).entity_ids == ("light.floor_lamp",)
    # "garage" alone names no device exactly, and fits the door and the light: ask which
    res = resolve("HassTurnOn", {"name": "garage"}, HOME)
    assert res.entity_ids == () and "garage door" in str(res.problem) and "garage light" in str(res.problem)


def test_a_plural_in_several_rooms_none_here_asks_which_room() -> None:
    """ "open the blinds" with blinds in the bedroom and the office and none where the satellite stands."""
    res = resolve("HassTurnOn", {"name": "blinds"}, HOME, area_fallback=HOME.satellite_area)
    assert res.entity_ids == () and res.problem == "Which room do you mean: the bedroom or the office?"
    res = resolve("HassTurnOn", {"name": "blinds", "area": "office"}, HOME)
    assert res.entity_ids == ("cover.office_blinds",)


@pytest.mark.parametrize(("slots", "words"), [
    ({"name": "bedroom lamp"}, ("the bedroom light", "the bedside lamp")),
    ({"name": "blind", "area": None}, ("the bedroom blinds", "the office blinds")),
])
def test_several_candidates_get_a_question_that_names_them(slots: dict, words: tuple[str, ...]) -> None:
    res = resolve("HassTurnOn", {k: v for k, v in slots.items() if v}, HOME)
    assert res.entity_ids == ()
    assert res.problem is not None and res.problem.startswith("Which one")
    assert all(w in res.problem for w in words)


@pytest.mark.parametrize("slots", [{"name": "jacuzzi"}, {"name": "tesla charger"}, {"area": "basement",
                                                                                     "domain": "light"}])
def test_what_the_home_lacks_is_said_not_guessed(slots: dict) -> None:
    res = resolve("HassTurnOn", slots, HOME)
    assert res.entity_ids == () and res.problem is not None and res.problem.startswith("Sorry")


def test_word_rules() -> None:
    assert names.words("The bed-side lamps") == ["bed", "side", "lamp"]
    assert names.is_plural("the blinds") and not names.is_plural("the glass")
    assert names.match_area(HOME, "living") == "living room"
    assert names.match_area(HOME, "room") is None  # fits several rooms
    assert names.area_and_noun(HOME, "office lamps") == ("office", "light")


def test_numbers_said_as_words_find_numbered_rooms_but_a_leading_one_is_no_number() -> None:
    home = Home(areas=("bedroom 1", "bedroom 2"), entities=(
        Entity("light.bedroom_1", "bedroom 1 light", (), "bedroom 1"),
        Entity("light.bedroom_2", "bedroom 2 light", (), "bedroom 2")))
    assert names.match_areas(home, "bedroom two") == ("bedroom 2",)
    assert resolve("HassTurnOff", {"area": "bedroom one", "domain": "light"}, home).entity_ids == ("light.bedroom_1",)
    assert names.words("the one light") == ["one", "light"]  # "the one light" names no room 1
