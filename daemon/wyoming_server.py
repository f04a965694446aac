"""Wyoming servers for Home Assistant's voice devices, with the assistant's own models (loaded once, shared with the
microphone pipeline):

- asr: `transcribe` + audio-start/chunk/stop -> `transcript` (the assistant's speech-to-text stage);
- tts: `synthesize` -> audio-start, a chunk run per sentence as soon as it is synthesized, audio-stop; and the
  streaming form, synthesize-start/chunk/stop -> one audio-start/stop run per sentence, then synthesize-stopped;
- handle: `transcript` -> `handled`/`not-handled`: understood and carried out like a spoken command, the reply
  returned (daemon/wyoming_turns.py);
- intent: `recognize` -> `intent`/`not-recognized`: the Home Assistant intent, nothing carried out;
- `describe` -> `info` (daemon/wyoming_info.py), `ping` -> `pong`; zeroconf (daemon/wyoming_discovery.py).

Every client has its own connection and state; every model call goes through the one model thread behind a bounded
count of requests (daemon/wyoming_worker.py). `serve()` runs until cancelled.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
from collections.abc import Iterable, Iterator

import soxr
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe, Info
from wyoming.intent import Entity, Intent, NotRecognized, Recognize
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from ..pipeline.assistant import Assistant
from ..pipeline.frames import OutputAudio
from ..pipeline.pcm import downmix, float_to_int16, to_float32
from ..pipeline.roles import Executor
from ..pipeline.tts import clean_text, speech_pieces
from .settings import Settings
from .wyoming_discovery import Advertisement, advertised_address
from .wyoming_info import describe
from .wyoming_turns import TextTurns
from .wyoming_worker import Busy, ModelWorker, Stopped

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SAMPLES_PER_CHUNK = 1024
"""Samples per audio-chunk sent (as wyoming-piper sends them)."""
BIND_RETRY_S = 5.0
"""How long a port still held by the previous session (a reload) is retried."""
_SERVICE_OF = {
    "transcribe": "asr", "audio-start": "asr", "audio-chunk": "asr", "audio-stop": "asr",
    "synthesize": "tts", "synthesize-start": "tts", "synthesize-chunk": "tts", "synthesize-stop": "tts",
    "transcript": "handle", "recognize": "intent",
}
"""The service each request event belongs to: one not served gets an error, not silence."""
_SENTENCE_END = re.compile(r"[.!?;:]\s+")
_MAX_TEXT = 10_000
"""Longest text one tts request may synthesize (Piper's memory and the worker's time are shared)."""


class WyomingHandler:
    """One client connection: reads events, answers them in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, info: Info,
                 services: tuple[str, ...], assistant: Assistant, worker: ModelWorker, turns: TextTurns,
                 max_audio_s: float, tts_cache: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.info_event = info.event()
        self.services = services
        self.assistant = assistant
        self.worker = worker
        self.turns = turns
        self.max_audio_s = max_audio_s
        self.tts_cache = tts_cache
        peer = writer.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) else "local"
        self._audio: AudioStart | None = None
        self._pcm = bytearray()
        self._too_long = False
        self._language: str | None = None
        self._stream_text: str | None = None
        """The text of a synthesize-start stream not yet spoken; None outside a stream."""

    async def run(self) -> None:
        """Until the client leaves, or an error was sent: then the connection is closed, as Wyoming servers do, so
        a client that waits only for its answer (Home Assistant's) sees the failure instead of waiting forever."""
        try:
            while (event := await async_read_event(self.reader)) is not None:
                if not await self._on_event(event):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writer.close()

    async def send(self, event: Event) -> None:
        await async_write_event(event, self.writer)

    async def _on_event(self, event: Event) -> bool:
        """Answer one event; False when an error was sent instead."""
        try:
            await self._dispatch(event)
            return True
        except Busy as e:
            log.warning("wyoming: %s from %s refused: %s", event.type, self.client, e)
            error = Error(text=str(e), code="busy")
        except Stopped as e:
            error = Error(text=str(e), code="stopping")
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:  # a bad request must not end the daemon
            log.exception("wyoming: %s from %s failed", event.type, self.client)
            error = Error(text=f"{type(e).__name__}: {e}", code="failed")
        await self.send(error.event())
        return False

    async def _dispatch(self, event: Event) -> None:
        t = event.type
        service = _SERVICE_OF.get(t)
        if service is not None and service not in self.services:
            raise ValueError(f"{t}: {service} is not served here (wyoming.services)")
        if Describe.is_type(t):
            await self.send(self.info_event)  # never queued: Home Assistant gives it 1 s
        elif Ping.is_type(t):
            await self.send(Pong(text=Ping.from_event(event).text).event())
        elif Transcribe.is_type(t):
            self._language = Transcribe.from_event(event).language
        elif AudioStart.is_type(t):
            start = AudioStart.from_event(event)
            if start.width != 2:
                raise ValueError(f"audio width {start.width}: only 16-bit samples (width 2) are taken")
            self._audio, self._pcm, self._too_long = start, bytearray(), False
        elif AudioChunk.is_type(t):
            if self._audio is not None and not self._too_long:
                self._pcm += AudioChunk.from_event(event).audio
                self._too_long = len(self._pcm) > self._max_bytes(self._audio)
        elif AudioStop.is_type(t):
            await self._transcribe()
        elif Synthesize.is_type(t):
            if self._stream_text is None:  # inside a stream it only repeats the streamed text for old servers
                await self._speak_once(Synthesize.from_event(event).text)
        elif SynthesizeStart.is_type(t):
            self._stream_text = ""
        elif SynthesizeChunk.is_type(t):
            await self._speak_stream(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(t):
            await self._speak_stream(None)
        elif Transcript.is_type(t):
            await self._handle(Transcript.from_event(event).text)
        elif Recognize.is_type(t):
            await self._recognize(Recognize.from_event(event).text)
        else:
            log.debug("wyoming: %s ignored", t)

    # ---- asr ------------------------------------------------------------------------------------------------

    def _max_bytes(self, fmt: AudioStart) -> int:
        return int(self.max_audio_s * fmt.rate * fmt.width * fmt.channels)

    async def _transcribe(self) -> None:
        fmt, pcm, too_long = self._audio, bytes(self._pcm), self._too_long
        self._audio, self._pcm, self._too_long = None, bytearray(), False
        if fmt is None:
            raise ValueError("audio-stop without audio-start")
        if too_long:
            raise ValueError(f"more than {self.max_audio_s:.0f} s of audio: refused")
        audio = to_16k_mono(pcm, fmt.rate, fmt.channels)
        async with self.worker.slot():
            heard = await self.worker.call(self.assistant.stt.transcribe, audio)
        log.info("wyoming: transcribed %.1f s for %s: %r", len(audio) / 2 / SAMPLE_RATE, self.client, heard.text)
        await self.send(Transcript(text=heard.text, language=self._language).event())

    # ---- tts ------------------------------------------------------------------------------------------------

    async def _speak_once(self, text: str) -> None:
        """One audio-start, the sentences' chunks as each is synthesized, one audio-stop (what Home Assistant's
        tts entity reads)."""
        sentences = _sentences(text)
        async with self.worker.slot():
            started = False
            async for audio in self.worker.stream(lambda: self._synthesize(sentences)):
                if not started:
                    await self.send(AudioStart(rate=audio.sample_rate, width=2, channels=1).event())
                    started = True
                await self._send_audio(audio)
            if not started:  # nothing to say: an empty, well-formed answer
                await self.send(AudioStart(rate=self._tts_rate(), width=2, channels=1).event())
        await self.send(AudioStop().event())

    async def _speak_stream(self, chunk: str | None) -> None:
        """Streaming synthesis: each complete sentence is spoken as soon as its text has arrived; chunk None (the
        stream's end) speaks the rest and ends with synthesize-stopped."""
        if self._stream_text is None:
            raise ValueError("synthesize-chunk or synthesize-stop without synthesize-start")
        text = self._stream_text + (chunk or "")
        if chunk is None:
            ready, self._stream_text = text, None
        else:
            cut = max((m.end() for m in _SENTENCE_END.finditer(text)), default=0)
            ready, self._stream_text = text[:cut], text[cut:]
            if len(self._stream_text) > _MAX_TEXT:
                ready, self._stream_text = self._stream_text, ""
        for sentence in _sentences(ready):
            async with self.worker.slot():
                await self.send(AudioStart(rate=self._tts_rate(), width=2, channels=1).event())
                async for audio in self.worker.stream(lambda s=sentence: self._synthesize([s])):
                    await self._send_audio(audio)
            await self.send(AudioStop().event())
        if chunk is None:
            await self.send(SynthesizeStopped().event())

    def _synthesize(self, sentences: Iterable[str]) -> Iterator[OutputAudio]:
        """In the model thread: each sentence's audio as it is made."""
        for sentence in sentences:
            yield from self.assistant.tts.speak(sentence, cache=self.tts_cache)

    def _tts_rate(self) -> int:
        return int(getattr(self.assistant.tts, "sample_rate", 22050))

    async def _send_audio(self, audio: OutputAudio) -> None:
        step = SAMPLES_PER_CHUNK * 2
        for i in range(0, len(audio.pcm), step):
            await self.send(AudioChunk(rate=audio.sample_rate, width=2, channels=1,
                                       audio=audio.pcm[i:i + step]).event())

    # ---- handle and intent ----------------------------------------------------------------------------------

    async def _handle(self, text: str) -> None:
        async with self.worker.slot():
            turn = await self.turns.handle(text, self.client)
        u = turn.understanding
        context = {"intent": u.intent.name if u.intent else None, "tier": u.tier}
        log.debug("wyoming: handled %r for %s: %s (%s) -> %r", text, self.client, context["intent"], u.tier, u.reply)
        reply = Handled(text=u.reply, context=context) if turn.handled else NotHandled(text=u.reply, context=context)
        await self.send(reply.event())

    async def _recognize(self, text: str) -> None:
        async with self.worker.slot():
            u = await self.turns.recognize(text)
        if u.intent is None:
            await self.send(NotRecognized(text=u.reply, context={"tier": u.tier}).event())
            return
        entities = [Entity(name=k, value=v if isinstance(v, str | int | float | bool) else str(v))
                    for k, v in u.intent.slots.items()]
        context = {"tier": u.tier, "entity_ids": list(u.intent.entity_ids), "confidence": u.confidence}
        await self.send(Intent(name=u.intent.name, entities=entities, text=u.reply, context=context).event())


def to_16k_mono(pcm: bytes, rate: int, channels: int) -> bytes:
    """16-bit PCM of any rate and channel count as 16 kHz mono int16 bytes (what speech-to-text takes)."""
    mono = downmix(to_float32(pcm[: len(pcm) - len(pcm) % (2 * channels)]).reshape(-1, channels))
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE)
    return float_to_int16(mono).astype("<i2").tobytes()


def _sentences(text: str) -> list[str]:
    return speech_pieces(clean_text(text[:_MAX_TEXT]))


async def serve(settings: Settings, assistant: Assistant, executor: Executor | None) -> None:
    """Serve Wyoming clients (and advertise over zeroconf) until cancelled; a port that cannot be bound is logged,
    the rest of the daemon keeps running."""
    w = settings.wyoming
    worker = ModelWorker(assistant.model_thread, w.queue_size)  # the microphone's too: one model call at a time
    turns = TextTurns(assistant, executor, worker)
    info = describe(settings, w.services, voice_config=getattr(assistant.tts, "config_path", None))
    handlers: set[asyncio.Task[None]] = set()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = WyomingHandler(reader, writer, info=info, services=w.services, assistant=assistant, worker=worker,
                                 turns=turns, max_audio_s=w.max_audio_s, tts_cache=assistant.options.reply_cache)
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        try:
            await handler.run()
        finally:
            if task is not None:
                handlers.discard(task)

    server = await _bind(client, w.host, w.port)
    if server is None:
        return
    log.info("wyoming: serving %s on %s:%d", ", ".join(w.services), w.host, w.port)
    advert = None
    try:
        if w.zeroconf:
            advert = await _advertise(settings)
        await asyncio.Event().wait()  # until cancelled
    finally:
        server.close()  # the port is free at once for the next session
        for task in list(handlers):
            task.cancel()
        if advert is not None:
            try:
                await advert.unregister()
            except Exception:
                log.exception("wyoming: zeroconf unregistration failed")


async def _bind(client, host: str, port: int) -> asyncio.Server | None:  # noqa: ANN001 - asyncio's callback type
    deadline = asyncio.get_running_loop().time() + BIND_RETRY_S
    while True:
        try:
            return await asyncio.start_server(client, host, port)
        except OSError as e:
            if e.errno == errno.EADDRINUSE and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.25)
                continue
            log.error("wyoming: cannot listen on %s:%d (%s); Home Assistant's voice devices are not served",
                      host, port, e.strerror or e)
            return None


async def _advertise(settings: Settings) -> Advertisement | None:
    w = settings.wyoming
    address = advertised_address(w.host, w.zeroconf_address)
    if address is None:
        log.warning("wyoming: no address to advertise over zeroconf (no network route); set wyoming."
                    "zeroconf_address")
        return None
    advert = Advertisement(w.zeroconf_name or f"slm-voice-{settings.device_id}", address, w.port)
    try:
        await advert.register()
    except Exception as e:  # discovery is a convenience: host and port can still be entered by hand
        log.warning("wyoming: zeroconf advertisement failed (%s); add the server by host and port", e)
        await advert.unregister()
        return None
    return advert
