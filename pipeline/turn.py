"""One turn's bookkeeping while the turn machine (assistant.py) runs it, and the arbiter's verdict read safely."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .asking import Answer, Question
from .hearing import Heard
from .intent.model import Understanding

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """A turn from the wake word (or listening without one) to its reply."""

    id: str
    wake_word: str | None
    started: float = field(default_factory=time.monotonic)
    spec_task: asyncio.Task[Heard | None] | None = None
    spec_end_s: float | None = None
    """Audio position of speech end the speculative transcript covers; None once speech resumed."""
    awaiting: Understanding | None = None
    """An action waiting for the yes or no of this turn (asked "Did you mean ...?" in the turn before)."""
    mine: asyncio.Future[bool] | None = None
    """After a wake word: whether this satellite answers (roles.Arbiter); None: it does (no wake word)."""
    asked: tuple[Question, Callable[[Answer], None]] | None = None
    """The question (ask()) whose answer this turn hears, and who is told it; None: a command."""


def is_mine(mine: asyncio.Future[bool]) -> bool:
    """The arbiter's verdict; an arbiter that failed leaves the turn to this satellite."""
    if mine.cancelled():
        return True
    if mine.exception() is not None:
        log.warning("arbitration failed; answering alone", exc_info=mine.exception())
        return True
    return bool(mine.result())
