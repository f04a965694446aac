"""config.yaml read into typed, frozen Settings, validated with key paths in errors: the one place the rest of the
project imports settings from. The sections live beside it: settings_values.py (the decorator and string checks),
settings_home.py, settings_speech.py, settings_links.py, settings_tree.py (the whole tree) and settings_checks.py
(checks across fields and the error messages)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from .settings_checks import check_home, check_strings, describe
from .settings_engines import check_engines
from .settings_home import AreaSettings, EntitySettings, HomeSettings, area_names
from .settings_links import (
    ArbitrationSettings,
    HomeAssistantSettings,
    MqttSettings,
    TlsSettings,
    WyomingSettings,
    read_token,
)
from .settings_speech import (
    AssistantSettings,
    AudioSettings,
    SlmSettings,
    SttSettings,
    TtsSettings,
    VadSettings,
    WakeSettings,
)
from .settings_tree import (
    DebugSettings,
    LatencyBudget,
    LatencySettings,
    ModelsSettings,
    Settings,
    device_name,
    state_dir,
)
from .settings_values import MAX_PATH_BYTES, ConfigError, settings

__all__ = [
    "MAX_CONFIG_BYTES", "MAX_PATH_BYTES", "ArbitrationSettings", "AreaSettings", "AssistantSettings", "AudioSettings",
    "ConfigError", "DebugSettings", "EntitySettings", "HomeAssistantSettings", "HomeSettings", "LatencyBudget",
    "LatencySettings", "ModelsSettings", "MqttSettings", "Settings", "SlmSettings", "SttSettings", "TlsSettings",
    "TtsSettings", "VadSettings", "WakeSettings", "WyomingSettings", "area_names", "device_name", "load_settings",
    "parse_settings", "read_token", "settings", "state_dir",
]

MAX_CONFIG_BYTES = 1 << 20
"""A config file is a page or two of YAML; a bigger one is refused before parsing."""


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a config file; ConfigError names the file, the key path and the reason."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {len(data)} bytes is too big for a config file (at most {MAX_CONFIG_BYTES})")
        raw = yaml.safe_load(data.decode("utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}): is this the config file?") from e
    except (yaml.YAMLError, RecursionError) as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    return parse_settings(raw or {}, source=str(path))


def parse_settings(raw: Any, source: str = "config") -> Settings:
    """Validate a mapping (as read from YAML) into Settings."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    try:
        s = TypeAdapter(Settings).validate_python(raw)
    except ValidationError as e:
        raise ConfigError(f"{source}: " + "; ".join(describe(err) for err in e.errors())) from None
    check_strings(s, source)
    check_home(s, source)
    check_engines(s, source)
    return s
