"""The settings take their allowed engines from the registry (daemon/engines.py): a new engine is its builder and
one registry line, with no list of names in the settings to keep in step."""

from __future__ import annotations

import pytest

from slm_voice.daemon import engines
from slm_voice.daemon.settings import ConfigError, Settings, parse_settings
from slm_voice.pipeline.intent.model import Home


def test_a_registered_speech_to_text_engine_is_a_valid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"stt\.engine: Input should be 'faster-whisper' \(got 'fake'\)"):
        parse_settings({"stt": {"engine": "fake"}})
    built: list[Settings] = []

    def fake(settings: Settings, home: Home) -> str:
        built.append(settings)
        return "fake stage"

    monkeypatch.setitem(engines.STT_ENGINES, "fake", fake)  # one registry line
    s = parse_settings({"stt": {"engine": "fake"}})
    assert s.stt.engine == "fake"
    assert engines.build_stt(s, Home()) == "fake stage" and built == [s]  # the factory reaches it by name


def test_a_registered_text_to_speech_engine_is_a_valid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engines.TTS_ENGINES, "fake", lambda s: "fake voice")
    s = parse_settings({"tts": {"engine": "fake"}})
    assert s.tts.engine == "fake" and engines.build_tts(s) == "fake voice"


def test_an_unknown_engine_is_refused_naming_every_registered_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engines.TTS_ENGINES, "fake", lambda s: None)
    with pytest.raises(ConfigError, match=r"tts\.engine: Input should be 'piper' or 'fake' \(got 'espeak'\)"):
        parse_settings({"tts": {"engine": "espeak"}})


def test_reading_the_settings_loads_no_engine() -> None:
    """Checking the names against the registry imports no stage (the pipeline, numpy): reading a config stays light."""
    import subprocess
    import sys

    heavy = ("numpy", "slm_voice.pipeline.roles", "slm_voice.pipeline.stt")
    code = ("import sys; from slm_voice.daemon.settings import parse_settings; parse_settings({}); "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_registered_wake_engine_is_a_valid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"wake\.engine: Input should be 'micro' or 'open' \(got 'fake'\)"):
        parse_settings({"wake": {"engine": "fake"}})
    monkeypatch.setitem(engines.WAKE_ENGINES, "fake", lambda s: f"fake detector for {s.wake.words}")
    s = parse_settings({"wake": {"engine": "fake"}})
    assert engines.build_wake(s) == "fake detector for ('hey_jarvis',)"


def test_each_wake_engine_serves_the_name_it_is_registered_under() -> None:
    """The registry's builders locate each engine's own catalog files ("<engine>:<word>") and give its detector."""
    for name in engines.WAKE_ENGINES:
        detector = engines.build_wake(parse_settings({"wake": {"engine": name, "words": ["hey_jarvis"]}}))
        assert detector.engine == name and detector.words == ["hey_jarvis"]


def test_a_model_given_as_a_path_is_checked_by_its_engine(tmp_path) -> None:
    """The factory names no engine: each builder checks the paths it reads, naming the key."""
    from slm_voice.models.locate import ModelError

    with pytest.raises(ModelError, match=r"stt\.model: no such model: .*model\.bin does not exist"):
        engines.build_stt(parse_settings({"stt": {"model": str(tmp_path / "whisper")}}), Home())
    with pytest.raises(ModelError, match=r"tts\.voice: no such model: .*voice\.onnx\.json \(the voice's config\)"):
        (tmp_path / "voice.onnx").write_bytes(b"")
        engines.build_tts(parse_settings({"tts": {"voice": str(tmp_path / "voice.onnx")}}))
