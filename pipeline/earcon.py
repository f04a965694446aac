"""The earcon: a short chime that says the wake word was heard (and rings a finished timer)."""

from __future__ import annotations

import numpy as np

from .frames import OutputAudio
from .pcm import float_to_int16


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
