"""Wyoming services (daemon/wyoming_server.py) of the real daemon: `slm-voice run` with its real models, asked by
the `wyoming` library's own AsyncTcpClient; a wyoming 1.5.3 client (what Home Assistant 2024.3 pins) and a real
Home Assistant 2024.3.3 through its Wyoming integration. Handle acts through the MQTT executor on a real mosquitto.

Quick tests at the top (no models); one daemon per module for the rest (loading the models is the slow part).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe, Info
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from slm_voice.daemon.settings import Settings, parse_settings
from slm_voice.daemon.wyoming_info import describe
from slm_voice.daemon.wyoming_server import to_16k_mono
from slm_voice.daemon.wyoming_worker import Busy, ModelWorker
from tests.conftest import base_config
from tests.conftest_broker import Mosquitto, MqttRecorder, free_port

DEVICE = "wy"
BASE = f"slm-voice/{DEVICE}"
LIGHT_TOPIC = "zigbee2mqtt/kitchen_light/set"
READY_TIMEOUT_S = 300.0
QUEUE_SIZE = 3
LONG_TEXT = " ".join(f"This is sentence number {n} of a long announcement for the whole house." for n in range(20))


# ---- quick: no models --------------------------------------------------------------------------------------


def test_wyoming_is_off_by_default_and_validated() -> None:
    assert Settings().wyoming.enabled is False
    s = parse_settings(base_config(wyoming={"enabled": True, "port": 10700, "services": ["asr", "tts"]}))
    assert (s.wyoming.port, s.wyoming.services) == (10700, ("asr", "tts"))
    with pytest.raises(ValueError, match="wyoming.services"):
        parse_settings(base_config(wyoming={"services": ["wake"]}))
    with pytest.raises(ValueError, match="wyoming.queue_size"):
        parse_settings(base_config(wyoming={"queue_size": 0}))


def test_info_names_models_languages_and_attribution() -> None:
    s = parse_settings(base_config(slm={"enabled": True}))
    info = describe(s, ("asr", "tts", "handle", "intent"))
    (asr,), (tts,), (handle,), (intent,) = info.asr, info.tts, info.handle, info.intent
    assert asr.models[0].name == "tiny.en" and asr.models[0].languages == ["en"] and "Whisper" in asr.attribution.name
    assert tts.voices[0].name == "en_US-joe-medium" and tts.voices[0].installed
    assert handle.models[0].name == "templates+qwen2.5-coder-0.5b" and handle.supports_home_control
    assert "Qwen" in handle.models[0].attribution.name and handle.models[0].attribution.url.startswith("https://")
    assert intent.models[0].languages == ["en"]
    assert describe(s, ("asr",)).tts == []
    # What goes on the wire parses back, and every artifact says where it comes from.
    back = Info.from_event(info.event())
    assert back.asr[0].models[0].description and back.tts[0].voices[0].attribution.url


def test_audio_of_any_rate_and_channels_becomes_16k_mono() -> None:
    t = np.arange(44_100) / 44_100
    tone = (np.sin(2 * np.pi * 440 * t) * 10_000).astype("<i2")
    stereo = np.stack([tone, tone], axis=1).tobytes()
    out = np.frombuffer(to_16k_mono(stereo, 44_100, 2), "<i2")
    assert abs(len(out) - 16_000) <= 2
    assert 6_000 < np.abs(out).max() <= 10_100
    same = tone[:1600].tobytes()
    assert to_16k_mono(same, 16_000, 1) == same


def test_a_service_not_served_is_refused_not_ignored() -> None:
    """wyoming.services: [asr] -> a synthesize gets an error (and the connection closes) instead of no answer;
    describe and ping need no model. (The handler alone, on a loopback socket, with the wyoming client.)"""
    from wyoming.ping import Ping, Pong

    from slm_voice.daemon.wyoming_server import WyomingHandler

    async def main() -> tuple[list[Event | None], list[Event | None]]:
        def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Awaitable[None]:
            return WyomingHandler(reader, writer, info=Info(), services=("asr",), assistant=None,  # type: ignore[arg-type]
                                  worker=None, turns=None, max_audio_s=30.0, tts_cache=False).run()  # type: ignore[arg-type]

        server = await asyncio.start_server(client, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with AsyncTcpClient("127.0.0.1", port) as c:
                await c.write_event(Describe().event())
                await c.write_event(Ping(text="hi").event())
                fine = [await c.read_event(), await c.read_event()]
            async with AsyncTcpClient("127.0.0.1", port) as c:
                await c.write_event(Synthesize(text="Hello.").event())
                refused = [await c.read_event(), await c.read_event()]
            return fine, refused
        finally:
            server.close()

    fine, refused = asyncio.run(main())
    assert fine[0] is not None and Info.is_type(fine[0].type)
    assert fine[1] is not None and Pong.from_event(fine[1]).text == "hi"
    assert refused[0] is not None and "tts is not served" in Error.from_event(refused[0]).text
    assert refused[1] is None


def test_the_advertised_address() -> None:
    from slm_voice.daemon.wyoming_discovery import advertised_address

    assert advertised_address("127.0.0.1", None) == "127.0.0.1"
    assert advertised_address("0.0.0.0", "192.168.1.20") == "192.168.1.20"
    found = advertised_address("0.0.0.0", None)  # the default route's source address, when there is a route
    assert found is None or (found != "0.0.0.0" and socket.inet_aton(found))


def test_model_worker_refuses_when_full_and_runs_off_the_loop() -> None:
    async def main() -> None:
        with ThreadPoolExecutor(1) as thread:
            worker = ModelWorker(thread, size=2)
            loop_thread = __import__("threading").get_ident()

            async def job() -> int:
                async with worker.slot():
                    return await worker.call(lambda: (time.sleep(0.2), __import__("threading").get_ident())[1])

            first = [asyncio.ensure_future(job()) for _ in range(2)]
            await asyncio.sleep(0.05)
            with pytest.raises(Busy, match="busy"):
                async with worker.slot():
                    pass
            idents = await asyncio.gather(*first)
            assert loop_thread not in idents and len(set(idents)) == 1  # one model thread, never the loop
            assert worker.pending == 0
            assert [x async for x in worker.stream(lambda: iter(range(5)))] == [0, 1, 2, 3, 4]

    asyncio.run(main())


# ---- the running daemon ------------------------------------------------------------------------------------


def _slm_built() -> bool:
    from slm_voice.daemon.factory import slm_dir

    try:
        slm_dir(Settings())
    except Exception:
        return False
    return True


def _daemon_cmd() -> list[str]:
    script = Path(sys.executable).parent / "slm-voice"
    return [str(script)] if script.exists() else [sys.executable, "-m", "slm_voice.daemon.cli"]


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    slm: bool

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def _wait_ready(d: Daemon) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {d.proc.returncode}:\n{d.log_tail()}")
        if "wyoming: serving" in d.log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"the Wyoming server did not start within {READY_TIMEOUT_S} s:\n{d.log_tail()}")


def start_daemon(workdir: Path, config: dict) -> Daemon:
    """`slm-voice run` with `config` (wyoming on a free loopback port added), once its Wyoming server serves."""
    port = free_port()
    config = {**config, "wyoming": {"enabled": True, "host": "127.0.0.1", "port": port, "queue_size": QUEUE_SIZE,
                                    "zeroconf": True, **config.get("wyoming", {})},
              "audio": {"source": "stdin", "sink": "null", "earcon": False}, "debug": {"log_level": "INFO"},
              "state_dir": str(workdir / "state")}
    cfg = workdir / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    log = workdir / "daemon.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("wb") as out:
        proc = subprocess.Popen([*_daemon_cmd(), "run", "--config", str(cfg)], stdout=out, stderr=out,
                                stdin=subprocess.PIPE, env=env, cwd=workdir)
    d = Daemon(proc, port, log, bool(config.get("slm", {}).get("enabled")))
    try:
        _wait_ready(d)
    except BaseException:
        stop_daemon(d)
        raise
    return d


def stop_daemon(d: Daemon) -> None:
    if d.proc.poll() is None:
        d.proc.terminate()
        try:
            d.proc.wait(30)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait(10)
    with contextlib.suppress(OSError):
        d.proc.stdin.close()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, mosquitto_module: Mosquitto) -> Iterator[Daemon]:
    """Templates and (when built) the language model; actions through the MQTT executor on mosquitto."""
    d = start_daemon(tmp_path_factory.mktemp("wyoming-daemon"), {
        "device_id": DEVICE,
        "home": {"areas": ["kitchen", "bedroom"], "satellite_area": "kitchen",
                 "entities": [{"id": "light.kitchen_ceiling", "name": "kitchen light", "area": "kitchen",
                               "command_topic": LIGHT_TOPIC},
                              {"id": "light.bedroom_lamp", "name": "bedroom lamp", "area": "bedroom"},
                              {"id": "lock.front_door", "name": "front door lock", "area": "kitchen"}]},
        "slm": {"enabled": _slm_built()},
        "mqtt": {"broker": "external", "host": mosquitto_module.host, "port": mosquitto_module.port},
    })
    yield d
    stop_daemon(d)


@pytest.fixture
def broker_log(mosquitto_module: Mosquitto) -> Iterator[MqttRecorder]:
    rec = MqttRecorder(mosquitto_module.port, [f"{BASE}/intent", LIGHT_TOPIC])
    yield rec
    rec.close()


async def _ask(port: int, events: list[Event], until: Callable[[Event], bool], timeout: float = 120.0
               ) -> list[Event]:
    """Send events with the wyoming library's client; collect what comes back up to and including `until`."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        for event in events:
            await client.write_event(event)
        got: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await client.read_event()
                assert event is not None, f"connection closed; got {[e.type for e in got]}"
                got.append(event)
                if until(event) or Error.is_type(event.type):
                    return got


def ask(port: int, events: list[Event], until: Callable[[Event], bool], timeout: float = 120.0) -> list[Event]:
    return asyncio.run(_ask(port, events, until, timeout))


def _is(*kinds: type) -> Callable[[Event], bool]:
    return lambda e: any(k.is_type(e.type) for k in kinds)  # type: ignore[attr-defined]


def render_espeak(text: str, path: Path) -> Path:
    """Speech from espeak-ng, as it writes it (22 050 Hz mono): the server converts the rate itself."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True,
                   capture_output=True)
    return path


def audio_events(wav: Path, chunk_samples: int = 1024) -> list[Event]:
    with wave.open(str(wav)) as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        pcm = w.readframes(w.getnframes())
    step = chunk_samples * width * channels
    return [AudioStart(rate=rate, width=width, channels=channels).event(),
            *(AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i:i + step]).event()
              for i in range(0, len(pcm), step)),
            AudioStop().event()]


def pcm_of(events: list[Event]) -> tuple[int, np.ndarray]:
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    assert chunks, [e.type for e in events]
    return chunks[0].rate, np.frombuffer(b"".join(c.audio for c in chunks), "<i2")


@pytest.mark.models
@pytest.mark.broker
def test_describe_names_every_service(daemon: Daemon) -> None:
    (event,) = ask(daemon.port, [Describe().event()], _is(Info))
    info = Info.from_event(event)
    assert [p.name for p in info.asr] == ["slm-voice-stt"] and info.asr[0].models[0].languages == ["en"]
    assert info.tts[0].voices[0].name == "en_US-joe-medium" and info.tts[0].voices[0].languages == ["en_US"]
    assert info.handle[0].installed and info.intent[0].installed
    assert info.tts[0].supports_synthesize_streaming


@pytest.mark.models
@pytest.mark.broker
def test_zeroconf_advertises_the_server(daemon: Daemon) -> None:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    async def lookup() -> AsyncServiceInfo:
        zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        try:
            info = AsyncServiceInfo("_wyoming._tcp.local.", f"slm-voice-{DEVICE}._wyoming._tcp.local.")
            assert await info.async_request(zc.zeroconf, 5000), "not advertised"
            return info
        finally:
            await zc.async_close()

    info = asyncio.run(lookup())
    assert info.port == daemon.port and info.parsed_addresses() == ["127.0.0.1"]


@pytest.mark.models
@pytest.mark.broker
def test_asr_transcribes_speech_at_its_own_rate(daemon: Daemon, tmp_path: Path) -> None:
    wav = render_espeak("turn on the kitchen light", tmp_path / "cmd.wav")
    events = ask(daemon.port, [Transcribe(language="en").event(), *audio_events(wav)], _is(Transcript))
    transcript = Transcript.from_event(events[-1])
    assert "kitchen light" in transcript.text.lower(), transcript
    assert transcript.language == "en"


@pytest.mark.models
@pytest.mark.broker
def test_tts_speaks_sentence_by_sentence_and_transcribes_back(daemon: Daemon) -> None:
    events = ask(daemon.port, [Synthesize(text="The washing machine has finished. The door is open.").event()],
                 _is(AudioStop))
    types = [e.type for e in events]
    assert types[0] == "audio-start" and types[-1] == "audio-stop" and types.count("audio-start") == 1
    rate, pcm = pcm_of(events)
    assert rate == 22050 and len(pcm) / rate > 1.5 and np.sqrt(np.mean(pcm.astype(float) ** 2)) > 100
    # Piper's own speech, heard by the server's speech-to-text.
    start = AudioStart(rate=rate, width=2, channels=1).event()
    chunks = [AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i:i + 2048].tobytes()).event()
              for i in range(0, len(pcm), 2048)]
    heard = ask(daemon.port, [Transcribe().event(), start, *chunks, AudioStop().event()], _is(Transcript))
    assert "washing machine" in Transcript.from_event(heard[-1]).text.lower()


@pytest.mark.models
@pytest.mark.broker
def test_tts_streaming_speaks_each_sentence_as_its_text_arrives(daemon: Daemon) -> None:
    async def main() -> list[tuple[str, float]]:
        async with AsyncTcpClient("127.0.0.1", daemon.port) as client:
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="Good morning. The kitchen").event())
            got: list[tuple[str, float]] = []
            async with asyncio.timeout(60):
                # The first sentence is spoken before the rest of the text exists.
                while not got or got[-1][0] != "audio-stop":
                    event = await client.read_event()
                    assert event is not None
                    got.append((event.type, time.monotonic()))
                await client.write_event(SynthesizeChunk(text=" light is on.").event())
                await client.write_event(Synthesize(text="Good morning. The kitchen light is on.").event())
                await client.write_event(SynthesizeStop().event())
                while got[-1][0] != "synthesize-stopped":
                    event = await client.read_event()
                    assert event is not None
                    got.append((event.type, time.monotonic()))
            return got

    types = [t for t, _ in asyncio.run(main())]
    assert types.count("audio-start") == 2 and types.count("audio-stop") == 2, types  # the compat synthesize ignored
    assert types[-1] == SynthesizeStopped().event().type


@pytest.mark.models
@pytest.mark.broker
def test_handle_carries_the_command_out_over_mqtt(daemon: Daemon, broker_log: MqttRecorder) -> None:
    events = ask(daemon.port, [Transcript(text="Turn on the kitchen light.").event()], _is(Handled, NotHandled))
    assert Handled.is_type(events[-1].type), events
    handled = Handled.from_event(events[-1])
    assert handled.context and handled.context["intent"] == "HassTurnOn"
    assert handled.text and "kitchen light" in handled.text.lower()
    assert broker_log.wait_for(lambda t, p, r: t == LIGHT_TOPIC, timeout=10)[0][1] == b"ON"
    intent = json.loads(broker_log.wait_for(lambda t, p, r: t == f"{BASE}/intent", timeout=10)[0][1])
    assert intent["intent"] == "HassTurnOn" and intent["entity_ids"] == ["light.kitchen_ceiling"]


@pytest.mark.models
@pytest.mark.broker
def test_handle_says_honestly_what_it_did_not_understand(daemon: Daemon) -> None:
    events = ask(daemon.port, [Transcript(text="").event()], _is(Handled, NotHandled))
    assert NotHandled.is_type(events[-1].type) and NotHandled.from_event(events[-1]).text


@pytest.mark.models
@pytest.mark.broker
@pytest.mark.slm
def test_handle_uses_the_language_model_for_a_paraphrase(daemon: Daemon, broker_log: MqttRecorder) -> None:
    if not daemon.slm:
        pytest.skip("the language model is not built (slm-voice models build)")
    events = ask(daemon.port, [Transcript(text="it's way too dark in the kitchen").event()], _is(Handled, NotHandled))
    handled = Handled.from_event(events[-1])
    assert Handled.is_type(events[-1].type) and handled.context == {"intent": "HassTurnOn", "tier": "slm"}, events
    assert broker_log.wait_for(lambda t, p, r: t == LIGHT_TOPIC, timeout=10)[0][1] == b"ON"


@pytest.mark.models
@pytest.mark.broker
@pytest.mark.slm
def test_handle_asks_before_a_guarded_action_and_acts_on_yes(daemon: Daemon, broker_log: MqttRecorder) -> None:
    """"Did you mean ...?" is returned as the reply; the client's next request answers it (as Home Assistant sends
    the user's answer), and only a yes acts."""
    if not daemon.slm:
        pytest.skip("the language model is not built (slm-voice models build)")

    def handle(text: str) -> Event:
        return ask(daemon.port, [Transcript(text=text).event()], _is(Handled, NotHandled))[-1]

    question = Handled.from_event(handle("unlock the front door"))
    assert question.text and question.text.startswith("Do you want me to unlock the front door"), question
    assert Handled.from_event(handle("no")).text == "Okay, I won't."
    time.sleep(1.0)
    assert broker_log.on(f"{BASE}/intent") == []
    assert Handled.from_event(handle("unlock the front door")).text.startswith("Do you want me to")
    done = Handled.from_event(handle("yes please"))
    assert done.context and done.context["intent"], done
    intent = json.loads(broker_log.wait_for(lambda t, p, r: t == f"{BASE}/intent", timeout=10)[0][1])
    assert intent["entity_ids"] == ["lock.front_door"], intent


@pytest.mark.models
@pytest.mark.broker
def test_intent_recognizes_without_acting(daemon: Daemon, broker_log: MqttRecorder) -> None:
    events = ask(daemon.port, [Recognize(text="switch off the bedroom lamp").event()], _is(Intent, NotRecognized))
    intent = Intent.from_event(events[-1])
    assert intent.name == "HassTurnOff" and intent.context and intent.context["entity_ids"] == ["light.bedroom_lamp"]
    assert {e.name for e in intent.entities} >= {"name"} and intent.text
    nothing = ask(daemon.port, [Recognize(text="").event()], _is(Intent, NotRecognized))
    assert NotRecognized.is_type(nothing[-1].type)
    time.sleep(1.0)
    assert broker_log.on(f"{BASE}/intent") == []  # recognised only: nothing was carried out


@pytest.mark.models
@pytest.mark.broker
def test_several_clients_at_once(daemon: Daemon, tmp_path: Path, broker_log: MqttRecorder) -> None:
    wav = render_espeak("what time is it", tmp_path / "time.wav")

    async def main() -> list[list[Event]]:
        return list(await asyncio.gather(
            _ask(daemon.port, [Transcribe().event(), *audio_events(wav)], _is(Transcript)),
            _ask(daemon.port, [Synthesize(text="Dinner is ready.").event()], _is(AudioStop)),
            _ask(daemon.port, [Transcript(text="turn off the kitchen light").event()], _is(Handled, NotHandled)),
            _ask(daemon.port, [Describe().event()], _is(Info)),
        ))

    t0 = time.monotonic()
    heard, spoken, handled, info = asyncio.run(main())
    assert "time" in Transcript.from_event(heard[-1]).text.lower()
    assert pcm_of(spoken)[1].size > 10_000
    assert Handled.is_type(handled[-1].type) and Handled.from_event(handled[-1]).context["intent"] == "HassTurnOff"
    assert Info.is_type(info[-1].type)
    assert broker_log.wait_for(lambda t, p, r: t == LIGHT_TOPIC and p == b"OFF", timeout=10)
    print(f"\nfour clients at once answered in {time.monotonic() - t0:.2f} s")


@pytest.mark.models
@pytest.mark.broker
def test_a_full_queue_is_refused_with_a_clear_error(daemon: Daemon) -> None:
    """A long synthesis runs, QUEUE_SIZE - 1 requests wait behind it: every slot is taken, one more request is
    refused at once; describe still answers; every accepted request completes."""

    async def synthesis(text: str, started: asyncio.Event | None = None) -> list[Event]:
        async with AsyncTcpClient("127.0.0.1", daemon.port) as client:
            await client.write_event(Synthesize(text=text).event())
            got: list[Event] = []
            async with asyncio.timeout(300):
                while not got or not (AudioStop.is_type(got[-1].type) or Error.is_type(got[-1].type)):
                    event = await client.read_event()
                    assert event is not None
                    got.append(event)
                    if started is not None and AudioStart.is_type(event.type):
                        started.set()
            return got

    async def main() -> tuple[list[list[Event]], list[Event], float, list[Event]]:
        running = asyncio.Event()
        first = asyncio.ensure_future(synthesis(LONG_TEXT, running))
        await asyncio.wait_for(running.wait(), 120)  # it holds the model thread now; the next ones wait for it
        waiting = [asyncio.ensure_future(synthesis("One moment.")) for _ in range(QUEUE_SIZE - 1)]
        await asyncio.sleep(2.0)  # their requests are in (a loaded box's event loop can lag a little)
        t0 = time.monotonic()
        refused = await _ask(daemon.port, [Transcript(text="turn on the kitchen light").event()],
                             _is(Handled, NotHandled), timeout=10)
        refused_after = time.monotonic() - t0
        described = await _ask(daemon.port, [Describe().event()], _is(Info), timeout=5)
        return list(await asyncio.gather(first, *waiting)), refused, refused_after, described

    done, refused, refused_after, described = asyncio.run(main())
    assert Error.is_type(refused[-1].type), [e.type for e in refused]
    error = Error.from_event(refused[-1])
    assert error.code == "busy" and "busy" in error.text and "try again" in error.text
    assert refused_after < 3.0  # at once, not after the 20 sentences ahead of it
    assert Info.is_type(described[-1].type)
    assert AudioStop.is_type(done[0][-1].type) and pcm_of(done[0])[1].size / 22050 > 30
    for events in done[1:]:
        assert AudioStop.is_type(events[-1].type) and pcm_of(events)[1].size / 22050 > 0.5


@pytest.mark.models
@pytest.mark.broker
def test_a_bad_request_gets_an_error_then_the_connection_closes(daemon: Daemon) -> None:
    """An error ends the connection (as Wyoming servers do): a client that waits only for its transcript, as Home
    Assistant's does, learns of the failure instead of waiting forever."""

    async def exchange(events: list[Event]) -> list[Event | None]:
        async with AsyncTcpClient("127.0.0.1", daemon.port) as client:
            for event in events:
                await client.write_event(event)
            async with asyncio.timeout(30):
                return [await client.read_event(), await client.read_event()]

    fmt = {"rate": 16000, "width": 2, "channels": 1}
    silence = AudioChunk(audio=bytes(32000), **fmt).event()  # 1 s
    too_long = asyncio.run(exchange([Transcribe().event(), AudioStart(**fmt).event(), *[silence] * 31,
                                     AudioStop().event()]))
    assert too_long[0] is not None and Error.from_event(too_long[0]).code == "failed"
    assert "30 s" in Error.from_event(too_long[0]).text and too_long[1] is None
    wide = asyncio.run(exchange([AudioStart(rate=16000, width=4, channels=1).event()]))
    assert wide[0] is not None and "width" in Error.from_event(wide[0]).text and wide[1] is None
    # The server is none the worse.
    assert Info.is_type(ask(daemon.port, [Describe().event()], _is(Info), timeout=10)[-1].type)


@pytest.mark.models
@pytest.mark.broker
def test_a_client_that_hangs_up_frees_its_slot(daemon: Daemon) -> None:
    """Clients that leave in the middle of a long synthesis stop it and give their slot back (the server notices
    at its next write, after the sentence in progress): afterwards as many requests as there are slots are all
    served."""

    async def hang_up() -> None:
        async with AsyncTcpClient("127.0.0.1", daemon.port) as client:
            await client.write_event(Synthesize(text=LONG_TEXT).event())
            event = await asyncio.wait_for(client.read_event(), 120)
            assert event is not None and AudioStart.is_type(event.type)

    async def main() -> list[list[Event]]:
        for _ in range(QUEUE_SIZE + 1):
            await hang_up()
        await asyncio.sleep(5.0)  # a few sentences' time, on a loaded box
        return list(await asyncio.gather(*(
            _ask(daemon.port, [Synthesize(text="One moment.").event()], _is(AudioStop)) for _ in range(QUEUE_SIZE))))

    for events in asyncio.run(main()):
        assert AudioStop.is_type(events[-1].type), [e.type for e in events]


@pytest.mark.models
@pytest.mark.broker
def test_old_style_jsonl_events(daemon: Daemon) -> None:
    """Events as wyoming 1.0-1.4 wrote them (data inline in the header line, no version, no data_length)."""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=60) as sock:
        stream = sock.makefile("rwb")
        stream.write(json.dumps({"type": "recognize", "data": {"text": "turn on the kitchen light"}}).encode() + b"\n")
        stream.write(json.dumps({"type": "describe"}).encode() + b"\n")
        stream.flush()
        replies = []
        for _ in range(2):
            header = json.loads(stream.readline())
            data = header.get("data") or {}
            if header.get("data_length"):
                data.update(json.loads(stream.read(header["data_length"])))
            replies.append((header["type"], data))
    assert replies[0][0] == "intent" and replies[0][1]["name"] == "HassTurnOn"
    assert replies[1][0] == "info" and replies[1][1]["asr"][0]["name"] == "slm-voice-stt"


@pytest.mark.models
@pytest.mark.broker
def test_a_reload_serves_again_on_the_same_port(daemon: Daemon) -> None:
    """SIGHUP restarts the session: the old server lets the port go, the new one (same models) takes it."""
    served = daemon.log.read_text(errors="replace").count("wyoming: serving")
    daemon.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 120
    while daemon.log.read_text(errors="replace").count("wyoming: serving") <= served:
        assert daemon.proc.poll() is None and time.monotonic() < deadline, daemon.log_tail()
        time.sleep(0.2)
    (event,) = ask(daemon.port, [Describe().event()], _is(Info), timeout=10)
    assert Info.from_event(event).asr
    events = ask(daemon.port, [Transcript(text="turn on the kitchen light").event()], _is(Handled, NotHandled))
    assert Handled.is_type(events[-1].type), events
    assert "cannot listen" not in daemon.log.read_text(errors="replace")


# ---- wyoming 1.5.3 (Home Assistant 2024.3's own pin) and Home Assistant 2024.3.3 ---------------------------

_CLIENT_153 = r"""
import asyncio, json, sys, wave
from importlib.metadata import version
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.tts import Synthesize
from wyoming.handle import Handled

port, wav_path = int(sys.argv[1]), sys.argv[2]

async def ask(events, done):
    async with AsyncTcpClient("127.0.0.1", port) as c:
        for e in events:
            await c.write_event(e)
        got = []
        while True:
            e = await asyncio.wait_for(c.read_event(), 120)
            got.append(e)
            if done(e):
                return got

async def main():
    out = {"version": version("wyoming")}
    info = Info.from_event((await ask([Describe().event()], lambda e: Info.is_type(e.type)))[-1])
    out["asr"] = info.asr[0].name
    out["tts_languages"] = info.tts[0].voices[0].languages
    with wave.open(wav_path) as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    events = [Transcribe(language="en").event(), AudioStart(rate=rate, width=2, channels=1).event()]
    events += [AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i:i + 2048]).event()
               for i in range(0, len(pcm), 2048)]
    events.append(AudioStop().event())
    out["transcript"] = Transcript.from_event((await ask(events, lambda e: Transcript.is_type(e.type)))[-1]).text
    spoken = await ask([Synthesize(text="Hello from an old client.").event()], lambda e: AudioStop.is_type(e.type))
    out["audio_bytes"] = sum(len(AudioChunk.from_event(e).audio) for e in spoken if AudioChunk.is_type(e.type))
    handled = await ask([Transcript(text="turn off the kitchen light").event()],
                        lambda e: e.type in ("handled", "not-handled"))
    out["handled"] = [handled[-1].type, Handled.from_event(handled[-1]).text]
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.fixture(scope="session")
def ha_python() -> Path:
    """The test Home Assistant's interpreter, with its Wyoming integration's requirements (wyoming==1.5.3 and what
    stt, tts, assist_pipeline and zeroconf need): the shared install holds only what the other tests' integrations
    need, and Home Assistant runs with --skip-pip. Installed once, with Home Assistant's own constraints."""
    from tests.homeassistant_server import _REQS_SCRIPT, ensure_ha_venv

    venv = ensure_ha_venv()
    py = venv / "bin" / "python"
    if subprocess.run([str(py), "-c", "import wyoming, mutagen, webrtc_noise_gain, haffmpeg, zeroconf"],
                      capture_output=True).returncode != 0:
        reqs = json.loads(subprocess.run([str(py), "-c", _REQS_SCRIPT, "wyoming", "zeroconf"], capture_output=True,
                                         text=True, check=True).stdout)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c",
                        str(venv / "package_constraints.txt"), *reqs], check=True, timeout=600)
    return py


@pytest.mark.models
@pytest.mark.broker
@pytest.mark.homeassistant
def test_a_wyoming_1_5_3_client(daemon: Daemon, ha_python: Path, tmp_path: Path) -> None:
    """The wyoming library Home Assistant 2024.3 pins (installed in the test Home Assistant's venv) as the client."""
    wav = render_espeak("turn on the kitchen light", tmp_path / "cmd.wav")
    run = subprocess.run([str(ha_python), "-c", _CLIENT_153, str(daemon.port), str(wav)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["version"] == "1.5.3"
    assert out["asr"] == "slm-voice-stt" and out["tts_languages"] == ["en_US"]
    assert "kitchen light" in out["transcript"].lower()
    assert out["audio_bytes"] > 22050  # more than half a second of speech
    assert out["handled"][0] == "handled" and "kitchen light" in out["handled"][1].lower()


def _wav_bytes(path: Path) -> bytes:
    """The WAV as Home Assistant's speech-to-text API wants it: 16 kHz mono 16-bit."""
    from slm_voice.daemon.wyoming_server import to_16k_mono

    with wave.open(str(path)) as w:
        pcm16 = to_16k_mono(w.readframes(w.getnframes()), w.getframerate(), w.getnchannels())
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm16)
    return buf.getvalue()


@pytest.mark.models
@pytest.mark.broker
@pytest.mark.homeassistant
def test_home_assistant_uses_it_for_speech_to_text_and_text_to_speech(daemon: Daemon, ha_python: Path,
                                                                      homeassistant, tmp_path: Path) -> None:
    ha = homeassistant
    entries = ha.rest("GET", "/api/config/config_entries/entry?domain=wyoming")
    if not entries:
        flow = ha.rest("POST", "/api/config/config_entries/flow", {"handler": "wyoming"})
        result = ha.rest("POST", f"/api/config/config_entries/flow/{flow['flow_id']}",
                         {"host": "127.0.0.1", "port": daemon.port})
        assert result.get("type") == "create_entry", result
        assert result["title"] == "slm-voice-stt"
    deadline = time.monotonic() + 60
    while True:
        states = {s["entity_id"] for s in ha.states()}
        stt = sorted(e for e in states if e.startswith("stt."))
        tts = sorted(e for e in states if e.startswith("tts."))
        if stt and tts:
            break
        assert time.monotonic() < deadline, f"no stt/tts entity from the Wyoming integration: {sorted(states)}"
        time.sleep(0.5)
    # Speech-to-text: a WAV through Home Assistant's API, transcribed by our server.
    wav = render_espeak("turn on the kitchen light", tmp_path / "cmd.wav")
    request = urllib.request.Request(
        f"{ha.url}/api/stt/{stt[0]}", data=_wav_bytes(wav), method="POST",
        headers={"Authorization": f"Bearer {ha.token}", "Content-Type": "audio/wav",
                 "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; channel=1; language=en"})
    with urllib.request.urlopen(request, timeout=120) as response:
        result = json.loads(response.read())
    assert result["result"] == "success" and "kitchen light" in result["text"].lower(), result
    # Text-to-speech: Home Assistant asks our server for the audio and serves it as a WAV file.
    # (As WAV: Home Assistant would convert to MP3 with ffmpeg, which the test machine may lack.)
    url = ha.rest("POST", "/api/tts_get_url", {"engine_id": tts[0], "message": "The garage door is closed.",
                                              "cache": False, "options": {"preferred_format": "wav"}})
    with urllib.request.urlopen(f"{ha.url}{url['path']}", timeout=120) as response:
        audio = response.read()
    with wave.open(io.BytesIO(audio)) as w:
        seconds = w.getnframes() / w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert seconds > 1.0 and np.sqrt(np.mean(pcm.astype(float) ** 2)) > 100, seconds


@pytest.mark.models
@pytest.mark.broker
@pytest.mark.homeassistant
def test_handle_acts_through_the_home_assistant_link(homeassistant, ha_broker: Mosquitto, tmp_path: Path) -> None:
    """A daemon with the live Home Assistant link: a Wyoming `transcript` switches Home Assistant's light through the
    same executor a spoken command uses, and the reply is Home Assistant's answer."""
    ha = homeassistant
    ha.call_service("light", "turn_off", target={"entity_id": "light.kitchen_light"})
    ha.wait_state("light.kitchen_light", "off")
    token = tmp_path / "ha-token"
    token.write_text(f"{ha.token}\n")
    d = start_daemon(tmp_path, {
        "device_id": "wy_ha", "slm": {"enabled": False},
        "mqtt": {"broker": "external", "host": "127.0.0.1", "port": ha_broker.port},
        "homeassistant": {"url": ha.url, "token_file": str(token), "timeout_s": 5.0},
        "wyoming": {"zeroconf": False},
    })
    try:
        deadline = time.monotonic() + 60  # the home is read from Home Assistant after start
        while "entities exposed to Assist" not in d.log.read_text(errors="replace"):
            assert time.monotonic() < deadline, d.log_tail()
            time.sleep(0.2)
        events = ask(d.port, [Transcript(text="turn on the kitchen light").event()], _is(Handled, NotHandled))
        handled = Handled.from_event(events[-1])
        assert Handled.is_type(events[-1].type) and handled.text == "Turned on the Kitchen Light.", (events,
                                                                                                    d.log_tail())
        ha.wait_state("light.kitchen_light", "on", timeout=10)
    finally:
        stop_daemon(d)
