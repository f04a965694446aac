"""The bench's command set: what is said after the wake phrase and what the intent tiers should make of it."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..pipeline.intent.model import Intent


@dataclass(frozen=True)
class Command:
    """One spoken test command and what the intent tiers should make of it."""

    text: str
    """What is said after the wake phrase."""
    expected: Intent | None
    """Expected intent; its slots are a subset to check. None: no intent should be recognized."""


def default_commands_path() -> Path:
    """The command set shipped with the bench (bench/data/commands.yaml)."""
    return Path(str(importlib.resources.files("slm_voice.bench") / "data" / "commands.yaml"))


def load_commands(path: str | Path | None = None) -> list[Command]:
    """Read a command set (default: the bench's data/commands.yaml), a YAML list of {text, expected}.

    ``expected`` is null (no intent) or {intent, slots (optional, a subset to check), entity_ids (optional)}.
    """
    path = Path(path) if path is not None else default_commands_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read the command set: {e}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a YAML list of commands, got {type(data).__name__}")
    commands = []
    for i, item in enumerate(data):
        where = f"{path}: command {i + 1}"
        if not isinstance(item, Mapping) or set(item) - {"text", "expected"}:
            raise ValueError(f"{where}: expected a mapping with keys text and expected, got {item!r}")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: text must be a non-empty string, got {text!r}")
        commands.append(Command(text=text.strip(), expected=_parse_expected(item.get("expected"), where)))
    return commands


def _parse_expected(raw: Any, where: str) -> Intent | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"intent", "slots", "entity_ids"}:
        raise ValueError(f"{where}: expected must be null or a mapping of intent, slots, entity_ids, got {raw!r}")
    name, slots, ids = raw.get("intent"), raw.get("slots") or {}, raw.get("entity_ids") or []
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: expected.intent must be an intent name, got {name!r}")
    if not isinstance(slots, Mapping):
        raise ValueError(f"{where}: expected.slots must be a mapping, got {slots!r}")
    if not isinstance(ids, list) or not all(isinstance(x, str) and "." in x for x in ids):
        raise ValueError(f"{where}: expected.entity_ids must be a list of entity ids, got {ids!r}")
    return Intent(name=name, slots=dict(slots), entity_ids=tuple(ids))


def matches(expected: Intent | None, understanding: Any) -> bool:
    """Whether an Understanding got a command right: intent name, entity ids and the listed slots."""
    if expected is None:
        return understanding is None or understanding.intent is None
    got = understanding.intent if understanding is not None else None
    if got is None or got.name != expected.name:
        return False
    if expected.entity_ids and tuple(sorted(expected.entity_ids)) != tuple(sorted(got.entity_ids)):
        return False
    return all(str(got.slots.get(k)).lower() == str(v).lower() for k, v in expected.slots.items())
