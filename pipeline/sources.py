"""Where frames come from: a WAV file, a pipe (stdin) or a microphone, each cut into 32 ms 16 kHz mono frames.

Sources are blocking: the service reads each in a worker thread (pipeline/streaming.py).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import select
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from .audio import AudioDeviceError, AudioFormatError, AudioSource
from .devices import import_sounddevice, pick_settings, resolve_device
from .frames import FRAME_SAMPLES, SAMPLE_RATE, SAMPLE_WIDTH, AudioFrame
from .pcm import StreamResampler, downmix, float_to_int16
from .wav import iter_wav_16k, read_wav_info

log = logging.getLogger(__name__)

_FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH


class _Framer:
    """Cuts a byte stream into frames, stamps stream_s, and optionally paces them at real speed."""

    def __init__(self, realtime: bool, stop: threading.Event) -> None:
        self._realtime = realtime
        self._stop = stop
        self._buf = bytearray()
        self._samples = 0
        self._t0 = time.monotonic()

    def push(self, pcm: bytes) -> Iterator[AudioFrame]:
        self._buf += pcm
        while len(self._buf) >= _FRAME_BYTES and not self._stop.is_set():
            chunk = bytes(self._buf[:_FRAME_BYTES])
            del self._buf[:_FRAME_BYTES]
            yield self._emit(chunk)

    def finish(self) -> Iterator[AudioFrame]:
        """Zero-pad and emit the last partial frame (an odd trailing byte is dropped)."""
        tail = bytes(self._buf[: len(self._buf) - len(self._buf) % SAMPLE_WIDTH])
        self._buf.clear()
        if tail and not self._stop.is_set():
            yield self._emit(tail + bytes(_FRAME_BYTES - len(tail)))

    def _emit(self, chunk: bytes) -> AudioFrame:
        stream_s = self._samples / SAMPLE_RATE
        self._samples += FRAME_SAMPLES
        if self._realtime:
            # A live source delivers a frame once its last sample is in; due times count from the start,
            # so sleeping late once does not shift every later frame.
            wait = self._t0 + self._samples / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
        return AudioFrame(chunk, stream_s, time.monotonic())


def _silence(seconds: float) -> bytes:
    return bytes(SAMPLE_WIDTH * round(max(0.0, seconds) * SAMPLE_RATE))


class WavFileSource:
    """Frames from a WAV file (PCM 8/16/24/32-bit or 32/64-bit float, any rate, any channel count).

    The audio is downmixed to mono and resampled to 16 kHz with soxr. The header is checked in the
    constructor, so a bad file fails before streaming starts.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        realtime: bool = False,
        lead_silence_s: float = 0.0,
        tail_silence_s: float = 0.0,
    ) -> None:
        self.info = read_wav_info(path)
        if self.info.frame_count == 0:
            raise AudioFormatError(f"{self.info.path}: WAV file contains no audio samples")
        self.realtime = realtime
        self.lead_silence_s = lead_silence_s
        self.tail_silence_s = tail_silence_s
        self.description = f"file:{self.info.path} ({self.info.describe()}{', real time' if realtime else ''})"
        self._stop = threading.Event()

    def frames(self) -> Iterator[AudioFrame]:
        framer = _Framer(self.realtime, self._stop)
        yield from framer.push(_silence(self.lead_silence_s))
        for block in iter_wav_16k(self.info, self._stop):
            yield from framer.push(block.astype("<i2", copy=False).tobytes())
        yield from framer.push(_silence(self.tail_silence_s))
        yield from framer.finish()

    def close(self) -> None:
        self._stop.set()


class StdinSource:
    """Raw 16 kHz mono s16le PCM from a pipe (stdin by default), framed as it arrives.

    Reads use the file descriptor directly with select(), so a live `arecord ... |` feeds frames with no more delay
    than one read, and close() takes effect within 0.1 s even while the pipe is quiet. A live source is never paced:
    frames go out as fast as they come in, so a backlog (the loop was busy) is caught up at once. With
    drop_backlog, audio already waiting in the pipe when frames() starts (what arrived while the models loaded or
    the config reloaded) is dropped, not replayed: replaying it at real speed would put every later command that
    much behind.
    """

    def __init__(self, stream: IO[bytes] | None = None, realtime: bool = False, tail_silence_s: float = 0.0,
                 drop_backlog: bool = False) -> None:
        self._stream = stream if stream is not None else sys.stdin.buffer
        self.realtime = realtime
        self.tail_silence_s = tail_silence_s
        self.drop_backlog = drop_backlog
        self.dropped_s = 0.0
        """Seconds of audio dropped as backlog when frames() started."""
        self.description = f"stdin (raw 16 kHz mono s16le{', real time' if realtime else ''})"
        self._stop = threading.Event()

    def frames(self) -> Iterator[AudioFrame]:
        framer = _Framer(self.realtime, self._stop)
        fd = self._fileno()
        if self.drop_backlog and fd is not None:
            self._drop_waiting(fd)
        for data in self._reads(fd):
            yield from framer.push(data)
        if not self._stop.is_set():
            yield from framer.push(_silence(self.tail_silence_s))
            yield from framer.finish()

    def _fileno(self) -> int | None:
        try:
            return self._stream.fileno()
        except (OSError, AttributeError, ValueError):
            return None  # an in-memory stream

    def _drop_waiting(self, fd: int) -> None:
        """Read and drop what the pipe holds now, ending on a sample boundary."""
        dropped = 0
        while select.select([fd], [], [], 0)[0]:
            data = os.read(fd, 65536)
            if not data:
                break
            dropped += len(data)
        if dropped % SAMPLE_WIDTH and select.select([fd], [], [], 1.0)[0]:
            dropped += len(os.read(fd, 1))  # the other half of a sample cut in two
        self.dropped_s = dropped // SAMPLE_WIDTH / SAMPLE_RATE
        if dropped:
            log.info("stdin: dropped %.2f s of audio that arrived before the assistant was ready", self.dropped_s)

    def _reads(self, fd: int | None) -> Iterator[bytes]:
        while not self._stop.is_set():
            if fd is not None:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(fd, 4096)
            else:
                read1 = getattr(self._stream, "read1", None)
                data = read1(4096) if read1 is not None else self._stream.read(4096)
            if not data:
                return
            yield data

    def close(self) -> None:
        self._stop.set()



class MicSource:
    """Frames from a microphone through sounddevice (PortAudio).

    Opens at 16 kHz mono when the device allows, else at the device's default rate (resampled in a
    stream) and/or in stereo (averaged). The PortAudio callback only copies blocks into a bounded
    queue; when the reader falls behind, blocks are dropped and counted, never raised.
    """

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int | None = None,
        block_ms: int = 32,
        queue_s: float = 2.0,
    ) -> None:
        self._sd = import_sounddevice()
        self.device_index, info = resolve_device(self._sd, device, "input")
        self.device_name: str = info["name"]
        rates = [sample_rate] if sample_rate else [SAMPLE_RATE, round(info["default_samplerate"])]
        self.sample_rate, self.channels = pick_settings(self._sd, self.device_index, info, "input", rates)
        self.blocksize = max(1, round(self.sample_rate * block_ms / 1000))
        self._queue: queue.Queue[np.ndarray] = queue.Queue(max(4, math.ceil(queue_s * 1000 / block_ms)))
        self._stop = threading.Event()
        self.overflows = 0
        """Blocks PortAudio flagged as overflowed plus blocks dropped because the queue was full."""
        how = "" if self.sample_rate == SAMPLE_RATE else ", resampled to 16 kHz"
        self.description = (
            f"mic #{self.device_index} {self.device_name!r} ({self.sample_rate} Hz, {self.channels} ch{how})"
        )

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self.overflows += 1

    def frames(self) -> Iterator[AudioFrame]:
        framer = _Framer(False, self._stop)
        resampler = StreamResampler(self.sample_rate, SAMPLE_RATE)
        passthrough = self.sample_rate == SAMPLE_RATE and self.channels == 1
        try:
            stream = self._sd.InputStream(
                device=self.device_index,
                samplerate=self.sample_rate,
                channels=self.channels,
                dtype="int16",
                blocksize=self.blocksize,
                callback=self._callback,
            )
        except self._sd.PortAudioError as e:
            raise AudioDeviceError(f"{self.description}: cannot open: {e}") from None
        reported, last_report = 0, 0.0
        with stream:
            while not self._stop.is_set():
                try:
                    block = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if not stream.active:
                        raise AudioDeviceError(f"{self.description} stopped delivering audio") from None
                    continue
                if self.overflows != reported and time.monotonic() - last_report > 10.0:
                    log.warning("%s: %d audio blocks lost so far (input overflow)", self.description, self.overflows)
                    reported, last_report = self.overflows, time.monotonic()
                if passthrough:
                    pcm = block[:, 0]
                else:
                    mono = downmix(block.astype(np.float32) / 32768.0)
                    pcm = float_to_int16(resampler.process(mono))
                yield from framer.push(pcm.astype("<i2", copy=False).tobytes())

    def close(self) -> None:
        self._stop.set()


def open_source(
    spec: str,
    *,
    input_device: str | int | None = None,
    realtime: bool = False,
    live: bool = False,
    lead_silence_s: float = 0.0,
    tail_silence_s: float = 0.0,
) -> AudioSource:
    """Source for a config string: mic, file:PATH (WAV) or stdin (raw 16 kHz mono s16le).

    realtime paces file frames at real speed (and stdin's, for tests); the silences apply to files (tail also to
    stdin). live (the daemon): stdin is read as it arrives, never paced, and what waited in the pipe while the
    daemon was not ready is dropped; a file is paced at real speed, as a microphone would deliver it.
    """
    if spec == "mic":
        return MicSource(input_device)
    if spec == "stdin":
        return StdinSource(realtime=realtime and not live, tail_silence_s=tail_silence_s, drop_backlog=live)
    if live:
        realtime = True
    if spec.startswith("file:") and len(spec) > 5:
        return WavFileSource(spec[5:], realtime=realtime, lead_silence_s=lead_silence_s, tail_silence_s=tail_silence_s)
    raise ValueError(f"audio source {spec!r}: expected mic, stdin or file:PATH")

