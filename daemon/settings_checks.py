"""Checks config.yaml needs beyond each field's own: control characters in any string, readable error messages
(with "did you mean"), and a home whose areas, floors and entities name each other."""

from __future__ import annotations

import difflib
import re
from dataclasses import fields, is_dataclass
from typing import Any

from .settings_home import AreaSettings, area_names
from .settings_links import read_token
from .settings_tree import Settings
from .settings_values import SETTINGS_CLASSES, ConfigError, check_text

_SECRET_KEYS = ("password", "token")
"""Keys whose values never appear in an error message (it is logged)."""


def check_strings(value: Any, source: str, key: str = "") -> None:
    """Every string setting, whatever it becomes: no control character (payload templates may hold tabs and line
    breaks), valid Unicode; ConfigError names the key path, never a secret's value."""
    if isinstance(value, str):
        leaf = key.rsplit(".", 1)[-1]
        text = value.translate({9: None, 10: None, 13: None}) if leaf.startswith("payload_") else value
        try:
            check_text(text)
        except ValueError as e:
            raise ConfigError(f"{source}: {key}: {e}") from None
    elif is_dataclass(value):
        for f in fields(value):
            check_strings(getattr(value, f.name), source, f"{key}.{f.name}" if key else f.name)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            check_strings(item, source, f"{key}.{i}")


def describe(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or "(top level)"
    if err["type"] == "unexpected_keyword_argument" or err["type"] == "extra_forbidden":
        hint = _did_you_mean(loc)
        return f"{key}: unknown key{hint}"
    msg = err["msg"].removeprefix("Value error, ")
    shown = "input" in err and err["type"] != "missing" and not any(s in loc[-1] for s in _SECRET_KEYS if loc)
    return f"{key}: {msg} (got {err.get('input')!r})" if shown else f"{key}: {msg}"


def _did_you_mean(loc: list[str]) -> str:
    cls: Any = Settings
    for part in loc[:-1]:
        if part.isdigit():
            continue
        f = {f.name: f for f in fields(cls)}.get(part)
        if f is None:
            return ""
        default = getattr(cls, part, None) if f.default is not f.default_factory else None
        cls = type(default) if is_dataclass(default) else _inner_dataclass(f.type)
        if cls is None:
            return ""
    names = [f.name for f in fields(cls)]
    close = difflib.get_close_matches(loc[-1], names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(names)})"


def _inner_dataclass(annotation: Any) -> Any:
    """The settings class an annotation names (tuple[str | AreaSettings, ...]: AreaSettings), or None."""
    text = str(annotation)
    for name, cls in SETTINGS_CLASSES.items():
        if re.search(rf"\b{name}\b", text):  # whole names: Settings is part of every class's name
            return cls
    return None


def check_home(s: Settings, source: str) -> None:
    floors = set(s.home.floors)
    areas = set(area_names(s.home))
    # With the home read from Home Assistant, areas and floors named here may be Home Assistant's: checked when
    # the two are merged, not now.
    from_ha = s.homeassistant.url is not None and s.homeassistant.import_home
    for i, a in enumerate(s.home.areas):
        if isinstance(a, AreaSettings) and a.floor is not None and a.floor not in floors and not from_ha:
            raise ConfigError(f"{source}: home.areas.{i}.floor: {a.floor!r} is not one of home.floors {sorted(floors)}")
    seen: set[str] = set()
    for i, e in enumerate(s.home.entities):
        if e.id in seen:
            raise ConfigError(f"{source}: home.entities.{i}.id: duplicate entity id {e.id!r}")
        seen.add(e.id)
        if e.area is not None and e.area not in areas and not from_ha:
            raise ConfigError(
                f"{source}: home.entities.{i}.area: {e.area!r} is not one of home.areas {sorted(areas)}"
            )
    if s.home.satellite_area is not None and s.home.satellite_area not in areas and not from_ha:
        raise ConfigError(
            f"{source}: home.satellite_area: {s.home.satellite_area!r} is not one of home.areas {sorted(areas)}"
        )
    h = s.homeassistant
    if h.url is not None and h.token is None and h.token_file is None:
        raise ConfigError(f"{source}: homeassistant.token: set token or token_file (a long-lived access token) "
                          "with homeassistant.url")
    if h.url is not None and h.token_file is not None:
        try:
            read_token(h)
        except ValueError as e:
            raise ConfigError(f"{source}: homeassistant.token_file: {e}") from None

