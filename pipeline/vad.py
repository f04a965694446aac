"""Voice activity (Silero VAD on ONNX Runtime) and the endpointer that decides when a command ends."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from .onnx import inference_session

_CONTEXT = 64  # Silero v5+ expects the previous 64 samples prepended to each 512-sample chunk.
_WAKE_PHRASE_MIN_S = 0.3  # speech shorter than this before a pause is no wake phrase ("hey" of "hey jarvis")
_WAKE_TAIL_PAUSE_FRAMES = 3  # ~0.1 s: longer than the dips between words Silero lets through, shorter than a pause


class SileroVad:
    """Speech probability for each 512-sample 16 kHz chunk, with the model's recurrent state kept between calls."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        self.model_path = model_path
        self.threads = threads
        self._session = None
        self._parent: SileroVad | None = None
        self.reset()

    def load(self) -> None:
        if self._session is not None:
            return
        self._session = inference_session(self.model_path, threads=self.threads)

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, _CONTEXT), dtype=np.float32)

    def sibling(self) -> SileroVad:
        """A detector for another stream: its own state, this one's model session (loaded once, when this one is)."""
        other = SileroVad(self.model_path, self.threads)
        other._parent = self
        return other

    def __call__(self, pcm: bytes) -> float:
        if self._session is None and self._parent is not None:
            self._session = self._parent._session
        assert self._session is not None, "load() first"
        chunk = np.frombuffer(pcm, dtype="<i2").astype(np.float32)[None, :] / 32768.0
        if chunk.shape[1] != FRAME_SAMPLES:
            raise ValueError(f"Silero VAD takes {FRAME_SAMPLES}-sample frames, got {chunk.shape[1]}")
        x = np.concatenate([self._context, chunk], axis=1)
        prob, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": np.array(SAMPLE_RATE, dtype=np.int64)}
        )
        self._context = chunk[:, -_CONTEXT:]
        return float(prob.reshape(-1)[0])


@dataclass(frozen=True)
class Endpoint:
    """What the endpointer noticed in the command audio."""

    kind: Literal["start", "pause", "resume", "end", "timeout"]
    """start: speech began; pause: a short pause (speculative transcription may start); resume: speech
    went on after a pause; end: the command is over; timeout: nobody spoke."""
    stream_s: float
    """Audio position of the event (for pause and end: where the last speech frame ended)."""
    arrived: float
    """time.monotonic() when the frame that ended speech (pause/end) or the current frame arrived."""
    audio: bytes = field(default=b"", repr=False)
    """pause/end: the command audio up to the end of speech plus a little padding."""
    reason: str = ""
    """end: silence, max_length, eof or early (committed by the assistant)."""


class Endpointer:
    """Stage: AudioFrame -> Endpoint. Collects one command and decides when it is over."""

    name = "endpointer"

    def __init__(
        self,
        vad: SileroVad,
        *,
        threshold: float = 0.5,
        trailing_silence_ms: int = 700,
        max_command_s: float = 10.0,
        no_speech_timeout_s: float = 5.0,
        pause_ms: int | None = 200,
        pre_roll_ms: int = 600,
        tail_pad_ms: int = 150,
        history_s: float = 2.0,
        wake_tail_s: float = 0.4,
    ) -> None:
        self.vad = vad
        self.threshold = threshold
        # Hysteresis as Silero recommends: speech stops only when the probability drops well below the threshold.
        self.neg_threshold = max(threshold - 0.15, 0.01)
        self.trailing_silence_s = trailing_silence_ms / 1000
        self.max_command_s = max_command_s
        self.no_speech_timeout_s = no_speech_timeout_s
        self.pause_s = pause_ms / 1000 if pause_ms else None
        self.pre_roll_frames = max(1, round(pre_roll_ms / 1000 * SAMPLE_RATE / FRAME_SAMPLES))
        self.tail_pad_s = tail_pad_ms / 1000
        # A wake word may fire on the phrase's last syllable, before the pause after it: for this long the
        # endpointer waits for that pause before deciding where the command starts.
        self.wake_tail_s = wake_tail_s
        # Recent frames with their speech probability, kept while idle too: a wake word is detected a little
        # after it is said, and by then the command may have begun.
        history_frames = max(1, round(history_s * SAMPLE_RATE / FRAME_SAMPLES))
        self._history: deque[tuple[AudioFrame, float]] = deque(maxlen=history_frames)
        self.reset()

    def load(self) -> None:
        self.vad.load()

    def warm(self) -> None:
        self.vad(bytes(2 * FRAME_SAMPLES))
        self.vad.reset()

    def reset(self, timeout_s: float | None = None) -> None:
        """Start a new stream (forget the VAD state and history) and a new command."""
        self.vad.reset()
        self._history.clear()
        self.begin(timeout_s)

    def second_detector(self) -> Callable[[bytes], float]:
        """Speech probability for another stream of frames, on the same model with its own state."""
        return self.vad.sibling()

    @property
    def probability(self) -> float:
        """The VAD's speech probability for the last frame seen (0 before any)."""
        return self._history[-1][1] if self._history else 0.0

    def observe(self, item: AudioFrame) -> None:
        """Run the VAD on a frame heard while not listening, so begin() can look back at it."""
        self._history.append((item, self.vad(item.pcm)))

    def begin(self, timeout_s: float | None = None, *, look_back: bool = False, after_s: float | None = None
              ) -> list[Endpoint]:
        """Start a new command; timeout_s overrides the no-speech timeout (follow-up listening).

        look_back: the command may already have begun (a wake word is detected ~0.1-0.5 s after it ends): start
        it at the pause that followed the wake phrase, found in the recent history. after_s: the command starts at
        this audio position, in the history or still to come (a wake word heard over the assistant's own voice or a
        ring: their echo leaves no pause to find, and the wake phrase's tail may still be going on at the hit).
        """
        self._frames: list[AudioFrame] = []
        self._in_speech = False
        self._heard = False
        self._paused = False
        self._first_s: float | None = None
        self._speech_start_s = 0.0
        self._last_speech: AudioFrame | None = None
        self._timeout_s = timeout_s if timeout_s is not None else self.no_speech_timeout_s
        self.done = False
        self._tail: list[tuple[AudioFrame, float]] | None = None
        self._from_s = after_s or 0.0
        if after_s is not None:  # frames still to come before after_s are left out too (process)
            return [ep for frame, p in list(self._history) if frame.stream_s >= after_s
                    for ep in self._step(frame, p)]
        if not look_back:
            return []
        if self._in_wake_phrase():
            return self._wait_for_wake_tail(self._since_last_pause())
        return [ep for frame, p in self._since_last_pause() for ep in self._step(frame, p)]

    def _wait_for_wake_tail(self, run_on: list[tuple[AudioFrame, float]]) -> list[Endpoint]:
        """Detected on the wake phrase's last syllable: its tail, or a command run on from it, follows. A pause
        soon after says which (_after_wake_tail); run_on: where the command starts if none comes."""
        self._tail = []
        self._run_on = run_on
        self._tail_until = self._history[-1][0].end_s + self.wake_tail_s
        return []

    def _in_wake_phrase(self) -> bool:
        """Speech goes on at the detection and no wake-phrase-long speech came before it in the history: the
        speech going on is the wake phrase itself (heard before its end), not a command begun after its pause."""
        hist = list(self._history)
        if not hist or hist[-1][1] < self.threshold:
            return False
        i = self._speech_run_start(hist)
        before = sum(f.end_s - f.stream_s for f, p in hist[:i] if p >= self.threshold)
        return before < _WAKE_PHRASE_MIN_S

    def _after_wake_tail(self, item: AudioFrame, p: float) -> Iterator[Endpoint]:
        """Frames after a detection made during speech. A pause (3 quiet frames) within wake_tail_s ends the wake
        phrase: the command starts at it. No pause by then: a command said without one, started as before."""
        assert self._tail is not None
        self._tail.append((item, p))
        quiet = 0
        while quiet < len(self._tail) and self._tail[-1 - quiet][1] < self.threshold:
            quiet += 1
        if quiet >= _WAKE_TAIL_PAUSE_FRAMES:
            frames = self._tail[-quiet:]
        elif item.end_s >= self._tail_until:
            frames = self._run_on + self._tail
        else:
            return
        self._tail = None
        for frame, q in frames:
            yield from self._step(frame, q)

    def _speech_run_start(self, hist: list[tuple[AudioFrame, float]]) -> int:
        """Index of the first frame of the speech going on at the end of hist (len(hist) when none is)."""
        i = len(hist)
        while i > 0 and hist[i - 1][1] >= self.threshold:
            i -= 1
        return i

    def _since_last_pause(self) -> list[tuple[AudioFrame, float]]:
        """History frames from the pause after the wake phrase: the trailing pause itself, or the pause before
        the speech still going on now. Nothing when speech runs back without a pause (no safe place to cut)."""
        hist = list(self._history)
        is_speech = [p >= self.threshold for _f, p in hist]
        i = self._speech_run_start(hist)
        j = i
        while j > 0 and not is_speech[j - 1]:  # back over the pause before it
            j -= 1
        if i == len(hist):  # no speech yet: the pause is still going on
            return hist[j:]
        if i - j < 2:
            return []
        # Skip the pause's first frames: the wake phrase's last sound fades out there, under the threshold.
        return hist[j + min(3, (i - j) // 2) :]

    def process(self, item: AudioFrame) -> Iterator[Endpoint]:
        p = self.vad(item.pcm)
        self._history.append((item, p))
        if self._tail is not None:
            yield from self._after_wake_tail(item, p)
        elif not self.done and item.stream_s >= self._from_s:
            yield from self._step(item, p)

    def _step(self, item: AudioFrame, p: float) -> Iterator[Endpoint]:
        if self._first_s is None:
            self._first_s = item.stream_s
        self._frames.append(item)
        if not self._heard and len(self._frames) > self.pre_roll_frames:
            self._frames.pop(0)  # before speech, keep only a short pre-roll
        speech = p >= self.threshold or (self._in_speech and p >= self.neg_threshold)
        if speech:
            self._last_speech = item
            if not self._heard:
                self._heard = True
                self._speech_start_s = item.stream_s
                yield Endpoint("start", item.stream_s, item.arrived)
            elif self._paused:
                self._paused = False
                yield Endpoint("resume", item.stream_s, item.arrived)
            self._in_speech = True
            if item.end_s - self._speech_start_s >= self.max_command_s:
                yield self._end("max_length")
            return
        self._in_speech = False
        if not self._heard:
            if item.end_s - self._first_s >= self._timeout_s:
                self.done = True
                yield Endpoint("timeout", item.end_s, item.arrived)
            return
        assert self._last_speech is not None
        silence_s = item.end_s - self._last_speech.end_s
        if self.pause_s is not None and not self._paused and silence_s >= self.pause_s:
            self._paused = True
            yield Endpoint("pause", self._last_speech.end_s, self._last_speech.arrived, self.audio())
        if silence_s >= self.trailing_silence_s:
            yield self._end("silence")

    def finish(self, reason: str = "eof") -> Endpoint | None:
        """End the command now (end of stream, or the assistant committing early); None if nobody spoke."""
        if self.done:
            return None
        if self._tail is not None:  # the stream ended while the wake phrase's tail was undecided
            frames, self._tail = self._run_on + self._tail, None
            ended = [ep for frame, q in frames for ep in self._step(frame, q) if ep.kind == "end"]
            if ended:
                return ended[0]
        if not self._heard:
            self.done = True
            return None
        return self._end(reason)

    def audio(self) -> bytes:
        """Command audio up to the last speech frame plus a little padding (what speech-to-text gets)."""
        assert self._last_speech is not None
        end = self._last_speech.end_s + self.tail_pad_s
        return b"".join(f.pcm for f in self._frames if f.stream_s < end)

    def _end(self, reason: str) -> Endpoint:
        self.done = True
        assert self._last_speech is not None
        return Endpoint("end", self._last_speech.end_s, self._last_speech.arrived, self.audio(), reason)
