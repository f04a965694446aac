"""Barge-in: the wake word, or "stop" / "cancel" / "be quiet", said while the assistant speaks (or a timer rings)
stops it; its own voice coming back through the microphone never does.

No stop-word model ships in the wake word packages the project uses (pymicro-wakeword 2.5.0: alexa, hey_jarvis,
hey_mycroft, okay_nabu; pyopen-wakeword 1.1.0: the same plus hey_rhasspy), so:

- the wake word itself barges in (it fires ~0.1-0.3 s after it is said, on every frame, at no extra cost); a
  command may follow it at once, as after any wake word;
- the stop words are heard by a short Whisper check of each speech burst while it speaks (StopWords), with the
  played audio subtracted from the burst first (stopword_echo: over its own echo tiny.en missed "stop" now and
  then); pymicro-wakeword 1.0.0-2.5.0 and its ovos plugin ship no "stop" model either (ESPHome's is a download).

Echo. The assistant knows what it plays, so a hit must not be explained by it (EchoReference): every synthesized
chunk is run through a second wake word detector (the same engine and word, ~0.25 ms per 80 ms for microWakeWord)
before it is played; where the reference itself fires, a wake hit from the microphone within ECHO_WINDOW_S of the
moment that audio plays is its own echo. A stop word in a burst counts only when the words being said at the time
(the reply's sentences) do not contain it. This works with either engine as it is, needs no echo canceller and no
echo-path estimate, and costs nothing when the reply does not say the wake word (a person still barges in on
everything else); the price: the wake word cannot barge in within ECHO_WINDOW_S of the reply saying it, and "stop"
cannot stop a reply that says "stop" itself (the wake word still can).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, OutputAudio
from .pcm import RateMatcher
from .roles import WakeWord
from .stopword_echo import EchoCanceller, PlayedAudio

STOP_PHRASES = ("stop", "cancel", "be quiet")
"""Words that stop the assistant while it speaks (heard by speech-to-text in a speech burst)."""
HEARD_AS = {"stop": ("stop", "stops", "stopped", "stock"), "be quiet": ("be quiet", "quiet")}
"""How Whisper tiny.en writes a stop word said over the assistant's voice (it heard "stop" as "stock" there)."""
SOUNDS_LIKE = {"cancel": "knsl"}
"""A one-word stop phrase heard as any word with these consonants (_consonants), itself included: Whisper spells an
unclear "cancel" many ways ("cansel", "council", "counsel", "console", "consul"); English has few other words with
k-n-s-l. Not in HEARD_AS too: the echo test must be the same rule ("council" heard while the reply says "console")."""
ECHO_WINDOW_S = 1.2
"""A microphone wake hit this close to where the reference audio fires the same detector is the assistant's echo
(playback latency, room echo and the detector's own 0.1-0.5 s delay fit in)."""
ECHO_TAIL_S = 0.1
"""After a wake word barged in, the command is taken from this long after the hit: what the speaker still played
(its buffer) and its echo end there."""
BURST_WINDOW_S = 1.2
"""Speech heard while speaking is checked for a stop word over the last this-long ..."""
BURST_HOP_S = 0.3
"""... every this-long while speech goes on (its own echo keeps the VAD busy), and at once when a burst ends."""
PHRASE_TAIL_S = 0.7
"""A window is first checked over its last this-long (a stop phrase and a little), then whole: over what is left of
its own echo, Whisper loses a short word among the words before it ("as my whole stuff" for the reply's end and
"stop"; the last 0.7 s alone: "stop.")."""
BURST_END_S = 0.064
"""Silence that ends a burst."""
BURST_PREROLL_S = 0.3
"""Audio from before the VAD's first speech frame that a burst starts with: the VAD is late on a word's first
sound (without it "stop" was heard as "star")."""


@dataclass(frozen=True)
class BargeIn:
    """Why the assistant stopped speaking."""

    kind: str
    """"wake" (the wake word: a command may follow) or "stop" (a stop word)."""
    word: str
    """The wake word id, or the stop phrase heard."""
    stream_s: float
    """Audio position where it was detected (end of the frame that fired, or of the burst)."""
    probability: float = 1.0


class EchoReference:
    """What the assistant plays, on the monotonic clock, and the moments where its own audio fires the wake word.

    scan() runs in the model thread right after synthesis (ahead of playback); played() in the audio thread as a
    chunk is handed to the sink; explains() on the event loop."""

    def __init__(self, wake: WakeWord | None) -> None:
        self.wake = wake
        self._lock = threading.Lock()
        self._end = 0.0
        """time.monotonic() when the audio handed to the sink so far ends."""
        self._hits: deque[float] = deque(maxlen=64)
        self.audio = PlayedAudio()
        """What plays, at 16 kHz on the monotonic clock: subtracted from a burst before the stop-word check."""
        self.keep_audio = False
        """Set by a Bursts that subtracts it (the conversion is not paid for otherwise)."""

    def scan(self, audio: OutputAudio) -> list[float]:
        """Seconds into the chunk where the reference detector fires (the chunk alone, from a fresh state)."""
        if self.wake is None:
            return []
        match = RateMatcher(SAMPLE_RATE)
        pcm = np.concatenate([match.convert(audio), match.flush()]).astype("<i2").tobytes()
        step = 2 * FRAME_SAMPLES
        self.wake.reset()
        hits = [hit.stream_s for i in range(0, len(pcm) - step + 1, step)
                for hit in self.wake.process(AudioFrame(pcm[i : i + step], i / (2 * SAMPLE_RATE)))]
        self.wake.reset()
        return hits

    def played(self, audio: OutputAudio, hits: list[float], now: float | None = None) -> None:
        """A chunk (with its scan()) was handed to the sink: it plays after what is queued already."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start = max(now, self._end)
            self._end = start + len(audio.pcm) / 2 / audio.sample_rate
            self._hits.extend(start + h for h in hits)
        if self.keep_audio:
            match = RateMatcher(SAMPLE_RATE)
            self.audio.add(start, np.concatenate([match.convert(audio), match.flush()]))

    def stopped(self) -> None:
        """Playback was cut: nothing queued plays any more."""
        with self._lock:
            self._end = min(self._end, time.monotonic())
            self.audio.cut(self._end)

    def explains(self, heard_at: float) -> bool:
        """Whether a wake hit from the microphone at heard_at (monotonic) is the assistant's own voice."""
        with self._lock:
            return any(abs(heard_at - t) <= ECHO_WINDOW_S for t in self._hits)


def phrase_windows(window: bytes) -> list[bytes]:
    """What a stop-word check hears, in turn: the window's last PHRASE_TAIL_S, then the whole window (a window no
    longer than that: itself alone)."""
    tail = 2 * round(PHRASE_TAIL_S * SAMPLE_RATE)
    return [window[-tail:], window] if len(window) > tail else [window]


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z']+", text.lower())) + " "


def _consonants(word: str) -> str:
    """A word's consonants as heard: soft c as s, hard c as k, vowels and doubles dropped ("council" -> "knsl")."""
    word = re.sub(r"c(?=[eiy])", "s", word.lower()).replace("c", "k")
    return re.sub(r"(.)\1+", r"\1", re.sub(r"[^bdfgjklmnpqrstvxz]", "", word))


def _sounds_like(words: str, consonants: str) -> bool:
    return any(_consonants(w) == consonants for w in words.split())


class StopWords:
    """Finds a stop phrase in a transcript that the reference (the words the assistant says meanwhile) does not
    explain."""

    def __init__(self, phrases: tuple[str, ...] = STOP_PHRASES) -> None:
        self.phrases = tuple(p.lower() for p in phrases)

    def heard(self, transcript: str, reference: str = "") -> str | None:
        said, echo = _words(transcript), _words(reference)
        for phrase in self.phrases:
            sound = SOUNDS_LIKE.get(phrase)
            if sound is not None:
                if _sounds_like(said, sound) and not _sounds_like(echo, sound):
                    return phrase
                continue
            forms = [f" {form} " for form in HEARD_AS.get(phrase, (phrase,))]
            if any(f in said for f in forms) and not any(f in echo for f in forms):
                return phrase
        return None


class Bursts:
    """Speech in the microphone while the assistant speaks, from the VAD's per-frame probability, cut into windows
    for the stop-word check: a burst's last BURST_WINDOW_S is handed back when BURST_END_S of silence follows it,
    and every BURST_HOP_S while speech goes on (so a short word is whole in one window). A burst that starts again
    within BURST_WINDOW_S keeps what came before it: a word with a pause inside ("can-cel") is heard whole the
    second time. While a check is still running (ready=False) nothing is handed back; the next window then reaches
    back to cover what was skipped."""

    def __init__(self, threshold: float = 0.5, echo: EchoReference | None = None,
                 vad: Callable[[bytes], float] | None = None) -> None:
        """vad: with echo, a speech detector run on the microphone with the assistant's voice taken out: a burst is
        then the person's speech alone, not the echo that keeps the microphone's own VAD busy."""
        self.threshold = threshold
        self.canceller = EchoCanceller(echo.audio) if echo is not None else None
        if echo is not None:
            echo.keep_audio = True
        """Removes the assistant's own voice from what goes to Whisper (None: the microphone as it is)."""
        self.vad = vad if self.canceller is not None else None
        self._window = round(BURST_WINDOW_S * SAMPLE_RATE / FRAME_SAMPLES)
        self._hop = round(BURST_HOP_S * SAMPLE_RATE / FRAME_SAMPLES)
        self._end = round(BURST_END_S * SAMPLE_RATE / FRAME_SAMPLES)
        self._most = 3 * self._window
        self._before: deque[AudioFrame] = deque(maxlen=round(BURST_PREROLL_S * SAMPLE_RATE / FRAME_SAMPLES))
        self.reset()

    def reset(self) -> None:
        self._frames: list[AudioFrame] = []
        self._silent = 0
        self._new = 0
        self._handed_end = False

    def observe(self, frame: AudioFrame, probability: float, *, ready: bool = True) -> bytes | None:
        if self.canceller is not None:  # every frame: the filter follows the echo path all along
            frame = self.canceller.process(frame)
            if self.vad is not None:
                probability = self.vad(frame.pcm)
        if probability >= self.threshold:
            if not self._frames:
                self._frames = list(self._before)
            self._silent, self._handed_end = 0, False
        elif not self._frames:
            self._before.append(frame)
            return None
        else:
            self._silent += 1
        self._frames = [*self._frames[1 - self._most :], frame]
        self._new += 1
        if self._silent > self._window:  # long over: the next burst starts afresh
            self._before.extend(self._frames)
            self.reset()
            return None
        ended = self._silent >= self._end
        if not ready or (ended and self._handed_end):
            return None
        if not ended and (self._silent or len(self._frames) < self._window or self._new < self._hop):
            return None
        take = max(self._window, self._new + self._window - self._hop)
        self._new, self._handed_end = 0, ended
        return b"".join(f.pcm for f in self._frames[-take:])
