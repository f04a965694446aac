"""Every MQTT topic the daemon publishes or listens to, below one base topic, and the availability payloads."""

from __future__ import annotations

from dataclasses import dataclass

from .settings import MqttSettings

ONLINE = "online"
OFFLINE = "offline"


@dataclass(frozen=True)
class Topics:
    """Every topic the daemon publishes or listens to, below one base topic."""

    base: str
    """Topic prefix, e.g. slm-voice/living_room."""

    @classmethod
    def for_device(cls, settings: MqttSettings, device_id: str) -> Topics:
        base = (settings.base_topic or f"slm-voice/{device_id}").rstrip("/")
        if not base or any(c in base for c in "+#\0"):
            raise ValueError(f"mqtt.base_topic {base!r}: must be non-empty and contain no +, # or NUL")
        return cls(base)

    def _t(self, leaf: str) -> str:
        return f"{self.base}/{leaf}"

    # Published.
    @property
    def intent(self) -> str:
        return self._t("intent")

    @property
    def event(self) -> str:
        return self._t("event")

    @property
    def state(self) -> str:
        return self._t("state")

    @property
    def transcript(self) -> str:
        return self._t("transcript")

    @property
    def reply(self) -> str:
        return self._t("reply")

    @property
    def last_turn_ms(self) -> str:
        return self._t("last_turn_ms")

    @property
    def availability(self) -> str:
        return self._t("availability")

    @property
    def mute(self) -> str:
        return self._t("mute")

    @property
    def wake_threshold(self) -> str:
        return self._t("wake_threshold")

    @property
    def wake_word(self) -> str:
        return self._t("wake_word")

    @property
    def answer(self) -> str:
        return self._t("answer")

    # Commands in.
    @property
    def say_set(self) -> str:
        return self._t("say/set")

    @property
    def announce_set(self) -> str:
        return self._t("announce/set")

    @property
    def ask_set(self) -> str:
        return self._t("ask/set")

    @property
    def listen_set(self) -> str:
        return self._t("listen/set")

    @property
    def mute_set(self) -> str:
        return self._t("mute/set")

    @property
    def wake_threshold_set(self) -> str:
        return self._t("wake_threshold/set")

    @property
    def wake_word_set(self) -> str:
        return self._t("wake_word/set")
