"""Home Assistant both ways, the logic without a server: the service table and the blueprint derived from the one
intent list, discovery, registry -> home, floors and device classes in templates and the resolver, timers and
delayed commands in the turn machine, the state files. (tests/test_homeassistant.py runs a real Home Assistant.)
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from slm_voice.daemon.homeassistant import blueprint, discovery
from slm_voice.daemon.homeassistant.home import build_home, merge
from slm_voice.daemon.homeassistant.services import ACTION_INTENTS, QUERY_INTENTS, RULES, calls_for
from slm_voice.daemon.mqtt import Topics
from slm_voice.daemon.observers import spoken_text
from slm_voice.daemon.settings import ConfigError, MqttSettings, parse_settings
from slm_voice.daemon.state import Outbox, SavedControls, SavedTimers
from slm_voice.pipeline.assistant import Assistant, AssistantOptions
from slm_voice.pipeline.intent.intents import HOME_INTENTS, INTENTS, NAMES
from slm_voice.pipeline.intent.model import Entity, Home, Intent, Understanding
from slm_voice.pipeline.intent.resolve import resolve
from slm_voice.pipeline.intent.templates import TemplateTier
from slm_voice.pipeline.roles import ActionOutcome
from slm_voice.pipeline.timers import Timers, duration_words
from tests.fakes import FakeExecutor, FakeStt, FakeTiers, FakeTts, FakeWake, Frames, RecordingSink, endpointer, until

REPO = Path(__file__).resolve().parents[1]

HOME = Home(
    areas=("kitchen", "bedroom", "garage", "hallway"),
    entities=(
        Entity("light.kitchen", "kitchen light", (), "kitchen"),
        Entity("light.bedroom", "bedroom light", ("bedside lamp",), "bedroom"),
        Entity("cover.garage", "garage door", (), "garage", "garage"),
        Entity("binary_sensor.pet_door", "pet door", (), "hallway", "door"),
        Entity("lock.front_door", "front door", (), "hallway"),
        Entity("sensor.bedroom_temperature", "bedroom temperature", (), "bedroom", "temperature"),
        Entity("switch.coffee_maker", "coffee maker", (), "kitchen"),
    ),
    satellite_area="kitchen",
    floors=("ground floor", "first floor"),
    area_floors=(("kitchen", "ground floor"), ("hallway", "ground floor"), ("garage", "ground floor"),
                 ("bedroom", "first floor")),
    area_aliases=(("sleeping room", "bedroom"),),
)
STATES = {"light.kitchen": "on", "light.bedroom": "off", "cover.garage": "open", "binary_sensor.pet_door": "on",
          "lock.front_door": "locked", "sensor.bedroom_temperature": "19.5"}


# --- one intent list: services, blueprint, discovery -------------------------------------------------------


def test_every_home_intent_that_acts_has_a_service_and_every_question_none() -> None:
    acting = {i.name for i in INTENTS if i.where == "home" and not i.query}
    assert acting == ACTION_INTENTS
    assert {i.name for i in INTENTS if i.where == "home" and i.query} == QUERY_INTENTS
    assert ACTION_INTENTS | QUERY_INTENTS == HOME_INTENTS


def test_the_committed_blueprint_is_the_generated_one() -> None:
    committed = (REPO / blueprint.PATH).read_text(encoding="utf-8")
    assert committed == blueprint.render(), (
        "homeassistant/blueprints/slm_voice_intents.yaml drifted: run "
        "`python -m slm_voice.daemon.homeassistant.blueprint > homeassistant/blueprints/slm_voice_intents.yaml`")


class _HaLoader(yaml.SafeLoader):
    """YAML loader that knows Home Assistant's !input tag."""


_HaLoader.add_constructor("!input", lambda loader, node: {"!input": loader.construct_scalar(node)})


def test_blueprint_uses_the_2024_3_syntax_checks_expiry_and_handled_and_covers_every_action() -> None:
    doc = yaml.load(blueprint.render(), Loader=_HaLoader)
    assert doc["blueprint"]["homeassistant"]["min_version"] == "2024.3.0"
    assert "triggers" not in doc and "actions" not in doc and "conditions" not in doc  # HA >= 2024.10 keys
    (trigger,) = doc["trigger"]
    assert trigger["platform"] == "mqtt" and trigger["topic"] == "{{ base_topic }}/intent"
    guard = doc["condition"][0]["value_template"]
    assert "handled" in guard and "expires" in guard and "now()" in guard
    text = json.dumps(doc["action"])
    for intent in ACTION_INTENTS:
        assert f"'{intent}'" in text, intent
    for rule in RULES:
        assert rule.service in text
    assert "action:" not in blueprint.render().split("\naction:", 1)[1]  # no new-style service key inside


def test_discovery_lists_every_intent_and_offers_say_and_suggested_area() -> None:
    device = discovery.DeviceInfo("hall", "slm-voice hall", "1.0", suggested_area="Hallway")
    msgs = {t: json.loads(p) for t, p in discovery.discovery_messages(Topics("slm-voice/hall"), device,
                                                                       wake_words=["hey_jarvis"])}
    event = msgs["homeassistant/event/slm_voice_hall/intent/config"]
    assert event["event_types"] == list(NAMES)
    say = msgs["homeassistant/text/slm_voice_hall/say/config"]
    assert say["command_topic"] == "slm-voice/hall/say/set" and say["max"] == 255
    assert all(m["device"]["suggested_area"] == "Hallway" for m in msgs.values())
    assert len(discovery.removal_messages(device)) == len(msgs)


def test_default_device_name_names_the_area_or_the_id() -> None:
    from slm_voice.daemon.settings import device_name

    assert device_name(parse_settings({"device_id": "hall"})) == "slm-voice hall"
    assert device_name(parse_settings({"home": {"areas": ["Study"], "satellite_area": "Study"}})) == "slm-voice Study"
    assert device_name(parse_settings({"device_name": "Desk"})) == "Desk"


# --- service calls -----------------------------------------------------------------------------------------


def _msgs(intent: str, slots: dict, ids: tuple[str, ...], **kw) -> list[dict]:  # noqa: ANN003
    return [c.message() for c in calls_for(intent, slots, ids, **kw)]


def test_service_calls_by_domain() -> None:
    assert _msgs("HassTurnOn", {}, ("cover.garage", "light.kitchen", "lock.front")) == [
        {"type": "call_service", "domain": "cover", "service": "open_cover",
         "target": {"entity_id": ["cover.garage"]}},
        {"type": "call_service", "domain": "lock", "service": "lock", "target": {"entity_id": ["lock.front"]}},
        {"type": "call_service", "domain": "homeassistant", "service": "turn_on",
         "target": {"entity_id": ["light.kitchen"]}},
    ]
    assert _msgs("HassTurnOff", {}, ("lock.front",))[0]["service"] == "unlock"
    (light,) = _msgs("HassLightSet", {"brightness": "40%"}, ("light.kitchen",))
    assert light["service_data"] == {"brightness_pct": 40}
    assert [m["service_data"] for m in _msgs("HassLightSet", {"brightness": 150, "color": "red"},
                                             ("light.kitchen",))] == [{"brightness_pct": 100}, {"color_name": "red"}]
    assert _msgs("HassLightSet", {"brightness": "bright"}, ("light.kitchen",)) == []  # not a number: nothing
    # "dim the lights" / "a bit brighter": a relative step (the language model's brightness_step)
    assert [m["service_data"] for m in _msgs("HassLightSet", {"brightness_step": "down"}, ("light.kitchen",))] == [
        {"brightness_step_pct": -25}]
    assert _msgs("HassLightSet", {"brightness_step": "up"}, ("light.kitchen",))[0]["service_data"] == {
        "brightness_step_pct": 25}
    (pos,) = _msgs("HassSetPosition", {"position": 50}, ("cover.garage",))
    assert (pos["service"], pos["service_data"]) == ("set_cover_position", {"position": 50})
    assert _msgs("HassSetVolume", {"volume_level": 30}, ("media_player.tv",))[0]["service_data"] == {
        "volume_level": 0.3}
    step = _msgs("HassSetVolumeRelative", {"volume_step": 10}, ("media_player.tv",), volume_of=lambda e: 0.5)
    assert step[0]["service"] == "volume_set" and step[0]["service_data"] == {"volume_level": 0.6}
    assert _msgs("HassSetVolumeRelative", {"volume_step": "down"}, ("media_player.tv",))[0]["service"] == \
        "volume_down"
    (shop,) = _msgs("HassShoppingListAddItem", {"item": "eggs"}, ())
    assert (shop["domain"], shop["service_data"]) == ("shopping_list", {"name": "eggs"})
    (todo,) = _msgs("HassShoppingListAddItem", {"item": "eggs"}, ("todo.shopping",))
    assert (todo["domain"], todo["service"]) == ("todo", "add_item")
    assert _msgs("HassMediaPlayerMute", {}, ("media_player.tv",))[0]["service_data"] == {"is_volume_muted": True}


# --- registries -> home ------------------------------------------------------------------------------------


def test_home_from_registries_with_floors_aliases_device_classes_and_the_satellites_area() -> None:
    floors = [{"floor_id": "ground", "name": "Ground Floor", "level": 0}]
    areas = [{"area_id": "kitchen", "name": "Kitchen", "aliases": ["cookhouse"], "floor_id": "ground"},
             {"area_id": "garage", "name": "Garage", "aliases": []}]  # 2024.3: no floor_id at all
    devices = [{"id": "d1", "area_id": "garage", "identifiers": [["zha", "x"]]},
               {"id": "d2", "area_id": "kitchen", "identifiers": [["mqtt", "slm_voice_k"]]}]
    entries = [{"entity_id": "light.k", "area_id": "kitchen", "device_id": None, "name": None},
               {"entity_id": "cover.g", "area_id": None, "device_id": "d1", "name": "Big Door"},
               None]
    states = [{"entity_id": "light.k", "attributes": {"friendly_name": "Kitchen Light"}},
              {"entity_id": "cover.g", "attributes": {"friendly_name": "Big Door", "device_class": "garage"}},
              {"entity_id": "sensor.t", "attributes": {"friendly_name": "Outside", "device_class": "temperature"}}]
    details = {"light.k": {"aliases": ["ceiling light"], "device_class": None, "original_device_class": None}}
    home = build_home(floors, areas, devices, entries, states, details, satellite_device="slm_voice_k")
    assert home.floors == ("Ground Floor",) and home.areas == ("Kitchen", "Garage")
    assert home.area_floors == (("Kitchen", "Ground Floor"),) and home.area_aliases == (("cookhouse", "Kitchen"),)
    assert home.satellite_area == "Kitchen"
    k, g, t = home.entities
    assert (k.name, k.aliases, k.area) == ("Kitchen Light", ("ceiling light",), "Kitchen")
    assert (g.name, g.area, g.device_class) == ("Big Door", "Garage", "garage")  # area from its device
    assert (t.area, t.device_class) == (None, "temperature")

    written = Home(areas=("Attic",), entities=(Entity("light.k", "kitchen lamp", (), None),
                                               Entity("switch.fan", "attic fan", (), "Attic")),
                   floors=("Top",), area_floors=(("Attic", "Top"),))
    merged = merge(home, written)
    spelled = merge(home, Home(areas=("kitchen",), satellite_area="kitchen",
                               entities=(Entity("switch.x", "x", (), "KITCHEN"),)))
    assert spelled.areas == ("Kitchen", "Garage") and spelled.satellite_area == "Kitchen"
    assert spelled.entity("switch.x").area == "Kitchen"
    assert merged.entity("light.k").name == "kitchen lamp" and merged.entity("light.k").area == "Kitchen"
    assert merged.entity("switch.fan") is not None and set(merged.areas) == {"Kitchen", "Garage", "Attic"}
    assert merged.satellite_area == "Kitchen" and ("Attic", "Top") in merged.area_floors


# --- floors and device classes in templates and the resolver -----------------------------------------------


@pytest.fixture(scope="module")
def tier() -> TemplateTier:
    t = TemplateTier(HOME, states=STATES.get)
    t.load()
    return t


@pytest.mark.parametrize(("text", "intent", "ids"), [
    ("turn off the first floor lights", "HassTurnOff", ("light.bedroom",)),
    ("turn on the lights on the ground floor", "HassTurnOn", ("light.kitchen",)),
    ("turn on the lights in the sleeping room", "HassTurnOn", ("light.bedroom",)),
    ("is the pet door open", "HassGetState", ("binary_sensor.pet_door",)),
    ("open the garage door", "HassTurnOn", ("cover.garage",)),
    ("is the front door locked", "HassGetState", ("lock.front_door",)),
    ("which lights are on", "HassGetState", ("light.bedroom", "light.kitchen")),
    ("what's the temperature in the bedroom", "HassClimateGetTemperature", ("sensor.bedroom_temperature",)),
])
def test_floors_aliases_and_device_classes_resolve(tier: TemplateTier, text: str, intent: str,
                                                   ids: tuple[str, ...]) -> None:
    u = tier.understand(text)
    assert u is not None and u.intent is not None, (text, u)
    assert u.intent.name == intent and u.intent.entity_ids == ids, u


def test_state_answers_use_the_words_of_the_device_class(tier: TemplateTier) -> None:
    assert tier.understand("is the pet door open").reply == "Yes, the pet door is open."
    assert tier.understand("is the front door locked").reply == "Yes, the front door is locked."
    assert tier.understand("which lights are on").reply == "The kitchen light is on."
    assert tier.understand("what's the temperature in the bedroom").reply == "It is 19.5 degrees in the bedroom."


def test_a_floor_or_area_that_does_not_fit_gets_an_honest_answer() -> None:
    assert resolve("HassTurnOn", {"domain": "light", "floor": "attic"}, HOME).problem == \
        "Sorry, I don't know a floor called attic."
    assert resolve("HassTurnOn", {"name": "bedroom light", "floor": "ground floor"}, HOME).problem == \
        "Sorry, there is no bedroom light on the ground floor."
    assert resolve("HassTurnOn", {"domain": "fan", "floor": "first floor"}, HOME).problem == \
        "Sorry, there is no fan on the first floor."
    # device_class known: only the class counts (a "garage light" is not a garage door).
    assert resolve("HassTurnOn", {"domain": "cover", "device_class": "garage"}, HOME).entity_ids == ("cover.garage",)


def test_set_home_serves_new_names_at_once(tier: TemplateTier) -> None:
    t = TemplateTier(HOME)
    t.load()
    assert t.understand("turn on the reading lamp") is None
    lamp = Entity("light.reading", "reading lamp", (), "bedroom")
    t.set_home(Home(HOME.areas, (*HOME.entities, lamp), HOME.satellite_area, HOME.floors, HOME.area_floors))
    u = t.understand("turn on the reading lamp")
    assert u is not None and u.intent.entity_ids == ("light.reading",)
    t.set_home(Home(HOME.areas, (*HOME.entities, Entity("fan.attic", "attic fan", (), None)), "kitchen"))
    u = t.understand("turn on the attic fan")  # a new domain: the templates are selected again
    assert u is not None and u.intent.entity_ids == ("fan.attic",)


# --- delayed commands and timers ---------------------------------------------------------------------------


def test_delayed_commands_become_timers_with_a_command_that_is_checked_now(tier: TemplateTier) -> None:
    u = tier.understand("turn off the lights in 1 hour")
    assert u.intent.name == "HassStartTimer"
    assert u.intent.slots == {"conversation_command": "turn off the lights", "hours": 1}
    assert u.reply == "Okay, I'll turn off the lights in 1 hour."
    u = tier.understand("open the garage door in 5 minutes")
    assert u.intent.entity_ids == ("cover.garage",) and u.intent.slots["minutes"] == 5
    assert tier.understand("turn on the jacuzzi in 5 minutes").intent is None  # not a command this home knows
    assert tier.understand("what time is it in 5 minutes").intent is None  # a question is not a command


def test_duration_words() -> None:
    assert duration_words(90) == "1 minute and 30 seconds"
    assert duration_words(3600 + 120) == "1 hour and 2 minutes"
    assert duration_words(300, adjective=True) == "5 minute"


class TimerRig:
    def __init__(self, answers: dict[str, Understanding], executor: FakeExecutor) -> None:
        self.frames = Frames()
        self.tts = FakeTts()
        self.events: list = []
        self.assistant = Assistant(wake=FakeWake(), endpointer=endpointer(), stt=FakeStt(), intents=FakeTiers(answers),
                                   tts=self.tts, sink=RecordingSink(), executor=executor,
                                   options=AssistantOptions(speculative_stt=False, semantic_endpoint=False),
                                   observers=[self.events.append])


def _timer(slots: dict) -> Understanding:
    return Understanding(Intent("HassStartTimer", slots), "Timer set.", "template", 1.0)


def test_a_delayed_command_is_carried_out_when_its_timer_ends() -> None:
    garage = Understanding(Intent("HassTurnOn", {"name": "garage door"}, ("cover.garage",)), "Opening the garage door.",
                           "template", 1.0)
    executor = FakeExecutor(ActionOutcome(done=True, by="fake"))
    rig = TimerRig({"open the garage door": garage}, executor)

    async def go() -> None:
        task = asyncio.create_task(rig.assistant.run(rig.frames))  # type: ignore[arg-type]
        await until(lambda: rig.assistant.state == "idle")
        outcome = rig.assistant.timers.handle(_timer({"seconds": 0.2, "conversation_command": "open the garage door"})
                                              .intent)
        assert outcome.done and outcome.reply.startswith("Okay, I'll open the garage door in ")
        assert executor.done == []  # not yet
        await until(lambda: len(executor.done) == 1)
        await until(lambda: "Opening the garage door." in rig.tts.said)
        rig.frames.end()
        await task
        rig.assistant.close()

    asyncio.run(go())
    assert executor.done[0].entity_ids == ("cover.garage",)


def test_a_plain_timer_rings_and_can_be_cancelled() -> None:
    rig = TimerRig({}, FakeExecutor())

    async def go() -> None:
        task = asyncio.create_task(rig.assistant.run(rig.frames))  # type: ignore[arg-type]
        timers = rig.assistant.timers
        assert timers.handle(_timer({"minutes": 5, "name": "pasta"}).intent).reply == "Pasta timer set for 5 minutes."
        assert timers.handle(_timer({"seconds": 0.1}).intent).done
        await until(lambda: any("timer is done" in s for s in rig.tts.said))
        cancel = Intent("HassCancelTimer", {"name": "pasta"})
        assert timers.handle(cancel).reply == "Timer cancelled."
        assert timers.handle(cancel).reply == "There is no timer running."
        rig.frames.end()
        await task
        rig.assistant.close()

    asyncio.run(go())
    assert sum("is done" in s for s in rig.tts.said) == 1


def test_timers_survive_a_restart_and_late_ones_are_not_carried_out(tmp_path: Path) -> None:
    saved = SavedTimers(tmp_path)
    done: list[str] = []
    missed: list[str] = []

    async def go() -> None:
        first = Timers(lambda t: done.append(t.id), on_change=saved.save)
        first.start(3600, command="turn off the lights")
        first.start(0.2, name="tea")
        first.close()  # the daemon stops
        snapshot = saved.load()
        assert len(snapshot) == 2
        late = dict(snapshot[0], id="late", ends_at=time.time() - 120, command="open the garage door")
        second = Timers(lambda t: done.append(t.name or t.id), on_missed=lambda t: missed.append(t.id),
                        on_change=saved.save)
        second.restore([*snapshot, late])
        assert [t.command for t in second.running] == [None, "turn off the lights"]
        await until(lambda: done == ["tea"])
        second.close()

    asyncio.run(go())
    assert missed == ["late"]


# --- state files -------------------------------------------------------------------------------------------


def test_controls_and_outbox_persist(tmp_path: Path) -> None:
    c = SavedControls(tmp_path)
    assert c.muted is None
    c.set("muted", True)
    c.set("wake_threshold", 0.7)
    again = SavedControls(tmp_path)
    assert again.muted is True and again.wake_threshold == 0.7
    (tmp_path / "controls.json").write_text("{not json")
    assert SavedControls(tmp_path).muted is None  # a broken file is not fatal

    box = Outbox(tmp_path)
    live = box.add([("t/intent", "{}")], time.time() + 60, "t1")
    box.add([("t/intent", "{}")], time.time() - 1, "t2")
    done = box.add([("t/intent", "{}")], time.time() + 60, "t3")
    box.remove(done)
    alive, expired = Outbox(tmp_path).take()
    assert [a.turn_id for a in alive] == ["t1"] and [e.turn_id for e in expired] == ["t2"]
    assert alive[0].messages == live.messages
    assert len(Outbox(tmp_path)) == 0


def test_published_transcripts_lose_whispers_trailing_punctuation() -> None:
    assert spoken_text(" Turn on the kitchen light. ") == "Turn on the kitchen light"
    assert spoken_text("What time is it?") == "What time is it"
    assert spoken_text("It's 5.30") == "It's 5.30"


def test_homeassistant_settings() -> None:
    s = parse_settings({"homeassistant": {"url": "http://ha.local:8123/", "token": "abc"}})
    assert s.homeassistant.url == "http://ha.local:8123" and s.homeassistant.timeout_s == 5.0
    assert parse_settings({}).homeassistant.url is None  # off by default
    with pytest.raises(ConfigError, match="homeassistant.token"):
        parse_settings({"homeassistant": {"url": "http://ha.local:8123"}})
    with pytest.raises(ConfigError, match="homeassistant.token_file"):
        parse_settings({"homeassistant": {"url": "http://ha.local:8123", "token_file": "/nonexistent/token"}})
    with pytest.raises(ConfigError, match="homeassistant.url"):
        parse_settings({"homeassistant": {"url": "ha.local", "token": "x"}})
    # A hand-written home may name Home Assistant's areas when the home is read from Home Assistant.
    parse_settings({"homeassistant": {"url": "http://h:1", "token": "x"},
                    "home": {"entities": [{"id": "light.x", "name": "x", "area": "Kitchen"}]}})
    with pytest.raises(ConfigError, match="home.areas.0.floor"):
        parse_settings({"home": {"floors": ["up"], "areas": [{"name": "attic", "floor": "roof"}]}})
    assert MqttSettings().protocol == "auto"
