"""wake.engine, stt.engine and tts.engine are checked against the engine registry (daemon/engines.py), so a new
engine is its builder and one registry line, never a list of names in the settings as well.

A check after validation rather than a Literal in settings_speech.py: the registry's builders read the settings'
tree, so the sections cannot import the registry without a circle.
"""

from __future__ import annotations

from collections.abc import Mapping

from .engines import STT_ENGINES, TTS_ENGINES, WAKE_ENGINES
from .settings_tree import Settings
from .settings_values import ConfigError


def check_engines(s: Settings, source: str) -> None:
    """ConfigError when an engine setting names no registered engine (worded as pydantic words a Literal)."""
    for key, name, registry in (("wake.engine", s.wake.engine, WAKE_ENGINES), ("stt.engine", s.stt.engine, STT_ENGINES),
                                ("tts.engine", s.tts.engine, TTS_ENGINES)):
        if name not in registry:
            raise ConfigError(f"{source}: {key}: Input should be {one_of(registry)} (got {name!r})")


def one_of(registry: Mapping[str, object]) -> str:
    """'a', 'b' or 'c': the registered names, in registry order."""
    names = [repr(n) for n in registry]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
