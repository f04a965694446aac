"""The bridge between the pipeline and MQTT: pipeline events out, commands in, Home Assistant discovery.

Out (observer of pipeline events; on_event never blocks, paho's publish only queues):
  <base>/intent          QoS 1, not retained: every recognised intent as JSON (what HA automations use), once
  <base>/event           QoS 1: {"event_type": <intent name>, ...} for HA's event entity
  <command_topic>        QoS 1: direct device commands for entities that have one
  <base>/state, transcript, reply, last_turn_ms, mute, wake_threshold, wake_word: retained state
  <base>/availability    retained `online` on every connect; `offline` as last will and on stop()
In (paho's network thread calls Controls):
  <base>/say/set, listen/set, mute/set (ON/OFF), wake_threshold/set (0..1), wake_word/set (one of wake_words)
  <base>/announce/set    a text, or {"message", "preannounce"}: the chime, then the text spoken
  <base>/ask/set         a question, or {"question", "answers": [{"id", "sentences"}], "id", "timeout_s",
                         "preannounce"}: spoken, the answer heard without the wake word and published (QoS 1, not
                         retained) on <base>/answer as {"event_type": answered|unmatched|timeout|muted|busy|failed,
                         "id", "answer", "sentence", "question"}

Intents the home carries out (lights, covers, ...) go out through the executor (daemon.actions), before the reply:
they are the action itself, or (with the Home Assistant link) a record of it. Intents the satellite answers itself
(time, timers) are published here as soon as they are recognised, marked handled.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..pipeline.asking import Answer, AnswerChoice, Question
from ..pipeline.events import Event, IntentRecognized, ReplyStarted, StateChanged, Timing, Transcript, TurnFinished
from ..pipeline.intent.intents import HOME_INTENTS
from ..pipeline.tts import clean_text
from .homeassistant import discovery as ha
from .mqtt import MqttLink, Topics
from .observers import spoken_text, turn_record
from .settings import MqttSettings

log = logging.getLogger(__name__)

MAX_SAY_CHARS = 2000
"""Longer say/set texts are refused (Piper would speak for minutes); the same for announcements and questions."""
MAX_ASK_BYTES = 16384
"""Longer ask/set and announce/set payloads are refused before they are parsed."""
MAX_ANSWERS = 16
"""Answers a question may list; sentences an answer may list."""
MAX_SENTENCE_CHARS = 100
"""Longest answer sentence, and longest question id or answer id."""
ASK_TIMEOUT_S = (1.0, 60.0, 10.0)
"""The least, the most and the default time a question waits for speech to begin."""


class Controls(Protocol):
    """What MQTT commands may do to the running assistant.

    Called on paho's network thread, never on the audio event loop: an implementation must hop over with
    `loop.call_soon_threadsafe(...)` and return at once. Raise ValueError to refuse a value (it is logged and
    not echoed to the state topic).
    """

    def say(self, text: str) -> None: ...

    def announce(self, text: str, preannounce: bool) -> None: ...

    def ask(self, question: Question, on_answer: Callable[[Answer], None]) -> None:
        """on_answer is called once, on any thread, with how the question ended."""

    def listen(self) -> None: ...

    def set_muted(self, muted: bool) -> None: ...

    def set_wake_threshold(self, value: float) -> None: ...

    def set_wake_word(self, word: str) -> None: ...


class MqttBridge:
    """Publishes pipeline events, takes commands, keeps Home Assistant's discovery fresh."""

    def __init__(
        self,
        settings: MqttSettings,
        device_id: str,
        device_name: str,
        wake_words: Sequence[str],
        controls: Controls,
        sw_version: str,
        *,
        suggested_area: str | None = None,
        wake_word: str | None = None,
        wake_threshold: float | None = None,
        muted: bool = False,
        intent_names: Sequence[str] = ha.INTENT_NAMES,
        reconnect_min_s: float = 0.25,
        reconnect_max_s: float | None = None,
    ) -> None:
        """wake_words: the select's options; wake_word/wake_threshold/muted: the current values (a None
        threshold, meaning each model's own, is not published until it is set). suggested_area: the area Home
        Assistant proposes for the device. reconnect_max_s: None takes settings.reconnect_max_s."""
        if not wake_words:
            raise ValueError("wake_words must name at least one wake word")
        self.settings = settings
        self.topics = Topics.for_device(settings, device_id)
        self.device = ha.DeviceInfo(device_id=device_id, name=device_name, sw_version=sw_version,
                                    suggested_area=suggested_area)
        self.wake_words = tuple(wake_words)
        self.intent_names = tuple(intent_names)
        self.controls = controls
        self._lock = threading.Lock()  # keeps snapshot updates and their publishes in one order
        self._snapshot: dict[str, str] = {
            self.topics.mute: "ON" if muted else "OFF",
            self.topics.wake_word: wake_word or self.wake_words[0],
        }
        if wake_threshold is not None:
            self._snapshot[self.topics.wake_threshold] = _fmt(wake_threshold)
        self._published_turns: OrderedDict[str, None] = OrderedDict()
        self.link = MqttLink(
            settings,
            settings.client_id or f"slm-voice-{device_id}",
            self.topics.availability,
            on_connected=self._on_connected,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
        )
        t = self.topics
        self.link.subscribe(t.say_set, self._cmd_say)
        self.link.subscribe(t.announce_set, self._cmd_announce)
        self.link.subscribe(t.ask_set, self._cmd_ask)
        self.link.subscribe(t.listen_set, self._cmd_listen)
        self.link.subscribe(t.mute_set, self._cmd_mute)
        self.link.subscribe(t.wake_threshold_set, self._cmd_wake_threshold)
        self.link.subscribe(t.wake_word_set, self._cmd_wake_word)
        if settings.discovery:
            self.link.subscribe(ha.status_topic(settings.discovery_prefix), self._ha_status)

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (returns at once; a missing broker is retried with backoff)."""
        self.link.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Publish `offline`, flush QoS 1 messages for up to timeout seconds, disconnect cleanly."""
        self.link.stop(timeout)

    @property
    def connected(self) -> bool:
        return self.link.connected

    def wait_connected(self, timeout: float) -> bool:
        return self.link.wait_connected(timeout)

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until the broker acknowledged every QoS 1 message published so far (tests, bench)."""
        return self.link.wait_delivered(timeout)

    # --- what the executor needs (daemon.actions.MqttSender) -----------------------------------------

    @property
    def intent_topic(self) -> str:
        return self.topics.intent

    @property
    def event_topic(self) -> str:
        return self.topics.event

    def send_within(self, messages: Sequence[tuple[str, str | bytes]], deadline: float,
                    expires_at: float | None = None) -> bool:
        """Deliver an action's messages by deadline or not at all (MqttLink.send_within); blocking."""
        return self.link.send_within(messages, deadline, expires_at)

    def publish_intent(self, messages: Sequence[tuple[str, str]], expires_at: float) -> None:
        """Publish an intent record for information (QoS 1, not waited for; dropped while disconnected, so a stale
        record never arrives late)."""
        if not self.link.connected:
            log.info("MQTT: not connected; intent record not published")
            return
        for topic, payload in messages:
            self.link.publish(topic, payload, qos=1)

    def watch(self, topic: str, handler: Callable[[str, bytes], None]) -> None:
        """Route messages on a topic (a device's state topic) to handler, on paho's thread."""
        self.link.subscribe(topic, handler)

    def publish_discovery(self) -> None:
        """(Re)publish every Home Assistant discovery config, retained."""
        for topic, payload in ha.discovery_messages(
            self.topics,
            self.device,
            discovery_prefix=self.settings.discovery_prefix,
            wake_words=self.wake_words,
            intent_names=self.intent_names,
        ):
            self.link.publish(topic, payload, qos=1, retain=True)

    def remove_discovery(self) -> None:
        """Delete this device's entities from Home Assistant (empty retained configs)."""
        for topic, payload in ha.removal_messages(self.device, discovery_prefix=self.settings.discovery_prefix):
            self.link.publish(topic, payload, qos=1, retain=True)

    # --- pipeline events (audio event loop) ----------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Observer of pipeline events. Never raises and never waits on the network."""
        try:
            self._handle(event)
        except Exception:
            log.exception("MQTT: could not publish %s", type(event).__name__)

    def _handle(self, event: Event) -> None:
        t = self.topics
        if isinstance(event, StateChanged):
            # The mute switch follows mute/set only: "Start listening" while muted passes through the listening
            # state without unmuting, and the switch must not flap.
            self._set_state(t.state, event.state)
        elif isinstance(event, Transcript):
            self._set_state(t.transcript, spoken_text(event.text))
        elif isinstance(event, ReplyStarted):
            self._set_state(t.reply, event.text)
        elif isinstance(event, IntentRecognized):
            self._publish_intent(event)
        elif isinstance(event, TurnFinished):
            t_ms = event.timings_ms
            latency = t_ms.get(Timing.SPEECH_END_TO_FIRST_AUDIO, t_ms.get(Timing.SPEECH_END_TO_INTENT))
            if latency is not None:
                self._set_state(t.last_turn_ms, str(round(latency)))
            if event.understanding is not None and event.understanding.reply:
                self._set_state(t.reply, event.understanding.reply)  # a streamed answer is known only now
            self._publish_intent(event)

    def _publish_intent(self, event: IntentRecognized | TurnFinished) -> None:
        """An intent the satellite answered itself (time, date, timers): published once, marked handled. Home
        intents are the executor's to publish (daemon.actions)."""
        u = event.understanding
        if u is None or u.intent is None or u.intent.name in HOME_INTENTS:
            return
        if not self.link.connected:
            return  # a record of the past: not worth delivering late
        if event.turn_id:
            if event.turn_id in self._published_turns:
                return
            _remember(self._published_turns, event.turn_id, None)
        msg = turn_record(event)
        msg["handled"] = True
        msg["expires"] = msg["timestamp"]  # nothing left to do
        self.link.publish(self.topics.intent, json.dumps(msg, default=str), qos=1)
        self.link.publish(self.topics.event, json.dumps({"event_type": msg["intent"], **msg}, default=str), qos=1)

    def _set_state(self, topic: str, value: str) -> None:
        with self._lock:
            self._snapshot[topic] = value
            self.link.publish(topic, value, qos=0, retain=True)

    # --- connection (network thread) -----------------------------------------------------------------

    def _on_connected(self) -> None:
        if self.settings.discovery:
            self.publish_discovery()
        with self._lock:
            for topic, value in self._snapshot.items():
                self.link.publish(topic, value, qos=1, retain=True)

    def _ha_status(self, topic: str, payload: bytes) -> None:
        if payload.strip().lower() == b"online":
            log.info("MQTT: Home Assistant came online; republishing discovery")
            self._on_connected()

    # --- commands (network thread) -------------------------------------------------------------------

    def _cmd_say(self, topic: str, payload: bytes) -> None:
        text = _text(topic, payload)
        if text is None:
            return
        if not text:
            log.warning("MQTT: %s: empty text ignored", topic)
        elif len(text) > MAX_SAY_CHARS:
            log.warning("MQTT: %s: %d characters is over the %d limit; ignored", topic, len(text), MAX_SAY_CHARS)
        else:
            self._call(topic, self.controls.say, text)

    def _cmd_announce(self, topic: str, payload: bytes) -> None:
        try:
            text, preannounce = parse_announce(payload)
        except ValueError as e:
            log.warning("MQTT: %s: %s; ignored", topic, e)
            return
        self._call(topic, self.controls.announce, text, preannounce)

    def _cmd_ask(self, topic: str, payload: bytes) -> None:
        try:
            question = parse_ask(payload)
        except ValueError as e:
            log.warning("MQTT: %s: %s; ignored", topic, e)
            return
        self._call(topic, self._ask, question)

    def _ask(self, question: Question) -> None:
        self.controls.ask(question, self.publish_answer)

    def publish_answer(self, answer: Answer) -> None:
        """<base>/answer, QoS 1, not retained; dropped while disconnected (a late answer could act on a question
        long gone)."""
        if not self.link.connected:
            log.warning("MQTT: not connected; the answer to %r (%s) is dropped", answer.question.text[:60],
                        answer.status.value)
            return
        log.info("MQTT: answer %s %r to %r", answer.status.value, answer.answer_id or answer.sentence,
                 answer.question.id or answer.question.text[:60])
        self.link.publish(self.topics.answer, json.dumps(answer.record()), qos=1)

    def _cmd_listen(self, topic: str, payload: bytes) -> None:
        self._call(topic, self.controls.listen)

    def _cmd_mute(self, topic: str, payload: bytes) -> None:
        value = (_text(topic, payload) or "").upper()
        if value not in ("ON", "OFF"):
            log.warning("MQTT: %s: expected ON or OFF, got %r; ignored", topic, payload[:40])
            return
        if self._call(topic, self.controls.set_muted, value == "ON"):
            self._set_state(self.topics.mute, value)

    def _cmd_wake_threshold(self, topic: str, payload: bytes) -> None:
        text = _text(topic, payload)
        try:
            value = float(text or "")
        except ValueError:
            value = math.nan
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            log.warning("MQTT: %s: expected a number from 0 to 1, got %r; ignored", topic, payload[:40])
            return
        if self._call(topic, self.controls.set_wake_threshold, value):
            self._set_state(self.topics.wake_threshold, _fmt(value))

    def _cmd_wake_word(self, topic: str, payload: bytes) -> None:
        word = _text(topic, payload)
        if word not in self.wake_words:
            log.warning("MQTT: %s: %r is not one of %s; ignored", topic, payload[:40], ", ".join(self.wake_words))
            return
        if self._call(topic, self.controls.set_wake_word, word):
            self._set_state(self.topics.wake_word, word)

    def _call(self, topic: str, fn: Any, *args: Any) -> bool:
        try:
            fn(*args)
        except ValueError as e:
            log.warning("MQTT: %s refused: %s", topic, e)
            return False
        except Exception:
            log.exception("MQTT: %s failed", topic)
            return False
        log.info("MQTT: %s %s", topic, " ".join(repr(a) for a in args))
        return True


def _text(topic: str, payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        log.warning("MQTT: %s: payload is not UTF-8; ignored", topic)
        return None


def _payload_text(payload: bytes) -> str:
    if len(payload) > MAX_ASK_BYTES:
        raise ValueError(f"{len(payload)} bytes is over the {MAX_ASK_BYTES} limit")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("payload is not UTF-8") from None


def _json_object(text: str, keys: set[str]) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except ValueError:
        raise ValueError("not valid JSON") from None
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    unknown = set(obj) - keys
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (expected {sorted(keys)})")
    return obj


def _spoken(value: Any, what: str, limit: int = MAX_SAY_CHARS) -> str:
    """A text to speak or match: a string, control characters removed, not empty, at most limit characters."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    text = clean_text(value)
    if not text:
        raise ValueError(f"{what} is empty")
    if len(text) > limit:
        raise ValueError(f"{what}: {len(text)} characters is over the {limit} limit")
    return text


def _flag(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key, True)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def parse_announce(payload: bytes) -> tuple[str, bool]:
    """announce/set: a plain text, or {"message": str, "preannounce": bool (true)}: (text, chime first)."""
    text = _payload_text(payload)
    if not text.startswith("{"):
        return _spoken(text, "message"), True
    obj = _json_object(text, {"message", "preannounce"})
    return _spoken(obj.get("message"), "message"), _flag(obj, "preannounce")


def parse_ask(payload: bytes) -> Question:
    """ask/set: a plain question (whatever is said is the answer), or {"question": str, "answers": [{"id": str,
    "sentences": [str, ...]}, ...], "id": str, "timeout_s": number, "preannounce": bool}. Raises ValueError."""
    text = _payload_text(payload)
    if not text.startswith("{"):
        return Question(_spoken(text, "question"), timeout_s=ASK_TIMEOUT_S[2])
    obj = _json_object(text, {"question", "answers", "id", "timeout_s", "preannounce"})
    question = _spoken(obj.get("question"), "question")
    qid = _spoken(obj["id"], "id", MAX_SENTENCE_CHARS) if obj.get("id") is not None else ""
    timeout = obj.get("timeout_s", ASK_TIMEOUT_S[2])
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
            ASK_TIMEOUT_S[0] <= timeout <= ASK_TIMEOUT_S[1]):
        raise ValueError(f"timeout_s must be a number from {ASK_TIMEOUT_S[0]:g} to {ASK_TIMEOUT_S[1]:g}")
    answers = obj.get("answers") or []
    if not isinstance(answers, list) or len(answers) > MAX_ANSWERS:
        raise ValueError(f"answers must be a list of at most {MAX_ANSWERS}")
    choices: list[AnswerChoice] = []
    for i, a in enumerate(answers):
        if not isinstance(a, dict) or set(a) - {"id", "sentences"}:
            raise ValueError(f"answers[{i}] must be {{\"id\": str, \"sentences\": [str, ...]}}")
        aid = _spoken(a.get("id"), f"answers[{i}].id", MAX_SENTENCE_CHARS)
        if any(c.id == aid for c in choices):
            raise ValueError(f"answers[{i}].id {aid!r} is listed twice")
        sentences = a.get("sentences", [aid])
        if not isinstance(sentences, list) or not sentences or len(sentences) > MAX_ANSWERS:
            raise ValueError(f"answers[{i}].sentences must be a list of 1 to {MAX_ANSWERS} strings")
        choices.append(AnswerChoice(aid, tuple(_spoken(s, f"answers[{i}].sentences", MAX_SENTENCE_CHARS)
                                               for s in sentences)))
    return Question(question, tuple(choices), qid, float(timeout), _flag(obj, "preannounce"))


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _remember(d: OrderedDict[str, Any], key: str, value: Any, keep: int = 32) -> None:
    d[key] = value
    while len(d) > keep:
        d.popitem(last=False)
