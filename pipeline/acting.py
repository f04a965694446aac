"""Acting on a command before the reply says it happened: timers on the satellite itself, home actions through the
executor (Home Assistant, MQTT) within a deadline. The reply then says what really happened."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from .events import ActionDone, Event, IntentRecognized, Timing, ms
from .intent.intents import HOME_INTENTS
from .intent.model import Understanding
from .roles import ActionOutcome, Executor
from .timers import TIMER_INTENTS, Timers

log = logging.getLogger(__name__)

NOT_DONE = "Sorry, I couldn't do that: nothing answered in time."
"""Said when an action's executor does not answer within the deadline."""


class Acting:
    """Carries actions out and reports each as ActionDone."""

    def __init__(self, timers: Timers, executor: Executor | None, emit: Callable[[Event], None], *,
                 timeout_s: float) -> None:
        """executor: None when nothing carries home actions out (`process`, the bench): the tier's reply is spoken
        as is. timeout_s: longest wait for the executor's answer."""
        self.timers = timers
        self.executor = executor
        self._emit = emit
        self.timeout_s = timeout_s

    async def act(self, recognized: IntentRecognized, timings: dict[str, float]) -> Understanding:
        """The understanding with the reply that fits what happened (the executor's, when it gave one)."""
        u: Understanding = recognized.understanding
        if u.intent is not None and u.intent.name in TIMER_INTENTS:
            outcome = self.timers.handle(u.intent)
            self._emit(ActionDone(recognized.turn_id, outcome=outcome, seconds=0.0))
            return replace(u, reply=outcome.reply) if outcome.reply is not None else u
        if u.intent is None or u.intent.name not in HOME_INTENTS or self.executor is None:
            return u
        t0 = time.monotonic()
        try:
            outcome = await asyncio.wait_for(self.executor.execute(recognized), self.timeout_s)
        except TimeoutError:
            log.error("turn %s: the executor did not answer within %.0f s", recognized.turn_id, self.timeout_s)
            outcome = ActionOutcome(done=False, reply=NOT_DONE)
        seconds = time.monotonic() - t0
        timings[Timing.ACTION] = ms(seconds)
        self._emit(ActionDone(recognized.turn_id, outcome=outcome, seconds=seconds))
        return replace(u, reply=outcome.reply) if outcome.reply is not None else u
