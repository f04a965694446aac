"""The endpointer over a fake VAD (tests/fakes.py): where a command starts, pauses, resumes and ends."""

from __future__ import annotations

import pytest

from slm_voice.pipeline.vad import Endpoint, Endpointer
from tests.fakes import WAKE, endpointer, frame_of


def feed(ep: Endpointer, values: list[int], start: int = 0) -> list[Endpoint]:
    out: list[Endpoint] = []
    for i, v in enumerate(values, start=start):
        out += ep.process(frame_of(v, i))
    return out


def kinds(events: list[Endpoint]) -> list[str]:
    return [e.kind for e in events]


def test_a_command_starts_pauses_and_ends_after_the_trailing_silence() -> None:
    ep = endpointer()
    ep.begin()
    events = feed(ep, [0] * 2 + [1000] * 8 + [0] * 12)
    assert kinds(events) == ["start", "pause", "end"]
    end = events[-1]
    assert end.reason == "silence"
    assert end.stream_s == pytest.approx(frame_of(0, 10).stream_s)  # the end of the last speech frame
    # The audio holds the speech and the short pre-roll, not the trailing silence.
    assert len(end.audio) // 1024 == 2 + 8
    assert feed(ep, [1000] * 5, start=22) == []  # done: nothing more until begin()


def test_speech_after_a_pause_resumes_the_same_command() -> None:
    ep = endpointer()
    ep.begin()
    events = feed(ep, [1000] * 6 + [0] * 5 + [2000] * 6 + [0] * 12)
    assert kinds(events) == ["start", "pause", "resume", "pause", "end"]
    assert set(bytes(events[-1].audio)[::1024]) >= {0xE8, 0xD0}  # both words (1000 = 0x03E8, 2000 = 0x07D0)


def test_nobody_speaks_and_it_times_out() -> None:
    ep = endpointer(no_speech_timeout_s=0.5)
    ep.begin()
    events = feed(ep, [0] * 20)
    assert kinds(events) == ["timeout"]
    assert ep.finish() is None


def test_a_long_command_is_cut_at_max_length() -> None:
    ep = endpointer(max_command_s=1.0)
    ep.begin()
    events = feed(ep, [1000] * 40)
    assert kinds(events)[-1] == "end" and events[-1].reason == "max_length"


def test_finish_ends_the_command_at_once_or_says_nobody_spoke() -> None:
    ep = endpointer()
    ep.begin()
    feed(ep, [1000] * 4)
    end = ep.finish("eof")
    assert end is not None and end.kind == "end" and end.reason == "eof"
    ep.begin()
    assert ep.finish("eof") is None


def test_look_back_starts_the_command_at_the_pause_after_the_wake_phrase() -> None:
    """The wake word is detected a little after it is said: a command already under way is not clipped, and the
    wake phrase before the pause is not part of it."""
    ep = endpointer()
    history = [0] * 3 + [1000] * 12 + [0] * 4 + [2000] * 3  # wake phrase, pause, the command has begun
    for i, v in enumerate(history):
        ep.observe(frame_of(v, i))
    events = ep.begin(look_back=True)
    assert kinds(events) == ["start"]
    events += feed(ep, [2000] * 3 + [0] * 12, start=len(history))
    end = events[-1]
    assert end.kind == "end"
    samples = bytes(end.audio)[::1024]
    assert 0xD0 in samples and 0xE8 not in samples  # the command (2000) without the wake phrase (1000)


def detected_during_the_wake_phrase(ep: Endpointer, history: list[int] | None = None) -> int:
    """History of a wake word that fired on the phrase's last syllable (speech still going on); frames seen."""
    history = history or [0] * 3 + [1000] * 6
    for i, v in enumerate(history):
        ep.observe(frame_of(v, i))
    assert ep.begin(look_back=True) == []  # undecided until a pause comes or the wait runs out
    return len(history)


@pytest.mark.parametrize("phrase", [[0] * 3 + [1000] * 6, [0] * 3 + [1000] * 6 + [0] * 3 + [1000] * 8],
                         ids=["whole", "hey-pause-jarvis"])
def test_a_detection_on_the_wake_phrases_last_syllable_starts_the_command_at_the_pause_after_it(
        phrase: list[int]) -> None:
    """The wake phrase's tail (1000) goes on after the detection; the pause after it, not the one before the
    phrase (or inside it, after "hey"), starts the command (2000)."""
    ep = endpointer()
    seen = detected_during_the_wake_phrase(ep, phrase)
    events = feed(ep, [1000] * 2 + [0] * 5 + [2000] * 6 + [0] * 12, start=seen)
    assert kinds(events) == ["start", "pause", "end"]
    samples = bytes(events[-1].audio)[::1024]
    assert 0xD0 in samples and 0xE8 not in samples
    assert events[0].stream_s == pytest.approx(frame_of(0, seen + 7).stream_s)  # where the command began


@pytest.mark.parametrize("dip", [0, 2])
def test_a_command_run_on_from_the_wake_phrase_is_not_clipped(dip: int) -> None:
    """No pause within wake_tail_s (a dip of two frames between words is no pause): the command was said
    straight after the wake phrase, and all of the speech is kept as before rather than losing its first word."""
    ep = endpointer(wake_tail_s=0.4)
    seen = detected_during_the_wake_phrase(ep)
    events = feed(ep, [2000] * 3 + [0] * dip + [2000] * 12 + [0] * 12, start=seen)
    assert kinds(events)[0] == "start" and kinds(events)[-1] == "end"
    samples = bytes(events[-1].audio)[::1024]
    assert 0xD0 in samples and 0xE8 in samples  # the words before the dip are kept (with the run-on phrase)
    assert events[0].stream_s <= frame_of(0, 3).stream_s


def test_a_stream_that_ends_before_the_wake_tail_is_decided_still_ends_the_command() -> None:
    ep = endpointer()
    seen = detected_during_the_wake_phrase(ep)
    feed(ep, [2000] * 2, start=seen)
    end = ep.finish("eof")
    assert end is not None and end.kind == "end" and end.reason == "eof"


def test_after_s_leaves_out_the_frames_still_to_come_before_it() -> None:
    """Over its own voice or a ring the wake phrase's tail (1000) may still be sounding at the hit: the command
    starts at after_s even when that is after the last frame heard."""
    ep = endpointer()
    for i, v in enumerate([1000] * 8):
        ep.observe(frame_of(v, i))
    assert ep.begin(after_s=frame_of(0, 11).stream_s) == []
    events = feed(ep, [1000] * 3 + [2000] * 6 + [0] * 12, start=8)
    assert kinds(events) == ["start", "pause", "end"]
    samples = bytes(events[-1].audio)[::1024]
    assert 0xD0 in samples and 0xE8 not in samples


def test_the_wake_frame_is_not_speech() -> None:
    ep = endpointer()
    ep.begin()
    assert feed(ep, [WAKE] * 3) == []
