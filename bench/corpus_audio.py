"""The corpus's audio: 16 kHz mono int16 samples, seeded pink noise mixed at a speech-to-noise ratio, WAV files.

Kept apart from rendering (corpus.py) because bench/conditions.py and the tests use the same signal helpers.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..pipeline.pcm import float_to_int16
from ..pipeline.wav import write_wav as write_wav_file

SAMPLE_RATE = 16_000
TRIM_DB = -40.0
"""Renderer output quieter than this, relative to its peak, counts as silence when trimming."""


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of 1/f noise (flat below 20 Hz, no DC) with unit RMS."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return (noise / max(rms(noise), 1e-12)).astype(np.float32)


def mix_noise(clean: np.ndarray, segments: Sequence[tuple[float, float]], snr_db: float,
              rng: np.random.Generator) -> np.ndarray:
    """int16 clean speech plus pink noise over the whole file, scaled so that over the speech segments
    RMS(speech) / RMS(noise) is snr_db. The mix is scaled down as a whole if it would clip."""
    speech = clean.astype(np.float32) / 32768.0
    idx = np.concatenate([np.arange(round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)) for a, b in segments])
    noise = pink_noise(len(speech), rng)
    noise *= rms(speech[idx]) / rms(noise[idx]) / db_to_amp(snr_db)
    mixed = speech + noise
    peak = float(np.max(np.abs(mixed)))
    if peak > 0.99:
        mixed *= 0.99 / peak
    return to_int16(mixed)


def trim(audio: np.ndarray) -> np.ndarray:
    """Cut the renderer's leading and trailing near-silence (below TRIM_DB of the peak)."""
    if audio.size == 0:
        return audio
    loud = np.flatnonzero(np.abs(audio) > np.max(np.abs(audio)) * db_to_amp(TRIM_DB))
    return audio[loud[0]: loud[-1] + 1] if loud.size else audio[:0]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def db_to_amp(db: float) -> float:
    return float(10 ** (db / 20))


def to_int16(x: np.ndarray) -> np.ndarray:
    return float_to_int16(np.asarray(x, dtype=np.float32))


def read_wav(path: str | Path) -> np.ndarray:
    """int16 samples of a 16 kHz mono 16-bit WAV (other formats are refused, not converted)."""
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: not 16 kHz mono 16-bit ({w.getframerate()} Hz, "
                             f"{w.getnchannels()} ch, {8 * w.getsampwidth()} bit)")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def write_wav(path: str | Path, samples: np.ndarray) -> None:
    """Write int16 samples as a 16 kHz mono WAV (atomically: pipeline/wav.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav_file(path, np.asarray(samples, dtype=np.int16), SAMPLE_RATE)

