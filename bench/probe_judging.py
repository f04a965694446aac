"""Judging one understanding of a probe: its outcome, its verdict, leaks and inverted proposals (the rules are
in probes.py's docstring). The slot values are compared as `slm-voice eval` compares them (eval_scoring.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from ..pipeline.intent.model import Intent, Understanding
from .eval_scoring import _item, _same, _step_goes
from .probe_suite import Action, Probe

VERDICTS = ("ok", "asked", "misfire", "inverted", "false_claim")
SOURCE_INTENTS = frozenset({"HassGetState", "HassClimateGetTemperature", "HassGetCurrentTime", "HassGetCurrentDate"})
"""Intents that only read the home or the clock: their answer comes from a source."""
NO_OPS = frozenset({"HassNevermind"})
"""Intents that change nothing: judged as no action (outcome none) unless the case expects one."""
OPPOSITE = {
    "HassTurnOn": "HassTurnOff", "HassTurnOff": "HassTurnOn",
    "HassVacuumStart": "HassVacuumReturnToBase", "HassVacuumReturnToBase": "HassVacuumStart",
    "HassMediaPause": "HassMediaUnpause", "HassMediaUnpause": "HassMediaPause",
    "HassMediaPlayerMute": "HassMediaPlayerUnmute", "HassMediaPlayerUnmute": "HassMediaPlayerMute",
}

_ANSWER_KEYS = ("on", "off", "light", "state", "temperature", "set_temperature", "fan_speed", "position", "pause",
                "resume", "next", "previous", "mute", "unmute", "volume", "vacuum", "dock", "add", "list", "timer",
                "cancel_timer", "cancel_all_timers", "time", "date", "nevermind", "answer", "ignore")
_SLOT_KEYS = ("name", "area", "floor", "domain", "brightness", "color", "state", "temperature", "percentage",
              "position", "level", "step", "item", "list", "hours", "minutes", "seconds")
LEAK = re.compile(
    r"\|\s*[a-z_]+\s*="                                      # |key=value
    r"|\b(?:" + "|".join(_SLOT_KEYS) + r")=\S"                # key=value
    r"|^\s*(?:" + "|".join(_ANSWER_KEYS) + r")\s*(?:\||[.!]?\s*$)"  # a bare answer key: "answer.", "on|..."
    r"|(?:^|\s)(?:answer|ignore)\.(?:\s|$)"                   # "... answer." inside a sentence
    r"|<\|?\s*im_(?:start|end)|<\|endoftext\|>",              # chat markers
    re.IGNORECASE)
"""Answer-language text in a reply."""
CLAIM = re.compile(
    r"^\s*(?:ok(?:ay)?,?\s+|sure,?\s+|done[.!,]?\s*)?"
    r"(?:turned|turning|switched|switching|opened|opening|closed|closing|locked|locking|unlocked|unlocking|started|"
    r"starting|stopped|stopping|sending|sent|added|adding|set|dimmed|brightened|paused|resumed|muted|unmuted|"
    r"playing|watering|timer set)\b"
    r"|\bI(?:'ve| have| just| am|'m)?\s+(?:now\s+)?(?:turned|turning|switched|switching|locked|locking|unlocked|"
    r"unlocking|opened|opening|closed|closing|started|starting|stopped|stopping|added|adding|set|dimmed|muted|"
    r"paused|sent|sending|watered|watering)\b"
    r"|\b(?:is|are) now (?:on|off|open|closed|locked|unlocked|running|playing)\b"
    r"|^\s*done[.!]?\s*$",
    re.IGNORECASE)
"""A reply that says an action was carried out."""
HONEST = re.compile(
    r"\b(?:sorry|can't|cannot|can not|couldn't|unable|not able|don't know|do not know|don't have|do not have|"
    r"no way to|didn't (?:understand|catch)|not sure|isn't something|there is no|there's no|no such)\b",
    re.IGNORECASE)
"""A reply that declines: it says it cannot, or does not know."""
NOTHING = re.compile(
    r"^\s*(?:ok(?:ay)?|alright|all right|sure|fine|got it|understood|no problem|you're welcome|"
    r"i won't|i will not|i'll leave|nothing)\b",
    re.IGNORECASE)
"""A free answer that only acknowledges ("Okay, I won't."): nothing done, nothing stated."""


def actions_of(u: Understanding | None) -> list[Intent]:
    """Every action an understanding takes: its intent and any further Intents it carries in a tuple or list."""
    if u is None:
        return []
    found = [u.intent] if u.intent is not None else []
    for f in fields(u):
        value = getattr(u, f.name)
        if isinstance(value, (tuple, list)):
            found += [i for i in value if isinstance(i, Intent) and i is not u.intent]
    return found


def _merged(actions: Sequence[Intent]) -> Intent | None:
    """Several actions of one intent as one with all their targets (their slots must agree); None otherwise."""
    if not actions or len({a.name for a in actions}) != 1:
        return None
    slots: dict[str, Any] = {}
    for a in actions:
        for k, v in a.slots.items():
            if k in ("name", "area", "floor", "domain"):
                continue
            if k in slots and not _same(slots[k], v):
                return None
            slots[k] = v
    ids = tuple(sorted({e for a in actions for e in a.entity_ids}))
    return Intent(actions[0].name, slots, ids)


def _slot_right(key: str, want: Any, got: Intent) -> bool:
    s = got.slots
    if key == "brightness_direction":
        if got.name == "HassTurnOn" and want == "up":
            return True
        if "brightness_step" in s:
            return _step_goes(s["brightness_step"], str(want))
        level = s.get("brightness")
        return isinstance(level, (int, float)) and (1 <= level <= 50 if want == "down" else 50 <= level <= 100)
    if key == "volume_step":
        return _step_goes(s.get("volume_step"), str(want))
    if key == "item":
        return _item(s.get("item")) == _item(want)
    return key in s and _same(s[key], want)


def matches(expected: Action, got: Intent) -> bool:
    """Whether an action is the expected one: intent, entity ids and every key slot."""
    return (got.name == expected.intent and tuple(sorted(got.entity_ids)) == expected.entity_ids
            and all(_slot_right(k, v, got) for k, v in expected.slots.items()))


def _goes_other_way(expected: Action, got: Intent) -> bool:
    if got.name != expected.intent:
        return False
    for key, slot in (("volume_step", "volume_step"), ("brightness_direction", "brightness_step")):
        want = expected.slots.get(key)
        if want in ("up", "down") and slot in got.slots:
            return _step_goes(got.slots[slot], "down" if want == "up" else "up")
    return False


def is_inverted(probe: Probe, got: Intent) -> bool:
    """Whether an action is one the words rule out (see probes.py's docstring)."""
    if got.name in SOURCE_INTENTS:
        return False
    for f in probe.forbid:
        if got.name == f.intent and all(_slot_right(k, v, got) for k, v in f.slots.items()):
            return True
    for exp in probe.actions:
        same_target = not exp.entity_ids or bool(set(exp.entity_ids) & set(got.entity_ids))
        if same_target and (got.name == OPPOSITE.get(exp.intent) or _goes_other_way(exp, got)):
            return True
    allowed = probe.domains
    if allowed is None:
        expected_ids = [e for a in probe.actions for e in a.entity_ids]
        allowed = tuple({e.split(".", 1)[0] for e in expected_ids}) if expected_ids else None
    return allowed is not None and any(e.split(".", 1)[0] not in allowed for e in got.entity_ids)


def _kind_of_text(text: str) -> str:
    """ask, refuse or none for a reply that comes with no action."""
    if text.rstrip().endswith("?"):
        return "ask"
    return "refuse" if HONEST.search(text) else "none"


def judge(probe: Probe, u: Understanding | None, answer: str | None = None) -> tuple[str, str, bool, bool]:
    """(verdict, outcome, leak, proposed_inverted) for one understanding; answer: the free answer's text."""
    acts = actions_of(u)
    if acts and all(a.name in NO_OPS for a in acts) and not any(a.intent in NO_OPS for a in probe.actions):
        acts = []  # "never mind" changes nothing: judged as what it says
    reply = u.reply if u is not None else ""
    texts = [reply, answer or ""]
    if u is not None and u.confirm is not None:
        texts.append(u.confirm.reply)
    leak = any(LEAK.search(t) for t in texts if t)
    proposed = u.confirm.intent if u is not None and u.confirm is not None else None
    proposed_inverted = proposed is not None and is_inverted(probe, proposed)
    if acts:
        outcome = "source" if all(a.name in SOURCE_INTENTS for a in acts) else "action"
        merged = _merged(acts)
        if merged is not None and any(matches(exp, merged) for exp in probe.actions):
            return "ok", outcome, leak, proposed_inverted
        if any(is_inverted(probe, a) for a in acts):
            return "inverted", outcome, leak, proposed_inverted
        if outcome == "source" and "source" in probe.outcomes:
            return "ok", outcome, leak, proposed_inverted
        return "misfire", outcome, leak, proposed_inverted
    if u is not None and u.confirm is not None:
        outcome = "ask"
    elif u is not None and u.open_question:
        said = (answer or "").strip()
        if said and HONEST.search(said):
            outcome = "refuse"
        elif said and NOTHING.match(said) and not CLAIM.search(said):
            outcome = "none"
        else:
            outcome = "answer"
    else:
        outcome = _kind_of_text(reply)
    if any(CLAIM.search(t) for t in (reply, answer or "") if t) and outcome != "ask":
        return "false_claim", outcome, leak, proposed_inverted
    if outcome == "answer" and "answer" not in probe.outcomes:
        return "false_claim", outcome, leak, proposed_inverted
    if outcome in probe.outcomes and not proposed_inverted:
        return "ok", outcome, leak, proposed_inverted
    return "asked", outcome, leak, proposed_inverted

