"""Echo removal for the stop-word check: the assistant knows what it plays, so its echo is subtracted from the
microphone before a speech burst goes to Whisper (over its own voice tiny.en misses a short "stop" now and then).

PlayedAudio keeps what was handed to the sink on the monotonic clock (16 kHz); EchoCanceller reads it frame by
frame as one continuous stream (a sound card plays sample after sample: only a gap or a clock slip moves it) and
removes its echo with a frequency-domain block NLMS filter (partitioned, constrained: Soo & Pang's MDF, as in
speexdsp) long enough to cover the unknown playback-to-microphone delay. No echo-path estimate, no device data.
Two copies of the filter, as in speexdsp: one learns, the other is used, so a voice in the room (the stop word
itself) that the learning one adapts to never lets the echo back under the word or after it.
"""

from __future__ import annotations

import threading

import numpy as np

from .frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

KEEP_S = 2.0
"""Played audio kept behind the last microphone read (to move back onto the played clock)."""
MOST_S = 120.0
"""At most this much played audio is held (queued ahead of playback, or never read: the check is off)."""
LEAD_S = 0.1
"""Echo may come this much earlier than the played clock says (a sink that reports late) ..."""
LAG_S = 0.3
"""... or this much later (output and input buffers): the delay is found by cross-correlation in this range."""
HISTORY_S = 1.0
"""Audio the delay is estimated over (GCC-PHAT), every DELAY_EVERY frames."""
DELAY_EVERY = 8
PEAK = 20.0
"""A delay counts when its correlation stands this many times over the mean (a clear echo, not noise)."""
MARGIN = 128
"""The filter starts this many samples before the delay found (a peak off by a few samples, an earlier path)."""
PARTITIONS = 2
"""Filter length in frames past the delay (2 x 32 ms: the direct path and the room's early echo)."""
RESYNC_S = 0.03
"""The stream is moved back onto the played clock when they drift apart by more than this (a gap, a slip)."""
STEP = 0.8
"""NLMS step size (0 < STEP < 1): fast enough to learn the echo path within the reply's first second."""
CONVERGED = 10.0
"""Once the echo is this many times weaker after the filter (10 dB) ..."""
DOUBLE_TALK = 2.0
"""... a frame it takes less than this out of (3 dB) is not learnt from: someone in the room speaks ..."""
HELD_MOST = 47
"""... unless that goes on for 1.5 s (longer than a stop phrase): then the echo path changed."""
SMOOTH = 0.3
"""Weight of the newest frame in the two filters' smoothed error powers (a few frames: a word's onset)."""
BETTER = 0.7
"""The learning filter is copied into use when its error is this much of the used one's (1.5 dB less), on a frame
it takes more than DOUBLE_TALK out of (the microphone holds little but the echo)."""
DIVERGED = 4.0
"""The learning filter is put back to the one in use when its error grows this many times larger (6 dB): a voice
in the room that it learnt from spoilt it."""


class PlayedAudio:
    """16 kHz samples played, indexed by round(time.monotonic() * SAMPLE_RATE); written by the audio thread,
    read by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = 0
        """Index of _pcm[0]."""
        self._pcm = np.zeros(0, np.float32)

    def add(self, start_s: float, samples: np.ndarray) -> None:
        """Samples that start playing at start_s (monotonic); a gap before them is silence."""
        start = round(start_s * SAMPLE_RATE)
        with self._lock:
            end = self._start + len(self._pcm)
            if not len(self._pcm) or start < self._start:
                self._start, self._pcm = start, np.zeros(0, np.float32)
                end = start
            gap = np.zeros(max(0, start - end), np.float32)
            self._pcm = np.concatenate([self._pcm[: max(0, start - self._start)], gap,
                                        samples.astype(np.float32)])
            self._drop(len(self._pcm) - round(MOST_S * SAMPLE_RATE))

    def _drop(self, n: int) -> None:
        n = min(max(0, n), len(self._pcm))
        self._pcm, self._start = self._pcm[n:], self._start + n

    def cut(self, at_s: float) -> None:
        """Nothing plays after at_s any more (the sink was stopped)."""
        with self._lock:
            self._pcm = self._pcm[: max(0, round(at_s * SAMPLE_RATE) - self._start)]

    def read(self, start: int, n: int) -> np.ndarray:
        """n samples from index start (silence where nothing played); what lies KEEP_S before it is let go."""
        out = np.zeros(n, np.float32)
        with self._lock:
            self._drop(start - round(KEEP_S * SAMPLE_RATE) - self._start)
            lo, hi = max(start, self._start), min(start + n, self._start + len(self._pcm))
            if hi > lo:
                out[lo - start : hi - start] = self._pcm[lo - self._start : hi - self._start]
        return out


class EchoCanceller:
    """Subtracts the echo of PlayedAudio from microphone frames of FRAME_SAMPLES: the bulk delay by GCC-PHAT, the
    echo path after it by a short MDF block NLMS filter (fast to learn, as it need not span the delay), learnt in one
    copy and used from another (copied over while the microphone holds little but the echo)."""

    def __init__(self, played: PlayedAudio, *, partitions: int = PARTITIONS, step: float = STEP) -> None:
        self.played = played
        self.partitions = partitions
        self.step = step
        self._keep = round((HISTORY_S + LEAD_S + LAG_S) * SAMPLE_RATE)
        self.reset()

    def reset(self) -> None:
        """Forget the echo path (a new reply: the stream and the filter start again)."""
        bins = FRAME_SAMPLES + 1
        self._w = np.zeros((self.partitions, bins), np.complex128)
        """The learning (background) filter."""
        self._used = np.zeros((self.partitions, bins), np.complex128)
        """The filter whose output is handed on (foreground): the learning one, copied only while it does better on
        a microphone that holds little but the echo; a voice's onset never reaches it (as in speexdsp's MDF)."""
        self._err = np.zeros(2)
        """Smoothed error power of the learning filter and of the one in use."""
        self._x = np.zeros((self.partitions, bins), np.complex128)
        self._erle = 1.0
        """Smoothed echo return loss enhancement: how many times weaker the echo is after the filter."""
        self._held = 0
        """Frames in a row the filter explained poorly (not learnt from once it converged)."""
        self._learnt = False
        """The filter has converged once: the delay stays until the echo path changes."""
        self._ref = np.zeros(self._keep)
        """The played stream as read, LEAD_S ahead of the microphone; its last sample pairs with the mic's."""
        self._mic = np.zeros(round(HISTORY_S * SAMPLE_RATE))
        self._pos: int | None = None
        self._frames = 0
        self.peak = 0.0
        """How clearly the last estimate found the echo (correlation peak over its mean)."""
        self.delay: int | None = None
        """Samples from the played stream to its echo in the microphone (None: not found yet)."""

    def _read(self, arrived: float) -> np.ndarray:
        """The next FRAME_SAMPLES of played audio, LEAD_S ahead of the frame's arrival."""
        expected = round((arrived + LEAD_S) * SAMPLE_RATE) - FRAME_SAMPLES
        if self._pos is None or abs(expected - self._pos) > RESYNC_S * SAMPLE_RATE:
            self._pos = expected
        x = self.played.read(self._pos, FRAME_SAMPLES) / 32768.0
        self._pos += FRAME_SAMPLES
        return x

    def _estimate_delay(self) -> None:
        """GCC-PHAT of the microphone's last HISTORY_S against the played stream: where the echo lies."""
        if not self._mic.any():
            return
        n = len(self._mic)
        span = len(self._ref) - n  # lags 0..span
        size = 1 << (len(self._ref) + n).bit_length()
        cross = np.fft.rfft(self._mic, size) * np.conj(np.fft.rfft(self._ref, size))
        magnitude = np.abs(cross)
        corr = np.fft.irfft(cross / (magnitude + 1e-3 * magnitude.max() + 1e-12), size)
        # The echo lag-th sample back from the stream's end: mic[k] ~ ref[k + span - lag], at corr[lag - span].
        back = corr[np.r_[size - span : size, 0]]
        lag = int(np.argmax(np.abs(back)))
        self.peak = float(np.abs(back[lag]) / np.abs(back).mean())
        if self.peak < PEAK:
            return  # no clear echo (silence, or the person alone)
        # The taps are relative to the delay: when the played clock slips (a gap in playback), the learnt path
        # moves with it as it is.
        self.delay = lag

    def process(self, frame: AudioFrame) -> AudioFrame:
        """The frame with the assistant's echo removed (the same frame while no echo path is known)."""
        b = FRAME_SAMPLES
        d = frame.samples.astype(np.float64) / 32768.0
        self._ref = np.concatenate([self._ref[b:], self._read(frame.arrived)])
        self._mic = np.concatenate([self._mic[b:], d])
        self._frames += 1
        if self._frames % DELAY_EVERY == 0 and self._ref.any() and not self._learnt:
            # Once the echo is learnt the delay stays: a voice in the room moves the correlation peak, and a filter
            # moved with it removes nothing just as the person says "stop" (a changed path unlearns it: below).
            self._estimate_delay()
        if self.delay is None:
            return frame
        end = len(self._ref) - max(0, self.delay - MARGIN)
        spectrum = np.fft.rfft(self._ref[end - 2 * b : end])
        self._x = np.roll(self._x, 1, axis=0)
        self._x[0] = spectrum
        y = np.fft.irfft((self._x * self._w).sum(axis=0))[b:]
        e = d - y
        used = d - np.fft.irfft((self._x * self._used).sum(axis=0))[b:]
        # Double talk: once the echo is learnt, a frame the filter explains poorly holds a voice from the room;
        # learning from it would unlearn the echo path just as the person says "stop".
        pd, pe = float(d @ d) + 1e-9, float(e @ e) + 1e-9
        self._err = (1 - SMOOTH) * self._err + SMOOTH * np.array([pe, float(used @ used) + 1e-9])
        restored = False
        if self._err[0] < BETTER * self._err[1] and pd / pe > DOUBLE_TALK:  # better, on (nearly) the echo alone
            self._used, self._err[1] = self._w.copy(), self._err[0]
            used = e
        elif self._err[0] > DIVERGED * self._err[1]:  # a voice's onset was learnt from: back to the one in use
            self._w, self._err[0], restored = self._used.copy(), self._err[1], True
        self._erle = 0.95 * self._erle + 0.05 * min(pd / pe, 1000.0) if pe < pd else self._erle
        self._held = 0 if pd / pe > DOUBLE_TALK else self._held + 1
        if self._held > HELD_MOST:  # longer than anyone says "stop": the echo path changed, learn it again
            self._erle, self._held, self._learnt = 1.0, 0, False
        self._learnt = self._learnt or self._erle >= CONVERGED
        if (self._erle < CONVERGED or self._held == 0) and not restored:  # e is the spoilt filter's: not learnt
            power = (np.abs(self._x) ** 2).sum(axis=0)
            power += 1e-2 * power.mean() + 1e-9
            gain = np.fft.rfft(np.concatenate([np.zeros(b), e])) / power
            # Constrained update: each partition's gradient is cut to b taps (no circular wrap-around).
            grads = np.fft.irfft(np.conj(self._x) * gain, axis=1)[:, :b]
            self._w += self.step * np.fft.rfft(np.concatenate([grads, np.zeros_like(grads)], axis=1), axis=1)
        pcm = np.clip(np.round(used * 32768.0), -32768, 32767).astype("<i2").tobytes()
        return AudioFrame(pcm, frame.stream_s, frame.arrived)
