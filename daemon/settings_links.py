"""Settings of the links to the outside: MQTT (with TLS), the live Home Assistant link, Wyoming servers and
arbitration between satellites."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from .settings_values import check_host, check_path, check_topic, settings

CLIENT_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")


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
        return check_path(v)


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
        return check_host(v)

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
        if v is not None and not CLIENT_ID.fullmatch(v):
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
        return check_topic(v.rstrip("/")) or v


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

