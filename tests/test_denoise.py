"""The microphone's front end (pipeline/denoise.py): WebRTC noise suppression and gain on 32 ms frames, the same
size and order out, 10 ms late; off is no processing at all; bad settings name the key; the assistant feeds the
processed frames to the VAD and speech-to-text, and the microphone as it is to the wake word."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

import numpy as np
import pytest

from slm_voice.daemon.factory import build_frontend
from slm_voice.daemon.settings import ConfigError, parse_settings
from slm_voice.pipeline.assistant import Assistant, AssistantOptions
from slm_voice.pipeline.denoise import BLOCK_SAMPLES, NS_DELAY_SAMPLES, FrontEnd
from slm_voice.pipeline.events import TurnFinished, WakeDetected
from slm_voice.pipeline.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

from .fakes import WAKE, FakeStt, FakeTiers, FakeTts, FakeWake, Frames, RecordingSink, endpointer, turn_on_kitchen

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


def frames_of(x: np.ndarray) -> list[AudioFrame]:
    pcm = np.clip(x, -32768, 32767).astype("<i2")
    n = len(pcm) // FRAME_SAMPLES
    return [AudioFrame(pcm[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].tobytes(), i * FRAME_S, arrived=100.0 + i)
            for i in range(n)]


def joined(frames: list[AudioFrame]) -> np.ndarray:
    return np.frombuffer(b"".join(f.pcm for f in frames), dtype="<i2").astype(np.float64)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    return x / x.std()


def words_in_noise(seconds: float = 6.0, snr_db: float = 10.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Voiced 'words' (a 140 Hz buzz with harmonics, syllable-modulated, 0.6 s on / 0.6 s off after a 1.2 s lead-in)
    in stationary white + pink noise; returns the mix and a mask of the samples between words."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20))
    voice *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)  # syllables
    on = (t >= 1.2) & (((t - 1.2) % 1.2) < 0.6)
    speech = voice * on
    noise = 0.5 * pink(n, rng) + 0.5 * rng.standard_normal(n)
    gain = np.sqrt(np.mean(speech[on] ** 2) / np.mean(noise**2)) / 10 ** (snr_db / 20)
    mix = speech / np.abs(speech).max() * 6000 + noise * gain / np.abs(speech).max() * 6000
    between = ~on & (t >= 1.2)  # after the lead-in, where the noise estimate has settled
    return mix, between


@pytest.mark.parametrize(("level", "gain", "lag"), [(2, 0, BLOCK_SAMPLES + NS_DELAY_SAMPLES),
                                                   (4, 31, BLOCK_SAMPLES + NS_DELAY_SAMPLES), (0, 31, BLOCK_SAMPLES)])
def test_frames_keep_their_size_order_and_arrival_and_say_how_late_they_run(level: int, gain: int, lag: int) -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(2 * SAMPLE_RATE) * 3000  # broadband: the cross-correlation has one clear peak
    noise[: SAMPLE_RATE // 2] = 0
    fe = FrontEnd(noise_suppression=level, auto_gain_dbfs=gain)
    assert fe.lag_s == lag / SAMPLE_RATE
    ins = frames_of(noise)
    outs = [fe.process(f) for f in ins]
    assert [len(o.pcm) for o in outs] == [len(f.pcm) for f in ins]
    assert [o.arrived for o in outs] == [f.arrived for f in ins]
    assert [o.stream_s for o in outs] == pytest.approx([f.stream_s - fe.lag_s for f in ins])
    y = joined(outs)
    assert not y[:BLOCK_SAMPLES].any()  # the lag's 10 ms of silence
    # The output is the input lag_s later: the cross-correlation peaks at exactly that lag.
    x = joined(ins)
    lags = range(0, 400)
    best = max(lags, key=lambda k: float(np.dot(x[: len(x) - k], y[k:])))
    assert best == lag


@pytest.mark.parametrize("level", [2, 4])
def test_it_lowers_stationary_noise_between_words_and_keeps_the_words(level: int) -> None:
    mix, between = words_in_noise()
    fe = FrontEnd(noise_suppression=level)
    y = joined([fe.process(f) for f in frames_of(mix)])[BLOCK_SAMPLES:]  # undo the lag to compare in place
    x = mix[: len(y)]
    between, words = between[: len(y)], ~between[: len(y)]
    words[: int(1.2 * SAMPLE_RATE)] = False

    def db(a: np.ndarray) -> float:
        return 10 * np.log10(np.mean(a**2))

    noise_cut = db(x[between]) - db(y[between])
    words_cut = db(x[words]) - db(y[words])
    assert noise_cut > 8, noise_cut  # measured: level 2 11.4 dB down (words 1.7 dB), level 4 15.3 dB (words 2.3)
    assert words_cut < 3, words_cut
    assert noise_cut - words_cut > 8


def test_a_stream_that_starts_with_a_word_keeps_it() -> None:
    """A file whose first sound is a word ("turn on the kitchen light" was heard "pan on ..." without priming):
    the word's first 0.3 s comes through, not taken for the noise."""
    t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    word = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    x = word / np.abs(word).max() * 6000 + np.random.default_rng(3).standard_normal(len(t)) * 30
    fe = FrontEnd(noise_suppression=2)
    y = joined([fe.process(f) for f in frames_of(x)])[BLOCK_SAMPLES + NS_DELAY_SAMPLES:]
    onset = slice(0, int(0.3 * SAMPLE_RATE))
    assert 10 * np.log10(np.mean(x[onset] ** 2) / np.mean(y[onset] ** 2)) < 3


def test_auto_gain_raises_quiet_speech() -> None:
    mix, between = words_in_noise(snr_db=30)
    quiet = mix / 30  # about -45 dBFS
    fe = FrontEnd(auto_gain_dbfs=3)
    y = joined([fe.process(f) for f in frames_of(quiet)])
    assert np.sqrt(np.mean(y[-SAMPLE_RATE:] ** 2)) > 2 * np.sqrt(np.mean(quiet[-SAMPLE_RATE:] ** 2))


def test_state_carries_across_frames_and_reset_starts_again() -> None:
    mix, _ = words_in_noise(2.0)
    ins = frames_of(mix)
    fe = FrontEnd(noise_suppression=2)
    first = [fe.process(f).pcm for f in ins]
    again = [fe.process(f).pcm for f in ins]
    assert first != again  # the second pass starts with the noise already learnt
    fe.reset()
    assert [fe.process(f).pcm for f in ins] == first


def test_off_passes_frames_through_untouched() -> None:
    mix, _ = words_in_noise(2.0)
    fe = FrontEnd(0, 0)
    assert not fe.enabled
    for f in frames_of(mix):
        assert fe.process(f) is f
    assert build_frontend(parse_settings({"audio": {"noise_suppression": 0}})) is None  # off: no front end at all
    default = build_frontend(parse_settings({}))
    assert default is not None and default.enabled  # the default: noise suppression 2, as measured


def test_bad_settings_name_the_key() -> None:
    for raw, key in [({"noise_suppression": 5}, "audio.noise_suppression"), ({"noise_suppression": -1},
                     "audio.noise_suppression"), ({"auto_gain_dbfs": 32}, "audio.auto_gain_dbfs"),
                     ({"noise_suppression": "high"}, "audio.noise_suppression")]:
        with pytest.raises(ConfigError, match=key):
            parse_settings({"audio": raw})
    with pytest.raises(ValueError, match="audio.noise_suppression"):
        FrontEnd(noise_suppression=7)
    with pytest.raises(ValueError, match="audio.auto_gain_dbfs"):
        FrontEnd(auto_gain_dbfs=40)
    s = parse_settings({"audio": {"noise_suppression": 2, "auto_gain_dbfs": 31}})
    assert (s.audio.noise_suppression, s.audio.auto_gain_dbfs) == (2, 31)
    assert isinstance(build_frontend(s), FrontEnd)


def test_a_missing_package_names_its_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "webrtc_noise_gain", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="audio.noise_suppression.*pip install webrtc-noise-gain==1.2.3"):
        build_frontend(parse_settings({"audio": {"noise_suppression": 2}}))
    frame = frames_of(np.ones(FRAME_SAMPLES))[0]
    assert FrontEnd(0, 0).process(frame) is frame  # off never imports it


class Shift:
    """A front end that turns value v into v + 1 (so the mic's 999 is the fake transcriber's word 1000) and records
    what it saw."""

    def __init__(self) -> None:
        self.seen = 0
        self.resets = 0

    def process(self, frame: AudioFrame) -> AudioFrame:
        self.seen += 1
        x = np.frombuffer(frame.pcm, dtype="<i2")
        return replace(frame, pcm=np.where(x != 0, x + 1, 0).astype("<i2").tobytes())

    def reset(self) -> None:
        self.resets += 1


def test_the_assistant_hears_vad_and_command_through_the_front_end_and_the_wake_word_without_it() -> None:
    events: list = []
    shift = Shift()
    assistant = Assistant(
        wake=FakeWake(), echo_wake=FakeWake(), endpointer=endpointer(), stt=FakeStt(),
        intents=FakeTiers({"turn on the kitchen light": turn_on_kitchen()}), tts=FakeTts(), sink=RecordingSink(),
        options=AssistantOptions(speculative_stt=False, semantic_endpoint=False), observers=[events.append],
        frontend=shift,  # type: ignore[arg-type]
    )
    frames = Frames()
    frames.add(0, 3)
    frames.add(WAKE - 1)  # processed, this would fire the fake wake word: the wake word never hears it
    frames.add(0, 3)
    frames.add(WAKE)  # the microphone's own wake frame fires it
    frames.add(0, 3)
    frames.add(999, 8)  # only the processed frames are speech the fake transcriber knows
    frames.add(0, 14)
    frames.end()

    async def go() -> None:
        await asyncio.wait_for(assistant.run(frames), 10)  # type: ignore[arg-type]

    asyncio.run(go())
    assistant.close()
    (turn,) = [e for e in events if isinstance(e, TurnFinished)]
    assert turn.transcript == "turn on the kitchen light"
    woke = [e.stream_s for e in events if isinstance(e, WakeDetected)]
    assert woke == [pytest.approx(8 * FRAME_SAMPLES / SAMPLE_RATE)]  # where the microphone's wake frame (7) ends
    assert shift.seen == 33
    assistant.reset()
    assert shift.resets == 1
