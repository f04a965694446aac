"""Audio in and out, the contracts: what a source and a sink promise, and the errors they raise.

The implementations: sources.py (WAV file, stdin, microphone), sinks.py (speaker, WAV file, stdout, null),
wav.py (reading and writing WAV files), pcm.py (sample conversion, resampling), devices.py (PortAudio devices),
earcon.py (the wake chime).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from .frames import AudioFrame
from .roles import Sink


class AudioError(Exception):
    """Base of every audio input/output error; its message is meant for the user as is."""


class AudioFormatError(AudioError, ValueError):
    """An audio file is missing, unreadable or not in a format we can decode."""


class AudioDeviceError(AudioError, RuntimeError):
    """A sound device is missing, ambiguous, or refuses every usable setting."""


@runtime_checkable
class AudioSource(Protocol):
    description: str

    def frames(self) -> Iterator[AudioFrame]:
        """Yield FRAME_SAMPLES-sample 16 kHz mono frames until the source ends or close() is called."""
        ...

    def close(self) -> None:
        """Make frames() stop soon; safe to call from any thread."""


@runtime_checkable
class AudioSink(Sink, Protocol):
    """A Sink (write, drain) that names itself and can be closed."""

    description: str

    def close(self) -> None:
        """Drain and release the device or file."""
