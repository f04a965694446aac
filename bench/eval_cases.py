"""The evaluation's cases: labelled sentences read from JSON lines (the format is in evaluate.py's docstring)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    """One labelled sentence."""

    id: str
    sentence: str
    group: str
    intent: str | None
    """Expected Home Assistant intent; None: an open question (a free answer is expected)."""
    slots: dict[str, Any] = field(default_factory=dict)
    entity_ids: tuple[str, ...] = ()
    accept_intents: tuple[str, ...] = ()
    """Other intents that also count as right."""
    accept_entity_ids: tuple[tuple[str, ...], ...] = ()
    """Other target sets that also count as right."""


def json_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, Any]]:
    """(line number, "path:line", value) for each non-empty line of a JSON-lines file; ValueError names a bad one."""
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            yield n, where, json.loads(line)
        except ValueError as e:
            raise ValueError(f"{where}: not JSON ({e})") from None


def load_cases(path: str | os.PathLike[str]) -> list[Case]:
    """Cases from a JSON-lines file; raises ValueError naming the line that is wrong."""
    cases: list[Case] = []
    for n, where, raw in json_lines(path):
        expect = raw.get("expect") if isinstance(raw, dict) else None
        if not isinstance(expect, dict) or not isinstance(raw.get("sentence"), str) or not raw["sentence"].strip():
            raise ValueError(f"{where}: needs a sentence and expect: {{intent, slots, entity_ids}}")
        accept = raw.get("accept") or {}
        if not isinstance(accept, dict) or set(accept) - {"intents", "entity_ids"}:
            raise ValueError(f"{where}: accept may only list intents and entity_ids")
        cases.append(Case(
            id=str(raw.get("id", n)), sentence=" ".join(raw["sentence"].split()), group=str(raw.get("group", "all")),
            intent=expect.get("intent"), slots=dict(expect.get("slots") or {}),
            entity_ids=tuple(sorted(expect.get("entity_ids") or ())),
            accept_intents=tuple(accept.get("intents") or ()),
            accept_entity_ids=tuple(tuple(sorted(ids)) for ids in accept.get("entity_ids") or ()),
        ))
    if not cases:
        raise ValueError(f"{path}: no cases")
    return cases

