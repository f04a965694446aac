"""Speaking without being asked, the turn machine's part: say and announce (MQTT, after any turn in progress, with
the chime for an announcement) and ask, whose answer is a turn without the wake word (asking.py reads it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .asking import Answer, AnswerStatus, Question, match
from .assistant_options import AssistantOptions
from .earcon import earcon as make_chime
from .events import TurnState
from .speaking import SayQueue, Voice
from .turn import Turn

log = logging.getLogger(__name__)


class Announcing:
    """Mixed into assistant.Assistant, which sets the attributes below (what this part uses of the machine)."""

    options: AssistantOptions
    muted: bool
    voice: Voice
    _turn: Turn | None
    _says: SayQueue
    _idle: asyncio.Event
    _spawn: Callable[[Any], asyncio.Task[Any]]
    _speak: Callable[[str, Iterable[str]], Awaitable[tuple[float | None, list[str]]]]
    _set_state: Callable[[TurnState], None]
    _back_to_idle: Callable[[], None]
    _start_listening: Callable[..., None]
    wait_idle_turn: Callable[[], Awaitable[None]]

    def say(self, text: str) -> bool:
        """Speak a text (from MQTT say/set), after any turn in progress; False (and a warning) when
        speaking.MAX_QUEUED_SAYS texts already wait: a flood of them must not keep the assistant talking for minutes."""
        if not self._says.admit():
            return False
        self._spawn(self._say(text))
        return True

    def announce(self, text: str, *, chime: bool = True) -> bool:
        """say() with the chime first (MQTT announce/set, as Home Assistant's assist_satellite.announce)."""
        if not self._says.admit():
            return False
        self._spawn(self._say(text, chime=chime))
        return True

    def ask(self, question: Question, on_answer: Callable[[Answer], None]) -> bool:
        """Speak a question after any turn in progress, listen for the answer without the wake word and tell
        on_answer (on the event loop) what it was (asking.match), or that nothing was heard; queued with say()'s
        texts (False, and on_answer told BUSY, when too many wait)."""
        if not self._says.admit():
            on_answer(Answer(question, AnswerStatus.BUSY))
            return False
        self._spawn(self._ask(question, on_answer))
        return True

    async def _say(self, text: str, *, chime: bool = False) -> None:
        try:
            await self.wait_idle_turn()
        finally:
            self._says.leave()
        self._idle.clear()
        if chime:
            await self._chime()
        await self._speak("", [text])
        self._back_to_idle()

    async def _chime(self) -> None:
        """The chime before an announcement or a question (the earcon, also when the wake word goes without)."""
        self._set_state(TurnState.SPEAKING)
        await self.voice.play(self.options.earcon or make_chime())

    async def _ask(self, question: Question, on_answer: Callable[[Answer], None]) -> None:
        try:
            await self.wait_idle_turn()
        finally:
            self._says.leave()
        self._idle.clear()
        try:
            if question.preannounce:
                await self._chime()
            await self._speak("", [question.text])
        except Exception:
            log.exception("ask: the question could not be spoken")
            on_answer(Answer(question, AnswerStatus.FAILED))
            self._back_to_idle()
            return
        if self.muted:  # the microphone is off: nobody is listened to
            on_answer(Answer(question, AnswerStatus.MUTED))
            self._back_to_idle()
            return
        self._start_listening(None, timeout_s=question.timeout_s)
        if self._turn is not None:
            self._turn.asked = (question, on_answer)

    def _answer(self, turn: Turn, text: str | None) -> None:
        """Tell an asked turn's caller its answer (text: what was heard; None: the turn failed), once."""
        if turn.asked is None:
            return
        (question, on_answer), turn.asked = turn.asked, None
        if text is None:
            answer = Answer(question, AnswerStatus.FAILED)
        else:
            status, answer_id = match(text, question.choices)
            answer = Answer(question, status, answer_id, text.strip())
        try:
            on_answer(answer)
        except Exception:
            log.exception("ask: the answer could not be told")
