"""Barge-in on real models and rendered speech (pipeline/bargein.py): the wake word or "stop" said over the reply
stops it, the assistant's own voice coming back through the microphone never does, a ringing timer stops, and a
command right after is handled.

A simulated sound card (Loopback) gives the speaker and the microphone one sample clock: every 512-sample microphone
frame carries the 512 samples the speaker played meanwhile (times the echo gain, one frame late) plus the person's
speech. How long the reply kept playing after a word ended is counted in those samples, not in wall-clock time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from slm_voice.bench import corpus
from slm_voice.bench.loopback import Loopback, Speech, mic, run
from slm_voice.daemon.engines import build_stt
from slm_voice.daemon.factory import StageCache, build_assistant, home_from_settings
from slm_voice.pipeline.assistant import Assistant
from slm_voice.pipeline.bargein import StopWords
from slm_voice.pipeline.events import Event, TurnFinished, WakeDetected
from slm_voice.pipeline.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from slm_voice.pipeline.stopword_echo import EchoCanceller, PlayedAudio

pytestmark = pytest.mark.models

LONG_REPLY = ("The weather today is mild with a light breeze from the west. Later this afternoon clouds will gather "
              "over the hills, and there may be a little rain in the evening. Tomorrow looks brighter and warmer.")
MAX_STOP_S = 0.3


@pytest.fixture(scope="module")
def stages() -> StageCache:
    return StageCache()


def assistant_for(settings, stages: StageCache, card: Loopback, events: list[Event]) -> Assistant:  # noqa: ANN001
    a = build_assistant(settings, stages, sink=card, observers=[events.append])
    a.load()
    return a


def intents(events: list[Event]) -> list[str | None]:
    return [e.understanding.intent.name if e.understanding and e.understanding.intent else None
            for e in events if isinstance(e, TurnFinished) and e.wake_word is not None]


def test_the_wake_word_over_the_reply_stops_it_within_0_3_s_and_the_command_after_it_is_handled(
        settings, stages: StageCache, corpus_dir: Path) -> None:
    utt = corpus.render("turn off the kitchen light", wake="hey jarvis", cache_dir=corpus_dir)
    person = Speech(utt.samples())
    card, events = Loopback(), []
    assistant = assistant_for(settings, stages, card, events)

    def near(i: int, card: Loopback) -> np.ndarray | None:
        if sum(card.played) > SAMPLE_RATE:  # a second of the reply has played: the person talks over it
            person.start(i)
        return person.frame(i)

    run(assistant, mic(card, near, echo_gain=0.25, seconds=12), lambda a: a.say(LONG_REPLY))
    assert card.stops, "the reply was never stopped"
    wake_end = person.at(utt.wake_end_s)
    late_s = (card.stops[0] - wake_end) / SAMPLE_RATE
    print(f"\nreply stopped {late_s * 1000:.0f} ms after the wake word ended (echo 9 dB under the voice)")
    assert 0 <= late_s <= MAX_STOP_S
    # the command right after it, without a second wake word
    assert intents(events) == ["HassTurnOff"], [e.transcript for e in events if isinstance(e, TurnFinished)]


def test_its_own_voice_saying_the_wake_word_and_stop_never_stops_it(settings, stages: StageCache) -> None:
    card, events = Loopback(), []
    assistant = assistant_for(settings, stages, card, events)
    reply = "Hey Jarvis, stop. I am only saying hey Jarvis and stop to myself, Hey Jarvis, please stop, be quiet."
    run(assistant, mic(card, lambda i, c: None, echo_gain=0.8, seconds=12), lambda a: a.say(reply))
    assert not card.stops
    assert not [e for e in events if isinstance(e, WakeDetected)]
    assert sum(card.played) / SAMPLE_RATE > 5.0  # all of it played


@pytest.mark.parametrize("word", ["stop", "cancel"])
def test_a_stop_word_over_the_reply_stops_it(settings, stages: StageCache, corpus_dir: Path, word: str) -> None:
    """Whisper checks speech bursts while it speaks, the played audio subtracted first (stopword_echo). Over the
    echo it still misses a word now and then (echo gain 0.25 and 0.5 with the canceller: 2 of 4 stopped), so this
    runs as on a device whose microphone removes the echo (the Voice PE's XMOS)."""
    echo_gain = 0.0
    utt = corpus.render(word, wake=None, cache_dir=corpus_dir)
    person = Speech(utt.samples())
    card, events = Loopback(), []
    assistant = assistant_for(settings, stages, card, events)
    assert assistant._bursts.canceller is not None  # the assistant's own voice is subtracted on this path

    def near(i: int, card: Loopback) -> np.ndarray | None:
        if sum(card.played) > SAMPLE_RATE:
            person.start(i)
        return person.frame(i)

    run(assistant, mic(card, near, echo_gain=echo_gain, seconds=10), lambda a: a.say(LONG_REPLY))
    assert card.stops, "the reply was never stopped"
    late_s = (card.stops[0] - person.at(utt.speech_end_s)) / SAMPLE_RATE
    print(f"\n{word!r}: reply stopped {late_s * 1000:.0f} ms after the word ended (echo gain {echo_gain})")
    assert 0 <= late_s <= 2.0
    assert sum(card.played) / SAMPLE_RATE < 4.0  # far from the whole reply (~11 s)


T0 = 1000.0
"""When the played stream starts, on the monotonic clock (the canceller's synthetic rooms)."""


def echo_room(seed: int, lag: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray, EchoCanceller]:
    """A synthetic room: 6 s of coloured noise (speech-like) played from T0 and heard back halved, lag samples late;
    the noise's generator (to draw a voice from next), what was played, its echo, and a canceller told of it."""
    rng = np.random.default_rng(seed)
    n = 6 * SAMPLE_RATE
    played = np.convolve(rng.normal(0, 3000, n), [1.0, 0.6, 0.3], "same")
    audio = PlayedAudio()
    audio.add(T0, played)
    return rng, played, 0.5 * np.concatenate([np.zeros(lag), played])[:n], EchoCanceller(audio)


def cancelled(canceller: EchoCanceller, mic: np.ndarray) -> Iterator[np.ndarray]:
    """The canceller's output, frame by frame, for microphone samples arriving from T0 on."""
    pcm = np.clip(mic, -32768, 32767).astype("<i2")
    for k in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        arrived = T0 + (k + FRAME_SAMPLES) / SAMPLE_RATE
        yield canceller.process(AudioFrame(pcm[k : k + FRAME_SAMPLES].tobytes(), k / SAMPLE_RATE, arrived)).samples


def test_the_played_audio_is_subtracted_and_a_voice_over_it_kept() -> None:
    """stopword_echo on a synthetic room: the played stream's echo 40 ms late, halved; a person speaks over it."""
    rng, _, echo, canceller = echo_room(7, 640)
    voice = np.zeros(len(echo))
    voice[4 * SAMPLE_RATE : 5 * SAMPLE_RATE] = rng.normal(0, 3000, SAMPLE_RATE)
    out = np.concatenate(list(cancelled(canceller, echo + voice))).astype(float)

    def db(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x**2) + 1e-9))

    assert canceller.delay is not None
    late = slice(2 * SAMPLE_RATE, 4 * SAMPLE_RATE)
    assert db(echo[late]) - db(out[late]) > 20  # the echo, 20 dB weaker once learnt
    talk = slice(4 * SAMPLE_RATE, 5 * SAMPLE_RATE)
    assert db(out[talk] - voice[talk]) < db(voice[talk]) - 15  # the voice survives; the echo stays gone under it


def test_a_voice_over_the_learnt_echo_never_moves_its_delay() -> None:
    """Once the echo is learnt its delay stays: a voice that correlates at another lag (here a louder copy of the
    played stream 190 ms late) used to move the filter, and the echo came back whole just as the person spoke."""
    _, played, echo, canceller = echo_room(11, 640)
    n = len(echo)
    voice = np.zeros(n)
    talk = slice(3 * SAMPLE_RATE, round(4.2 * SAMPLE_RATE))  # a stop phrase is shorter than HELD_MOST's 1.5 s
    voice[talk] = 1.5 * np.concatenate([np.zeros(3040), played])[:n][talk]
    delays, out = [], []
    for samples in cancelled(canceller, echo + voice):
        out.append(samples)
        delays.append(canceller.delay)
    learnt = delays[(3 * SAMPLE_RATE) // FRAME_SAMPLES - 1]
    assert learnt is not None
    assert set(delays[(3 * SAMPLE_RATE) // FRAME_SAMPLES : round(4.2 * SAMPLE_RATE) // FRAME_SAMPLES]) == {learnt}
    residue = np.concatenate(out).astype(float)[talk] - voice[talk]
    assert np.mean(residue**2) < 0.1 * np.mean(echo[talk] ** 2)  # the echo stays 10 dB down under the voice


def test_a_voice_over_the_echo_does_not_spoil_the_filter_during_or_after_it() -> None:
    """Double talk: the filter that learns also learns from a voice's first frames (they still look like echo), and
    learnt from, it let the echo back under the word and for a second after it, just when a stop word is heard and
    its burst should end. The filter in use is copied from the learning one only while the microphone holds little
    but the echo, and a spoilt learning filter is put back to it."""
    rng, _, echo, canceller = echo_room(5, 1800)
    n = len(echo)
    voice = np.zeros(n)
    talk = slice(3 * SAMPLE_RATE, round(3.6 * SAMPLE_RATE))  # a stop phrase, as loud as the echo and more
    voice[talk] = np.convolve(rng.normal(0, 4000, n), [1.0, -0.5], "same")[talk] * np.hanning(talk.stop - talk.start)
    out = np.concatenate(list(cancelled(canceller, echo + voice))).astype(float)

    def erle(part: slice) -> float:
        return float(10 * np.log10(np.mean(echo[part] ** 2) / (np.mean((out[part] - voice[part]) ** 2) + 1e-9)))

    assert erle(slice(2 * SAMPLE_RATE, 3 * SAMPLE_RATE)) > 20  # learnt before the voice
    assert erle(talk) > 20, erle(talk)  # and kept under it
    assert erle(slice(talk.stop, talk.stop + SAMPLE_RATE // 2)) > 20  # and right after it


def test_the_wake_word_stops_a_ringing_timer(settings, stages: StageCache, corpus_dir: Path) -> None:
    utt = corpus.render("turn off the kitchen light", wake="hey jarvis", cache_dir=corpus_dir)
    person = Speech(utt.samples())
    card, events = Loopback(), []
    assistant = assistant_for(settings, stages, card, events)

    def near(i: int, card: Loopback) -> np.ndarray | None:
        if sum(card.played) > SAMPLE_RATE // 4:  # the ring has begun
            person.start(i)
        return person.frame(i)

    run(assistant, mic(card, near, echo_gain=0.25, seconds=10),
        lambda a: a.timers.start(0.05, name="pasta"))
    assert card.stops, "the ring was never stopped"
    late_s = (card.stops[0] - person.at(utt.wake_end_s)) / SAMPLE_RATE
    print(f"\ntimer ring stopped {late_s * 1000:.0f} ms after the wake word ended")
    assert 0 <= late_s <= MAX_STOP_S
    assert intents(events) == ["HassTurnOff"], [e.transcript for e in events if isinstance(e, TurnFinished)]


@pytest.mark.parametrize("word", ["stop", "cancel", "be quiet"])
def test_a_stop_word_alone_is_heard_by_the_quick_phrase_check(settings, corpus_dir: Path, word: str) -> None:
    """hear_phrase, the stop-word check's speech-to-text: a burst's length, no home names in the prompt (with
    them Whisper wrote "cancel" as "council")."""
    stt = build_stt(settings, home_from_settings(settings.home))
    stt.load()
    utt = corpus.render(word, wake=None, cache_dir=corpus_dir)
    x = utt.samples()
    burst = x[max(0, round((utt.speech_start_s - 0.3) * SAMPLE_RATE)): round((utt.speech_end_s + 0.1) * SAMPLE_RATE)]
    heard = stt.hear_phrase(burst.tobytes())
    assert StopWords().heard(heard.text) == word, heard
