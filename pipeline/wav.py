"""WAV files: a small RIFF reader and an atomic writer.

A reader of our own: stdlib `wave` before 3.12 rejects WAVE_FORMAT_EXTENSIBLE, which sox and many recorders write
for 24-bit and multi-channel files, and has no float support.
"""

from __future__ import annotations

import os
import struct
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from .atomic import atomic_write
from .audio import AudioFormatError
from .frames import SAMPLE_RATE
from .pcm import StreamResampler, downmix, float_to_int16

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


def open_for_reading(path: Path) -> IO[bytes]:
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
    with open_for_reading(path) as f:
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


def iter_wav_16k(info: WavInfo, stop: threading.Event | None = None) -> Iterator[np.ndarray]:
    """The file's audio as 16 kHz mono int16 blocks (no padding)."""
    block_align = info.channels * info.sample_width
    rs = StreamResampler(info.sample_rate, SAMPLE_RATE)
    left = info.data_bytes
    with open_for_reading(info.path) as f:
        f.seek(info.data_offset)
        while left > 0 and not (stop and stop.is_set()):
            raw = f.read(min(left, 8192 * block_align))
            if len(raw) < block_align:
                raise AudioFormatError(f"{info.path}: file shrank while being read")
            raw = raw[: len(raw) - len(raw) % block_align]
            left -= len(raw)
            yield float_to_int16(rs.process(downmix(_decode(raw, info))))
    yield float_to_int16(rs.flush())


def read_wav_16k(path: str | os.PathLike[str]) -> np.ndarray:
    """A whole WAV file (PCM 8/16/24/32-bit or float, any rate and channels) as 16 kHz mono int16."""
    info = read_wav_info(path)
    if info.frame_count == 0:
        raise AudioFormatError(f"{info.path}: WAV file contains no audio samples")
    return np.concatenate(list(iter_wav_16k(info)))


def write_wav(path: str | os.PathLike[str], pcm_int16: np.ndarray, sample_rate: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV file, atomically (a reader never sees half a file)."""
    pcm = np.asarray(pcm_int16)
    if pcm.ndim != 1 or pcm.dtype != np.int16:
        raise ValueError(f"write_wav wants a 1-D int16 array, got {pcm.dtype} with shape {pcm.shape}")
    with atomic_write(path) as fh, wave.open(fh, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.astype("<i2", copy=False).tobytes())
