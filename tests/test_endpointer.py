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
    history = [0] * 3 + [1000] * 6 + [0] * 4 + [2000] * 3  # wake phrase, pause, the command has begun
    for i, v in enumerate(history):
        ep.observe(frame_of(v, i))
    events = ep.begin(look_back=True)
    assert kinds(events) == ["start"]
    events += feed(ep, [2000] * 3 + [0] * 12, start=len(history))
    end = events[-1]
    assert end.kind == "end"
    samples = bytes(end.audio)[::1024]
    assert 0xD0 in samples and 0xE8 not in samples  # the command (2000) without the wake phrase (1000)


def test_the_wake_frame_is_not_speech() -> None:
    ep = endpointer()
    ep.begin()
    assert feed(ep, [WAKE] * 3) == []
