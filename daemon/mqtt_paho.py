"""What the link needs of paho beyond its public API: a jittered reconnect wait, remembering why a connection
failed, taking unacknowledged messages back, no Nagle delay; and the checks on what goes into CONNECT."""

from __future__ import annotations

import logging
import random
import re
import socket
import time
from collections.abc import Sequence

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from .settings import ConfigError, MqttSettings

log = logging.getLogger("slm_voice.daemon.mqtt")  # the link's logger, as before the split: one place to tune it


def no_delay(client: paho.Client) -> None:
    """Disable Nagle: an intent, its event and device commands go out back to back, and without this the
    later ones wait for the broker's delayed ACK (~40 ms on Linux)."""
    sock = client.socket()
    try:
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as e:
        log.debug("MQTT: cannot set TCP_NODELAY: %s", e)


SAFE_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,23}")
"""What every broker must take as a client id (MQTT 3.1.1 3.1.3-5); others may be refused."""


def check_client_fields(client_id: str, settings: MqttSettings) -> None:
    """What paho packs into CONNECT: a NUL is closed on without a word, an unencodable or over-long string kills
    paho's network thread. Checked here too (the settings refuse them) so no caller can start a link that is dead."""
    for key, value in (("mqtt.client_id", client_id), ("mqtt.username", settings.username),
                       ("mqtt.password", settings.password)):
        if value is None:
            continue
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise ConfigError(f"{key}: not valid Unicode text") from None
        if size > 65535 or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ConfigError(f"{key}: control characters or more than 65535 bytes cannot be sent to a broker")


def protocol_for(settings: MqttSettings) -> str:
    """The MQTT version to speak: mqtt.protocol, where auto is 5 with an external broker and 3.1.1 with the
    embedded one (amqtt speaks 3.1.1 only)."""
    if settings.protocol != "auto":
        return settings.protocol
    return "3.1.1" if settings.broker == "embedded" else "5"


class PahoClient(paho.Client):
    """paho's client, remembering why the last connection attempt failed (paho's callback is not told), with a
    jittered reconnect wait."""

    last_error: OSError | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as e:  # includes ssl.SSLError: a TLS failure is reported like a refused port
            self.last_error = e
            raise

    def _reconnect_wait(self) -> None:
        # paho's doubling delay (reset on every accepted connection), capped, times a random 0.5-1.
        with self._reconnect_delay_mutex:
            if self._reconnect_delay is None:
                self._reconnect_delay = self._reconnect_min_delay
            else:
                self._reconnect_delay = min(self._reconnect_delay * 2, self._reconnect_max_delay)
            wait = self._reconnect_delay * random.uniform(0.5, 1.0)
        until = time.monotonic() + wait
        while not self._thread_terminate and (left := until - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    def forget(self, mids: Sequence[int]) -> int:
        """Take unacknowledged messages out of paho's queue so they are never (re)sent; returns how many."""
        # paho has no public call for one message (drop_out_messages() drops all): its queue is
        # _out_messages, guarded by _out_message_mutex (paho 2.x, pinned <3 in pyproject).
        with self._out_message_mutex:
            return sum(self._out_messages.pop(mid, None) is not None for mid in mids)
