"""Speakers for the spoken test sets: the Piper joe voice and espeak-ng's English variants at several speeds and
pitches, so that a speech evaluation hears more than two voices.

The voices are registered into corpus.VOICES under their names (``register()``, called on import), so every
renderer (corpus.render, bench/conditions.py) takes them by name. Each is a plain corpus.Voice: the engine and its
settings are part of the cache key, so changing one here renders it anew.
"""

from __future__ import annotations

from . import corpus
from .corpus import Voice

PEOPLE: dict[str, Voice] = {
    # Piper joe (US male), at its own pace, faster and slower.
    "piper": Voice("piper"),
    "piper-fast": Voice("piper", length_scale=0.8),
    "piper-slow": Voice("piper", length_scale=1.25),
    # espeak-ng's English accents and its male/female variants, speeds (-s) and pitches (-p) as people differ.
    "espeak": Voice("espeak", espeak_voice="en-us", espeak_wpm=150),
    "espeak-m3": Voice("espeak", espeak_voice="en-us+m3", espeak_wpm=150),
    "espeak-us-f3-high": Voice("espeak", espeak_voice="en-us+f3", espeak_wpm=160, espeak_pitch=70),
    "espeak-gb-f2": Voice("espeak", espeak_voice="en-gb+f2", espeak_wpm=145),
    "espeak-rp-m1-low": Voice("espeak", espeak_voice="en-gb-x-rp+m1", espeak_wpm=135, espeak_pitch=30),
    "espeak-scotland": Voice("espeak", espeak_voice="en-gb-scotland", espeak_wpm=150),
    "espeak-caribbean-f4": Voice("espeak", espeak_voice="en-029+f4", espeak_wpm=155),
    "espeak-nyc-fast": Voice("espeak", espeak_voice="en-us-nyc", espeak_wpm=190, espeak_pitch=55),
    "espeak-lancaster-slow": Voice("espeak", espeak_voice="en-gb-x-gbclan+m2", espeak_wpm=115),
    "espeak-midlands-f5": Voice("espeak", espeak_voice="en-gb-x-gbcwmd+f5", espeak_wpm=150, espeak_pitch=60),
    "espeak-us-klatt": Voice("espeak", espeak_voice="en-us+klatt", espeak_wpm=170, espeak_pitch=40),
}
"""The speakers by name: one Piper voice at three speeds and eleven espeak-ng English variants."""

BABBLE_VOICES: tuple[str, ...] = ("espeak-gb-f2", "espeak-m3", "espeak-scotland", "espeak-us-f3-high")
"""The talkers mixed into babble (bench/conditions.py): several people talking in the background."""


def register() -> None:
    """Make every speaker a voice that corpus.render() takes by name (an existing name keeps its definition)."""
    for name, voice in PEOPLE.items():
        corpus.VOICES.setdefault(name, voice)


def voice_for(index: int, names: tuple[str, ...] | list[str] | None = None) -> str:
    """The speaker of the index-th case when cases rotate through the speakers (a different voice each case)."""
    names = list(names or PEOPLE)
    return names[index % len(names)]


register()
