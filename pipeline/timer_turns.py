"""Turns without audio, the turn machine's part: a timer that ends rings or carries its command out
(command_turn: understand -> act -> reply from text), and timers that ended while it was not running are told."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .assistant_options import AssistantOptions
from .compute import ModelThread
from .events import Event, IntentRecognized, StageName, Timing, TurnFinished, TurnState, ms
from .intent.model import Understanding
from .roles import Understander
from .speaking import Voice
from .timers import Timer


class TimerTurns:
    """Mixed into assistant.Assistant, which sets the attributes below (what this part uses of the machine)."""

    options: AssistantOptions
    intents: Understander
    models: ModelThread
    voice: Voice
    _idle: asyncio.Event
    _spawn: Callable[[Any], asyncio.Task[Any]]
    _speak: Callable[[str, Iterable[str]], Awaitable[tuple[float | None, list[str]]]]
    _act: Callable[[IntentRecognized, dict[str, float]], Awaitable[Understanding]]
    _reply: Callable[[str, str, Understanding], Awaitable[tuple[float | None, Understanding]]]
    _emit: Callable[[Event], None]
    _set_state: Callable[[TurnState], None]
    _back_to_idle: Callable[[], None]
    say: Callable[[str], bool]
    wait_idle_turn: Callable[[], Awaitable[None]]

    def _timer_done(self, timer: Timer) -> None:
        self._spawn(self._timer_turn(timer))

    def _timer_missed(self, timer: Timer) -> None:
        what = f"to {timer.command}" if timer.command else timer.describe()
        self.say(f"While I was not running, your timer {what} ended. I didn't do anything." if timer.command
                 else f"While I was not running, your {what} ended.")

    async def _timer_turn(self, timer: Timer) -> None:
        """A timer ended: carry its command out as if it were said now, or ring."""
        if timer.command:
            await self.command_turn(timer.command)
            return
        await self.wait_idle_turn()
        self._idle.clear()
        self._set_state(TurnState.SPEAKING)  # the ring can be stopped as a reply can
        epoch = self.voice.epoch
        try:
            if self.options.earcon is not None:
                for _ in range(3):
                    await self.voice.play(self.options.earcon, epoch=epoch)
            if self.voice.epoch == epoch:
                await self._speak("", [f"Your {timer.describe()} is done."])
        finally:
            self._back_to_idle()

    async def command_turn(self, text: str) -> Understanding:
        """A turn from text instead of speech (a delayed command): understand -> act -> reply, with its events."""
        await self.wait_idle_turn()
        turn_id = uuid.uuid4().hex[:12]
        self._idle.clear()
        self._set_state(TurnState.THINKING)
        try:
            understanding, intent_s = await self.models.timed(turn_id, StageName.INTENT, "understand",
                                                              self.intents.understand, text)
            timings = {Timing.INTENT: ms(intent_s)}
            recognized = IntentRecognized(turn_id, text=text, understanding=understanding, timings_ms=dict(timings))
            self._emit(recognized)
            understanding = await self._act(recognized, timings)
            _, understanding = await self._reply(turn_id, text, understanding)
            self._emit(TurnFinished(turn_id, wake_word=None, transcript=text, understanding=understanding,
                                    speech_end_s=None, timings_ms=timings))
            return understanding
        finally:
            self._back_to_idle()

