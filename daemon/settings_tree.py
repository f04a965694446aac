"""Settings: every section of config.yaml in one frozen tree, the service's own small sections (latency budgets,
model storage, diagnostics) and the names derived from it (device_name, state_dir)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import field_validator

from .settings_home import HomeSettings
from .settings_links import ArbitrationSettings, HomeAssistantSettings, MqttSettings, WyomingSettings
from .settings_speech import (
    AssistantSettings,
    AudioSettings,
    SlmSettings,
    SttSettings,
    TtsSettings,
    VadSettings,
    WakeSettings,
)
from .settings_values import check_path, settings


@settings
class LatencyBudget:
    """Per-stage latency budgets in milliseconds; a turn over budget logs a warning naming the stage."""

    endpoint: int = 800
    """Speech end to end-of-speech decision."""
    stt: int = 600
    """Transcription."""
    intent: int = 1000
    """Intent tiers."""
    tts_first_audio: int = 300
    """Intent to first reply audio."""
    turn: int = 2000
    """Speech end to first reply audio."""


@settings
class LatencySettings:
    """Latency budgets."""

    budget_ms: LatencyBudget = LatencyBudget()
    """Budgets per stage and for the whole turn."""


@settings
class ModelsSettings:
    """Where built models live."""

    dir: str | None = None
    """Cache for built models (the INT4 language model); None: $XDG_CACHE_HOME/slm-voice or
    /var/lib/slm-voice/models when running as the service."""

    @field_validator("dir")
    @classmethod
    def _dir(cls, v: str | None) -> str | None:
        return check_path(v)


@settings
class DebugSettings:
    """Diagnostics."""

    record_dir: str | None = None
    """Write each command's audio and transcript here; None: nothing is written to disk."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level."""

    @field_validator("record_dir")
    @classmethod
    def _dir(cls, v: str | None) -> str | None:
        return check_path(v)


@settings
class Settings:
    """Everything in config.yaml."""

    device_id: str = "living_room"
    """This satellite's id: used in MQTT topics and Home Assistant unique ids ([a-zA-Z0-9_-])."""
    device_name: str | None = None
    """Name shown in Home Assistant; null: "slm-voice" and the satellite's area (or device_id)."""
    state_dir: str | None = None
    """Where what must survive a restart is kept (mute, wake threshold, timers, undelivered actions); null:
    $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/slm-voice, else ~/.local/state/slm-voice."""
    home: HomeSettings = HomeSettings()
    """The home."""
    audio: AudioSettings = AudioSettings()
    """Audio input and output."""
    wake: WakeSettings = WakeSettings()
    """Wake word."""
    vad: VadSettings = VadSettings()
    """End of speech."""
    stt: SttSettings = SttSettings()
    """Speech-to-text."""
    tts: TtsSettings = TtsSettings()
    """Text-to-speech."""
    slm: SlmSettings = SlmSettings()
    """Language model tier."""
    assistant: AssistantSettings = AssistantSettings()
    """Turn behaviour and latency switches."""
    mqtt: MqttSettings = MqttSettings()
    """MQTT."""
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()
    """The live Home Assistant link."""
    wyoming: WyomingSettings = WyomingSettings()
    """Wyoming servers for Home Assistant's voice devices."""
    arbitration: ArbitrationSettings = ArbitrationSettings()
    """Many satellites, one answer."""
    latency: LatencySettings = LatencySettings()
    """Latency budgets."""
    models: ModelsSettings = ModelsSettings()
    """Model storage."""
    debug: DebugSettings = DebugSettings()
    """Diagnostics."""

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, v: str) -> str:
        if not v or not all(c.isascii() and (c.isalnum() or c in "_-") for c in v) or len(v) > 64:
            raise ValueError(f"{v!r}: only letters, digits, _ and - are allowed (ASCII, 1-64 of them)")
        return v

    @field_validator("state_dir")
    @classmethod
    def _state_dir(cls, v: str | None) -> str | None:
        return check_path(v)


def device_name(s: Settings) -> str:
    """The name Home Assistant shows: device_name, else "slm-voice <satellite area or device id>"."""
    return s.device_name or f"slm-voice {s.home.satellite_area or s.device_id}"


def state_dir(s: Settings) -> Path:
    """This satellite's state directory (not created here)."""
    if s.state_dir:
        root = Path(s.state_dir).expanduser()
    elif os.environ.get("STATE_DIRECTORY"):  # systemd's StateDirectory=
        root = Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    else:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        root = Path(xdg) / "slm-voice"
    return root / s.device_id
