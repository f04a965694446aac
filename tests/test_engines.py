"""The engine registry: stt.engine / tts.engine name a builder; an unknown name is refused with the known ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from slm_voice.daemon import engines
from slm_voice.daemon.settings import ConfigError, Settings, parse_settings
from slm_voice.pipeline.intent.model import Home


def test_the_default_engines_are_registered() -> None:
    s = Settings()
    assert s.stt.engine in engines.STT_ENGINES and s.tts.engine in engines.TTS_ENGINES


def test_an_unknown_engine_is_refused_by_the_settings() -> None:
    with pytest.raises(ConfigError, match=r"stt\.engine"):
        parse_settings({"stt": {"engine": "whisper.cpp"}})


def test_the_registry_names_the_known_engines() -> None:
    bad = SimpleNamespace(stt=SimpleNamespace(engine="nope"))  # past the settings' own check
    with pytest.raises(ValueError, match="stt.engine: no engine 'nope'; known: faster-whisper"):
        engines.build_stt(bad, Home())  # type: ignore[arg-type]
