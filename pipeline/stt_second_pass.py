"""Speech to text in two passes: a second, stronger Whisper hears the command again only when the first is unsure.

Most commands are heard with confidence by the small model and pay nothing more; an unsure one (noise, an unusual
voice) costs one more decode with the larger model, and the transcript with the better confidence is kept. Both
stages run where the first one alone ran (the assistant's model thread), loaded and warmed at start-up."""

from __future__ import annotations

import numpy as np

from .intent.model import Home
from .roles import Transcription
from .stt import SpeechToText


class SecondPassSpeechToText:
    """Stage: a first SpeechToText, and a second one asked when the first's confidence is below `below`."""

    name = "stt"

    def __init__(self, first: SpeechToText, second: SpeechToText, *, below: float = 0.6) -> None:
        self.first = first
        self.second = second
        self.below = below
        """Ask the second model when the first transcript's confidence is below this (or unknown)."""
        self.second_passes = 0
        """How many transcriptions asked the second model (for the bench and the logs)."""
        # One list for both: the bench finds the kept transcript's decoder details in it, whichever model heard it.
        self.second.details = self.first.details

    @property
    def keep_details(self) -> bool:
        return self.first.keep_details

    @keep_details.setter
    def keep_details(self, value: bool) -> None:
        self.first.keep_details = self.second.keep_details = value

    @property
    def details(self) -> list[dict]:
        return self.first.details

    def load(self) -> None:
        self.first.load()
        self.second.load()

    def warm(self) -> None:
        self.first.warm()
        self.second.warm()

    def set_home(self, home: Home) -> None:
        self.first.set_home(home)
        self.second.set_home(home)

    def transcribe(self, audio: bytes | np.ndarray, *, short_window: bool | None = None) -> Transcription:
        heard = self.first.transcribe(audio, short_window=short_window)
        if not unsure(heard, self.below):
            return heard
        self.second_passes += 1
        return better(heard, self.second.transcribe(audio, short_window=short_window))

    def hear_phrase(self, audio: bytes) -> Transcription:
        return self.first.hear_phrase(audio)  # a stop word must be quick: the small model alone

    def recheck(self, audio: bytes) -> Transcription | None:
        # The 30 s window is the first model's other hearing; the second pass has already had its say.
        return self.first.recheck(audio)


def unsure(heard: Transcription, below: float) -> bool:
    """A transcript worth a second hearing: confidence below the threshold, or none (nothing heard)."""
    return heard.confidence is None or heard.confidence < below


def better(first: Transcription, second: Transcription) -> Transcription:
    """The transcript with the higher confidence; the first on a tie or when the second heard nothing."""
    if second.confidence is None or not second.text:
        return first
    if first.confidence is None or second.confidence > first.confidence:
        return second
    return first
