"""Limits on the commands that come in over MQTT: any client may publish them, none may flood the assistant."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("slm_voice.daemon.mqtt")  # the link's logger, as before the split: one place to tune it

MAX_PAYLOAD = 16 * 1024
"""Longest command message accepted (a say/set text is at most 2,000 characters); longer ones are ignored."""
COMMANDS_PER_S = 5.0
"""Commands per second accepted on one topic (bursts of COMMAND_BURST); more are dropped with a warning."""
COMMAND_BURST = 10


class RateLimit:
    """A token bucket per topic: any MQTT client may publish commands, none may flood the assistant."""

    def __init__(self, per_s: float = COMMANDS_PER_S, burst: int = COMMAND_BURST) -> None:
        self.per_s, self.burst = per_s, burst
        self._tokens: dict[str, tuple[float, float]] = {}
        self._warned: dict[str, float] = {}

    def allow(self, topic: str) -> bool:
        now = time.monotonic()
        tokens, last = self._tokens.get(topic, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_s)
        if tokens < 1.0:
            self._tokens[topic] = (tokens, now)
            if now - self._warned.get(topic, -60.0) > 10.0:  # said once per 10 s, not per message
                self._warned[topic] = now
                log.warning("MQTT: %s: more than %g commands a second; dropping the excess", topic, self.per_s)
            return False
        self._tokens[topic] = (tokens - 1.0, now)
        return True
