"""How loud the wake word was heard, above the room's noise: the evidence a satellite brings when several heard the
same wake word (roles.Arbiter). A few microseconds a frame: one mean square of 512 samples."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

FULL_SCALE = 32768.0
NOISE_FLOOR_DB = -60.0
"""The quietest noise counted (a microphone's own hiss; digital silence reads as this), so a score measures the
speech level in a quiet room and the speech over the noise in a loud one."""
SPEECH_WINDOW_S = 1.2
"""The speech level is read over this much audio before the wake word fired (the wake phrase itself)."""
NOISE_WINDOW_S = 5.0
"""The noise level is read over this much audio (its quiet tenth)."""


def _frames(seconds: float) -> int:
    return max(1, round(seconds * SAMPLE_RATE / FRAME_SAMPLES))


class LevelMeter:
    """Frame powers of the last few seconds; speech_db() and noise_db() in dB full scale."""

    def __init__(self) -> None:
        self._power: deque[float] = deque(maxlen=_frames(NOISE_WINDOW_S))

    def observe(self, frame: AudioFrame) -> None:
        x = frame.samples.astype(np.float32)
        self._power.append(float(np.dot(x, x)) / max(1, len(x)))

    def reset(self) -> None:
        self._power.clear()

    def speech_db(self) -> float:
        """The loud half of the last SPEECH_WINDOW_S: the wake phrase, not the pauses around it."""
        recent = sorted(list(self._power)[-_frames(SPEECH_WINDOW_S):])
        if not recent:
            return NOISE_FLOOR_DB
        loud = recent[len(recent) // 2:]
        return _db(sum(loud) / len(loud))

    def noise_db(self) -> float:
        """The quiet tenth of the last NOISE_WINDOW_S, never under NOISE_FLOOR_DB."""
        if not self._power:
            return NOISE_FLOOR_DB
        quiet = sorted(self._power)[: max(1, len(self._power) // 10)]
        return max(NOISE_FLOOR_DB, _db(sum(quiet) / len(quiet)))


def _db(power: float) -> float:
    return 10 * math.log10(max(power, 1e-12) / FULL_SCALE**2)
