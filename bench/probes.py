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

The parts beside it: probe_suite.py (reading the cases and homes, checking the suite), probe_judging.py (the
verdicts); this module runs the suite and reports.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline.intent.model import Home, Intent
from .probe_judging import (
    CLAIM,
    HONEST,
    LEAK,
    NO_OPS,
    NOTHING,
    OPPOSITE,
    SOURCE_INTENTS,
    VERDICTS,
    actions_of,
    is_inverted,
    judge,
    matches,
)
from .probe_suite import (
    CATEGORIES,
    OUTCOMES,
    PROBES_DIR,
    SPLITS,
    Action,
    Probe,
    check_suite,
    is_probe_file,
    load_home,
    load_homes,
    load_probes,
)

__all__ = [
    "CATEGORIES", "CLAIM", "HONEST", "LEAK", "NOTHING", "NO_OPS", "OPPOSITE", "OUTCOMES", "PROBES_DIR",
    "SOURCE_INTENTS", "SPLITS", "VERDICTS", "Action", "Probe", "ProbeResult", "actions_of", "check_suite",
    "format_report", "is_inverted", "is_probe_file", "judge", "load_home", "load_homes", "load_probes", "matches",
    "report", "run", "run_probes", "tally",
]


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
