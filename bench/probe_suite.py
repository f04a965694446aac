"""The probe suite's files: the cases (one JSON line each, the format in probes.py's docstring), their homes,
and the checks that keep them consistent."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline.intent.model import Home
from .eval_cases import json_lines

PROBES_DIR = Path(__file__).resolve().parent / "data" / "probes"
"""The packaged suite: cases.jsonl and homes/<home>.yaml."""
CATEGORIES = ("inverted_verb", "cross_domain", "negation", "hypothetical", "state_question", "missing_device",
              "ambiguity", "multi_target", "named_list", "valve", "vacuum", "fact", "small_talk")
OUTCOMES = ("ask", "refuse", "none", "answer", "source")
SPLITS = ("dev", "heldout")


@dataclass(frozen=True)
class Action:
    """An action as the case expects it (or forbids it: slots then narrow the intent)."""

    intent: str
    entity_ids: tuple[str, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """One case of the suite."""

    id: str
    split: str
    home: str
    category: str
    text: str
    action: Action | None
    accept: tuple[Action, ...] = ()
    outcomes: frozenset[str] = frozenset()
    domains: tuple[str, ...] | None = None
    forbid: tuple[Action, ...] = ()
    note: str = ""

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every action that is right."""
        return ((self.action,) if self.action is not None else ()) + self.accept


def _action(raw: Any, where: str) -> Action:
    if isinstance(raw, str):
        return Action(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("intent"), str):
        raise ValueError(f"{where}: an action is {{intent, entity_ids, slots}}")
    return Action(raw["intent"], tuple(sorted(raw.get("entity_ids") or ())), dict(raw.get("slots") or {}))


def load_probes(path: str | os.PathLike[str]) -> list[Probe]:
    """The cases of a probe file; ValueError names the line that is wrong."""
    probes: list[Probe] = []
    for _, where, raw in json_lines(path):
        expect = raw.get("expect") if isinstance(raw, dict) else None
        if not isinstance(expect, dict) or not all(isinstance(raw.get(k), str) and raw[k].strip()
                                                   for k in ("id", "home", "category", "text")):
            raise ValueError(f"{where}: needs id, home, category, text and expect")
        outcomes = frozenset(expect.get("outcomes") or ())
        if outcomes - set(OUTCOMES):
            raise ValueError(f"{where}: unknown outcomes {sorted(outcomes - set(OUTCOMES))} (known: {OUTCOMES})")
        action = _action(expect["action"], where) if expect.get("action") is not None else None
        accept = tuple(_action(a, where) for a in expect.get("accept") or ())
        if action is None and not accept and not outcomes:
            raise ValueError(f"{where}: expects nothing: give an action, accepted actions or outcomes")
        split = raw.get("split", "dev")
        if split not in SPLITS:
            raise ValueError(f"{where}: split {split!r} is not one of {SPLITS}")
        probes.append(Probe(
            id=raw["id"], split=split, home=raw["home"], category=raw["category"], text=" ".join(raw["text"].split()),
            action=action, accept=accept, outcomes=outcomes,
            domains=tuple(raw["domains"]) if raw.get("domains") is not None else None,
            forbid=tuple(_action(f, where) for f in raw.get("forbid") or ()), note=str(raw.get("note") or ""),
        ))
    if not probes:
        raise ValueError(f"{path}: no cases")
    return probes


def is_probe_file(path: str | os.PathLike[str]) -> bool:
    """Whether a cases file is a probe suite (its first case names a home and a category)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        raw = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and "home" in raw and "category" in raw


def load_home(path: str | os.PathLike[str]) -> Home:
    """A home from a YAML file whose `home:` section is written as in config.yaml (validated the same way)."""
    import yaml

    from ..daemon.factory import home_from_settings
    from ..daemon.settings import parse_settings

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("home"), dict):
        raise ValueError(f"{path}: needs a home: section")
    return home_from_settings(parse_settings({"home": raw["home"]}, source=str(path)).home)


def load_homes(folder: str | os.PathLike[str]) -> dict[str, Home]:
    """Every homes/<name>.yaml of a folder, by name."""
    homes = {p.stem: load_home(p) for p in sorted(Path(folder).glob("*.yaml"))}
    if not homes:
        raise ValueError(f"{folder}: no homes (<name>.yaml)")
    return homes


def check_suite(probes: Sequence[Probe], homes: Mapping[str, Home]) -> list[str]:
    """What is wrong with a suite: unknown homes, categories or entity ids, duplicate ids (empty: nothing)."""
    problems: list[str] = []
    seen: set[str] = set()
    for p in probes:
        if p.id in seen:
            problems.append(f"{p.id}: duplicate id")
        seen.add(p.id)
        if p.category not in CATEGORIES:
            problems.append(f"{p.id}: unknown category {p.category!r}")
        home = homes.get(p.home)
        if home is None:
            problems.append(f"{p.id}: no home {p.home!r}")
            continue
        ids = {e.id for e in home.entities}
        for a in (*p.actions, *p.forbid):
            for eid in a.entity_ids:
                if eid not in ids:
                    problems.append(f"{p.id}: {eid} is not in home {p.home}")
    return problems

