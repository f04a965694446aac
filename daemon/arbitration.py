"""Many rooms, one answer: satellites on one broker that hear the same wake word agree which one handles the
command (the pipeline's roles.Arbiter, over MQTT).

At its wake word each satellite publishes a claim (QoS 0, not retained) on one shared topic (arbitration.topic):
its device id and its evidence's score (wake word probability times the speech's amplitude over the noise). It
takes into account every other satellite's claim that arrives within `window` after its own wake word or up to
LOOK_BACK windows before it (by local arrival time: no clocks need to agree; the longer look back lets a satellite
that heard the wake word late, a busy one, still yield to an earlier, better claim). As soon as a better claim is
seen it has lost (the turn ends without a sound); when the window passes without one it has won. Equal scores (to four
significant digits) go to the smaller device id, so every satellite reaches the same verdict.

Nothing waits on the network: with the broker unreachable the satellite answers alone at once, and a claim that
goes nowhere costs at most the window, which runs while the command is still being said.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..pipeline.roles import WakeEvidence

log = logging.getLogger(__name__)

LOOK_BACK = 2.0
"""Claims that arrived up to this many windows before a satellite's own wake word count."""
KEEP_S = 10.0
"""Others' claims are remembered this long (only those within the window of a wake word count)."""


class ClaimLink(Protocol):
    """What the arbiter needs of the MQTT connection (daemon.mqtt.MqttLink)."""

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> int | None: ...

    def subscribe(self, topic: str, handler: Callable[[str, bytes], None]) -> None: ...


@dataclass(frozen=True)
class Claim:
    """One satellite's word that it heard a wake word, and how well."""

    device: str
    turn: str
    score: float

    def beats(self, other: Claim) -> bool:
        """Heard better; on equal scores the smaller device id wins (the same verdict everywhere)."""
        return (self.score, other.device) > (other.score, self.device)

    def describe(self) -> str:
        return f"{self.device} ({self.score:g})"


def rounded(score: float) -> float:
    """Four significant digits: the score as published, so both sides compare the same numbers."""
    return float(f"{score:.4g}") if math.isfinite(score) and score > 0 else 0.0


@dataclass
class _Pending:
    claim: Claim
    at: float
    """time.monotonic() of the wake word."""
    verdict: asyncio.Future[bool]
    timer: asyncio.TimerHandle | None = None


class MqttArbiter:
    """roles.Arbiter over MQTT. claim() runs on the event loop; claims from the broker arrive on paho's thread and
    hop over with their arrival time."""

    def __init__(self, link: ClaimLink, device_id: str, topic: str, window_s: float,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.link = link
        self.device_id = device_id
        self.topic = topic
        self.window_s = window_s
        self.loop = loop
        self._others: deque[tuple[float, Claim]] = deque()
        self._pending: dict[str, _Pending] = {}

    def start(self) -> None:
        """Listen to the other satellites' claims (the subscription is renewed on every reconnect)."""
        self.link.subscribe(self.topic, self._on_message)

    # ---- roles.Arbiter (event loop) ---------------------------------------------------------------------------

    def claim(self, turn_id: str, evidence: WakeEvidence) -> asyncio.Future[bool]:
        verdict: asyncio.Future[bool] = self.loop.create_future()
        now = time.monotonic()
        mine = Claim(self.device_id, turn_id, rounded(evidence.score))
        if not self.link.connected:
            log.info("arbitration: turn %s: broker not connected; answering alone", turn_id)
            verdict.set_result(True)
            return verdict
        payload = json.dumps({"device": mine.device, "turn": turn_id, "score": mine.score,
                              "wake_word": evidence.wake_word, "probability": round(evidence.probability, 3),
                              "speech_db": round(evidence.speech_db, 1), "noise_db": round(evidence.noise_db, 1)})
        try:
            self.link.publish(self.topic, payload, qos=0)
        except Exception:  # nothing was said to the others: answer alone rather than not at all
            log.exception("arbitration: turn %s: claim not published; answering alone", turn_id)
            verdict.set_result(True)
            return verdict
        pending = _Pending(mine, now, verdict)
        self._forget(now)
        better = [c for t, c in self._others if t >= now - LOOK_BACK * self.window_s and c.beats(mine)]
        if better:
            self._settle(pending, False, better[0])
            return verdict
        self._pending[turn_id] = pending
        pending.timer = self.loop.call_later(self.window_s, self._settle, pending, True, None)
        log.debug("arbitration: turn %s: claimed with %s", turn_id, mine.describe())
        return verdict

    # ---- claims from the others ---------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        """paho's thread: parse, note the arrival time, hop onto the event loop."""
        arrived = time.monotonic()
        try:
            msg = json.loads(payload)
            other = Claim(str(msg["device"]), str(msg["turn"]), rounded(float(msg["score"])))
        except (ValueError, KeyError, TypeError):
            log.warning("arbitration: %s: not a claim (%r); ignored", topic, payload[:80])
            return
        if other.device == self.device_id:
            return  # our own, back from the broker
        self.loop.call_soon_threadsafe(self._on_claim, other, arrived)

    def _on_claim(self, other: Claim, arrived: float) -> None:
        self._others.append((arrived, other))
        self._forget(arrived)
        for pending in list(self._pending.values()):
            if pending.at - LOOK_BACK * self.window_s <= arrived <= pending.at + self.window_s \
                    and other.beats(pending.claim):
                self._settle(pending, False, other)

    # ---- plumbing ------------------------------------------------------------------------------------------

    def _settle(self, pending: _Pending, mine: bool, winner: Claim | None) -> None:
        self._pending.pop(pending.claim.turn, None)
        if pending.timer is not None:
            pending.timer.cancel()
        if pending.verdict.done():
            return
        took_ms = (time.monotonic() - pending.at) * 1000
        if mine:
            log.info("arbitration: turn %s: mine, %s heard it best (decided in %.0f ms)", pending.claim.turn,
                     pending.claim.describe(), took_ms)
        else:
            assert winner is not None
            log.info("arbitration: turn %s: %s heard it better than %s; staying silent (decided in %.0f ms)",
                     pending.claim.turn, winner.describe(), pending.claim.describe(), took_ms)
        pending.verdict.set_result(mine)

    def _forget(self, now: float) -> None:
        while self._others and self._others[0][0] < now - KEEP_S:
            self._others.popleft()
