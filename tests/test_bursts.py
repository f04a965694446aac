"""Speech bursts heard while the assistant speaks (pipeline/bargein.py Bursts), cut for the stop-word check: what
each window handed to speech-to-text holds, frame by frame (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from slm_voice.pipeline.bargein import BURST_END_S, BURST_PREROLL_S, BURST_WINDOW_S, Bursts, StopWords
from slm_voice.pipeline.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


def frame(i: int) -> AudioFrame:
    """Frame i carries the value i in every sample, so a window says which frames it holds."""
    return AudioFrame(np.full(FRAME_SAMPLES, i, "<i2").tobytes(), i * FRAME_S)


def held(window: bytes) -> list[int]:
    return sorted(set(np.frombuffer(window, "<i2")[::FRAME_SAMPLES].tolist()))


def feed(bursts: Bursts, speech: list[bool]) -> list[tuple[int, list[int]]]:
    """(frame index, frames held) for every window handed back."""
    out = []
    for i, said in enumerate(speech, start=1):
        window = bursts.observe(frame(i), 0.9 if said else 0.1)
        if window is not None:
            out.append((i, held(window)))
    return out


def frames_of(seconds: float) -> int:
    return round(seconds / FRAME_S)


def test_a_burst_starts_before_the_vad_hears_it_and_is_handed_back_soon_after_it_ends() -> None:
    quiet, word = 20, 12  # a short word after a quiet stretch
    handed = feed(Bursts(), [False] * quiet + [True] * word + [False] * 40)
    assert len(handed) == 1, handed
    at, frames = handed[0]
    first_speech, last_speech = quiet + 1, quiet + word
    assert at == last_speech + frames_of(BURST_END_S)  # as soon as the silence that ends it has passed
    # the word's first sound, before the VAD's first speech frame, is in it ("stop" was heard as "star")
    assert frames[0] == first_speech - frames_of(BURST_PREROLL_S)
    assert last_speech in frames


def test_a_word_with_a_pause_inside_is_heard_whole_the_second_time() -> None:
    """ "can-cel": the first part ends a burst; when speech comes back soon, the next window keeps it."""
    speech = [False] * 10 + [True] * 8 + [False] * frames_of(BURST_END_S) + [False] + [True] * 8 + [False] * 40
    handed = feed(Bursts(), speech)
    assert len(handed) == 2, handed
    first_part = set(range(11, 19))
    assert first_part <= set(handed[1][1])  # the whole word in the second window


def test_long_speech_is_checked_every_hop_and_a_long_silence_starts_afresh() -> None:
    long = frames_of(3 * BURST_WINDOW_S)
    handed = feed(Bursts(), [True] * long + [False] * (frames_of(BURST_WINDOW_S) + 5) + [True] * 6 + [False] * 10)
    during = [h for h in handed if h[0] <= long]
    assert len(during) >= 4  # every hop while speech goes on, not only at its end
    assert all(len(frames) <= frames_of(BURST_WINDOW_S) + frames_of(0.3) for _, frames in during)
    last = handed[-1][1]
    assert min(last) > long  # after a long silence the new burst holds none of the old speech


def test_nothing_is_handed_back_while_a_check_runs_and_the_next_window_covers_it() -> None:
    b = Bursts()
    for i in range(1, 6):
        b.observe(frame(i), 0.1)
    got = [b.observe(frame(i), 0.9, ready=False) for i in range(6, 60)]
    assert got == [None] * len(got)
    window = b.observe(frame(60), 0.9)
    assert window is not None and len(held(window)) > frames_of(BURST_WINDOW_S)


@pytest.mark.parametrize(("transcript", "reference", "stop"), [
    ("Cansel", "", "cancel"),  # espeak-ng voices, heard by hear_phrase
    ("Console Console Console", "", "cancel"),
    ("Council.", "", "cancel"),
    ("consul", "the timer is set", "cancel"),
    ("console", "the console light is on", None),  # the assistant said it: its own echo
    ("council", "the console light is on", None),  # its echo, spelt another way
    ("cancel that", "I set the timer", "cancel"),
    ("the castle", "", None),
    ("cancelled", "", None),  # what the assistant says after a cancel, not the word said to it
    ("can I sell it", "", None),
    ("stock", "", "stop"),
    ("be quiet", "be quiet is what you said", None),
])
def test_a_stop_word_is_found_in_the_ways_whisper_spells_it_and_never_in_the_assistants_own_words(
        transcript: str, reference: str, stop: str | None) -> None:
    assert StopWords().heard(transcript, reference) == stop
