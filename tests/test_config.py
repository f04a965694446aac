"""config.yaml is documented, matches the code's defaults, and bad configs name the key and the reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from slm_voice.daemon.settings import ConfigError, Settings, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[1]


def _leaf_keys(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        path = f"{prefix}{k}"
        out += _leaf_keys(v, path + ".") if isinstance(v, dict) else [path]
    return out


def test_config_yaml_loads() -> None:
    s = load_settings(ROOT / "config.yaml")
    assert s.home.entities[0].id == "light.kitchen_ceiling"


def test_every_key_in_config_yaml_has_a_comment() -> None:
    lines = (ROOT / "config.yaml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped or stripped.endswith(":"):
            continue  # blank, comment, list item or a section header
        before = lines[i - 1].strip() if i else ""
        # A key is documented by a comment right above it, or shares the comment of the key above (user/password).
        assert before.startswith("#") or (before and not before.startswith("-") and ":" in before
                                          and lines[i - 2].strip().startswith("#")), f"line {i + 1}: {line!r}"


def test_config_yaml_values_are_the_code_defaults_outside_home() -> None:
    """The file documents the defaults: apart from the example home, it must not change behaviour."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    from_file = dataclasses.asdict(parse_settings(raw))
    defaults = dataclasses.asdict(Settings())
    for section in from_file:
        if section != "home":
            assert from_file[section] == defaults[section], section


def test_every_settings_field_appears_in_config_yaml() -> None:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    in_file = set(_leaf_keys(raw))

    def fields_of(cls, prefix=""):  # noqa: ANN001, ANN202
        out = []
        for f in dataclasses.fields(cls):
            default = getattr(cls, f.name, None)
            if dataclasses.is_dataclass(default):
                out += fields_of(type(default), f"{prefix}{f.name}.")
            elif f.name not in ("entities", "areas", "satellite_area"):
                out.append(f"{prefix}{f.name}")
        return out

    missing = [k for k in fields_of(Settings) if k not in in_file and not k.startswith("home.")]
    assert missing == []


@pytest.mark.parametrize(
    "raw,message",
    [
        ({"audio": {"sourc": "mic"}}, "audio.sourc: unknown key (did you mean 'source'?)"),
        ({"wake": {"threshold": 2}}, "wake.threshold: Input should be less than or equal to 1"),
        ({"wake": {"engine": "snowboy"}}, "wake.engine: Input should be 'micro' or 'open'"),
        ({"audio": {"source": "usb"}}, "audio.source: 'usb': expected mic, stdin or file:PATH"),
        ({"vad": {"trailing_silence_ms": "long"}}, "vad.trailing_silence_ms: Input should be a valid integer"),
        ({"home": {"entities": [{"id": "kitchen", "name": "x"}]}}, "home.entities.0.id: 'kitchen' is not an entity id"),
        ({"home": {"entities": [{"id": "light.a"}]}}, "home.entities.0.name: Field required"),
        ({"home": {"areas": ["kitchen"], "entities": [{"id": "light.a", "name": "a", "area": "attic"}]}},
         "home.entities.0.area: 'attic' is not one of home.areas"),
        ({"home": {"areas": ["kitchen"], "satellite_area": "hall"}}, "home.satellite_area: 'hall' is not one of"),
        ({"mqtt": {"port": 70000}}, "mqtt.port: Input should be less than or equal to 65535"),
        ({"device_id": "living room"}, "device_id: 'living room': only letters, digits, _ and - are allowed"),
        ({"sttt": {}}, "sttt: unknown key (did you mean 'stt'?)"),
    ],
)
def test_bad_values_name_the_key_and_the_reason(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings(raw)
    assert message in str(e.value)


def test_unreadable_and_invalid_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("audio: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(top)


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.device_id = "x"  # type: ignore[misc]


# ---- every string setting, fuzzed: NUL, control characters, path and topic tricks ------------------------------

_ENTITY = {"id": "light.kitchen", "name": "kitchen light", "area": "kitchen"}
_HOME = {"areas": ["kitchen"], "entities": [_ENTITY]}
STRING_KEYS: dict[str, Any] = {
    "device_name": lambda v: {"device_name": v},
    "state_dir": lambda v: {"state_dir": v},
    "debug.record_dir": lambda v: {"debug": {"record_dir": v}},
    "models.dir": lambda v: {"models": {"dir": v}},
    "mqtt.host": lambda v: {"mqtt": {"host": v}},
    "mqtt.client_id": lambda v: {"mqtt": {"client_id": v}},
    "mqtt.username": lambda v: {"mqtt": {"username": v}},
    "mqtt.password": lambda v: {"mqtt": {"password": v}},
    "mqtt.base_topic": lambda v: {"mqtt": {"base_topic": v}},
    "mqtt.tls.ca_file": lambda v: {"mqtt": {"tls": {"ca_file": v}}},
    "mqtt.tls.keyfile": lambda v: {"mqtt": {"tls": {"keyfile": v}}},
    "stt.model": lambda v: {"stt": {"model": v}},
    "tts.voice": lambda v: {"tts": {"voice": v}},
    "slm.model": lambda v: {"slm": {"model": v}},
    "audio.source": lambda v: {"audio": {"source": f"file:{v}"}},
    "audio.sink": lambda v: {"audio": {"sink": f"file:{v}"}},
    "home.entities.0.name": lambda v: {"home": {**_HOME, "entities": [{**_ENTITY, "name": v}]}},
    "home.entities.0.aliases.0": lambda v: {"home": {**_HOME, "entities": [{**_ENTITY, "aliases": [v]}]}},
    "home.entities.0.command_topic": lambda v: {"home": {**_HOME, "entities": [{**_ENTITY, "command_topic": v}]}},
    "home.floors.0": lambda v: {"home": {"floors": [v]}},
    "homeassistant.token": lambda v: {"homeassistant": {"url": "http://ha.local:8123", "token": v,
                                                         "import_home": False}},
    "wake.words.0": lambda v: {"wake": {"words": [v]}},
}
BAD_TEXT = {"NUL": "abc\x00def", "newline": "abc\ndef", "escape": "abc\x1b[31mdef", "DEL": "abc\x7f",
            "C1": "abc\x85def", "surrogate": "abc\ud800def"}


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
@pytest.mark.parametrize("key", STRING_KEYS)
def test_every_string_setting_refuses_control_characters_with_its_key(key: str, bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings(STRING_KEYS[key](bad))
    message = str(e.value)
    assert key in message, message
    if "password" in key or "token" in key:
        assert "abc" not in message  # a secret is never echoed into the log


@pytest.mark.parametrize(("raw", "message"), [
    ({"mqtt": {"host": "broker.local; rm -rf"}}, "mqtt.host: 'broker.local; rm -rf' is not a host name"),
    ({"mqtt": {"host": ""}}, "mqtt.host"),
    ({"mqtt": {"host": "a" * 300}}, "mqtt.host"),
    ({"mqtt": {"client_id": "slm voice"}}, "mqtt.client_id: 'slm voice': a client id is"),
    ({"mqtt": {"client_id": "x" * 129}}, "mqtt.client_id"),
    ({"state_dir": "   "}, "state_dir: an empty path"),
    ({"state_dir": "/tmp/" + "x" * 300}, "state_dir: too long for a path"),
    ({"debug": {"record_dir": "/" + "a/" * 2100}}, "debug.record_dir: too long"),
    ({"home": {**_HOME, "entities": [{**_ENTITY, "command_topic": "zigbee2mqtt/+/set"}]}},
     "home.entities.0.command_topic"),
    ({"home": {**_HOME, "entities": [{**_ENTITY, "state_topic": ""}]}}, "home.entities.0.state_topic"),
    ({"device_id": "x" * 65}, "device_id"),
    ({"device_id": "küche"}, "device_id"),
    ({"mqtt": {"password": 12345}}, "mqtt.password: Input should be a valid string"),
])
def test_strings_are_checked_for_what_they_become(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_settings(raw)
    assert message in str(e.value)
    assert "12345" not in str(e.value)


@pytest.mark.parametrize("raw", [
    {"mqtt": {"host": "::1"}}, {"mqtt": {"host": "homeassistant.local"}}, {"mqtt": {"host": "10.0.0.2"}},
    {"mqtt": {"client_id": "slm-voice-kitchen_1"}, "device_name": "Küche – Satellit"},
    {"mqtt": {"password": "p@ss wörd\"'#+"}},
    {"home": {**_HOME, "entities": [{**_ENTITY, "payload_brightness": '{\n\t"brightness": {brightness}\n}'}]}},
    {"state_dir": "~/state", "debug": {"record_dir": "./rec"}, "audio": {"source": "file:a b.wav"}},
])
def test_ordinary_strings_still_pass(raw: dict) -> None:
    parse_settings(raw)
