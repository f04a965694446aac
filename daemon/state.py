"""What must survive a restart, in the state directory (settings.state_dir()): the controls Home Assistant set
(mute, wake threshold, wake word), running timers, and actions not yet delivered (the outbox).

Small JSON files, each written whole to a temporary file and renamed over the old one, so a crash leaves the old
version or the new one, never half of either. A file that cannot be read is logged and treated as empty: a
satellite must start even when its state is lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline.atomic import atomic_write

log = logging.getLogger(__name__)

MAX_OUTBOX = 50
"""Undelivered actions kept at most (the oldest are dropped first)."""


class JsonFile:
    """One JSON document on disk, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, default: Any) -> Any:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as e:
            log.warning("state: cannot read %s (%s); starting without it", self.path, e)
            return default

    def write(self, value: Any) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0640 as under the unit's UMask=0027: the outbox holds the home's commands, not for every user to read.
            with atomic_write(self.path, "w", encoding="utf-8", perm=0o640, fsync=True) as f:
                json.dump(value, f, ensure_ascii=False)
        except OSError as e:
            log.error("state: cannot write %s: %s", self.path, e)


class SavedControls:
    """Mute, wake threshold and wake word as last set (from Home Assistant or MQTT), restored at start."""

    def __init__(self, directory: Path) -> None:
        self._file = JsonFile(directory / "controls.json")
        self._lock = threading.Lock()
        raw = self._file.read({})
        self.values: dict[str, Any] = raw if isinstance(raw, dict) else {}

    @property
    def muted(self) -> bool | None:
        v = self.values.get("muted")
        return v if isinstance(v, bool) else None

    @property
    def wake_threshold(self) -> float | None:
        v = self.values.get("wake_threshold")
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 else None

    @property
    def wake_word(self) -> str | None:
        v = self.values.get("wake_word")
        return v if isinstance(v, str) else None

    def set(self, key: str, value: Any) -> None:
        """Remember one control (called on paho's thread)."""
        with self._lock:
            if self.values.get(key) == value:
                return
            self.values[key] = value
            self._file.write(dict(self.values))


class SavedTimers:
    """The running timers (pipeline.timers.Timers.snapshot())."""

    def __init__(self, directory: Path) -> None:
        self._file = JsonFile(directory / "timers.json")

    def load(self) -> list[dict[str, Any]]:
        raw = self._file.read([])
        return [t for t in raw if isinstance(t, dict)] if isinstance(raw, list) else []

    def save(self, snapshot: list[dict[str, Any]]) -> None:
        self._file.write(snapshot)


@dataclass(frozen=True)
class PendingAction:
    """Messages of one action not yet acknowledged by the broker."""

    id: str
    messages: tuple[tuple[str, str], ...]
    """(topic, payload) in the order they go out."""
    expires_at: float
    """time.time() after which the action must not be delivered any more."""
    turn_id: str = ""


class Outbox:
    """Actions handed to the broker but not yet acknowledged, on disk until they are (or until they expire).

    Written before an action is published and cleared once the broker acknowledged it or the user was told it
    could not be sent; what is left after a stop is delivered at the next start if it has not expired by then.
    """

    def __init__(self, directory: Path) -> None:
        self._file = JsonFile(directory / "outbox.json")
        self._lock = threading.Lock()
        self._items: dict[str, PendingAction] = {}
        saved = self._file.read([])
        for raw in saved if isinstance(saved, list) else []:
            try:
                item = PendingAction(str(raw["id"]), tuple((str(t), str(p)) for t, p in raw["messages"]),
                                     float(raw["expires_at"]), str(raw.get("turn_id", "")))
            except (KeyError, TypeError, ValueError):
                log.warning("outbox: ignoring an unreadable entry")
                continue
            self._items[item.id] = item

    def add(self, messages: Sequence[tuple[str, str]], expires_at: float, turn_id: str = "") -> PendingAction:
        item = PendingAction(uuid.uuid4().hex[:12], tuple(messages), expires_at, turn_id)
        with self._lock:
            self._items[item.id] = item
            while len(self._items) > MAX_OUTBOX:
                dropped = self._items.pop(next(iter(self._items)))
                log.warning("outbox: more than %d undelivered actions; dropped the oldest (turn %s)", MAX_OUTBOX,
                            dropped.turn_id)
            self._save()
        return item

    def remove(self, item: PendingAction) -> None:
        with self._lock:
            if self._items.pop(item.id, None) is not None:
                self._save()

    def take(self) -> tuple[list[PendingAction], list[PendingAction]]:
        """Empty the outbox: (still deliverable, expired), each in the order they were added."""
        now = time.time()
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
            self._save()
        return [i for i in items if i.expires_at > now], [i for i in items if i.expires_at <= now]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _save(self) -> None:
        self._file.write([{"id": i.id, "messages": [list(m) for m in i.messages], "expires_at": i.expires_at,
                           "turn_id": i.turn_id} for i in self._items.values()])
