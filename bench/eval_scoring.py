"""Scoring one understanding against its case, with the SLURP-derived dev set's rules (evaluate.py lists them).

bench/probes.py judges its probes' slots with the same value rules (_item, _same, _step_goes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..pipeline.intent.model import Intent, Understanding
from .eval_cases import Case

VALUE_SLOTS = ("color", "brightness", "brightness_direction", "temperature", "volume_step", "volume_level", "item")
"""Expected slots whose value is checked (name, area and domain are checked through the entity ids)."""
DURATION_SLOTS = {"hours": 3600, "minutes": 60, "seconds": 1}
_ITEM_ARTICLES = ("a ", "an ", "some ", "the ")
DIM_MAX, BRIGHTEN_MIN = 50, 50
"""Dim: an absolute brightness 1..DIM_MAX counts as "down"; brighten: BRIGHTEN_MIN..100 counts as "up"."""


@dataclass(frozen=True)
class Score:
    """How one understanding fares against its case."""

    intent_right: bool
    fully_right: bool
    misfire: bool
    open_answer: bool
    """The language model was asked for a free answer."""
    asked: bool
    """A clarifying question, "Did you mean ...?" or a refusal: nothing happened."""


def score(case: Case, u: Understanding | None) -> Score:
    """Score one understanding with the dev set's rules."""
    got = u.intent if u is not None else None
    open_answer = bool(u is not None and u.open_question)
    if case.intent is None:
        right = open_answer and got is None
        return Score(right, right, got is not None, open_answer, got is None and not open_answer)
    if got is None:
        return Score(False, False, False, open_answer, not open_answer)
    intent_right = got.name == case.intent or got.name in case.accept_intents
    full = intent_right and _values_right(case, got) and _targets_right(case, got)
    return Score(intent_right, full, not full, open_answer, False)


def action_right(case: Case, intent: Intent) -> bool:
    """Whether an action (taken or only proposed) is fully right."""
    return case.intent is not None and (intent.name == case.intent or intent.name in case.accept_intents) and (
        _values_right(case, intent) and _targets_right(case, intent))


def _targets_right(case: Case, got: Intent) -> bool:
    ids = tuple(sorted(got.entity_ids))
    return ids == case.entity_ids or ids in case.accept_entity_ids


def _values_right(case: Case, got: Intent) -> bool:
    s = got.slots
    for key, want in case.slots.items():
        if key == "brightness_direction":
            if got.name == "HassTurnOn" and want == "up":
                continue  # "brighten": switching the lights on is accepted
            if not _brightness_goes(s, str(want)):
                return False
        elif key == "volume_step":
            if not _step_goes(s.get("volume_step"), str(want)):
                return False
        elif key == "item":
            if _item(s.get("item")) != _item(want):
                return False
        elif key in VALUE_SLOTS and not _same(s.get(key), want):
            return False
    wanted = {k: v for k, v in case.slots.items() if k in DURATION_SLOTS}
    return not wanted or _seconds(s) == _seconds(wanted)


def _brightness_goes(slots: Mapping[str, Any], direction: str) -> bool:
    if "brightness_step" in slots:
        return _step_goes(slots["brightness_step"], direction)
    level = slots.get("brightness")
    if not isinstance(level, (int, float)):
        return False
    return 1 <= level <= DIM_MAX if direction == "down" else BRIGHTEN_MIN <= level <= 100


def _step_goes(step: Any, direction: str) -> bool:
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return step > 0 if direction == "up" else step < 0
    return isinstance(step, str) and step.casefold() == direction


def _item(value: Any) -> str:
    text = " ".join(str(value or "").casefold().split())
    for article in _ITEM_ARTICLES:
        text = text.removeprefix(article)
    return text


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return " ".join(str(a).casefold().split()) == " ".join(str(b).casefold().split())
    return a == b


def _seconds(slots: Mapping[str, Any]) -> float:
    return sum(float(slots.get(k) or 0) * f for k, f in DURATION_SLOTS.items())

