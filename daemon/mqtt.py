"""The MQTT connection: topics, birth/last will, reconnect with backoff, and delivery tracking (paho-mqtt 2.x).

paho runs its network loop in its own thread (loop_start). publish() only queues a packet and wakes that
thread, so it is safe to call from the audio event loop. Retained state and discovery published while the broker
is unreachable are sent again on connect.

Actions are different: `send_within()` hands them to paho only while connected and waits for the broker's
acknowledgement until a deadline; what is not acknowledged by then is taken back out of paho's queue, so an action
is never delivered after the user was told it could not be sent. With MQTT 5 each carries a message expiry too.

Reconnecting: paho's doubling back-off, capped at reconnect_max_s (1 s by default) and jittered (0.5-1x), so a
broker that comes back is found again within about a second and many satellites do not knock in step.

The parts beside it: mqtt_topics.py (Topics, ONLINE, OFFLINE), mqtt_paho.py (paho's client with a jittered
reconnect and forget(), the CONNECT checks), mqtt_limits.py (the size and rate limits on commands in).
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .mqtt_limits import COMMAND_BURST, COMMANDS_PER_S, MAX_PAYLOAD, RateLimit
from .mqtt_paho import SAFE_CLIENT_ID, PahoClient, check_client_fields, no_delay, protocol_for
from .mqtt_topics import OFFLINE, ONLINE, Topics
from .settings import ConfigError, MqttSettings

__all__ = [
    "COMMAND_BURST", "COMMANDS_PER_S", "MAX_PAYLOAD", "MAX_QUEUED", "OFFLINE", "ONLINE", "SAFE_CLIENT_ID",
    "MessageHandler", "MqttLink", "Topics", "protocol_for",
]

log = logging.getLogger(__name__)

MAX_QUEUED = 200
"""QoS 1 messages kept while the broker is down (discovery, state); beyond this publish() drops rather than grows."""

MessageHandler = Callable[[str, bytes], None]
"""Called on paho's network thread with (topic, payload)."""


class MqttLink:
    """One paho client that keeps itself connected, announces itself and re-subscribes after reconnects.

    Birth: `online` (retained) on the availability topic after every connect; last will: `offline`
    (retained), also published by stop() because a clean disconnect does not fire the will.
    """

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        availability_topic: str,
        *,
        on_connected: Callable[[], None] | None = None,
        reconnect_min_s: float = 0.25,
        reconnect_max_s: float | None = None,
    ) -> None:
        """reconnect_max_s: None takes settings.reconnect_max_s."""
        self.settings = settings
        self.protocol = protocol_for(settings)
        self.availability_topic = availability_topic
        self.broker = f"{settings.host}:{settings.port}"
        self._on_connected = on_connected
        self._handlers: dict[str, MessageHandler] = {}
        self._rate = RateLimit()
        self.closed_early = 0
        """Connections the broker closed before its CONNACK (a TLS mismatch), since the start."""
        self._answered = False  # the broker sent a CONNACK (accepting or refusing) on this connection
        self._lock = threading.Lock()
        self._delivered = threading.Condition(self._lock)
        self._pending: set[int] = set()  # QoS>0 mids not yet acknowledged
        # Acks that beat publish() returning its mid, with when they came. QoS 0 sends land here too
        # (paho reports them alike), so old entries expire rather than pile up.
        self._acked_early: dict[int, float] = {}
        self._connected = threading.Event()
        self.refused = 0
        """Connection attempts the broker refused since the last accepted one (bad credentials, ...)."""
        self.unreachable = 0
        """Connection attempts that failed before MQTT (no route, refused port, TLS) since the last success."""
        self._stopping = False
        self.connects = 0
        """How many times a connection was accepted (1 + reconnects)."""
        self.last_connected_at: float | None = None
        """time.monotonic() of the last accepted connection."""

        check_client_fields(client_id, settings)
        if self.protocol == "5":
            c = PahoClient(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        else:
            c = PahoClient(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if settings.username is not None:
            c.username_pw_set(settings.username, settings.password)
        if settings.tls.enabled:
            # Verifies the broker's certificate and host name against ca_file (system CAs when None).
            tls = settings.tls
            try:
                c.tls_set(ca_certs=tls.ca_file, certfile=tls.certfile, keyfile=tls.keyfile)
            except (OSError, ssl.SSLError, ValueError) as e:
                raise ConfigError(
                    f"mqtt.tls: cannot load ca_file={tls.ca_file!r} certfile={tls.certfile!r} "
                    f"keyfile={tls.keyfile!r}: {e}"
                ) from None
        c.will_set(availability_topic, OFFLINE, qos=1, retain=True)
        max_s = settings.reconnect_max_s if reconnect_max_s is None else reconnect_max_s
        c.reconnect_delay_set(min(reconnect_min_s, max_s), max_s)  # type: ignore[arg-type]  # floats work
        c.max_queued_messages_set(MAX_QUEUED)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self.client = c
        self.client_id = client_id

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background; returns at once, even when the broker is down."""
        if self.protocol == "5":  # a fresh session every time: nothing old is delivered to us after a restart
            self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s,
                                      clean_start=True)
        else:
            self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self.client.loop_start()
        log.info("MQTT: connecting to %s as %s (MQTT %s)", self.broker, self.client._client_id.decode(),
                 self.protocol)

    def stop(self, timeout: float = 2.0) -> None:
        """Publish `offline`, wait (up to timeout) for outstanding QoS 1 messages, disconnect cleanly."""
        self._stopping = True
        if self.connected:
            self.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
            self.wait_delivered(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- publish / subscribe -------------------------------------------------------------------------

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Route messages on topic to handler; the subscription is renewed on every (re)connect."""
        self._handlers[topic] = handler
        if self.connected:
            self.client.subscribe(topic, qos=1)

    def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> int | None:
        """Queue a message without blocking; returns the mid of a tracked QoS>0 message, else None.

        QoS 0 messages are dropped while disconnected (state topics are republished on connect);
        QoS 1 messages wait in paho's queue and go out after the reconnect.
        """
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            log.warning("MQTT: %d messages already queued for %s; dropped one on %s", MAX_QUEUED, self.broker, topic)
            return None
        if qos == 0:
            return None
        with self._lock:
            if self._acked_early.pop(info.mid, None) is None:
                self._pending.add(info.mid)
        return info.mid

    def send_within(self, messages: Sequence[tuple[str, str | bytes]], deadline: float,
                    expires_at: float | None = None) -> bool:
        """Deliver QoS 1 messages by `deadline` (time.monotonic()), or not at all. Blocking: call it from a worker
        thread, never from paho's.

        Waits for the connection, publishes, and waits for every broker acknowledgement. True when all were
        acknowledged in time. Otherwise False, and whatever was not acknowledged is taken out of paho's queue so it
        is never sent later. expires_at (time.time()): with MQTT 5 the broker drops the messages after it.
        """
        if not self._connected.wait(max(0.0, deadline - time.monotonic())):
            return False
        props = None
        if self.protocol == "5" and expires_at is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = max(1, math.ceil(expires_at - time.time()))
        mids: list[int] = []
        for topic, payload in messages:
            info = self.client.publish(topic, payload, qos=1, properties=props)
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                log.warning("MQTT: queue full; an action to %s was not sent", topic)
                self.client.forget(mids)
                self._untrack(mids)
                return False
            with self._lock:  # tracked like publish() does: the ack may already have come
                if self._acked_early.pop(info.mid, None) is None:
                    self._pending.add(info.mid)
            mids.append(info.mid)
        with self._delivered:
            while any(m in self._pending for m in mids):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._delivered.wait(left)
            missing = [m for m in mids if m in self._pending]
        if not missing:
            return True
        dropped = self.client.forget(missing)
        self._untrack(missing)
        log.warning("MQTT: %d of %d action messages not acknowledged by %s in time; %d taken back unsent",
                    len(missing), len(mids), self.broker, dropped)
        return False

    def _untrack(self, mids: Sequence[int]) -> None:
        with self._delivered:
            for m in mids:
                self._pending.discard(m)
            self._delivered.notify_all()

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until every QoS>0 message published so far was acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        with self._delivered:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._delivered.wait(left)
        return True

    @property
    def undelivered(self) -> int:
        """QoS>0 messages not yet acknowledged."""
        with self._lock:
            return len(self._pending)

    # --- paho callbacks (network thread) -------------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        self._answered = True
        if rc.is_failure:
            self.refused += 1
            if self.refused == 1 or self.refused % 10 == 0:
                log.error(
                    "MQTT: broker %s refused the connection: %s (reason code %d)%s; retrying with backoff",
                    self.broker,
                    rc.getName(),
                    rc.value,
                    " (check mqtt.username/password)" if rc.value in (4, 134) else
                    # Not authorized: the credentials, or an ACL or client id prefix that does not take this id
                    f" (check mqtt.username/password, and that the broker takes the client id {self.client_id!r}:"
                    " mqtt.client_id)" if rc.value in (5, 135) else
                    f" (check mqtt.client_id: {self.client_id!r})" if rc.value in (2, 133) else "",
                )
            return
        no_delay(client)
        first = self.connects == 0
        self.refused = self.unreachable = 0
        self.connects += 1
        self.last_connected_at = time.monotonic()
        log.info("MQTT: %s to %s", "connected" if first else "reconnected", self.broker)
        for topic in self._handlers:
            client.subscribe(topic, qos=1)
        try:
            if self._on_connected is not None:
                self._on_connected()
        except Exception:  # never let a hook kill paho's thread
            log.exception("MQTT: on-connect hook failed")
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        self._connected.set()

    def _on_connect_fail(self, client: paho.Client, userdata: object) -> None:
        self.unreachable += 1
        if self.unreachable != 1 and self.unreachable % 10 != 0:
            return
        err = self.client.last_error
        if isinstance(err, ssl.SSLError):  # a configuration problem, not a broker that is down
            log.error("MQTT: TLS with broker %s failed: %s; check mqtt.tls (ca_file, certfile) and mqtt.host "
                      "(must match the certificate); retrying with backoff (attempt %d)", self.broker, err,
                      self.unreachable)
        else:
            log.warning("MQTT: cannot reach broker %s: %s; retrying with backoff (attempt %d)", self.broker,
                        err or "connection failed", self.unreachable)

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        was_connected = self._connected.is_set()
        answered, self._answered = self._answered, False
        self._connected.clear()
        if was_connected and not self._stopping:
            log.warning("MQTT: lost connection to %s (%s); reconnecting", self.broker, rc.getName())
        elif not answered and not self._stopping:
            # The broker took the connection and closed it without a word: typically a TLS listener spoken to in
            # plain text (or the other way round); said once, then every 10th time.
            self.closed_early += 1
            if self.closed_early == 1 or self.closed_early % 10 == 0:
                hint = ("does it expect TLS? set mqtt.tls.enabled: true" if not self.settings.tls.enabled else
                        "does it expect plain MQTT on this port? check mqtt.port and mqtt.tls")
                if not SAFE_CLIENT_ID.fullmatch(self.client_id):  # brokers drop ids they do not take, unanswered
                    hint = f"it may refuse the client id {self.client_id!r} (mqtt.client_id); or {hint}"
                log.error("MQTT: broker %s closed the connection before answering (%s); %s; retrying (attempt %d)",
                          self.broker, rc.getName(), hint, self.closed_early)

    def _on_publish(self, client: paho.Client, userdata: object, mid: int, rc: ReasonCode, props: object) -> None:
        # Runs under paho's outgoing-message lock: publish() must never hold self._lock while calling paho.
        now = time.monotonic()
        with self._delivered:
            if mid in self._pending:
                self._pending.discard(mid)
                self._delivered.notify_all()
            else:
                self._acked_early[mid] = now
                if len(self._acked_early) > 256:
                    self._acked_early = {m: t for m, t in self._acked_early.items() if now - t < 10.0}

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        handler = self._handlers.get(msg.topic)
        if handler is None:
            return
        if len(msg.payload) > MAX_PAYLOAD:
            log.warning("MQTT: %s: a %d-byte message is over the %d-byte limit; ignored", msg.topic,
                        len(msg.payload), MAX_PAYLOAD)
            return
        if not self._rate.allow(msg.topic):
            return
        try:
            handler(msg.topic, msg.payload)
        except Exception:  # a bad command must not kill paho's network thread
            log.exception("MQTT: handler for %s failed", msg.topic)
