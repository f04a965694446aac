"""The microphone's front end: WebRTC noise suppression and automatic gain (the `webrtc-noise-gain` package, what
Home Assistant's assist pipeline runs before VAD and speech-to-text), on the pipeline's 32 ms frames.

WebRTC's audio processing takes 10 ms blocks (160 samples); a 512-sample frame is 3.2 of them. The processed
stream is handed back as frames of the same size, one for every frame in, one block (10 ms) late: the first 160
samples out are silence. Noise suppression adds its own 6 ms (WebRTC's overlapping analysis windows: 96 samples,
measured at every level; gain alone adds none), so each frame out carries audio from lag_s (16 ms, or 10 ms with
gain alone) before its input frame. Its stream_s says so (the input's minus lag_s: where that audio really was in
the source), and its arrived is the input frame's (when its last sample became available). Off (both settings 0)
is no processing at all, not even the library's: frames pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .frames import SAMPLE_RATE, SAMPLE_WIDTH, AudioFrame

BLOCK_SAMPLES = SAMPLE_RATE // 100
"""WebRTC's 10 ms block."""
BLOCK_BYTES = BLOCK_SAMPLES * SAMPLE_WIDTH
NS_DELAY_SAMPLES = 96
"""WebRTC noise suppression's own delay at 16 kHz (measured: the output's cross-correlation with the input)."""
PRIME_BLOCKS = 20
"""10 ms blocks of near silence each stream starts with, inside the processor only (its start-up estimate; more, or
louder, and a first word still lost its start, or real noise took longer to learn)."""
PRIME_LEVEL = 4.0
"""Their level: a quiet room's microphone hiss (about -78 dBFS)."""
PIP_INSTALL = "pip install webrtc-noise-gain==1.2.3"
"""What to install for the front end (also in the `hearing` extra: pip install 'slm-voice[hearing]')."""
MAX_NOISE_SUPPRESSION = 4
MAX_AUTO_GAIN_DBFS = 31


def _audio_processor() -> Callable[[int, int], Any]:
    """webrtc_noise_gain.AudioProcessor, imported only when the front end is on."""
    try:
        from webrtc_noise_gain import AudioProcessor
    except ImportError as e:
        raise ImportError(
            f"audio.noise_suppression / audio.auto_gain_dbfs need the webrtc-noise-gain package ({e}): "
            f"`{PIP_INSTALL}` (or set both to 0)"
        ) from None
    return AudioProcessor


class FrontEnd:
    """WebRTC noise suppression and automatic gain over a stream of 32 ms frames (state kept across frames).

    noise_suppression: 0 (off) to 4 (most). auto_gain_dbfs: 0 (off) to 31, the level gain aims for, in dB below full
    scale. Build it before audio flows (the library is imported and its processor made here); process() is then
    cheap. Not thread-safe: one stream, one caller."""

    name = "frontend"

    def __init__(self, noise_suppression: int = 0, auto_gain_dbfs: int = 0) -> None:
        if not 0 <= noise_suppression <= MAX_NOISE_SUPPRESSION:
            raise ValueError(f"audio.noise_suppression: {noise_suppression!r} is not in 0-{MAX_NOISE_SUPPRESSION}")
        if not 0 <= auto_gain_dbfs <= MAX_AUTO_GAIN_DBFS:
            raise ValueError(f"audio.auto_gain_dbfs: {auto_gain_dbfs!r} is not in 0-{MAX_AUTO_GAIN_DBFS}")
        self.noise_suppression = noise_suppression
        self.auto_gain_dbfs = auto_gain_dbfs
        self.lag_s = 0.0 if not self.enabled else (
            BLOCK_SAMPLES + (NS_DELAY_SAMPLES if noise_suppression else 0)) / SAMPLE_RATE
        """How far behind its input the processed audio runs: 0 off, 0.016 s with noise suppression, else 0.01 s."""
        self._make = _audio_processor() if self.enabled else None
        self.reset()

    @property
    def enabled(self) -> bool:
        return self.noise_suppression > 0 or self.auto_gain_dbfs > 0

    def reset(self) -> None:
        """A new stream (a new file): fresh noise estimate and gain, and the 10 ms lag starts again with silence."""
        self._processor = self._make(self.auto_gain_dbfs, self.noise_suppression) if self._make else None
        if self._processor is not None:
            # WebRTC's suppressor learns the noise from a stream's first blocks: a file that starts with a word lost
            # it ("turn on the kitchen light" was heard "pan on ..."). Near-silent blocks take that place, unheard.
            quiet = (np.random.default_rng(0).standard_normal(BLOCK_SAMPLES) * PRIME_LEVEL).astype("<i2").tobytes()
            for _ in range(PRIME_BLOCKS):
                self._processor.Process10ms(quiet)
        self._pending = b""
        """Input not yet processed: less than one block."""
        self._out = bytearray(BLOCK_BYTES)
        """Processed audio not yet handed out; starts with the lag's 10 ms of silence."""

    def process(self, frame: AudioFrame) -> AudioFrame:
        """The frame's processed counterpart: the same size, lag_s of audio later (the frame itself when off)."""
        if self._processor is None:
            return frame
        data = self._pending + frame.pcm
        whole = len(data) - len(data) % BLOCK_BYTES
        process = self._processor.Process10ms
        for i in range(0, whole, BLOCK_BYTES):
            self._out += process(data[i : i + BLOCK_BYTES]).audio
        self._pending = data[whole:]
        n = len(frame.pcm)  # always there: out + pending is 10 ms more than what was handed out, pending < 10 ms
        pcm = bytes(self._out[:n])
        del self._out[:n]
        return replace(frame, pcm=pcm, stream_s=frame.stream_s - self.lag_s)
