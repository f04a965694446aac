"""Many satellites, one answer: the turn machine's part. After a wake word this satellite claims the turn with how
well it heard it (roles.Arbiter); the chime plays once the turn is its own, and a turn another satellite answers
ends silently."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .assistant_options import AssistantOptions
from .events import Timing, TurnState, ms
from .level import LevelMeter
from .roles import AlwaysMine, Arbiter, Endpointing, WakeEvidence
from .speaking import Voice
from .turn import Turn, is_mine

log = logging.getLogger(__name__)


class Arbitrating:
    """Mixed into assistant.Assistant, which sets the attributes below (what this part uses of the machine)."""

    options: AssistantOptions
    state: TurnState
    arbiter: Arbiter
    level: LevelMeter
    endpointer: Endpointing
    voice: Voice
    _turn: Turn | None
    _quiet_turn: Turn | None
    _back_to_idle: Callable[[], None]

    def _claim(self, turn: Turn, wake_word: str, probability: float) -> bool:
        """Claim the turn; False when a better claim was already in (the turn is dropped)."""
        # Other satellites may have heard it too: the command is heard meanwhile, the earcon waits for the
        # verdict (at once for a lone satellite) and the turn's steps wait for it before transcribing.
        evidence = WakeEvidence(wake_word, probability, self.level.speech_db(), self.level.noise_db())
        try:
            turn.mine = self.arbiter.claim(turn.id, evidence)
        except Exception:  # a broken arbiter must not cost the user the command
            log.exception("turn %s: arbitration failed; answering alone", turn.id)
            turn.mine = AlwaysMine().claim(turn.id, evidence)
        if turn.mine.done():
            if not is_mine(turn.mine):  # a better claim was already in
                self._drop(turn)
                return False
            self._on_verdict(turn, turn.mine)
        else:
            turn.mine.add_done_callback(lambda mine: self._on_verdict(turn, mine))
        return True

    async def _verdict(self, turn: Turn, timings: dict[str, float], wait_s: float) -> bool:
        """Before transcribing: wait at most wait_s for the verdict; False when another satellite answers."""
        if turn.mine is None:
            return True
        t0 = time.monotonic()
        if not turn.mine.done():  # a command shorter than the arbitration window
            await asyncio.wait([turn.mine], timeout=wait_s)
        timings[Timing.ARBITRATION] = ms(time.monotonic() - t0)
        if not turn.mine.done():
            log.warning("turn %s: no arbitration verdict within %.0f s; answering", turn.id, wait_s)
        elif not is_mine(turn.mine):
            self._drop(turn)
            return False
        return True

    def _on_verdict(self, turn: Turn, mine: asyncio.Future[bool]) -> None:
        """The arbiter decided: the earcon now, or (another satellite answers) back to idle without a sound."""
        if self._turn is not turn:
            return
        if is_mine(mine):
            quiet = self._quiet_turn is turn
            if self.options.earcon is not None and not quiet and self.state in (TurnState.AWAKE, TurnState.LISTENING):
                self.voice.play_soon(self.options.earcon)
        elif self.state == TurnState.LISTENING:
            self.endpointer.finish("arbitration")  # the command heard so far is dropped
            self._drop(turn)
        # THINKING: _steps() sees the verdict before it transcribes.

    def _drop(self, turn: Turn) -> None:
        log.info("turn %s: another satellite heard the wake word better and answers; back to idle", turn.id)
        if self._turn is turn:
            self._turn = None
        self._back_to_idle()

