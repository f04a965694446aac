"""Where reply audio goes: a speaker, a WAV file, stdout (raw PCM for a pipe), or nowhere.

Sinks are blocking: the assistant writes to one from its own audio thread (pipeline/speaking.py).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import wave
from collections import deque
from pathlib import Path
from typing import IO, Any

import numpy as np

from .audio import AudioDeviceError, AudioError, AudioSink
from .devices import import_sounddevice, pick_settings, resolve_device
from .frames import SAMPLE_RATE, SAMPLE_WIDTH, OutputAudio
from .pcm import RateMatcher

log = logging.getLogger(__name__)


class NullSink:
    """Discards audio, counting what it was given (for tests and benchmarks)."""

    description = "null"

    def __init__(self) -> None:
        self.chunks = 0
        self.samples_written = 0
        self.seconds_written = 0.0

    def write(self, audio: OutputAudio) -> None:
        n = len(audio.pcm) // SAMPLE_WIDTH
        self.chunks += 1
        self.samples_written += n
        self.seconds_written += n / audio.sample_rate

    def drain(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class StdoutSink:
    """Raw s16le mono PCM at a fixed rate on standard output (or another binary stream), for a pipe into a player:
    `slm-voice run | aplay -r 22050 -f S16_LE -c 1`. Log lines go to stderr, so stdout carries audio only."""

    def __init__(self, stream: IO[bytes] | None = None, sample_rate: int = 22050) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self.sample_rate = sample_rate
        self._match = RateMatcher(sample_rate)
        self.description = f"stdout (raw {sample_rate} Hz mono s16le)"

    def write(self, audio: OutputAudio) -> None:
        self._put(self._match.convert(audio))

    def _put(self, pcm: np.ndarray) -> None:
        try:
            self._stream.write(pcm.astype("<i2", copy=False).tobytes())
            self._stream.flush()
        except BrokenPipeError:
            log.warning("stdout: the reader went away; reply audio is dropped")

    def drain(self) -> None:
        self._put(self._match.flush())

    def stop(self) -> None:
        """What was written is in the pipe already: nothing to take back."""

    def close(self) -> None:
        self.drain()


class WavFileSink:
    """Writes everything played during a run into one 16-bit mono WAV file.

    The file's rate is the first chunk's; later chunks at other rates are resampled. The header is
    rewritten after every write, so the file is valid even if the process dies.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - held open for the whole run
        except OSError as e:
            raise AudioError(f"{self.path}: cannot write: {e.strerror or e}") from None
        self._wav: wave.Wave_write | None = None
        self._match: RateMatcher | None = None
        self.description = f"file:{self.path}"

    def write(self, audio: OutputAudio) -> None:
        if self._match is None:
            self._open(audio.sample_rate)
        assert self._match is not None
        self._put(self._match.convert(audio))

    def _open(self, rate: int) -> None:
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115 - closed in close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(rate)
        self._match = RateMatcher(rate)

    def _put(self, pcm: np.ndarray) -> None:
        assert self._wav is not None
        self._wav.writeframes(pcm.astype("<i2", copy=False).tobytes())

    def drain(self) -> None:
        if self._match is not None:
            self._put(self._match.flush())
        self._file.flush()

    def stop(self) -> None:
        """A file keeps what was written (a barge-in shows as the reply's end)."""

    def close(self) -> None:
        if self._file.closed:
            return
        if self._wav is None:
            self._open(SAMPLE_RATE)  # nothing was played: still leave a valid, empty WAV
        self.drain()
        assert self._wav is not None
        self._wav.close()
        self._file.close()


class SpeakerSink:
    """Plays audio through sounddevice (PortAudio).

    The stream opens at the first chunk's rate if the device takes it (else at the device's default
    rate, resampling), runs only while there is something to play, and write() returns at once: a
    callback plays from a queue, filling gaps between chunks with silence until drain() is called.
    """

    def __init__(self, device: str | int | None = None) -> None:
        self._sd = import_sounddevice()
        self.device_index, self._info = resolve_device(self._sd, device, "output")
        self.device_name: str = self._info["name"]
        self.description = f"speaker #{self.device_index} {self.device_name!r}"
        self._stream: Any = None
        self._match: RateMatcher | None = None
        self._lock = threading.Lock()
        self._pending: deque[np.ndarray] = deque()
        self._offset = 0
        self._draining = False
        self._finished = threading.Event()
        self.underflows = 0

    def _open(self, rate: int) -> None:
        default = round(self._info["default_samplerate"])
        out_rate, channels = pick_settings(self._sd, self.device_index, self._info, "output", [rate, default])
        try:
            self._stream = self._sd.OutputStream(
                device=self.device_index,
                samplerate=out_rate,
                channels=channels,
                dtype="int16",
                callback=self._callback,
                finished_callback=self._finished.set,
            )
        except self._sd.PortAudioError as e:
            raise AudioDeviceError(f"{self.description}: cannot open at {out_rate} Hz: {e}") from None
        self._match = RateMatcher(out_rate)
        self.description = f"speaker #{self.device_index} {self.device_name!r} ({out_rate} Hz, {channels} ch)"

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.output_underflow:
            self.underflows += 1
        n = 0
        with self._lock:
            while n < frames and self._pending:
                chunk = self._pending[0]
                take = min(frames - n, len(chunk) - self._offset)
                outdata[n : n + take] = chunk[self._offset : self._offset + take, None]
                n += take
                self._offset += take
                if self._offset == len(chunk):
                    self._pending.popleft()
                    self._offset = 0
            stop = self._draining and not self._pending
        outdata[n:] = 0
        if stop:
            raise self._sd.CallbackStop  # PortAudio plays what is buffered, then calls finished_callback

    def _queue(self, pcm: np.ndarray) -> None:
        if pcm.size:
            with self._lock:
                self._pending.append(pcm)

    def write(self, audio: OutputAudio) -> None:
        if self._stream is None:
            self._open(audio.sample_rate)
        assert self._match is not None
        self._queue(self._match.convert(audio))
        with self._lock:
            self._draining = False
        if not self._stream.active:
            if not self._stream.stopped:
                self._stream.stop()
            self._finished.clear()
            self._stream.start()

    def drain(self) -> None:
        if self._stream is None:
            return
        assert self._match is not None
        self._queue(self._match.flush())
        with self._lock:
            self._draining = True
            left_s = (sum(len(c) for c in self._pending) - self._offset) / self._stream.samplerate
        if self._stream.active and not self._finished.wait(left_s + self._stream.latency + 2.0):
            log.warning("%s: playback did not finish in time", self.description)
        self._stream.stop()
        with self._lock:
            self._pending.clear()
            self._offset = 0

    def stop(self) -> None:
        """Stop playing now (barge-in): what is queued is dropped, the stream stops at its next callback."""
        if self._stream is None:
            return
        with self._lock:
            self._pending.clear()
            self._offset = 0
            self._draining = True
        if self._match is not None:
            self._match.flush()

    def close(self) -> None:
        if self._stream is not None and not self._stream.closed:
            self.drain()
            self._stream.close()


def open_sink(spec: str, *, output_device: str | int | None = None) -> AudioSink:
    """Sink for a config string: speaker, file:PATH (WAV), stdout (raw s16le at 22 050 Hz) or null."""
    if spec == "speaker":
        return SpeakerSink(output_device)
    if spec == "null":
        return NullSink()
    if spec == "stdout":
        return StdoutSink()
    if spec.startswith("file:") and len(spec) > 5:
        return WavFileSink(spec[5:])
    raise ValueError(f"audio sink {spec!r}: expected speaker, null, stdout or file:PATH")

