"""Audio in and out: sources that yield 16 kHz mono frames, sinks that play or store replies, resampling.

Sources and sinks are blocking: the service runs each in a worker thread. sounddevice (PortAudio) is
imported only when a microphone or speaker is opened, so files and pipes work without a sound card.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import select
import struct
import sys
import tempfile
import threading
import time
import wave
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np
import soxr

from .frames import FRAME_SAMPLES, SAMPLE_RATE, SAMPLE_WIDTH, AudioFrame, OutputAudio
from .roles import Sink

log = logging.getLogger(__name__)

_FRAME_BYTES = FRAME_SAMPLES * SAMPLE_WIDTH


class AudioError(Exception):
    """Base of every audio input/output error; its message is meant for the user as is."""


class AudioFormatError(AudioError, ValueError):
    """An audio file is missing, unreadable or not in a format we can decode."""


class AudioDeviceError(AudioError, RuntimeError):
    """A sound device is missing, ambiguous, or refuses every usable setting."""


@runtime_checkable
class AudioSource(Protocol):
    description: str

    def frames(self) -> Iterator[AudioFrame]:
        """Yield FRAME_SAMPLES-sample 16 kHz mono frames until the source ends or close() is called."""
        ...

    def close(self) -> None:
        """Make frames() stop soon; safe to call from any thread."""


@runtime_checkable
class AudioSink(Sink, Protocol):
    """A Sink (write, drain) that names itself and can be closed."""

    description: str

    def close(self) -> None:
        """Drain and release the device or file."""


# --------------------------------------------------------------------------------------------------
# Sample conversion and resampling


def to_float32(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    """int16 little-endian PCM bytes to float32 in [-1, 1) (what Whisper wants); an odd last byte is dropped."""
    buf = memoryview(pcm).cast("B")
    return np.frombuffer(buf[: len(buf) - len(buf) % 2], dtype="<i2").astype(np.float32) / 32768.0


def float_to_int16(x: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] to int16 (the one scale every writer uses: x * 32768, rounded, clipped)."""
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def _int16_from_bytes(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")


class StreamResampler:
    """Streaming mono float32 resampler (soxr HQ); a pass-through when the rates are equal.

    Output of chunked calls plus flush() is identical to resampling the whole signal at once.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._rs = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32")

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x if self._rs is None else self._rs.resample_chunk(x)

    def flush(self) -> np.ndarray:
        """Return the samples still held back by the filter and get ready for a new, unrelated signal."""
        if self._rs is None:
            return np.zeros(0, dtype=np.float32)
        tail = self._rs.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._rs.clear()
        return tail


class _RateMatcher:
    """Brings OutputAudio chunks of any rate to one output rate, keeping the signal continuous."""

    def __init__(self, out_rate: int) -> None:
        self.out_rate = out_rate
        self._rs: StreamResampler | None = None

    def convert(self, audio: OutputAudio) -> np.ndarray:
        pcm = _int16_from_bytes(audio.pcm)
        if self._rs is not None and self._rs.in_rate != audio.sample_rate:
            head = self.flush()  # the previous rate's held-back tail must come out before this chunk
        else:
            head = np.zeros(0, dtype=np.int16)
        if audio.sample_rate == self.out_rate:
            return np.concatenate([head, pcm]) if head.size else pcm
        if self._rs is None:
            self._rs = StreamResampler(audio.sample_rate, self.out_rate)
        return np.concatenate([head, float_to_int16(self._rs.process(pcm.astype(np.float32) / 32768.0))])

    def flush(self) -> np.ndarray:
        if self._rs is None:
            return np.zeros(0, dtype=np.int16)
        tail = float_to_int16(self._rs.flush())
        self._rs = None
        return tail


def _downmix(block: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 to mono by averaging the channels."""
    return block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)


# --------------------------------------------------------------------------------------------------
# WAV files (a small RIFF reader: stdlib `wave` before 3.12 rejects WAVE_FORMAT_EXTENSIBLE, which sox
# and many recorders write for 24-bit and multi-channel files, and has no float support)

_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says, checked against the file's real size."""

    path: Path
    sample_rate: int
    channels: int
    sample_width: int
    """Bytes per sample of one channel."""
    is_float: bool
    data_offset: int
    data_bytes: int

    @property
    def frame_count(self) -> int:
        return self.data_bytes // (self.channels * self.sample_width)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.sample_rate

    def describe(self) -> str:
        kind = "bit float" if self.is_float else "bit"
        return f"{self.sample_rate} Hz, {self.channels} ch, {8 * self.sample_width}-{kind}, {self.duration_s:.2f} s"


def _open_for_reading(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except FileNotFoundError:
        raise AudioFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFormatError(f"{path}: is a directory, not a WAV file") from None
    except OSError as e:
        raise AudioFormatError(f"{path}: cannot open: {e.strerror or e}") from None


def read_wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Parse and check a WAV header; raises AudioFormatError naming the file and the problem."""
    path = Path(path)
    with _open_for_reading(path) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(12)
        if head[:4] == b"RF64":
            raise AudioFormatError(f"{path}: RF64 (>4 GB) WAV files are not supported")
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioFormatError(f"{path}: not a WAV file (no RIFF/WAVE header)")
        fmt: tuple[int, int, int, int, bool] | None = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                missing = "fmt" if fmt is None else "data"
                raise AudioFormatError(f"{path}: truncated or damaged WAV file: no {missing} chunk")
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            start = f.tell()
            if cid == b"fmt ":
                fmt = _parse_fmt(path, f.read(csize))
            elif cid == b"data":
                if fmt is None:
                    raise AudioFormatError(f"{path}: damaged WAV file: data chunk before fmt chunk")
                rate, channels, width, block_align, is_float = fmt
                available = size - start
                if csize == 0xFFFFFFFF:  # written to a pipe: the size was never filled in
                    csize = available
                elif csize > available:
                    raise AudioFormatError(
                        f"{path}: truncated WAV file: data chunk declares {csize} bytes, only {available} are present"
                    )
                return WavInfo(path, rate, channels, width, is_float, start, csize - csize % block_align)
            f.seek(start + csize + (csize & 1))  # chunks are padded to an even size


def _parse_fmt(path: Path, body: bytes) -> tuple[int, int, int, int, bool]:
    if len(body) < 16:
        raise AudioFormatError(f"{path}: truncated or damaged WAV file: fmt chunk too short")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # first two bytes of the sub-format GUID
    if channels < 1 or rate < 1 or block_align < channels or block_align % channels:
        raise AudioFormatError(
            f"{path}: damaged WAV header ({channels} channels, {rate} Hz, block align {block_align})"
        )
    width = block_align // channels
    if tag == _WAVE_FORMAT_PCM and width in (1, 2, 3, 4):
        return rate, channels, width, block_align, False
    if tag == _WAVE_FORMAT_FLOAT and width in (4, 8):
        return rate, channels, width, block_align, True
    what = {_WAVE_FORMAT_PCM: f"{bits}-bit PCM", _WAVE_FORMAT_FLOAT: f"{bits}-bit float"}.get(
        tag, f"encoding 0x{tag:04x} (compressed)"
    )
    raise AudioFormatError(f"{path}: unsupported WAV {what}; convert it, e.g. `sox {path} -b 16 out.wav`")


def _decode(raw: bytes, info: WavInfo) -> np.ndarray:
    """Interleaved sample bytes to float32 (frames, channels) in [-1, 1]."""
    w = info.sample_width
    if info.is_float:
        x = np.frombuffer(raw, dtype="<f4" if w == 4 else "<f8").astype(np.float32)
        x = np.clip(np.nan_to_num(x), -1.0, 1.0)
    elif w == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif w == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif w == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        wide = np.zeros((len(b), 4), dtype=np.uint8)
        wide[:, 1:] = b  # as the top three bytes of an int32: the shift below sign-extends
        x = (wide.view("<i4")[:, 0] >> 8).astype(np.float32) / 8388608.0
    else:
        x = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    return x.reshape(-1, info.channels)


def _iter_wav_16k(info: WavInfo, stop: threading.Event | None = None) -> Iterator[np.ndarray]:
    """The file's audio as 16 kHz mono int16 blocks (no padding)."""
    block_align = info.channels * info.sample_width
    rs = StreamResampler(info.sample_rate, SAMPLE_RATE)
    left = info.data_bytes
    with _open_for_reading(info.path) as f:
        f.seek(info.data_offset)
        while left > 0 and not (stop and stop.is_set()):
            raw = f.read(min(left, 8192 * block_align))
            if len(raw) < block_align:
                raise AudioFormatError(f"{info.path}: file shrank while being read")
            raw = raw[: len(raw) - len(raw) % block_align]
            left -= len(raw)
            yield float_to_int16(rs.process(_downmix(_decode(raw, info))))
    yield float_to_int16(rs.flush())


def read_wav_16k(path: str | os.PathLike[str]) -> np.ndarray:
    """A whole WAV file (PCM 8/16/24/32-bit or float, any rate and channels) as 16 kHz mono int16."""
    info = read_wav_info(path)
    if info.frame_count == 0:
        raise AudioFormatError(f"{info.path}: WAV file contains no audio samples")
    return np.concatenate(list(_iter_wav_16k(info)))


def write_wav(path: str | os.PathLike[str], pcm_int16: np.ndarray, sample_rate: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV file, atomically (a reader never sees half a file)."""
    pcm = np.asarray(pcm_int16)
    if pcm.ndim != 1 or pcm.dtype != np.int16:
        raise ValueError(f"write_wav wants a 1-D int16 array, got {pcm.dtype} with shape {pcm.shape}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            w.writeframes(pcm.astype("<i2", copy=False).tobytes())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------------
# Sources


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
        for block in _iter_wav_16k(self.info, self._stop):
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


def _import_sounddevice() -> ModuleType:
    try:
        import sounddevice
    except OSError as e:  # raised when libportaudio2 is not installed
        raise AudioDeviceError(f"cannot use sound devices: {e} (install libportaudio2)") from None
    return sounddevice


def _device_list(sd: ModuleType, kind: str) -> list[tuple[int, dict[str, Any]]]:
    key = f"max_{kind}_channels"
    return [(i, d) for i, d in enumerate(sd.query_devices()) if d[key] > 0]


def _format_devices(sd: ModuleType, devices: list[tuple[int, dict[str, Any]]], kind: str) -> str:
    key = f"max_{kind}_channels"
    lines = []
    for i, d in devices:
        api = sd.query_hostapis(d["hostapi"])["name"]
        lines.append(f"  #{i} {d['name']} ({api}, {d[key]} ch, {d['default_samplerate']:.0f} Hz)")
    return "\n".join(lines)


def resolve_device(sd: ModuleType, spec: str | int | None, kind: str) -> tuple[int, dict[str, Any]]:
    """Find a PortAudio device by index or case-insensitive name substring; kind is "input" or "output"."""
    devices = _device_list(sd, kind)
    if not devices:
        raise AudioDeviceError(f"no audio {kind} devices found")
    listing = f"available {kind} devices:\n{_format_devices(sd, devices, kind)}"
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    if spec is None:
        default = sd.default.device[0 if kind == "input" else 1]
        match = [(i, d) for i, d in devices if i == default]
        if not match:
            raise AudioDeviceError(f"there is no default {kind} device; choose one by name or index\n{listing}")
        return match[0]
    if isinstance(spec, int) and not isinstance(spec, bool):
        match = [(i, d) for i, d in devices if i == spec]
        if not match:
            raise AudioDeviceError(f"{kind} device #{spec} does not exist\n{listing}")
        return match[0]
    needle = str(spec).lower()
    exact = [(i, d) for i, d in devices if d["name"].lower() == needle]
    match = exact or [(i, d) for i, d in devices if needle in d["name"].lower()]
    if not match:
        raise AudioDeviceError(f"no {kind} device matches {spec!r}\n{listing}")
    if len(match) > 1:
        raise AudioDeviceError(
            f"{kind} device {spec!r} is ambiguous; it matches:\n{_format_devices(sd, match, kind)}\n"
            "use a longer part of the name or the index"
        )
    return match[0]


def _pick_settings(sd: ModuleType, index: int, info: dict[str, Any], kind: str, rates: list[int]) -> tuple[int, int]:
    """First (rate, channels) the device accepts for int16, preferring mono."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    tried = []
    for rate in dict.fromkeys(rates):
        for channels in (1, 2):
            if channels > info[f"max_{kind}_channels"]:
                continue
            try:
                check(device=index, samplerate=rate, channels=channels, dtype="int16")
            except Exception as e:  # PortAudioError or ValueError: try the next setting
                tried.append(f"{rate} Hz/{channels} ch: {e}")
                continue
            return rate, channels
    raise AudioDeviceError(
        f"{kind} device #{index} {info['name']!r} accepts none of the settings tried:\n  " + "\n  ".join(tried)
    )


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
        self._sd = _import_sounddevice()
        self.device_index, info = resolve_device(self._sd, device, "input")
        self.device_name: str = info["name"]
        rates = [sample_rate] if sample_rate else [SAMPLE_RATE, round(info["default_samplerate"])]
        self.sample_rate, self.channels = _pick_settings(self._sd, self.device_index, info, "input", rates)
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
                    mono = _downmix(block.astype(np.float32) / 32768.0)
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


# --------------------------------------------------------------------------------------------------
# Sinks


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

    def close(self) -> None:
        pass


class StdoutSink:
    """Raw s16le mono PCM at a fixed rate on standard output (or another binary stream), for a pipe into a player:
    `slm-voice run | aplay -r 22050 -f S16_LE -c 1`. Log lines go to stderr, so stdout carries audio only."""

    def __init__(self, stream: IO[bytes] | None = None, sample_rate: int = 22050) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self.sample_rate = sample_rate
        self._match = _RateMatcher(sample_rate)
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
        self._match: _RateMatcher | None = None
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
        self._match = _RateMatcher(rate)

    def _put(self, pcm: np.ndarray) -> None:
        assert self._wav is not None
        self._wav.writeframes(pcm.astype("<i2", copy=False).tobytes())

    def drain(self) -> None:
        if self._match is not None:
            self._put(self._match.flush())
        self._file.flush()

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
        self._sd = _import_sounddevice()
        self.device_index, self._info = resolve_device(self._sd, device, "output")
        self.device_name: str = self._info["name"]
        self.description = f"speaker #{self.device_index} {self.device_name!r}"
        self._stream: Any = None
        self._match: _RateMatcher | None = None
        self._lock = threading.Lock()
        self._pending: deque[np.ndarray] = deque()
        self._offset = 0
        self._draining = False
        self._finished = threading.Event()
        self.underflows = 0

    def _open(self, rate: int) -> None:
        default = round(self._info["default_samplerate"])
        out_rate, channels = _pick_settings(self._sd, self.device_index, self._info, "output", [rate, default])
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
        self._match = _RateMatcher(out_rate)
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


def earcon(sample_rate: int = 22050) -> OutputAudio:
    """A soft rising two-note chime (A5 then E6, 150 ms) to acknowledge the wake word."""
    t = np.arange(round(0.15 * sample_rate)) / sample_rate
    out = np.zeros_like(t)
    for start, freq in ((0.0, 880.0), (0.06, 1318.5)):
        tt = t - start
        on = tt >= 0
        # 5 ms attack avoids a click; the exponential decay makes it a bell rather than a beep
        env = np.where(on, np.minimum(tt / 0.005, 1.0) * np.exp(-np.clip(tt, 0, None) / 0.04), 0.0)
        out += env * (np.sin(2 * np.pi * freq * tt) + 0.2 * np.sin(4 * np.pi * freq * tt))
    out *= np.minimum((t[-1] - t) / 0.005, 1.0)  # fade the last 5 ms to zero
    out *= 0.35 / np.abs(out).max()
    return OutputAudio(float_to_int16(out.astype(np.float32)).astype("<i2").tobytes(), sample_rate)
