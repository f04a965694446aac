"""A Wyoming `transcript` (handle) or `recognize` (intent) request as a turn of the assistant, without audio: the
same intent tiers and the same executor (Home Assistant link or MQTT) as a spoken command, the reply returned
instead of spoken. Events go to the assistant's observers, so the journal and MQTT see the turn like any other."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace

from ..pipeline.acting import Acting
from ..pipeline.assistant import NOT_CONFIRMED, Assistant
from ..pipeline.events import ActionDone, Event, IntentRecognized, Timing, TurnFinished, ms
from ..pipeline.intent.model import Understanding
from ..pipeline.roles import ActionOutcome, Executor
from .wyoming_worker import ModelWorker

log = logging.getLogger(__name__)

CONFIRM_WAIT_S = 15.0
"""How long a "Do you want me to ...?" asked to a client waits for its yes or no (Home Assistant sends the answer
as a new request, a few seconds later)."""


@dataclass(frozen=True)
class TextTurn:
    """What became of one request's text."""

    understanding: Understanding
    handled: bool
    """True when the request was answered as asked: an action done, a question answered, a question asked back."""


class TextTurns:
    """understand -> act -> reply for text from Wyoming clients. Not thread-safe: call on the event loop."""

    def __init__(self, assistant: Assistant, executor: Executor | None, worker: ModelWorker) -> None:
        self.assistant = assistant
        self.executor = executor
        self.worker = worker
        self.acting = Acting(assistant.timers, executor, self._emit, timeout_s=assistant.options.action_timeout_s)
        """The assistant's way of acting (timers on the satellite, home intents through the executor), reporting
        to this server first: a failed action is answered not-handled."""
        self._outcomes: dict[str, ActionOutcome] = {}
        self._awaiting: dict[str, tuple[Understanding, float]] = {}
        """Per client address: the action a question asked it is waiting for, and until when."""

    async def recognize(self, text: str) -> Understanding:
        """The intent tiers' reading only: nothing is carried out."""
        return await self.worker.call(self.assistant.intents.understand, text)

    async def handle(self, text: str, client: str) -> TextTurn:
        """Understand, carry out, reply; the answer to a question asked to the same client first."""
        turn_id = f"wy{uuid.uuid4().hex[:10]}"
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        u = await self._understand(text, client)
        timings[Timing.INTENT] = ms(time.perf_counter() - t0)
        recognized = IntentRecognized(turn_id, text=text, understanding=u, timings_ms=dict(timings))
        self._emit(recognized)
        u, done = await self._act(recognized, timings)
        if u.open_question:
            sentences = [s async for s in self.worker.stream(lambda: self.assistant.intents.stream_reply(text))]
            u = replace(u, reply=" ".join(s.strip() for s in sentences if s.strip()))
        if u.confirm is not None:
            now = time.monotonic()
            self._awaiting = {c: a for c, a in self._awaiting.items() if a[1] > now}  # clients that never answered
            self._awaiting[client] = (u.confirm, now + CONFIRM_WAIT_S)
        self._emit(TurnFinished(turn_id, wake_word=None, transcript=text, understanding=u, speech_end_s=None,
                                timings_ms=timings))
        return TextTurn(u, handled=done and u.tier != "none")

    async def _understand(self, text: str, client: str) -> Understanding:
        awaiting, until = self._awaiting.pop(client, (None, 0.0))
        if awaiting is not None and time.monotonic() < until:
            answer = await self.worker.call(self.assistant.intents.yes_or_no, text)
            if answer is not None:
                return awaiting if answer else Understanding(None, NOT_CONFIRMED, awaiting.tier)
        return await self.worker.call(self.assistant.intents.understand, text)

    async def _act(self, recognized: IntentRecognized, timings: dict[str, float]) -> tuple[Understanding, bool]:
        """As for a spoken command (pipeline/acting.py); returns the reply that fits what happened and whether it
        was done."""
        u = await self.acting.act(recognized, timings)
        outcome = self._outcomes.pop(recognized.turn_id, None)
        return u, outcome is None or outcome.done

    def _emit(self, event: Event) -> None:
        if isinstance(event, ActionDone):
            self._outcomes[event.turn_id] = event.outcome
        for observer in self.assistant.observers:
            try:
                observer(event)
            except Exception:  # an observer's bug must not fail the client's request
                log.exception("observer %r failed on %s", observer, type(event).__name__)
