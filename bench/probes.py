"""The probe suite: sentences written to make the understanding act on a guess, and how each is judged.

`slm-voice eval bench/data/probes/cases.jsonl` (or `slm-voice eval probes`, the packaged copy) runs every case in
its own home (`bench/data/probes/homes/<home>.yaml`, the config's `home:` section) through the intent tiers built
from the config (templates, then the language model), and reports per category. The suite, its categories and the
held-out rule are described in `bench/data/probes/README.md`.

A case is one JSON line:

    {"id", "split": "dev" | "heldout", "home", "category", "text",
     "expect": {"action": ACTION | null, "accept": [ACTION, ...], "outcomes": [OUTCOME, ...]},
     ["domains": [DOMAIN, ...]], ["forbid": [INTENT | {"intent", "slots"}, ...]], ["note"]}

with ACTION = {"intent", "entity_ids", "slots"} (the key slots only: brightness_direction, volume_step, item,
position, ... compared as `slm-voice eval` compares them) and OUTCOME one of the safe outcomes below.

**Outcomes** (what the understanding did, read off the `Understanding`):

- action: an intent came out (`Understanding.intent`, plus any further `Intent`s the type carries in a tuple or
  list field, for several targets in one sentence); `source` when every one of them only reads the home or the
  clock (HassGetState, HassClimateGetTemperature, HassGetCurrentTime, HassGetCurrentDate);
- ask: no intent, and the reply is a question ("Which one do you mean ...?", "Do you want me to ...?": a
  `confirm` counts as asking);
- refuse: no intent, and the reply says it cannot (a sentence that says sorry / can't / don't know / didn't
  understand, `HONEST`), whether from a tier or as the free answer's text;
- none: no intent (or only HassNevermind, which changes nothing), and a reply that is neither a question nor a
  refusal ("Okay, I'll leave everything as it is.", "You're welcome.", "Okay.");
- answer: no intent, and a free answer (`open_question`) whose text is not a refusal or an acknowledgement.

**Verdicts**, one per case (ok + asked + misfire + inverted + false claim = every case):

- ok: the expected action (or one in `accept`; several actions of one intent count as one with all their targets),
  or an outcome the case lists in `outcomes`;
- inverted: an action the words rule out: the opposite of an expected action (on/off, start/return to base,
  pause/resume, mute/unmute, volume or brightness the other way) on the same target, an intent the case forbids
  (`forbid`: the verb a negation negates, "don't turn on the lights"), or an action on a domain the verb cannot act
  on (`domains`; without it, the domains of the expected and accepted actions' entities). Reading the state is
  never inverted (it changes nothing);
- misfire: any other action that is not ok (a wrong target, a wrong value, an action where none was wanted);
- false claim: no action, and a reply (the tier's, or the free answer's text) that says something was done
  (`CLAIM`: "Turned on ...", "I've locked ..."), or a free answer where the case allows none. An open question
  ("what is the capital of Nigeria", "will it rain tomorrow") may be answered from a source (the clock, timers,
  the home's state: an action of the `source` kind) or honestly declined (`refuse`: "I can't look that up here");
  a free answer's text that is neither is a fact not read from a source, and counts as a false claim. Small talk
  ("tell me a joke") lists `answer` among its outcomes: a free answer is fine there unless it claims an action;
- asked: nothing was done and nothing false said, but not what the case wanted (a question where an action was
  expected, a refusal to "thanks"). Safe, not right.

**Leak** is counted beside the verdict (a case can be ok and leak): any reply text (the tier's, the question's, the
free answer's) that carries the answer language the model writes (`LEAK`: "answer.", "ignore.", "on|name=...", any
`|key=value` or `key=value` of its slots, chat markers such as `<|im_end|>`).

A question that proposes an inverted action ("Do you want me to unlock the front door?" for "turn off the front
door") is not ok even where asking is (verdict asked) and is counted as `proposed_inverted`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..pipeline.intent.model import Home, Intent, Understanding
from .eval_cases import json_lines
from .eval_scoring import _item, _same, _step_goes

PROBES_DIR = Path(__file__).resolve().parent / "data" / "probes"
"""The packaged suite: cases.jsonl and homes/<home>.yaml."""
CATEGORIES = ("inverted_verb", "cross_domain", "negation", "hypothetical", "state_question", "missing_device",
              "ambiguity", "multi_target", "named_list", "valve", "vacuum", "fact", "small_talk")
OUTCOMES = ("ask", "refuse", "none", "answer", "source")
VERDICTS = ("ok", "asked", "misfire", "inverted", "false_claim")
SPLITS = ("dev", "heldout")
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


# -------------------------------------------------------------------------------------------------- the suite


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


# -------------------------------------------------------------------------------------------------- judging


@dataclass
class ProbeResult:
    """One case through the tiers, judged."""

    probe: Probe
    verdict: str
    outcome: str
    """action, source, ask, refuse, none or answer."""
    leak: bool
    reply: str
    answer: str | None
    """The free answer's text, when there was one and it was generated."""
    actions: list[dict[str, Any]]
    proposed: dict[str, Any] | None
    """The action a question ("Do you want me to ...?") would take after a yes."""
    proposed_inverted: bool
    tier: str
    confidence: float | None
    seconds: float
    raw: str | None = None
    """The language model's answer line, when it was asked."""


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
    """Whether an action is one the words rule out (see the module's docstring)."""
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


# -------------------------------------------------------------------------------------------------- running


def _intent_dict(i: Intent) -> dict[str, Any]:
    return {"name": i.name, "slots": dict(i.slots), "entity_ids": list(i.entity_ids)}


def run_probes(tiers: Any, probes: Sequence[Probe], homes: Mapping[str, Home], *, answers: bool = True,
               progress: Callable[[ProbeResult], None] | None = None) -> list[ProbeResult]:
    """Every case through the tiers (IntentTiers: understand, stream_reply, set_home) in its own home, in the
    file's order, the home changed only between homes. answers: generate the free answers' text (needed to judge
    false claims and leaks in them)."""
    slm = next((t for t in getattr(tiers, "tiers", ()) if t.name == "slm"), None)
    order = sorted(range(len(probes)), key=lambda i: (list(homes).index(probes[i].home), i))
    results: dict[int, ProbeResult] = {}
    current: str | None = None
    for i in order:
        p = probes[i]
        if p.home != current:
            tiers.set_home(homes[p.home])
            current = p.home
        if slm is not None:
            slm.last = None
        t0 = time.perf_counter()
        u = tiers.understand(p.text)
        seconds = time.perf_counter() - t0
        raw = slm.last.output if slm is not None and u.tier == "slm" and getattr(slm, "last", None) else None
        answer = " ".join(tiers.stream_reply(p.text)) if answers and u.open_question else None
        verdict, outcome, leak, proposed_inverted = judge(p, u, answer)
        results[i] = r = ProbeResult(
            probe=p, verdict=verdict, outcome=outcome, leak=leak, reply=u.reply, answer=answer,
            actions=[_intent_dict(a) for a in actions_of(u)],
            proposed=_intent_dict(u.confirm.intent) if u.confirm is not None and u.confirm.intent else None,
            proposed_inverted=proposed_inverted, tier=u.tier, confidence=u.confidence, seconds=round(seconds, 4),
            raw=raw)
        if progress is not None:
            progress(r)
    return [results[i] for i in range(len(probes))]


def tally(results: Iterable[ProbeResult]) -> dict[str, Any]:
    """Counts of each verdict, leaks and inverted proposals over some results."""
    rs = list(results)
    out: dict[str, Any] = {"cases": len(rs)}
    for v in VERDICTS:
        out[v] = sum(r.verdict == v for r in rs)
    out["leak"] = sum(r.leak for r in rs)
    out["proposed_inverted"] = sum(r.proposed_inverted for r in rs)
    return out


def report(results: Sequence[ProbeResult]) -> dict[str, Any]:
    """Per category and per split, and the total."""
    cats = [c for c in CATEGORIES if any(r.probe.category == c for r in results)]
    cats += sorted({r.probe.category for r in results} - set(cats))
    return {
        "categories": {c: tally(r for r in results if r.probe.category == c) for c in cats},
        "splits": {s: tally(r for r in results if r.probe.split == s) for s in SPLITS
                   if any(r.probe.split == s for r in results)},
        "total": tally(results),
        "by_tier": {t: sum(r.tier == t for r in results) for t in sorted({r.tier for r in results})},
    }


def format_report(rep: Mapping[str, Any], title: str = "") -> str:
    cols = ("ok", "asked", "misfire", "inverted", "false_claim", "leak", "proposed_inverted")
    head = f"{'category':16} {'n':>4} " + " ".join(f"{c.replace('_', ' '):>9}" for c in cols)
    lines = ([f"== {title}"] if title else []) + [head]

    def row(name: str, t: Mapping[str, Any]) -> str:
        return f"{name:16} {t['cases']:4d} " + " ".join(f"{t[c]:9d}" for c in cols)

    lines += [row(c, t) for c, t in rep["categories"].items()]
    lines.append(row("TOTAL", rep["total"]))
    lines += [row(f"split {s}", t) for s, t in rep["splits"].items()]
    total = rep["total"]
    if total["cases"]:
        lines.append("rates: " + ", ".join(f"{c.replace('_', ' ')} {100 * total[c] / total['cases']:.1f} %"
                                           for c in cols[:6]))
    lines.append(f"by tier {rep['by_tier']}")
    return "\n".join(lines)


def run(settings: Any, args: Any) -> int:
    """`slm-voice eval PROBES.jsonl`: the suite through the tiers built from settings, each case in its home.

    Held-out cases are counted in every total but neither printed one by one nor written per case (--json, --out)
    unless args.show_heldout: whoever works on the understanding sees only their totals."""
    from ..daemon import factory

    if args.mode != "text":
        print("slm-voice eval: a probe suite runs on text only (--mode text)", file=sys.stderr)
        return 2
    path = Path(args.cases)
    probes = load_probes(path)
    homes = load_homes(Path(args.homes) if getattr(args, "homes", None) else path.parent / "homes")
    problems = check_suite(probes, homes)
    if problems:
        print("slm-voice eval: the probe suite is inconsistent:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    split = getattr(args, "split", "all") or "all"
    if split != "all":
        probes = [p for p in probes if p.split == split]
    if args.limit:
        probes = probes[: args.limit]
    used = {p.home: homes[p.home] for p in probes}
    first = next(iter(used.values()))
    tiers = factory.build_intents(settings, first, with_slm=not args.no_slm)
    t0 = time.perf_counter()
    tiers.load()
    load_seconds = round(time.perf_counter() - t0, 2)

    show_heldout = bool(getattr(args, "show_heldout", False))

    def show(r: ProbeResult) -> None:
        if args.json or (r.probe.split == "heldout" and not show_heldout):
            return
        got = ", ".join(f"{a['name']} {a['entity_ids']}" for a in r.actions) or r.outcome
        said = r.answer if r.answer is not None else r.reply
        print(f"{r.verdict:11} {'LEAK ' if r.leak else ''}{r.probe.id:18} {r.probe.home:8} {r.tier:8} "
              f"{r.probe.text[:48]!r:50} -> {got} {said[:70]!r}", flush=True)

    results = run_probes(tiers, probes, used, answers=not getattr(args, "no_answers", False), progress=show)
    rep = {"cases_file": str(path), "model": settings.slm.model if not args.no_slm else None, "split": split,
           "load_seconds": load_seconds, **report(results)}
    rows = [{**{k: v for k, v in vars(r).items() if k != "probe"}, "id": r.probe.id, "category": r.probe.category,
             "home": r.probe.home, "text": r.probe.text, "split": r.probe.split} for r in results
            if r.probe.split != "heldout" or show_heldout]
    if args.json:
        json.dump({**rep, "results": rows}, sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_report(rep, f"probes, {split} ({rep['model'] or 'templates only'})"))
    if args.out:
        Path(args.out).write_text(json.dumps({**rep, "results": rows}, indent=1, default=str), encoding="utf-8")
    return 0
