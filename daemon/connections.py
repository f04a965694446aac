"""How a running assistant reaches the world, for one session of the service: the MQTT bridge, the live Home
Assistant link (home, states, actions), the executor that chooses between them, and what survives a restart
(controls set from Home Assistant, timers, undelivered actions).

    conns = Connections(settings)
    conns.start_homeassistant()                      # connects to Home Assistant, reads its home
    home = await conns.home_for_build()
    assistant = factory.build_assistant(..., executor=conns.router, home=home)
    ... assistant.load() ...
    await conns.start(assistant)                     # restore state, start MQTT, serve Home Assistant's home
    ...
    await conns.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..pipeline.asking import Answer, Question
from ..pipeline.assistant import Assistant
from ..pipeline.intent.model import Home
from . import __version__, factory
from .actions import ActionRouter, MqttExecutor
from .settings import Settings, device_name, read_token, state_dir
from .state import Outbox, SavedControls, SavedTimers

log = logging.getLogger(__name__)

FIRST_HOME_WAIT_S = 5.0
"""How long home_for_build() waits for Home Assistant's home before the written one is used (Home Assistant's is
applied when it comes)."""


class LoopControls:
    """MQTT commands arrive on paho's thread; each hops onto the event loop before touching the assistant, and
    what Home Assistant sets is remembered for the next start."""

    def __init__(self, loop: asyncio.AbstractEventLoop, assistant: Assistant, saved: SavedControls | None = None
                 ) -> None:
        self.loop = loop
        self.assistant = assistant
        self.saved = saved

    def say(self, text: str) -> None:
        self.loop.call_soon_threadsafe(self.assistant.say, text)

    def announce(self, text: str, preannounce: bool) -> None:
        self.loop.call_soon_threadsafe(lambda: self.assistant.announce(text, chime=preannounce))

    def ask(self, question: Question, on_answer: Callable[[Answer], None]) -> None:
        self.loop.call_soon_threadsafe(self.assistant.ask, question, on_answer)

    def listen(self) -> None:
        self.loop.call_soon_threadsafe(self.assistant.listen)

    def set_muted(self, muted: bool) -> None:
        self.loop.call_soon_threadsafe(self.assistant.set_muted, muted)
        self._save("muted", muted)

    def set_wake_threshold(self, value: float) -> None:
        self.loop.call_soon_threadsafe(self.assistant.set_wake_threshold, value)
        self._save("wake_threshold", value)

    def set_wake_word(self, word: str) -> None:
        self.loop.call_soon_threadsafe(self.assistant.set_wake_word, word)
        self._save("wake_word", word)

    def _save(self, key: str, value: Any) -> None:
        if self.saved is not None:
            self.saved.set(key, value)


class Connections:
    """One session's MQTT bridge, Home Assistant link and executor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.router = ActionRouter(None, None)
        """The executor to give the assistant; filled in by start_homeassistant() and start()."""
        directory = state_dir(settings)
        self.controls = SavedControls(directory)
        self.timers = SavedTimers(directory)
        self.outbox = Outbox(directory)
        self.written_home = factory.home_from_settings(settings.home)
        self.home: Home = self.written_home
        """The home served now (Home Assistant's with the written one over it, once read)."""
        self.bridge: Any = None
        self.link: Any = None
        self.states: Any = None
        self.sync: Any = None
        self.answers: Any = None
        """Where open questions are answered from (Home Assistant's conversation agent), None: nowhere."""
        self._assistant: Assistant | None = None
        self._home_served = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- Home Assistant -------------------------------------------------------------------------------------

    def start_homeassistant(self) -> None:
        """Start connecting to Home Assistant (when homeassistant.url is set); call on the event loop."""
        h = self.settings.homeassistant
        if h.url is None:
            return
        from .homeassistant.entity_states import StateCache
        from .homeassistant.executor import HomeAssistantExecutor
        from .homeassistant.home import HomeSync
        from .homeassistant.link import HomeAssistantLink

        self.link = HomeAssistantLink(h.url, read_token(h), connect_timeout_s=h.connect_timeout_s,
                                      reconnect_max_s=h.reconnect_max_s, verify_tls=h.verify_tls)
        self.states = StateCache()
        self.router.homeassistant = HomeAssistantExecutor(self.link, self.states, lambda: self.home,
                                                          timeout_s=h.timeout_s)
        from ..pipeline.intent.answers import SourcedAnswers
        from .homeassistant.conversation import ConversationAgent
        from .homeassistant.home_answers import ListItems, WeatherNow

        loop = asyncio.get_running_loop()
        agent = (ConversationAgent(self.link, loop, h.conversation_agent, timeout_s=h.timeout_s)
                 if h.conversation_agent else None)
        # Open questions: the home's own data first (the weather entity, its lists), then the agent if one is set.
        self.answers = SourcedAnswers(agent, h.conversation_agent_name, sources=(
            WeatherNow(self.states), ListItems(self.link, loop, lambda: self.home, timeout_s=h.timeout_s)))
        if h.import_home:
            self.sync = HomeSync(self.link, self.written_home, self._on_home,
                                 satellite_device=f"slm_voice_{self.settings.device_id}")
        self._spawn(self._attach())

    async def _attach(self) -> None:
        await self.states.attach(self.link)
        if self.sync is not None:
            await self.sync.attach()
        self.link.start()

    async def _on_home(self, home: Home) -> None:
        self.home = home
        if self._assistant is not None:
            await self._assistant.set_home(home)
        self._home_served.set()

    async def home_for_build(self, stop: asyncio.Event | None = None) -> Home:
        """The home to build the assistant with: Home Assistant's when it can be read within a few seconds (so the
        language model's prompt and Whisper's hotwords are made for it once), else the written one. A set `stop`
        ends the wait at once."""
        if self.sync is not None:
            wait = min(FIRST_HOME_WAIT_S, self.settings.homeassistant.connect_timeout_s)
            waits = [asyncio.ensure_future(self._home_served.wait())]
            if stop is not None:
                waits.append(asyncio.ensure_future(stop.wait()))
            await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if not self._home_served.is_set() and not (stop is not None and stop.is_set()):
                log.warning("Home Assistant's home not read within %.0f s: starting with the home of config.yaml "
                            "(Home Assistant's is served once it is read)", wait)
        return self.home

    # ---- the session ----------------------------------------------------------------------------------------

    async def start(self, assistant: Assistant) -> None:
        """After the models loaded: restore what was saved, serve Home Assistant's home, start MQTT."""
        loop = asyncio.get_running_loop()
        self._assistant = assistant
        self._restore(assistant)
        await assistant.set_home(self.home)  # a stage kept from the last session may serve an older home
        s = self.settings
        if s.mqtt.enabled:
            from .mqtt_bridge import MqttBridge

            wake = assistant.wake
            words = list(s.wake.words)
            word = self.controls.wake_word if self.controls.wake_word in words else words[0]
            bridge = MqttBridge(
                s.mqtt, s.device_id, device_name(s), words, LoopControls(loop, assistant, self.controls),
                __version__,
                suggested_area=self.home.satellite_area,
                wake_word=word,
                wake_threshold=wake.threshold_for(word) if wake is not None else 0.5,
                muted=assistant.muted,
            )
            executor = MqttExecutor(bridge, lambda: self.home, s.home.entities, self.outbox,
                                    delivery_timeout_s=s.mqtt.delivery_timeout_s, expiry_s=s.mqtt.action_expiry_s)
            if s.arbitration.enabled:  # several satellites heard the wake word: the best heard answers
                from .arbitration import MqttArbiter

                arbiter = MqttArbiter(bridge.link, s.device_id, s.arbitration.topic, s.arbitration.window_ms / 1000,
                                      loop)
                arbiter.start()
                assistant.arbiter = arbiter
            bridge.start()
            self.bridge = bridge
            self.router.mqtt = executor
            assistant.observers.append(bridge.on_event)
            self._spawn(executor.deliver_outbox())
        elif s.arbitration.enabled:
            log.warning("arbitration.enabled needs mqtt.enabled: this satellite answers everything it hears")
        if s.wyoming.enabled:  # Home Assistant's voice devices, served with this session's models and executor
            from .wyoming_server import serve

            self._spawn(serve(s, assistant, self.router))

    def _restore(self, assistant: Assistant) -> None:
        c = self.controls
        if c.muted is not None:
            assistant.set_muted(c.muted)
        if assistant.wake is not None:
            if c.wake_word is not None and c.wake_word in self.settings.wake.words:
                assistant.set_wake_word(c.wake_word)
            if c.wake_threshold is not None:
                assistant.set_wake_threshold(c.wake_threshold)
        assistant.timers.on_change = self.timers.save
        assistant.timers.restore(self.timers.load())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.bridge is not None:
            await asyncio.to_thread(self.bridge.stop)
        if self.link is not None:
            await self.link.stop()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("connections: background task failed", exc_info=task.exception())
