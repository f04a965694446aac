"""Typed, frozen settings for every section of config.yaml, validated with key paths in errors."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass

from .accelerators import check_device

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def settings(cls):  # noqa: ANN001, ANN201 - a class decorator
    """Frozen pydantic dataclass that rejects unknown keys."""
    return dataclass(frozen=True, config=_STRICT)(cls)


# ---- strings checked for what they become (every other string is checked for control characters by
# _check_strings after validation: a NUL reaches C code, a newline a log line or a topic) ----------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
MAX_PATH_BYTES = 4096
"""PATH_MAX on Linux."""
_SECRET_KEYS = ("password", "token")
"""Keys whose values never appear in an error message (it is logged)."""


def _text(v: str) -> str:
    """No control character, and text that can be written as UTF-8 (a lone surrogate from a YAML escape cannot)."""
    if (m := _CONTROL.search(v)) is not None:
        raise ValueError(f"control character {m.group()!r} at position {m.start()} is not allowed")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return v


def _path(v: str | None) -> str | None:
    """A file or folder path: not blank, no control character (a NUL makes every file call fail), fits PATH_MAX."""
    if v is None:
        return None
    _text(v)
    if not v.strip():
        raise ValueError("an empty path")
    if len(v.encode()) >= MAX_PATH_BYTES or any(len(p.encode()) > 255 for p in v.split("/")):
        raise ValueError(f"too long for a path ({len(v.encode())} bytes; a name at most 255)")
    return v


def _model(v: str) -> str:
    """A model name or a path to one."""
    return _path(v) or v


def _host(v: str) -> str:
    """A host name or an IP address, as a socket call takes it."""
    _text(v)
    try:
        ipaddress.ip_address(v)
        return v
    except ValueError:
        pass
    labels = v.removesuffix(".").split(".")
    if len(v) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{v!r} is not a host name or IP address")
    return v


def _topic_name(v: str | None) -> str | None:
    """A topic a message is published to: not empty, no wildcard (+, #), no control character, at most 64 KB."""
    if v is None:
        return None
    _text(v)
    if not v or "+" in v or "#" in v or len(v.encode()) > 65535:
        raise ValueError(f"{v!r}: a topic must be non-empty, at most 65535 bytes, without + or #")
    return v


@settings
class EntitySettings:
    """One entity of the home, in Home Assistant's terms."""

    id: str
    """Entity id, domain.object_id (e.g. light.kitchen_ceiling)."""
    name: str
    """The name people say."""
    aliases: tuple[str, ...] = ()
    """Other names people say."""
    area: str | None = None
    """Area the entity is in (must be one of home.areas)."""
    device_class: str | None = None
    """Home Assistant device class (garage, door, window, temperature, ...): "open the garage door" finds it."""
    command_topic: str | None = None
    """MQTT topic to publish actions to directly (zigbee2mqtt/Tasmota style); None: only <base>/intent."""
    payload_on: str = "ON"
    """Payload for turn on."""
    payload_off: str = "OFF"
    """Payload for turn off."""
    payload_brightness: str = '{"state": "ON", "brightness": {brightness_255}}'
    """Payload template for brightness; {brightness} is 0-100, {brightness_255} is 0-255."""
    state_topic: str | None = None
    """MQTT topic the device reports its state on: a command is confirmed as done only when this echoes it."""
    state_on: str = "ON"
    """State payload meaning on (or a JSON object whose "state" is this)."""
    state_off: str = "OFF"
    """State payload meaning off (or a JSON object whose "state" is this)."""

    @field_validator("id")
    @classmethod
    def _entity_id(cls, v: str) -> str:
        domain, _, obj = v.partition(".")
        if not domain or not obj or not all(c.isalnum() or c == "_" for c in domain + obj):
            raise ValueError(f"{v!r} is not an entity id of the form domain.object_id")
        return v

    @field_validator("command_topic", "state_topic")
    @classmethod
    def _topics(cls, v: str | None) -> str | None:
        return _topic_name(v)


@settings
class AreaSettings:
    """An area with the floor it is on and other names for it."""

    name: str
    """The area's name."""
    floor: str | None = None
    """The floor it is on (must be one of home.floors)."""
    aliases: tuple[str, ...] = ()
    """Other names people say for it."""


@settings
class HomeSettings:
    """The fictional (or real) home: floors, areas and entities the assistant can name. With a Home Assistant link
    the home comes from Home Assistant and what is written here is added to it and wins where both name a thing."""

    floors: tuple[str, ...] = ()
    """Floor names ("ground floor", "upstairs")."""
    areas: tuple[str | AreaSettings, ...] = ()
    """Area names, or {name, floor, aliases}."""
    entities: tuple[EntitySettings, ...] = ()
    """Entities that voice commands may act on."""
    satellite_area: str | None = None
    """Area this device stands in; commands naming no area act here."""


@settings
class AudioSettings:
    """Where audio comes from and goes to."""

    source: str = "mic"
    """mic, file:PATH (WAV) or stdin (raw 16 kHz mono s16le)."""
    sink: str = "speaker"
    """speaker, file:PATH (WAV), stdout (raw 22 050 Hz mono s16le, for a pipe into a player) or null."""
    input_device: str | int | None = None
    """Microphone by name (substring) or index; None: the system default."""
    output_device: str | int | None = None
    """Speaker by name (substring) or index; None: the system default."""
    earcon: bool = True
    """Play a short tone when the wake word is heard."""

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v in ("mic", "stdin") or (v.startswith("file:") and _path(v[5:])):
            return v
        raise ValueError(f"{v!r}: expected mic, stdin or file:PATH")

    @field_validator("sink", mode="before")
    @classmethod
    def _sink(cls, v: object) -> str:
        if v is None:  # `sink: null` unquoted is YAML's null: it means the null sink
            return "null"
        if isinstance(v, str) and (v in ("speaker", "null", "stdout") or (v.startswith("file:") and _path(v[5:]))):
            return v
        raise ValueError(f"{v!r}: expected speaker, null, stdout or file:PATH")


@settings
class WakeSettings:
    """Wake word detection."""

    engine: Literal["micro", "open"] = "micro"
    """micro: microWakeWord (pymicro-wakeword); open: openWakeWord (pyopen-wakeword)."""
    words: tuple[str, ...] = ("hey_jarvis",)
    """Wake words to listen for: hey_jarvis, okay_nabu, alexa, hey_mycroft (open also: hey_rhasspy)."""
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Detection probability threshold (0-1), higher fires less often; None: each model's recommended value."""
    refractory_s: float = Field(2.0, ge=0.0)
    """Seconds after a detection during which the wake word cannot fire again."""


@settings
class VadSettings:
    """Voice activity detection and end-of-speech."""

    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """Silero speech probability above which a frame counts as speech."""
    trailing_silence_ms: int = Field(700, ge=100)
    """Silence after speech that ends the command."""
    max_command_s: float = Field(10.0, gt=0.0)
    """A command is cut off after this many seconds."""
    no_speech_timeout_s: float = Field(5.0, gt=0.0)
    """Give up listening when nobody speaks this long after the wake word."""


@settings
class SttSettings:
    """Speech-to-text (faster-whisper)."""

    engine: Literal["faster-whisper"] = "faster-whisper"
    """The speech-to-text engine (daemon/engines.py STT_ENGINES); the settings below are faster-whisper's."""
    model: str = "tiny.en"
    """Model name from the catalog (tiny.en) or a path to a CTranslate2 Whisper folder."""
    device: Literal["cpu", "cuda"] = "cpu"
    """cpu, or cuda on a Jetson."""
    compute_type: Literal[
        "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16",
        "float32",
    ] = "int8"
    """CTranslate2 compute type: int8 (CPU), int8_float16 or float16 (CUDA), float32, ..."""
    beam_size: int = Field(5, ge=1)
    """Beam size; 1 is greedy and fastest, 5 hears noisy commands better (affordable with short_window)."""
    threads: int = Field(2, ge=1)
    """CPU threads for CTranslate2."""
    language: str = "en"
    """Spoken language."""
    hotwords: bool = True
    """Pass entity and area names to Whisper as hotwords."""
    recheck_full_window: bool = True
    """With short_window: when no template matches, transcribe once more with the 30 s window before the SLM."""
    short_window: bool = True
    """Encode only the command (plus silence, 10 s at least) instead of Whisper's fixed 30 s window: ~10x faster."""
    home_nbest: int = Field(5, ge=1, le=8)
    """With short_window: decode this many transcripts and keep the one whose words best fit the home (1: off)."""

    @field_validator("device")
    @classmethod
    def _device_here(cls, v: str) -> str:
        return check_device("stt", v)  # cuda with a CPU-only ctranslate2: say what to install

    @field_validator("model")
    @classmethod
    def _model_name(cls, v: str) -> str:
        return _model(v)


@settings
class TtsSettings:
    """Text-to-speech (Piper)."""

    engine: Literal["piper"] = "piper"
    """The text-to-speech engine (daemon/engines.py TTS_ENGINES); the settings below are Piper's."""
    voice: str = "en_US-joe-medium"
    """Voice name from the catalog or a path to a Piper .onnx voice (with its .onnx.json beside it)."""
    length_scale: float = Field(1.0, gt=0.0)
    """Speaking rate: below 1 is faster."""
    volume: float = Field(1.0, gt=0.0, le=4.0)
    """Output gain."""

    @field_validator("voice")
    @classmethod
    def _voice_name(cls, v: str) -> str:
        return _model(v)


@settings
class SlmSettings:
    """The small language model tier (INT4 ONNX via onnxruntime-genai)."""

    enabled: bool = True
    """Use the language model when templates find nothing."""
    model: str = "qwen2.5-coder-0.5b"
    """qwen2.5-coder-0.5b or smollm2-135m (both fine-tuned), or a path to an ONNX GenAI model folder."""
    device: Literal["cpu", "cuda"] = "cpu"
    """cpu, or cuda on a Jetson."""
    max_new_tokens: int = Field(48, ge=8, le=512)
    """Upper bound on generated tokens per turn."""
    threads: int = Field(2, ge=1)
    """CPU threads for ONNX Runtime."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    """0 is greedy decoding."""
    confidence_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Below this probability of its answer the model asks "Do you want me to ...?" instead of acting; null: the
    one set for the model's fine-tune on the dev set (qwen 0.5, smollm2 0.35; docs/understanding.md)."""

    @field_validator("device")
    @classmethod
    def _device_here(cls, v: str, info: ValidationInfo) -> str:
        return check_device("slm", v) if info.data.get("enabled", True) else v

    @field_validator("model")
    @classmethod
    def _model_name(cls, v: str) -> str:
        return _model(v)


@settings
class AssistantSettings:
    """The turn."""

    follow_up: bool = False
    """After replying, listen for another command without a wake word."""
    follow_up_timeout_s: float = Field(4.0, gt=0.0)
    """How long follow-up listening waits for speech."""
    speculative_stt: bool = True
    """Transcribe at a short pause while end-of-speech is still being decided; keep it if no speech follows."""
    speculative_pause_ms: int = Field(200, ge=60)
    """Pause that triggers speculative transcription."""
    semantic_endpoint: bool = True
    """End the command early when the speculative transcript already matches a template."""
    reply_cache: bool = True
    """Synthesize common short replies once and reuse the audio."""
    stream_reply: bool = True
    """Start playing the reply after its first sentence is synthesized, not after the whole reply."""
    barge_in: bool = True
    """The wake word or a stop word said while the assistant speaks or a timer rings stops it."""
    stop_words: tuple[str, ...] = ("stop", "cancel", "be quiet")
    """Phrases that stop the assistant while it speaks (heard by Whisper; never when the reply itself says them)."""


@settings
class TlsSettings:
    """TLS for MQTT."""

    enabled: bool = False
    """Connect with TLS."""
    ca_file: str | None = None
    """CA certificate that signed the broker's certificate."""
    certfile: str | None = None
    """Client certificate (optional)."""
    keyfile: str | None = None
    """Client key (optional)."""

    @field_validator("ca_file", "certfile", "keyfile")
    @classmethod
    def _files(cls, v: str | None) -> str | None:
        return _path(v)


@settings
class MqttSettings:
    """MQTT link to Home Assistant and devices."""

    enabled: bool = True
    """Publish intents and state over MQTT."""
    broker: Literal["embedded", "external"] = "embedded"
    """embedded: start an in-process broker (amqtt) on host:port; external: connect to one there."""
    host: str = "127.0.0.1"
    """Broker address (the embedded broker binds here)."""
    port: int = Field(1883, ge=1, le=65535)
    """Broker port."""
    client_id: str | None = None
    """MQTT client id; None: slm-voice-<device_id>."""
    username: str | None = None
    """User name, if the broker wants one."""
    password: str | None = None
    """Password, if the broker wants one."""
    tls: TlsSettings = TlsSettings()
    """TLS settings."""
    base_topic: str | None = None
    """Topic prefix; None: slm-voice/<device_id>."""

    discovery: bool = True
    """Publish Home Assistant MQTT discovery."""
    discovery_prefix: str = "homeassistant"
    """Home Assistant's discovery prefix."""
    keepalive_s: int = Field(30, ge=5)
    """MQTT keepalive."""
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    """MQTT version; auto: 5 with an external broker (messages can expire there), 3.1.1 with the embedded one."""
    delivery_timeout_s: float = Field(3.0, gt=0.0, le=60.0)
    """An action the broker has not acknowledged within this many seconds is dropped and the user told."""
    action_expiry_s: float = Field(10.0, gt=0.0, le=3600.0)
    """An action published over MQTT expires this long after it was spoken: nothing acts on it later."""
    reconnect_max_s: float = Field(1.0, ge=0.1, le=60.0)
    """Longest pause between reconnection attempts (with jitter): the broker is found again this soon."""

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic(cls, v: str | None) -> str | None:
        # MQTT wildcards and NUL are not allowed in a topic a message is published to.
        if v is not None and (not v.strip("/") or any(c in v for c in "+#\0") or len(v.encode()) > 200):
            raise ValueError(f"{v!r}: a topic prefix must be non-empty, at most 200 bytes, without +, # or NUL")
        return v.strip("/") if v is not None else v

    @field_validator("host")
    @classmethod
    def _host_name(cls, v: str) -> str:
        return _host(v)

    @field_validator("username", "password")
    @classmethod
    def _credential(cls, v: str | None) -> str | None:
        if v is not None and len(v.encode("utf-8", "surrogatepass")) > 65535:
            raise ValueError("more than 65535 bytes cannot be sent to a broker")
        return v

    @field_validator("client_id")
    @classmethod
    def _client(cls, v: str | None) -> str | None:
        # MQTT brokers must take 1-23 letters and digits and may refuse more: kept to what brokers commonly take.
        if v is not None and not _CLIENT_ID.fullmatch(v):
            raise ValueError(f"{v!r}: a client id is 1-128 letters, digits and - _ . : @")
        return v


@settings
class HomeAssistantSettings:
    """The live Home Assistant link (WebSocket API): the home and its state from Home Assistant, actions confirmed
    by it. Off while url is null; MQTT alone still works."""

    url: str | None = None
    """Home Assistant's address, e.g. http://homeassistant.local:8123; null: no live link."""
    token: str | None = None
    """A long-lived access token (Home Assistant: your profile > Security > Long-lived access tokens)."""
    token_file: str | None = None
    """A file holding the token instead (first line); wins over token."""
    timeout_s: float = Field(5.0, gt=0.0, le=60.0)
    """How long to wait for Home Assistant to answer an action before saying it didn't."""
    connect_timeout_s: float = Field(10.0, gt=0.0)
    """How long one connection attempt may take."""
    reconnect_max_s: float = Field(5.0, ge=0.5, le=300.0)
    """Longest pause between reconnection attempts (the pauses grow from 0.25 s, with jitter)."""
    import_home: bool = True
    """Read floors, areas and the entities exposed to Assist from Home Assistant (and follow its changes)."""
    verify_tls: bool = True
    """Check the certificate of an https:// url."""
    conversation_agent: str | None = None
    """Home Assistant conversation agent that answers open questions (e.g. conversation.openai, an Ollama agent's
    id, or homeassistant for its own); null: open questions get "I can't look that up here"."""
    conversation_agent_name: str | None = None
    """How to name the agent before its answer ("OpenAI says: ..."); null: its answer is said as it is."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://", "ws://", "wss://")) or not v.split("//", 1)[1]:
            raise ValueError(f"{v!r}: expected http(s)://host:port")
        return v


@settings
class WyomingSettings:
    """Wyoming servers for Home Assistant's voice devices: speech-to-text, text-to-speech and command handling with
    the assistant's own models (loaded once, shared with the microphone). No authentication: anyone who reaches
    host:port may make the assistant act."""

    enabled: bool = False
    """Serve the Wyoming protocol (with `slm-voice run`)."""
    host: str = "0.0.0.0"
    """Address to listen on; 0.0.0.0: every interface (Home Assistant on another machine), 127.0.0.1: this one."""
    port: int = Field(10600, ge=1, le=65535)
    """TCP port to listen on."""
    services: tuple[Literal["asr", "tts", "handle", "intent"], ...] = ("asr", "tts", "handle", "intent")
    """What is served: asr (speech-to-text), tts (Piper), handle (understand and carry a command out), intent
    (understand only)."""
    zeroconf: bool = True
    """Advertise the server as _wyoming._tcp.local. so Home Assistant discovers it."""
    zeroconf_name: str | None = None
    """Name advertised over zeroconf; null: slm-voice-<device_id>."""
    zeroconf_address: str | None = None
    """Address advertised over zeroconf; null: host, or the address of the default route when host is 0.0.0.0."""
    queue_size: int = Field(4, ge=1, le=64)
    """Requests that may wait for (or use) the model worker at once; one more is refused with a "busy" error."""
    max_audio_s: float = Field(30.0, gt=0.0, le=300.0)
    """Longest audio one transcribe request may send; more is refused."""


@settings
class ArbitrationSettings:
    """Satellites on one broker that hear the same wake word agree which one handles the command (the best heard);
    the others go back to idle without a sound."""

    enabled: bool = False
    """Take part in the agreement (needs mqtt.enabled); false: this satellite always answers what it hears."""
    window_ms: int = Field(300, ge=50, le=2000)
    """How long after its wake word a satellite waits for the others' claims; also the most a broker outage costs."""
    topic: str = "slm-voice/arbitration"
    """Topic the claims go to: the same on every satellite that should agree, e.g. one per home."""

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        return _topic_name(v.rstrip("/")) or v


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
        return _path(v)


@settings
class DebugSettings:
    """Diagnostics."""

    record_dir: str | None = None
    """Write each command's audio and transcript here; None: nothing is written to disk."""

    @field_validator("record_dir")
    @classmethod
    def _dir(cls, v: str | None) -> str | None:
        return _path(v)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level."""


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
        return _path(v)


class ConfigError(ValueError):
    """config.yaml is unreadable or invalid; the message names the key path and the reason."""


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
        raise ConfigError(f"{source}: " + "; ".join(_describe(err) for err in e.errors())) from None
    _check_strings(s, source)
    _check_home(s, source)
    return s


def _check_strings(value: Any, source: str, key: str = "") -> None:
    """Every string setting, whatever it becomes: no control character (payload templates may hold tabs and line
    breaks), valid Unicode; ConfigError names the key path, never a secret's value."""
    if isinstance(value, str):
        leaf = key.rsplit(".", 1)[-1]
        text = value.translate({9: None, 10: None, 13: None}) if leaf.startswith("payload_") else value
        try:
            _text(text)
        except ValueError as e:
            raise ConfigError(f"{source}: {key}: {e}") from None
    elif is_dataclass(value):
        for f in fields(value):
            _check_strings(getattr(value, f.name), source, f"{key}.{f.name}" if key else f.name)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            _check_strings(item, source, f"{key}.{i}")


def _describe(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or "(top level)"
    if err["type"] == "unexpected_keyword_argument" or err["type"] == "extra_forbidden":
        hint = _did_you_mean(loc)
        return f"{key}: unknown key{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    shown = "input" in err and err["type"] != "missing" and not any(s in loc[-1] for s in _SECRET_KEYS if loc)
    return f"{key}: {msg} (got {err.get('input')!r})" if shown else f"{key}: {msg}"


def _did_you_mean(loc: list[str]) -> str:
    cls: Any = Settings
    for part in loc[:-1]:
        if part.isdigit():
            continue
        f = {f.name: f for f in fields(cls)}.get(part)
        if f is None:
            return ""
        default = getattr(cls, part, None) if f.default is not f.default_factory else None
        cls = type(default) if is_dataclass(default) else _inner_dataclass(f.type)
        if cls is None:
            return ""
    names = [f.name for f in fields(cls)]
    close = difflib.get_close_matches(loc[-1], names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(names)})"


def _inner_dataclass(annotation: Any) -> Any:
    text = str(annotation)
    for name, obj in globals().items():
        if isinstance(obj, type) and is_dataclass(obj) and name in text:
            return obj
    return None


def _check_home(s: Settings, source: str) -> None:
    floors = set(s.home.floors)
    areas = set(area_names(s.home))
    # With the home read from Home Assistant, areas and floors named here may be Home Assistant's: checked when
    # the two are merged, not now.
    from_ha = s.homeassistant.url is not None and s.homeassistant.import_home
    for i, a in enumerate(s.home.areas):
        if isinstance(a, AreaSettings) and a.floor is not None and a.floor not in floors and not from_ha:
            raise ConfigError(f"{source}: home.areas.{i}.floor: {a.floor!r} is not one of home.floors {sorted(floors)}")
    seen: set[str] = set()
    for i, e in enumerate(s.home.entities):
        if e.id in seen:
            raise ConfigError(f"{source}: home.entities.{i}.id: duplicate entity id {e.id!r}")
        seen.add(e.id)
        if e.area is not None and e.area not in areas and not from_ha:
            raise ConfigError(
                f"{source}: home.entities.{i}.area: {e.area!r} is not one of home.areas {sorted(areas)}"
            )
    if s.home.satellite_area is not None and s.home.satellite_area not in areas and not from_ha:
        raise ConfigError(
            f"{source}: home.satellite_area: {s.home.satellite_area!r} is not one of home.areas {sorted(areas)}"
        )
    h = s.homeassistant
    if h.url is not None and h.token is None and h.token_file is None:
        raise ConfigError(f"{source}: homeassistant.token: set token or token_file (a long-lived access token) "
                          "with homeassistant.url")
    if h.url is not None and h.token_file is not None:
        try:
            read_token(h)
        except ValueError as e:
            raise ConfigError(f"{source}: homeassistant.token_file: {e}") from None


def area_names(home: HomeSettings) -> list[str]:
    """The names of home.areas, whichever way each is written."""
    return [a if isinstance(a, str) else a.name for a in home.areas]


def read_token(h: HomeAssistantSettings) -> str:
    """The access token: the first line of token_file when set, else token. Raises ValueError."""
    if h.token_file is not None:
        try:
            text = Path(h.token_file).expanduser().read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"cannot read {h.token_file}: {e.strerror or e}") from None
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not token:
            raise ValueError(f"{h.token_file} is empty")
        return token
    if not h.token:
        raise ValueError("no token")
    return h.token


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
