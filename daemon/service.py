"""The long-running service: build the pipeline from settings, run it on the configured source, talk to systemd
and MQTT, reload on SIGHUP, stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models.locate import ModelError
from ..pipeline.assistant import Assistant
from ..pipeline.audio import AudioDeviceError, AudioError
from ..pipeline.events import Event, StateChanged
from ..pipeline.sinks import open_sink
from ..pipeline.sources import open_source
from ..pipeline.streaming import stream_frames
from . import factory, notify
from .connections import Connections
from .observers import Recorder, TurnLog
from .settings import ConfigError, Settings, load_settings

log = logging.getLogger("slm_voice")

MIC_RETRY_S = 5.0


@dataclass
class _Watchdog:
    """Pings systemd from the event loop while audio flows (or no source is expected to deliver any)."""

    interval: float | None
    last_frame: float = 0.0
    source_active: bool = False

    def beat(self) -> None:
        self.last_frame = time.monotonic()

    async def run(self) -> None:
        if not self.interval:
            return
        while True:
            stalled = self.source_active and time.monotonic() - self.last_frame > 2 * self.interval
            if not stalled:
                notify.notify("WATCHDOG=1")
            else:
                log.error("audio stalled for %.1f s: withholding the watchdog ping", time.monotonic() - self.last_frame)
            await asyncio.sleep(self.interval)


class Service:
    """`slm-voice run`: the assistant in the foreground until SIGINT/SIGTERM; SIGHUP reloads the config."""

    def __init__(self, settings: Settings, config_path: Path | None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.cache = factory.StageCache()
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._broker: Any = None
        self._broker_key: Any = None
        self._source: Any = None
        self._pending = settings
        self._previous: Settings | None = None
        """The configuration before the latest reload, until the new one has started."""
        self._warming: asyncio.Future[None] | None = None
        """The latest reload's model loading (held: a task nobody references may be collected)."""

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._check_new_config)
        watchdog = _Watchdog(notify.watchdog_interval())
        watchdog_task = asyncio.create_task(watchdog.run())
        try:
            factory.check(self.settings)  # at start too: a config that cannot start is one line naming the key
            while not self._stop.is_set():
                self._reload.clear()
                try:
                    await self._session(watchdog)
                except Exception as e:
                    if self._previous is not None:
                        self._roll_back(e)
                        continue
                    if isinstance(e, (ConfigError, ModelError, AudioError)):
                        raise  # one line naming the key (cli)
                    log.error("stopped by an error: %s", _reason(e))  # one line; the traceback at DEBUG
                    log.debug("the error", exc_info=e)
                    raise SystemExit(1) from None
                if self._reload.is_set() and not self._stop.is_set():
                    self._reload_settings()
        finally:
            log.info("stopped")
            notify.notify("STOPPING=1")
            watchdog_task.cancel()
            if self._broker is not None:
                self._broker.stop()
        return 0

    def request_stop(self) -> None:
        log.info("stopping")
        self._stop.set()
        if self._source is not None:
            self._source.close()

    def _check_new_config(self) -> None:
        """SIGHUP: a valid config file replaces the running one (the session restarts, unchanged models stay
        loaded); a broken one is refused and nothing stops."""
        notify.notify("RELOADING=1")
        try:
            pending = load_settings(self.config_path) if self.config_path else self.settings
            # Every model, folder, file and socket, before anything stops; the running session's sockets are its.
            factory.check(pending, listening=_listening(self.settings))
        except Exception as e:  # noqa: BLE001 - whatever it is, the running configuration stays
            log.error("reload refused, keeping the running configuration: %s", _reason(e))
            notify.notify("READY=1")
            return
        self._pending = pending
        self._warming = asyncio.ensure_future(self._warm_then_reload(pending))

    async def _warm_then_reload(self, pending: Settings) -> None:
        """New and changed models load and warm beside the running ones, which keep listening; the session switches
        once they are ready, so a reload is never deaf for a model's load. One that fails to load is refused like a
        broken file."""
        before = self.cache.snapshot()
        try:
            stages = factory.new_stages(pending, self.cache)
            if stages:
                log.info("reload: loading %s beside the running models",
                         ", ".join(getattr(stage, "name", type(stage).__name__) for stage in stages))
                if await self._load(lambda: _warm(stages)) is None:
                    return  # stopped meanwhile
        except Exception as e:  # noqa: BLE001 - whatever it is, the running configuration stays
            self.cache.restore(before)
            log.error("reload refused, keeping the running configuration: %s", _reason(e))
            log.debug("why it failed", exc_info=e)
            notify.notify("READY=1")
            return
        if pending is self._pending:  # not overtaken by a later SIGHUP
            self._reload.set()

    def _reload_settings(self) -> None:
        self._previous = self.settings
        self.settings = self._pending
        logging.getLogger().setLevel(self.settings.debug.log_level)
        log.info("configuration reloaded from %s", self.config_path or "built-in defaults")

    def _roll_back(self, error: Exception) -> None:
        """The reloaded configuration passed every check but still failed to start: the previous one runs again."""
        log.error("the reloaded configuration failed to start (%s); back to the previous one", _reason(error))
        log.debug("why it failed", exc_info=error)
        self.settings, self._previous = self._previous or self.settings, None
        logging.getLogger().setLevel(self.settings.debug.log_level)

    async def _session(self, watchdog: _Watchdog) -> None:
        """Run one configuration until stop or reload."""
        s = self.settings
        notify.notify("STATUS=loading models")
        self._ensure_broker(s)
        try:
            sink = open_sink(s.audio.sink, output_device=s.audio.output_device)
        except AudioDeviceError as e:  # a missing speaker must not stop the assistant from acting
            log.error("%s: replies are not played until a speaker appears", e)
            sink = _SpeakerWhenAvailable(lambda: open_sink(s.audio.sink, output_device=s.audio.output_device))
        conns: Connections | None = None
        assistant: Assistant | None = None
        listening = False
        # Whatever fails while starting, what was started is stopped: a rolled-back session leaves nothing behind.
        try:
            observers: list[Callable[[Event], None]] = [TurnLog(s.latency.budget_ms), _status_line]
            if s.debug.record_dir:
                observers.append(_recorder(s.debug.record_dir))
            conns = self._connections(s)
            assistant = factory.build_assistant(s, self.cache, sink=sink, observers=observers,
                                                heartbeat=watchdog.beat, executor=conns.router,
                                                home=await conns.home_for_build(self._stop), answers=conns.answers)
            t0 = time.perf_counter()
            took = await self._load(lambda: _warm(assistant.stages))  # a model that fails names its key
            if took is None:  # stopped while loading
                return
            log.info("models loaded and warm in %.1f s (%s)", time.perf_counter() - t0,
                     ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))
            await conns.start(assistant)
            notify.notify("READY=1")
            notify.notify("STATUS=listening for the wake word")
            listening = True
            await self._listen(s, assistant, watchdog)
        finally:
            if listening and assistant is not None:
                await assistant.wait_idle()
            if conns is not None:
                await conns.stop()
            if assistant is not None:
                assistant.close(wait=listening)
            sink.close()

    async def _load(self, load_models: Callable[[], dict[str, float]]) -> dict[str, float] | None:
        """Load and warm every model in a daemon thread; None when a stop came first.

        A stop signal must be honoured at once, even in the middle of a 10 s model load: nothing waits for the
        thread (it dies with the process) and nothing it holds needs saving.
        """
        loop = asyncio.get_running_loop()
        loaded: asyncio.Future[dict[str, float]] = loop.create_future()

        def load() -> None:
            try:
                took = load_models()
            except BaseException as e:  # handed to the event loop, which raises it there
                loop.call_soon_threadsafe(_settle, loaded, None, e)
            else:
                loop.call_soon_threadsafe(_settle, loaded, took, None)

        threading.Thread(target=load, name="load-models", daemon=True).start()
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([loaded, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not loaded.done():
            log.info("stopped while loading models")
            return None
        return loaded.result()

    async def _listen(self, s: Settings, assistant: Assistant, watchdog: _Watchdog) -> None:
        """Feed the assistant from the source; retry a missing microphone; idle (still serving MQTT) after a
        file or stdin ends, until stop or reload."""
        stop_or_reload = asyncio.ensure_future(_first(self._stop, self._reload))
        failures = 0
        try:
            while not stop_or_reload.done():
                try:
                    self._source = open_source(s.audio.source, input_device=s.audio.input_device, live=True)
                except AudioDeviceError as e:
                    self._previous = None  # a missing microphone is waited for: this configuration runs
                    # Said once, then once a minute: the journal should not fill up while a mic is unplugged.
                    if failures % 12 == 0:
                        log.error("%s; retrying every %.0f s", e, MIC_RETRY_S)
                    failures += 1
                    await asyncio.wait([stop_or_reload], timeout=MIC_RETRY_S)
                    continue
                # Up to here a reloaded configuration that fails goes back to the previous one; from here it runs.
                self._previous = None
                failures = 0
                log.info("listening on %s", getattr(self._source, "description", s.audio.source))
                watchdog.source_active, watchdog.last_frame = True, time.monotonic()
                run = asyncio.ensure_future(assistant.run(stream_frames(self._source)))
                await asyncio.wait([run, stop_or_reload], return_when=asyncio.FIRST_COMPLETED)
                watchdog.source_active = False
                if not run.done():
                    self._source.close()
                try:
                    await run
                except AudioDeviceError as e:
                    log.error("%s; reopening in %.0f s", e, MIC_RETRY_S)
                    await asyncio.wait([stop_or_reload], timeout=MIC_RETRY_S)
                    continue
                if s.audio.source != "mic" and not stop_or_reload.done():
                    log.info("audio source ended; still serving MQTT commands until stopped")
                    await stop_or_reload
        finally:
            stop_or_reload.cancel()
            self._source = None

    def _ensure_broker(self, s: Settings) -> None:
        key = (s.mqtt.enabled and s.mqtt.broker == "embedded", s.mqtt.host, s.mqtt.port)
        if key == self._broker_key:
            return
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        self._broker_key = key
        if key[0]:
            from .broker import BrokerError, EmbeddedBroker

            broker = EmbeddedBroker(s.mqtt.host, s.mqtt.port)
            try:
                broker.start()
            except BrokerError as e:
                self._broker_key = None  # nothing listens: the next session tries again
                raise ConfigError(f"mqtt.port: {e}") from None
            self._broker = broker

    def _connections(self, s: Settings) -> Connections:
        """This session's MQTT bridge, Home Assistant link and executor (daemon.connections); Home Assistant starts
        connecting now (its home is what the models are built for)."""
        conns = Connections(s)
        conns.start_homeassistant()
        return conns


class _SpeakerWhenAvailable:
    """A speaker that was missing at start (an unplugged USB speaker): tried again at most every MIC_RETRY_S
    seconds when there is something to play; until then replies are dropped."""

    def __init__(self, open_speaker: Callable[[], Any]) -> None:
        self._open = open_speaker
        self._sink: Any = None
        self._tried = time.monotonic()

    def _speaker(self) -> Any:
        if self._sink is None and time.monotonic() - self._tried >= MIC_RETRY_S:
            self._tried = time.monotonic()
            try:
                self._sink = self._open()
                log.info("speaker found: %s", getattr(self._sink, "description", "speaker"))
            except AudioDeviceError as e:
                log.warning("%s: reply not played", e)
        return self._sink

    def write(self, audio: Any) -> None:
        if (sink := self._speaker()) is not None:
            sink.write(audio)

    def drain(self) -> None:
        if self._sink is not None:
            self._sink.drain()

    def stop(self) -> None:
        if self._sink is not None:
            self._sink.stop()

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()


_STAGE_KEYS = {"wake": "wake.words", "endpointer": "vad", "stt": "stt.model", "intent": "slm.model",
               "tts": "tts.voice"}
"""The config key that chose each stage's model, for the error when it cannot load."""


def _warm(stages: list[Any]) -> dict[str, float]:
    """Load and warm stages (in a thread); seconds per stage. ModelError names the key of one that fails."""
    took: dict[str, float] = {}
    for stage in stages:
        name = getattr(stage, "name", type(stage).__name__)
        t0 = time.perf_counter()
        try:
            stage.load()
            stage.warm()
        except Exception as e:
            raise ModelError(f"{_STAGE_KEYS.get(name, name)}: cannot load the model: {_reason(e)}") from e
        took[name] = time.perf_counter() - t0
    return took


def _listening(s: Settings) -> set[tuple[str, int]]:
    """The addresses a session of these settings listens on (kept by this process across a reload)."""
    held: set[tuple[str, int]] = set()
    if s.mqtt.enabled and s.mqtt.broker == "embedded":
        held.add((s.mqtt.host, s.mqtt.port))
    wyoming = getattr(s, "wyoming", None)
    if wyoming is not None and wyoming.enabled:
        held.add((wyoming.host, wyoming.port))
    return held


def _recorder(directory: str) -> Recorder:
    try:
        return Recorder(Path(directory).expanduser())
    except OSError as e:
        raise ConfigError(f"debug.record_dir: cannot write in {directory}: {e.strerror or e}") from None


def _reason(error: BaseException) -> str:
    """One line: the message (ours name the key), with the type for anything else."""
    if isinstance(error, (ConfigError, ModelError, AudioError)):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _status_line(event: Event) -> None:
    if isinstance(event, StateChanged):
        notify.notify(f"STATUS={event.state}")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
