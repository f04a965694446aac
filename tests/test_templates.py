"""The templates tier (hassil + Home Assistant's English sentences), target resolution and replies.

Runs the real hassil matcher over the real home-assistant-intents data with the home of config.yaml.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from slm_voice.daemon.settings import load_settings
from slm_voice.pipeline.intent.model import Entity, Home, Intent
from slm_voice.pipeline.intent.replies import reply_for
from slm_voice.pipeline.intent.resolve import resolve
from slm_voice.pipeline.intent.templates import TemplateTier, normalize_transcript

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
NOW = datetime(2026, 11, 28, 19, 42)  # a Saturday evening
STATES = {
    "cover.garage_door": "closed",
    "light.kitchen_ceiling": "on",
    "light.bedroom_lamp": "on",
    "light.living_room": "off",
    "climate.thermostat": "21.5",
}


def home_from_config(path: Path = CONFIG) -> Home:
    """config.yaml's home: section as a Home (the daemon's converter)."""
    from slm_voice.daemon.factory import home_from_settings

    return home_from_settings(load_settings(path).home)


@pytest.fixture(scope="module")
def home() -> Home:
    return home_from_config()


@pytest.fixture(scope="module")
def tier(home: Home) -> TemplateTier:
    t = TemplateTier(home, clock=lambda: NOW, states=STATES.get)
    t.load()
    t.warm()
    return t


# (transcript, intent, slots that must be present, entity ids, reply)
CASES = [
    ("turn on the kitchen light", "HassTurnOn", {"name": "kitchen light"}, ["light.kitchen_ceiling"],
     "Turned on the kitchen light."),
    ("turn off the lights in the kitchen", "HassTurnOff", {"area": "kitchen", "domain": "light"},
     ["light.kitchen_ceiling"], "Turned off the lights in the kitchen."),
    ("set the kitchen light to 50%", "HassLightSet", {"name": "kitchen light", "brightness": 50},
     ["light.kitchen_ceiling"], "Set the kitchen light to 50 percent."),
    ("set the bedroom lamp to red", "HassLightSet", {"name": "bedroom lamp", "color": "red"},
     ["light.bedroom_lamp"], "Set the bedroom lamp to red."),
    ("is the garage door open", "HassGetState", {"name": "garage door", "state": "open"},
     ["cover.garage_door"], "No, the garage door is closed."),
    ("which lights are on", "HassGetState", {"domain": "light", "state": "on"},
     ["light.bedroom_lamp", "light.kitchen_ceiling", "light.living_room"],
     "The bedroom lamp and the kitchen light are on."),
    ("what is the temperature", "HassClimateGetTemperature", {"area": "living room"}, ["climate.thermostat"],
     "It is 21.5 degrees in the living room."),
    ("set the thermostat to 21 degrees", "HassClimateSetTemperature", {"name": "thermostat", "temperature": 21},
     ["climate.thermostat"], "Set the thermostat to 21 degrees."),
    ("set a timer for 5 minutes", "HassStartTimer", {"minutes": 5}, [], "Timer set for 5 minutes."),
    ("set a timer for 1 hour and 30 minutes called pasta", "HassStartTimer",
     {"hours": 1, "minutes": 30, "name": "pasta"}, [], "Timer set for 1 hour and 30 minutes named pasta."),
    ("cancel the timer", "HassCancelTimer", {}, [], "Timer cancelled."),
    ("what time is it", "HassGetCurrentTime", {}, [], "It is 7:42 PM."),
    ("what's the date today", "HassGetCurrentDate", {}, [], "Today is Saturday, November 28."),
    ("pause the music", "HassMediaPause", {"area": "living room"}, ["media_player.living_room_speaker"],
     "Paused."),
    ("resume", "HassMediaUnpause", {}, ["media_player.living_room_speaker"], "Resumed."),
    ("next track", "HassMediaNext", {}, ["media_player.living_room_speaker"], "Playing the next track."),
    ("set the volume to 30%", "HassSetVolume", {"volume_level": 30}, ["media_player.living_room_speaker"],
     "Volume set to 30 percent."),
    ("add milk to my shopping list", "HassListAddItem", {"item": "milk", "name": "shopping list"},
     ["todo.shopping_list"], "Added milk to your shopping list."),
    ("never mind", "HassNevermind", {}, [], "Okay."),
    ("open the garage door", "HassTurnOn", {"name": "garage door"}, ["cover.garage_door"],
     "Opening the garage door."),
    ("close the garage door", "HassTurnOff", {"name": "garage door"}, ["cover.garage_door"],
     "Closing the garage door."),
    ("open the garage doors in the garage", "HassTurnOn", {"device_class": "garage", "area": "garage"},
     ["cover.garage_door"], "Opening the garage door."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "name", "slots", "entity_ids", "reply"), CASES, ids=[c[0] for c in CASES])
def test_home_assistant_phrasing(
    tier: TemplateTier, text: str, name: str, slots: dict, entity_ids: list[str], reply: str
) -> None:
    u = tier.understand(text)
    assert u is not None, f"no template matched {text!r}"
    assert u.tier == "template"
    assert u.intent is not None and u.intent.name == name
    assert slots.items() <= u.intent.slots.items()
    assert list(u.intent.entity_ids) == entity_ids
    assert u.reply == reply
    json.dumps(u.intent.slots)  # slots are plain data


def test_shopping_list_intent_is_known(tier: TemplateTier) -> None:
    # With a todo list named "shopping list" HA's name-based HassListAddItem wins; the list-less
    # HassShoppingListAddItem still resolves to that list when a home calls it differently.
    home = Home(entities=(Entity("todo.groceries", "groceries", ("shopping list",)),))
    r = resolve("HassShoppingListAddItem", {"item": "eggs"}, home)
    assert r.entity_ids == ("todo.groceries",) and r.problem is None
    intent = Intent("HassShoppingListAddItem", {"item": "eggs"}, r.entity_ids)
    assert reply_for(intent, home, now=NOW) == "Added eggs to your groceries."


@pytest.mark.parametrize(
    ("whisper", "plain"),
    [
        ("Turn on the kitchen light.", "turn on the kitchen lights"),
        ("Set a timer for five minutes.", "set a timer for 5 minutes"),
        ("SET THE KITCHEN LIGHT TO 50 %.", "set the kitchen light to fifty percent"),
        ("Set the thermostat to 21°C.", "set the thermostat to twenty-one degrees"),
        ("What’s the time?", "what time is it"),
        ("Please, turn on the coffee maker!", "turn on the coffee maker"),
        ("[BLANK_AUDIO] Pause the music.", "pause the music"),
    ],
)
def test_whisper_style_text_matches_like_plain_text(tier: TemplateTier, whisper: str, plain: str) -> None:
    a, b = tier.understand(whisper), tier.understand(plain)
    assert a is not None and b is not None
    assert a.intent is not None and b.intent is not None
    assert (a.intent.name, a.intent.entity_ids) == (b.intent.name, b.intent.entity_ids)
    assert {k: v for k, v in a.intent.slots.items() if k != "name"} == {
        k: v for k, v in b.intent.slots.items() if k != "name"
    }


def test_satellite_area_is_the_context(home: Home, tier: TemplateTier) -> None:
    u = tier.understand("turn on the lights")
    assert u is not None and u.intent is not None
    assert u.intent.slots["area"] == "living room"
    assert u.intent.entity_ids == ("light.living_room",)
    assert u.reply == "Turned on the lights in the living room."

    kitchen = TemplateTier(Home(home.areas, home.entities, satellite_area="kitchen"), clock=lambda: NOW)
    u = kitchen.understand("turn off the lights")
    assert u is not None and u.intent is not None and u.intent.entity_ids == ("light.kitchen_ceiling",)
    # No media player in the kitchen: understood, but honestly not actionable.
    u = kitchen.understand("pause the music")
    assert u is not None and u.intent is None and u.tier == "template"
    assert u.reply == "Sorry, there is no media player in the kitchen."

    nowhere = TemplateTier(Home(home.areas, home.entities, satellite_area=None), clock=lambda: NOW)
    assert nowhere.understand("turn on the lights") is None  # HA needs an area for this; the next tier decides
    u = nowhere.understand("turn on the lights in the bedroom")
    assert u is not None and u.intent is not None and u.intent.entity_ids == ("light.bedroom_lamp",)


@pytest.mark.parametrize(
    ("text", "entity_id"),
    [
        ("turn off the bedside lamp", "light.bedroom_lamp"),
        ("turn on the coffee machine", "switch.coffee_maker"),
        ("set the heating to 20 degrees", "climate.thermostat"),
        ("pause the speaker", "media_player.living_room_speaker"),
        ("turn on the living room lights", "light.living_room"),
    ],
)
def test_aliases(tier: TemplateTier, text: str, entity_id: str) -> None:
    u = tier.understand(text)
    assert u is not None and u.intent is not None
    assert u.intent.entity_ids == (entity_id,)


def test_reply_names_the_entity_not_the_alias(tier: TemplateTier) -> None:
    u = tier.understand("turn on the coffee machine")
    assert u is not None and u.reply == "Turned on the coffee maker."


def test_unknown_device_is_left_to_the_next_tier(tier: TemplateTier) -> None:
    assert tier.understand("turn on the jacuzzi") is None


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("turn on the lights in the garage", "Sorry, there is no light in the garage."),
        ("what is the temperature in the kitchen", "Sorry, there is no thermostat in the kitchen."),
        ("turn on the kitchen light in the bedroom", "Sorry, there is no kitchen light in the bedroom."),
    ],
)
def test_understood_but_no_target_gives_an_honest_reply(tier: TemplateTier, text: str, reply: str) -> None:
    u = tier.understand(text)
    assert u is not None
    assert u.intent is None and u.tier == "template"
    assert u.reply == reply


@pytest.mark.parametrize(
    "text", ["", "   ", ".", "[BLANK_AUDIO]", "blah blah foo", "the quick brown fox", "what's the weather"]
)
def test_empty_and_nonsense_give_none(tier: TemplateTier, text: str) -> None:
    assert tier.understand(text) is None
    assert tier.matches(text) is False


def test_loads_once() -> None:
    tier = TemplateTier(home_from_config(), clock=lambda: NOW)
    assert not tier.loaded
    assert tier.understand("what time is it") is not None  # loads on first use if nobody called load()
    intents, took = tier._intents, tier.load_seconds
    assert intents is not None and took is not None
    tier.load()
    tier.warm()
    assert tier._intents is intents and tier.load_seconds == took


def test_state_questions_without_live_states(home: Home) -> None:
    tier = TemplateTier(home, clock=lambda: NOW)  # no states lookup
    u = tier.understand("is the garage door open")
    assert u is not None and u.reply == "I don't know the state of the garage door."
    u = tier.understand("what's the temperature")
    assert u is not None and u.reply == "I don't know the temperature in the living room."


def test_bad_arguments(home: Home) -> None:
    with pytest.raises(ValueError, match="English"):
        TemplateTier(home, language="de")
    with pytest.raises(ValueError, match="HassBrewCoffee"):
        TemplateTier(home, intents={"HassTurnOn", "HassBrewCoffee"})


def test_intents_can_be_narrowed(home: Home) -> None:
    tier = TemplateTier(home, intents={"HassGetCurrentTime"}, clock=lambda: NOW)
    assert tier.understand("what time is it") is not None
    assert tier.understand("turn on the kitchen light") is None


# --- resolve.py -------------------------------------------------------------------------------------

TWO_LAMPS = Home(
    areas=("bedroom", "office"),
    entities=(
        Entity("light.bedroom_desk", "desk lamp", area="bedroom"),
        Entity("light.office_desk", "desk lamp", area="office"),
        Entity("light.office_ceiling", "office light", area="office"),
    ),
    satellite_area="office",
)


def test_shared_name_prefers_the_satellite_area() -> None:
    assert resolve("HassTurnOn", {"name": "desk lamp"}, TWO_LAMPS).entity_ids == ("light.office_desk",)
    r = resolve("HassTurnOn", {"name": "Desk Lamp", "area": "Bedroom"}, TWO_LAMPS)
    assert r.entity_ids == ("light.bedroom_desk",)
    elsewhere = Home(TWO_LAMPS.areas, TWO_LAMPS.entities, satellite_area=None)
    assert resolve("HassTurnOn", {"name": "desk lamp"}, elsewhere).problem == (
        "Which one do you mean: the desk lamp in the bedroom or the desk lamp in the office?"
    )


def test_shared_name_through_the_tier() -> None:
    u = TemplateTier(TWO_LAMPS, clock=lambda: NOW).understand("turn on the desk lamp in the bedroom")
    assert u is not None and u.intent is not None and u.intent.entity_ids == ("light.bedroom_desk",)


def test_area_and_domain_pick_all_of_them() -> None:
    r = resolve("HassTurnOff", {"domain": "light", "area": "office"}, TWO_LAMPS)
    assert r.entity_ids == ("light.office_ceiling", "light.office_desk")


def test_language_model_slots_use_the_area_fallback(home: Home) -> None:
    r = resolve("HassTurnOn", {"domain": "light"}, home, area_fallback=home.satellite_area)
    assert r.entity_ids == ("light.living_room",)
    assert resolve("HassMediaPause", {}, home, area_fallback="living room").entity_ids == (
        "media_player.living_room_speaker",
    )
    assert resolve("HassTurnOn", {"name": "kitchen light", "area": "attic"}, home).problem == (
        "Sorry, I don't know an area called attic."
    )
    assert resolve("HassTurnOn", {"name": "jacuzzi"}, home).problem == "Sorry, I don't know a device called jacuzzi."
    assert resolve("HassGetCurrentTime", {}, home) == resolve("HassStartTimer", {"minutes": 3}, home)


# --- replies.py -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "reply"),
    [
        (datetime(2026, 1, 1, 0, 5), "It is 12:05 AM."),
        (datetime(2026, 1, 1, 7, 42), "It is 7:42 AM."),
        (datetime(2026, 1, 1, 12, 0), "It is 12:00 PM."),
        (datetime(2026, 1, 1, 23, 59), "It is 11:59 PM."),
    ],
)
def test_time_is_said_on_a_12_hour_clock(home: Home, now: datetime, reply: str) -> None:
    assert reply_for(Intent("HassGetCurrentTime"), home, now=now) == reply


def test_replies_for_language_model_intents(home: Home) -> None:
    # The language-model tier may hand over intents with entity ids it resolved itself.
    lights = Intent("HassTurnOff", {"domain": "light", "area": "kitchen"}, ("light.kitchen_ceiling",))
    assert reply_for(lights, home, now=NOW) == "Turned off the lights in the kitchen."
    cover = Intent("HassTurnOn", {"name": "garage door"}, ("cover.garage_door",))
    assert reply_for(cover, home, now=NOW) == "Opening the garage door."
    timer = Intent("HassStartTimer", {"hours": 2, "seconds": 1})
    assert reply_for(timer, home, now=NOW) == "Timer set for 2 hours and 1 second."
    state = Intent("HassGetState", {"name": "office fan"}, ("fan.office_fan",))
    assert reply_for(state, home, now=NOW, states={"fan.office_fan": "on"}.get) == "The office fan is on."
    assert reply_for(state, home, now=NOW, states=lambda _id: None) == "I don't know the state of the office fan."
    assert reply_for(Intent("HassSomethingNew"), home, now=NOW) == "Okay."


def test_normalize_transcript() -> None:
    assert normalize_transcript("  Set the heat to 20 °F. ") == "Set the heat to 20 degrees."
    assert normalize_transcript("21 degrees Celsius") == "21 degrees"
    assert normalize_transcript("(upbeat music)") == ""
    assert normalize_transcript("What’s up & down") == "What's up and down"


@pytest.mark.parametrize("heard", ["floor, turn off the kitchen light", "will turn off the kitchen light,",
                                   "and turn off the kitchen light", "um, turn off the kitchen light"])
def test_a_stray_word_before_the_command_changes_nothing(tier: TemplateTier, heard: str) -> None:
    """After a barge-in Whisper may hear a word of the wake phrase's tail or of the assistant's own voice first."""
    u = tier.understand(heard)
    assert u is not None and u.intent is not None
    assert (u.intent.name, u.intent.entity_ids) == ("HassTurnOff", ("light.kitchen_ceiling",))


@pytest.mark.parametrize("heard", ["kitchen, turn off the light", "bedroom turn off the light",
                                   "i turn off the kitchen light", "should turn off the kitchen light",
                                   "never turn off the kitchen light"])
def test_a_word_before_the_command_that_names_a_place_or_changes_it_is_never_dropped(
        tier: TemplateTier, heard: str) -> None:
    """Left to the language model, which reads the whole sentence."""
    u = tier.understand(heard)
    assert u is None or u.intent is None, u


def test_add_heard_as_and_is_read_as_a_list_item_only(tier: TemplateTier) -> None:
    u = tier.understand("and milk to my shopping list.")
    assert u is not None and u.intent is not None and u.intent.name in ("HassListAddItem", "HassShoppingListAddItem")
    u = tier.understand("and the garage door open")
    assert u is None or u.intent is None or u.intent.name != "HassListAddItem"
