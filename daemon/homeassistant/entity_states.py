"""The home's live state, as Home Assistant reports it: all states at connect (get_states), then every
state_changed event. State questions ("is the front door locked") are answered from here, without a round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .link import HomeAssistantLink

log = logging.getLogger(__name__)

MAX_ENTITIES = 20_000
"""States kept at most (a very large home has a few thousand)."""

UNAVAILABLE = frozenset({"unavailable", "unknown"})


class StateCache:
    """entity_id -> {"state", "attributes"} for every entity Home Assistant has."""

    def __init__(self) -> None:
        self._states: dict[str, dict[str, Any]] = {}
        self.ready = False
        """True once a full get_states has been read since the last connect."""

    async def attach(self, link: HomeAssistantLink) -> None:
        """Follow state_changed now and after reconnects, and read everything after each connect."""
        self._link = link
        await link.subscribe({"type": "subscribe_events", "event_type": "state_changed"}, self._on_event)
        link.on_connected(self.refresh)

    async def refresh(self) -> None:
        """Read every state again (after a (re)connect: changes while disconnected were missed)."""
        self.ready = False
        states = await self._link.call({"type": "get_states"}, timeout=30.0)
        fresh: dict[str, dict[str, Any]] = {}
        for s in states[:MAX_ENTITIES] if isinstance(states, list) else []:
            if isinstance(s, dict) and isinstance(s.get("entity_id"), str):
                fresh[s["entity_id"]] = _slim(s)
        self._states = fresh
        self.ready = True
        log.info("Home Assistant: %d states read", len(fresh))

    def _on_event(self, event: Mapping[str, Any]) -> None:
        data = event.get("data") or {}
        entity_id = data.get("entity_id")
        if not isinstance(entity_id, str):
            return
        new = data.get("new_state")
        if new is None:
            self._states.pop(entity_id, None)  # the entity was removed
        elif entity_id in self._states or len(self._states) < MAX_ENTITIES:
            self._states[entity_id] = _slim(new)

    # ---- reading --------------------------------------------------------------------------------------------

    def ids(self, domain: str) -> list[str]:
        """Every entity id of a domain Home Assistant has, sorted ("weather.home", ...)."""
        return sorted(e for e in list(self._states) if e.startswith(f"{domain}."))

    def has(self, entity_id: str) -> bool:
        return entity_id in self._states

    def state(self, entity_id: str) -> str | None:
        """The state ("on", "locked", "21.5"), or None when Home Assistant has no such entity or it is
        unavailable/unknown."""
        s = self._states.get(entity_id)
        value = s.get("state") if s else None
        return None if value is None or value in UNAVAILABLE else str(value)

    def raw_state(self, entity_id: str) -> str | None:
        s = self._states.get(entity_id)
        return None if s is None else str(s.get("state"))

    def attributes(self, entity_id: str) -> Mapping[str, Any]:
        s = self._states.get(entity_id)
        return s.get("attributes") or {} if s else {}

    def temperature(self, entity_id: str) -> str | None:
        """A temperature reading: a climate entity's current_temperature, a sensor's state."""
        if entity_id.startswith("climate."):
            value = self.attributes(entity_id).get("current_temperature")
            return None if value is None else str(value)
        return self.state(entity_id)

    def volume(self, entity_id: str) -> float | None:
        value = self.attributes(entity_id).get("volume_level")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def __len__(self) -> int:
        return len(self._states)


def _slim(state: Mapping[str, Any]) -> dict[str, Any]:
    return {"state": state.get("state"), "attributes": state.get("attributes") or {}}
