"""Timers the satellite keeps, as Home Assistant's voice satellites do: they ring when they end, or carry out the
command they were given ("turn off the lights in 1 hour"), and can be cancelled by name or by length.

Pure asyncio: the assistant owns one `Timers` and passes what ends to its `on_done`. End times are wall-clock
(time.time()), so the daemon can write `snapshot()` to disk and `restore()` it after a restart; a timer that ended
while nothing was running is not carried out late, it is handed to `on_missed` instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .intent.model import Intent
from .roles import ActionOutcome

log = logging.getLogger(__name__)

TIMER_INTENTS = frozenset({"HassStartTimer", "HassCancelTimer", "HassCancelAllTimers"})
"""The intents Timers.handle() carries out."""

MAX_TIMERS = 20
"""More running timers than this are refused (each one is a pending callback and, with a command, an action)."""
MAX_SECONDS = 24 * 3600.0
"""The longest timer."""


@dataclass(frozen=True)
class Timer:
    """One running timer."""

    id: str
    seconds: float
    """Its whole length."""
    ends_at: float
    """time.time() when it ends."""
    name: str | None = None
    """What the user called it ("pasta"), if anything."""
    command: str | None = None
    """The spoken command to carry out when it ends ("turn off the lights"); None: it just rings."""

    @property
    def left_s(self) -> float:
        return max(0.0, self.ends_at - time.time())

    def describe(self) -> str:
        """"5 minute timer", "pasta timer"."""
        return f"{self.name} timer" if self.name else f"{duration_words(self.seconds, adjective=True)} timer"


def duration_words(seconds: float, *, adjective: bool = False) -> str:
    """90 -> "1 minute and 30 seconds" ("1 minute 30 second" as an adjective: "a 5 minute timer")."""
    total = round(seconds)
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n} {unit}{'' if n == 1 or adjective else 's'}")
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def slot_seconds(slots: Mapping[str, Any], prefix: str = "") -> float | None:
    """The duration in hours/minutes/seconds slots (start_minutes, ... with prefix "start_"); None when none."""
    total, found = 0.0, False
    for unit, size in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        value = slots.get(prefix + unit)
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number != number or number < 0:  # NaN, negative
            continue
        total += number * size
        found = True
    return total if found else None


class Timers:
    """The satellite's running timers. Call every method on the event loop."""

    def __init__(
        self,
        on_done: Callable[[Timer], None],
        *,
        on_missed: Callable[[Timer], None] | None = None,
        on_change: Callable[[list[dict[str, Any]]], None] | None = None,
        late_grace_s: float = 60.0,
    ) -> None:
        """on_done(timer): it ended (ring, or carry out its command). on_missed(timer): restore() found it ended too
        long ago to act now. on_change(snapshot): the set of timers changed (to persist it). late_grace_s: how late
        a restored timer may still ring or act."""
        self.on_done = on_done
        self.on_missed = on_missed
        self.on_change = on_change
        self.late_grace_s = late_grace_s
        self._timers: dict[str, Timer] = {}
        self._handles: dict[str, asyncio.TimerHandle] = {}

    @property
    def running(self) -> list[Timer]:
        """Running timers, the one ending first first."""
        return sorted(self._timers.values(), key=lambda t: t.ends_at)

    # ---- intents --------------------------------------------------------------------------------------------

    def handle(self, intent: Intent) -> ActionOutcome:
        """Carry out HassStartTimer, HassCancelTimer or HassCancelAllTimers; the outcome's reply says what happened."""
        if intent.name == "HassStartTimer":
            return self._start_from(intent.slots)
        if intent.name == "HassCancelTimer":
            return self._cancel_from(intent.slots)
        if intent.name == "HassCancelAllTimers":
            n = len(self.cancel_all())
            reply = "There is no timer running." if n == 0 else (
                "Timer cancelled." if n == 1 else f"All {n} timers cancelled.")
            return ActionOutcome(done=n > 0, reply=reply, by="satellite")
        raise ValueError(f"{intent.name} is not a timer intent")

    def _start_from(self, slots: Mapping[str, Any]) -> ActionOutcome:
        seconds = slot_seconds(slots)
        if seconds is None or seconds <= 0:
            return ActionOutcome(done=False, reply="For how long?", by="satellite")
        if seconds > MAX_SECONDS:
            return ActionOutcome(done=False, reply="Sorry, a timer can run for 24 hours at most.", by="satellite")
        if len(self._timers) >= MAX_TIMERS:
            return ActionOutcome(done=False, reply=f"Sorry, {MAX_TIMERS} timers are already running.",
                                 by="satellite")
        name = str(slots["name"]).strip() if slots.get("name") else None
        command = str(slots["conversation_command"]).strip() if slots.get("conversation_command") else None
        timer = self.start(seconds, name=name, command=command)
        length = duration_words(timer.seconds)
        if command:
            reply = f"Okay, I'll {command} in {length}."
        elif name:
            reply = f"{name[:1].upper()}{name[1:]} timer set for {length}."
        else:
            reply = f"Timer set for {length}."
        return ActionOutcome(done=True, reply=reply, by="satellite")

    def _cancel_from(self, slots: Mapping[str, Any]) -> ActionOutcome:
        running = self.running
        if not running:
            return ActionOutcome(done=False, reply="There is no timer running.", by="satellite")
        name = str(slots["name"]).strip().casefold() if slots.get("name") else None
        length = slot_seconds(slots, "start_")
        chosen = running
        if name:
            chosen = [t for t in chosen if (t.name or "").casefold() == name]
        if length is not None:
            chosen = [t for t in chosen if abs(t.seconds - length) < 1.0]
        if not chosen:
            return ActionOutcome(done=False, reply="I couldn't find that timer.", by="satellite")
        if len(chosen) > 1:
            return ActionOutcome(done=False, reply=f"There are {len(chosen)} timers: which one? Say its name or "
                                                   "its length.", by="satellite")
        self.cancel(chosen[0].id)
        what = "" if len(running) == 1 else f" {chosen[0].describe()}"
        return ActionOutcome(done=True, reply=f"Cancelled the{what} timer." if what else "Timer cancelled.",
                             by="satellite")

    # ---- timers ---------------------------------------------------------------------------------------------

    def start(self, seconds: float, *, name: str | None = None, command: str | None = None) -> Timer:
        """Start a timer (on the running event loop)."""
        timer = Timer(uuid.uuid4().hex[:8], float(seconds), time.time() + float(seconds), name, command)
        self._schedule(timer)
        self._changed()
        log.info("timer %s started: %s%s", timer.id, duration_words(seconds),
                 f", then {command!r}" if command else "")
        return timer

    def cancel(self, timer_id: str) -> Timer | None:
        timer = self._timers.pop(timer_id, None)
        handle = self._handles.pop(timer_id, None)
        if handle is not None:
            handle.cancel()
        if timer is not None:
            log.info("timer %s cancelled", timer_id)
            self._changed()
        return timer

    def cancel_all(self) -> list[Timer]:
        return [t for t in [self.cancel(i) for i in list(self._timers)] if t is not None]

    def snapshot(self) -> list[dict[str, Any]]:
        """The running timers as plain data (for the daemon to write to disk)."""
        return [asdict(t) for t in self.running]

    def restore(self, items: list[dict[str, Any]]) -> None:
        """Start the timers of a snapshot again; those that ended more than late_grace_s ago go to on_missed."""
        now = time.time()
        for item in items[:MAX_TIMERS]:
            try:
                timer = Timer(str(item["id"]), float(item["seconds"]), float(item["ends_at"]), item.get("name"),
                              item.get("command"))
            except (KeyError, TypeError, ValueError):
                log.warning("timers: ignoring an unreadable saved timer %r", item)
                continue
            if timer.id in self._timers:
                continue
            if timer.ends_at < now - self.late_grace_s:
                log.warning("timer %s ended %.0f s ago while the assistant was not running: not carried out",
                            timer.id, now - timer.ends_at)
                if self.on_missed is not None:
                    self.on_missed(timer)
                continue
            self._schedule(timer)
        self._changed()

    def close(self) -> None:
        """Stop every callback (the timers stay in the snapshot already written)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _schedule(self, timer: Timer) -> None:
        loop = asyncio.get_running_loop()
        self._timers[timer.id] = timer
        self._handles[timer.id] = loop.call_later(timer.left_s, self._fire, timer.id)

    def _fire(self, timer_id: str) -> None:
        timer = self._timers.pop(timer_id, None)
        self._handles.pop(timer_id, None)
        if timer is None:
            return
        log.info("timer %s ended", timer_id)
        self._changed()
        try:
            self.on_done(timer)
        except Exception:
            log.exception("timer %s: on_done failed", timer_id)

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change(self.snapshot())
            except Exception:
                log.exception("timers: on_change failed")
