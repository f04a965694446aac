"""The home as Home Assistant knows it: floors, areas and the entities exposed to Assist (names, aliases, areas,
domains, device classes), read from its registries at connect and again whenever they change.

Floors exist from Home Assistant 2024.4 on (2024.3 has a floor registry but no area floors; older ones answer
unknown_command): each is read when there. The hand-written `home:` of config.yaml is laid over the result:
its entities win where both name one (and add devices Home Assistant does not have), its areas and floors are
added, and its satellite_area wins over the area Home Assistant gives this satellite's device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from ...pipeline.intent.model import Entity, Home
from .discovery import SATELLITE_MANUFACTURER, SATELLITE_MODEL
from .link import HaError, HomeAssistantLink

log = logging.getLogger(__name__)

REGISTRY_EVENTS = ("area_registry_updated", "entity_registry_updated", "device_registry_updated",
                   "floor_registry_updated")
"""Events after which the home is read again (floor_registry_updated only exists from 2024.4)."""

DEFAULT_EXPOSED_DOMAINS = frozenset({"climate", "cover", "fan", "humidifier", "light", "lock", "media_player",
                                     "scene", "script", "switch", "todo", "vacuum", "valve", "water_heater"})
"""Home Assistant exposes these to Assist unless told otherwise (homeassistant/exposed_entities.py)."""
DEFAULT_EXPOSED_SENSOR_CLASSES = frozenset({"temperature", "humidity", "co2", "co", "pm25", "pm10", "aqi"})
DEFAULT_EXPOSED_BINARY_SENSOR_CLASSES = frozenset({"door", "garage_door", "lock", "moisture", "opening",
                                                   "presence", "smoke", "window", "occupancy", "motion"})


async def read_home(link: HomeAssistantLink, *, satellite_device: str | None = None, timeout: float = 30.0) -> Home:
    """Home Assistant's home, as its registries and states say now.

    satellite_device: this satellite's MQTT device identifier; its device's area becomes satellite_area.
    """
    async def call(kind: str, **extra: Any) -> Any:
        return await link.call({"type": kind, **extra}, timeout=timeout)

    try:
        floors = await call("config/floor_registry/list")
    except HaError as e:
        if e.code != "unknown_command":
            raise
        floors = []  # Home Assistant before floors
    areas = await call("config/area_registry/list")
    devices = await call("config/device_registry/list")
    entries = await call("config/entity_registry/list")
    exposed = (await call("homeassistant/expose_entity/list")).get("exposed_entities", {})
    states = await call("get_states")
    ids = [s["entity_id"] for s in states if isinstance(s, dict) and isinstance(s.get("entity_id"), str)]
    by_state = {s["entity_id"]: s for s in states if isinstance(s, dict) and "entity_id" in s}
    entry_of = {e["entity_id"]: e for e in entries if isinstance(e, dict) and "entity_id" in e}
    chosen = [i for i in ids if _exposed(i, exposed, entry_of.get(i), by_state[i])]
    details: dict[str, Any] = {}
    registered = [i for i in chosen if i in entry_of]
    if registered:  # aliases and device classes are not in entity_registry/list before 2024.4
        details = await call("config/entity_registry/get_entries", entity_ids=registered) or {}
    return build_home(floors, areas, devices, [entry_of.get(i) for i in chosen], [by_state[i] for i in chosen],
                      details, satellite_device=satellite_device)


def _exposed(entity_id: str, exposed: Mapping[str, Any], entry: Mapping[str, Any] | None,
             state: Mapping[str, Any]) -> bool:
    if entry is not None and (entry.get("disabled_by") or entry.get("hidden_by")):
        return False
    setting = exposed.get(entity_id, {}).get("conversation")
    if isinstance(setting, bool):
        return setting
    domain = entity_id.split(".", 1)[0]
    device_class = (state.get("attributes") or {}).get("device_class")
    return (domain in DEFAULT_EXPOSED_DOMAINS
            or (domain == "sensor" and device_class in DEFAULT_EXPOSED_SENSOR_CLASSES)
            or (domain == "binary_sensor" and device_class in DEFAULT_EXPOSED_BINARY_SENSOR_CLASSES))


def build_home(
    floors: Iterable[Mapping[str, Any]],
    areas: Iterable[Mapping[str, Any]],
    devices: Iterable[Mapping[str, Any]],
    entries: Iterable[Mapping[str, Any] | None],
    states: Iterable[Mapping[str, Any]],
    details: Mapping[str, Any],
    *,
    satellite_device: str | None = None,
) -> Home:
    """A Home from registry lists (entries and states: one per exposed entity, in the same order; an entry is None
    for an entity without a registry entry). Pure.

    The entities of slm-voice satellites (this one's and its neighbours' mute switches, Home Assistant exposes
    switches to Assist) are left out: they are the assistant's own controls, not the house's devices, and their
    names ("slm-voice kitchen Mute") would only be more words for speech-to-text to be pulled towards."""
    floor_name = {f["floor_id"]: f["name"] for f in floors if f.get("floor_id") and f.get("name")}
    area_name = {a["area_id"]: a["name"] for a in areas if a.get("area_id") and a.get("name")}
    devices = list(devices)
    device_area = {d["id"]: d.get("area_id") for d in devices if d.get("id")}
    satellites = {d["id"] for d in devices if d.get("id") and d.get("manufacturer") == SATELLITE_MANUFACTURER
                  and d.get("model") == SATELLITE_MODEL}
    satellite_area = None
    if satellite_device:
        for d in devices:
            if any(list(i) == ["mqtt", satellite_device] for i in d.get("identifiers") or []):
                satellite_area = area_name.get(d.get("area_id"))
    entities = []
    for entry, state in zip(entries, states, strict=True):
        if (entry or {}).get("device_id") in satellites:
            continue
        entity_id = state["entity_id"]
        attributes = state.get("attributes") or {}
        detail = details.get(entity_id) or {}
        name = (entry or {}).get("name") or attributes.get("friendly_name") or (entry or {}).get("original_name")
        name = str(name or entity_id.split(".", 1)[1].replace("_", " "))
        area_id = (entry or {}).get("area_id") or device_area.get((entry or {}).get("device_id"))
        device_class = (detail.get("device_class") or detail.get("original_device_class")
                        or attributes.get("device_class"))
        aliases = tuple(a for a in detail.get("aliases") or () if isinstance(a, str) and a.strip())
        entities.append(Entity(entity_id, name, aliases, area_name.get(area_id),
                               str(device_class) if device_class else None))
    return Home(
        areas=tuple(area_name.values()),
        entities=tuple(entities),
        satellite_area=satellite_area,
        floors=tuple(floor_name.values()),
        area_floors=tuple((area_name[a["area_id"]], floor_name[a["floor_id"]]) for a in areas
                          if a.get("area_id") in area_name and a.get("floor_id") in floor_name),
        area_aliases=tuple((alias, area_name[a["area_id"]]) for a in areas if a.get("area_id") in area_name
                           for alias in a.get("aliases") or () if isinstance(alias, str) and alias.strip()),
    )


def merge(from_ha: Home, written: Home) -> Home:
    """Home Assistant's home with the hand-written one laid over it (the written one wins). An area or floor the
    written home spells differently ("living room" for "Living Room") is taken to be Home Assistant's."""
    area = _spelling(from_ha.areas)
    floor = _spelling(from_ha.floors)
    written_ids = {e.id: replace(e, area=area(e.area)) for e in written.entities}
    entities = [_overlay(e, written_ids.pop(e.id)) if e.id in written_ids else e for e in from_ha.entities]
    entities += list(written_ids.values())
    areas = list(dict.fromkeys([*from_ha.areas, *map(area, written.areas), *(e.area for e in entities if e.area)]))
    floors = list(dict.fromkeys([*from_ha.floors, *map(floor, written.floors)]))
    written_floors = {area(a): floor(f) for a, f in written.area_floors}
    area_floors = [(a, f) for a, f in from_ha.area_floors if a not in written_floors] + list(written_floors.items())
    return Home(
        areas=tuple(a for a in areas if a),
        entities=tuple(entities),
        satellite_area=area(written.satellite_area) or from_ha.satellite_area,
        floors=tuple(f for f in floors if f),
        area_floors=tuple((a, f) for a, f in area_floors if a and f),
        area_aliases=tuple(dict.fromkeys([*from_ha.area_aliases, *((al, area(a)) for al, a in written.area_aliases)])),
    )


def _spelling(names: Iterable[str]) -> Callable[[str | None], Any]:
    """name -> the spelling in names of the same name, ignoring case and spacing (the name itself if none)."""
    known = {" ".join(n.casefold().split()): n for n in names}

    def canonical(name: str | None) -> Any:
        return known.get(" ".join(name.casefold().split()), name) if name else name

    return canonical


def _overlay(base: Entity, written: Entity) -> Entity:
    return replace(base, name=written.name, aliases=written.aliases or base.aliases, area=written.area or base.area,
                   device_class=written.device_class or base.device_class)


class HomeSync:
    """Keeps the assistant's home in step with Home Assistant's registries."""

    def __init__(
        self,
        link: HomeAssistantLink,
        written: Home,
        on_home: Callable[[Home], Awaitable[None]],
        *,
        satellite_device: str | None = None,
        debounce_s: float = 1.0,
    ) -> None:
        """written: the config's home (laid over Home Assistant's). on_home(home): a new home to serve."""
        self.link = link
        self.written = written
        self.on_home = on_home
        self.satellite_device = satellite_device
        self.debounce_s = debounce_s
        self.home: Home | None = None
        """The merged home last handed to on_home."""
        self.reads = 0
        self._pending: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def attach(self) -> None:
        for event_type in REGISTRY_EVENTS:
            await self.link.subscribe({"type": "subscribe_events", "event_type": event_type}, self._changed)
        self.link.on_connected(self.refresh)

    async def refresh(self) -> None:
        """Read the home again and hand it on when it differs from the one served."""
        home = merge(await read_home(self.link, satellite_device=self.satellite_device), self.written)
        self.reads += 1
        if home != self.home:
            n = len(home.entities)
            log.info("Home Assistant: home read: %d floors, %d areas, %d entities exposed to Assist",
                     len(home.floors), len(home.areas), n)
            self.home = home
            await self.on_home(home)

    def _changed(self, event: Mapping[str, Any]) -> None:
        # Registry edits come in bursts (an area deleted updates every entity in it): read once, after a pause.
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().call_later(self.debounce_s, self._start_refresh)

    def _start_refresh(self) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh_logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_logged(self) -> None:
        self._pending = None
        try:
            await self.refresh()
        except Exception as e:
            log.warning("Home Assistant: reading the home after a registry change failed: %s", e)
