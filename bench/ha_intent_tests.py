"""`python -m slm_voice.bench.ha_intent_tests DIR [--json]`: the templates tier against Home Assistant's own
English intent tests.

DIR is a checkout of github.com/OHF-Voice/intents (or its tests/en folder): `intents.yaml` says, per intent, its
slot combinations (which ones take the satellite's area, which domains a sentence infers), and every
`tests/en/<Intent>/<combination>.yaml` lists sentences with the slots they must give. Each sentence is judged as
that repository's own runner (tests/test_slot_combinations.py) judges it: the intent name and the slots, with the
satellite's area taken out where the combination takes it from there; the spoken response is not compared (the
replies are slm-voice's own). The matched slot combination is reported, not judged: two template blocks can give
the same intent and slots.

The home of a test is the test file's floors, areas and entities laid over the shared `_fixtures.yaml` (its
names win), so every domain is in the home and the tier keeps the templates it would keep in a real one;
`--no-fixtures` serves each file's own home alone, as that runner does. A failure is also run through Home
Assistant's own packaged templates unfiltered (every intent, no domain pruning, plain name lists as the runner
builds them): where those fail too, the cause is the templates or the test, not slm-voice.

Intents slm-voice does not support (pipeline/intent/intents.py) are counted apart; their sentences are checked
only for misfires (one of our intents matched instead).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..pipeline.intent.intents import NAMES
from ..pipeline.intent.model import Entity, Home
from ..pipeline.intent.templates import TemplateMatch, TemplateTier

CONTEXT_AREA = "__context_area__"
"""The satellite's area when a test file marks none (the runner's own sentinel)."""
LANGUAGE = "en"
_PRUNED = "home has no"


@dataclass(frozen=True)
class Combination:
    """One slot combination of intents.yaml, as far as judging needs it."""

    context_area: bool = False
    """The area comes from the satellite, not from the words."""
    inferred_domains: frozenset[str] = frozenset()
    """Domains a sentence may infer from its words ("the lights": light)."""


@dataclass
class Outcome:
    """One test sentence."""

    file: str
    """<Intent>/<combination>."""
    intent: str
    sentence: str
    expected: dict[str, Any]
    got_intent: str | None = None
    got_slots: dict[str, Any] | None = None
    got_combination: str | None = None
    failure: str | None = None
    """Why it failed (None: passed), e.g. "no template matched", "slot floor missing"."""
    reference_failure: str | None = None
    """For failures: Home Assistant's own unfiltered templates fail it too, and why (None: they pass it)."""
    reply: str | None = None
    """What the tier would say (understand()), for passing sentences of supported intents."""
    resolved: bool | None = None
    """The target was found in the home (or the intent needs none); False: the tier answers with a problem."""
    entity_ids: tuple[str, ...] = ()
    """What the target resolved to."""

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class Report:
    """Every sentence of a run, with the counts derived from them."""

    source: str
    with_fixtures: bool
    supported: list[Outcome] = field(default_factory=list)
    unsupported: list[Outcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        passed = sum(o.passed for o in self.supported)
        failed = [o for o in self.supported if not o.passed]
        misfires = [o for o in self.unsupported if o.got_intent is not None]
        return {
            "source": self.source,
            "with_fixtures": self.with_fixtures,
            "supported": {
                "files": len({o.file for o in self.supported}),
                "files_passed": sum(all(o.passed for o in os) for os in _by(self.supported, "file").values()),
                "sentences": len(self.supported),
                "passed": passed,
                "failed": len(failed),
                "failed_ha_templates_too": sum(o.reference_failure is not None for o in failed),
                "failed_by_design": sum(_whose(o) == "by design" for o in failed),
                "failed_slm_voice": sum(_whose(o) == "slm-voice only" for o in failed),
                "resolved": sum(bool(o.resolved) for o in self.supported),
                "resolution_problems": sum(o.resolved is False for o in self.supported),
            },
            "unsupported": {
                "intents": sorted({o.intent for o in self.unsupported}),
                "files": len({o.file for o in self.unsupported}),
                "sentences": len(self.unsupported),
                "misfires": len(misfires),
            },
            "per_intent": {k: _tally(v) for k, v in sorted(_by(self.supported, "intent").items())},
            "per_file": {k: _tally(v) for k, v in sorted(_by(self.supported, "file").items())},
            "failures_by_cause": {cause: [_brief(o) for o in os] for cause, os in _causes(failed)},
            "resolution_problems": dict(Counter(_problem_kind(o.reply or "") for o in self.supported
                                                if o.resolved is False).most_common()),
            "misfires": [_brief(o) for o in misfires],
            "sentences": [asdict(o) for o in self.supported + self.unsupported],
        }


def _by(outcomes: Iterable[Outcome], key: str) -> dict[str, list[Outcome]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[getattr(o, key)].append(o)
    return groups


def _tally(outcomes: Sequence[Outcome]) -> dict[str, int]:
    return {"passed": sum(o.passed for o in outcomes), "total": len(outcomes)}


def _causes(failed: Sequence[Outcome]) -> list[tuple[str, list[Outcome]]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in failed:
        groups[f"{_whose(o)}: {o.failure}"].append(o)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def _whose(o: Outcome) -> str:
    """Whose doing a failure is: Home Assistant's templates (they fail it too), slm-voice's design (the home lacks
    the domain, so its templates are not loaded, as in Home Assistant), or slm-voice's own."""
    if o.reference_failure is not None:
        return "HA's own templates fail too"
    return "by design" if (o.failure or "").startswith(_PRUNED) else "slm-voice only"


def _brief(o: Outcome) -> dict[str, Any]:
    return {"file": o.file, "sentence": o.sentence, "expected": o.expected, "got_intent": o.got_intent,
            "got_slots": o.got_slots, "reference_failure": o.reference_failure}


def _problem_kind(reply: str) -> str:
    """A resolution problem without its names: "Sorry, there is no X in the Y." -> "Sorry, there is no … in the …"."""
    reply = re.sub(r"(called|no|in the|on the|is not on the) [^.,?]+", r"\1 …", reply)
    return re.sub(r"Which one do you mean: .*", "Which one do you mean: …?", reply)


# --- the suite -------------------------------------------------------------------------------------------------


def find_root(path: Path) -> Path:
    """The checkout's root (with intents.yaml and tests/en) from DIR or DIR = tests/en."""
    for candidate in (path, path.parent.parent):
        if (candidate / "intents.yaml").is_file() and (candidate / "tests" / LANGUAGE).is_dir():
            return candidate
    raise SystemExit(f"{path}: not a checkout of OHF-Voice/intents (no intents.yaml next to tests/{LANGUAGE}/); "
                     f"extract one with: git archive HEAD intents.yaml tests/{LANGUAGE} | tar -x -C DIR")


def load_combinations(root: Path) -> dict[tuple[str, str], Combination]:
    schemas = yaml.safe_load((root / "intents.yaml").read_text(encoding="utf-8"))
    combos = {}
    for intent, info in schemas.items():
        for name, combo in (info.get("slot_combinations") or {}).items():
            inferred = {d for ds in (combo.get("inferred_domains") or {}).values() for d in ds}
            combos[(intent, name)] = Combination(bool(combo.get("context_area")), frozenset(inferred))
    return combos


def _slug(name: str) -> str:
    return name.strip().casefold().replace(" ", "_")


def home_for(test: Mapping[str, Any], fixtures: Mapping[str, Any] | None) -> Home:
    """The home of one test file: its floors, areas (with floors and aliases) and entities (with device classes and
    aliases), over the shared fixtures when given (the file's names win). The satellite stands in the area the
    file marks `context_area`, else in an empty area of its own."""
    floors: dict[str, str] = {}  # casefolded name -> name, for each of the collections below
    areas: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}  # -> (name, floor, aliases)
    entities: dict[str, Entity] = {}
    if fixtures:
        floor_of_id = {f["id"]: f["name"] for f in fixtures.get("floors") or []}
        area_of_id = {a["id"]: a["name"] for a in fixtures.get("areas") or []}
        floors.update((f.casefold(), f) for f in floor_of_id.values())
        for a in fixtures.get("areas") or []:
            areas[a["name"].casefold()] = (a["name"], floor_of_id.get(a.get("floor")), tuple(a.get("aliases") or ()))
        for e in fixtures.get("entities") or []:
            entities[e["name"].casefold()] = _entity(e["id"], e, area_of_id.get(e.get("area")))
    floors.update((f["name"].casefold(), f["name"]) for f in test.get("floors") or [])
    for a in test.get("areas") or []:
        _, floor, aliases = areas.get(a["name"].casefold(), (None, None, ()))  # what the file leaves out stays
        areas[a["name"].casefold()] = (a["name"], a.get("floor") or floor, tuple(a.get("aliases") or aliases))
    own = [_entity(f"{e['domain']}.{_slug(e['name'])}", e, e.get("area")) for e in test.get("entities") or []]
    ids = {e.id for e in own}
    entities = {k: e for k, e in entities.items() if e.id not in ids}
    entities.update((e.name.casefold(), e) for e in own)
    satellite = context_area(test)
    areas.setdefault(satellite.casefold(), (satellite, None, ()))
    return Home(
        areas=tuple(name for name, _, _ in areas.values()),
        entities=tuple(entities.values()),
        satellite_area=satellite,
        floors=tuple(floors.values()),
        area_floors=tuple((name, floor) for name, floor, _ in areas.values() if floor),
        area_aliases=tuple((alias, name) for name, _, aliases in areas.values() for alias in aliases),
    )


def _entity(entity_id: str, e: Mapping[str, Any], area: str | None) -> Entity:
    return Entity(entity_id, e["name"], tuple(e.get("aliases") or ()), area,
                  (e.get("attributes") or {}).get("device_class"))


def context_area(test: Mapping[str, Any]) -> str:
    marked = [a["name"] for a in test.get("areas") or [] if a.get("context_area")]
    return marked[0] if marked else CONTEXT_AREA


def states_of(test: Mapping[str, Any], fixtures: Mapping[str, Any] | None) -> dict[str, str]:
    """Entity id -> state, for the replies to state questions."""
    states = {e["id"]: str(e["state"]) for e in (fixtures or {}).get("entities") or [] if "state" in e}
    for e in test.get("entities") or []:
        if "state" in e:
            states[f"{e['domain']}.{_slug(e['name'])}"] = str(e["state"])
    return states


# --- judging ---------------------------------------------------------------------------------------------------


def judge(expected_slots: Mapping[str, Any], combo: Combination, satellite_area: str, intent: str,
          got: TemplateMatch | None) -> str | None:
    """Why a match is not what the test expects, or None: as tests/test_slot_combinations.py judges it."""
    if got is None:
        return "no template matched"
    if got.intent != intent:
        return f"matched {got.intent}"
    expected: dict[str, Any] = dict(expected_slots)
    if combo.inferred_domains and "domain" not in expected:
        expected["domain"] = set(combo.inferred_domains)
    actual = dict(got.slots)
    if combo.context_area and actual.pop("area", None) != satellite_area:
        return "slot area not the satellite's"
    missing, extra = sorted(expected.keys() - actual.keys()), sorted(actual.keys() - expected.keys())
    if missing or extra:
        return f"slot {missing[0]} missing" if missing else f"slot {extra[0]} extra"
    wrong = [slot for slot in sorted(expected) if not _same(actual[slot], expected[slot])]
    return f"slot {wrong[0]} wrong" if wrong else None


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, (list, set, tuple)):
        if isinstance(expected, (list, set, tuple)):
            return set(actual) <= set(expected)
        return expected in actual
    if isinstance(expected, (list, set, tuple)):
        return actual in expected
    return actual == expected


class Reference:
    """Home Assistant's packaged English templates, every intent, no domain pruning, slot lists built as the
    intents repository's runner builds them: what Home Assistant itself makes of a sentence."""

    def __init__(self) -> None:
        from hassil import Intents
        from home_assistant_intents import get_intents

        self.intents = Intents.from_dict(get_intents(LANGUAGE))
        self.domains: set[str] = set()
        """The domains of the sentence block the last recognize() matched (empty: any)."""

    def recognize(self, sentence: str, test: Mapping[str, Any], home: Home) -> TemplateMatch | None:
        from hassil import TextSlotList, recognize_best

        lists = {
            "name": TextSlotList.from_tuples([(e.name, e.name, {"domain": e.domain}) for e in home.entities],
                                             name="name"),
            "area": TextSlotList.from_strings(list(home.areas), name="area"),
            "floor": TextSlotList.from_strings(list(home.floors), name="floor"),
        }
        result = recognize_best(sentence, self.intents, slot_lists=lists, intent_context={"area": context_area(test)},
                                best_slot_name="name")
        if result is None:
            return None
        slots = {name: e.value for name, e in result.entities.items()}
        combination = (result.intent_metadata or {}).get("slot_combination")
        self.domains = set(result.intent_data.domains) if result.intent_data is not None else set()
        return TemplateMatch(result.intent.name, slots, combination)


class Tiers:
    """One TemplateTier per set of domains (the tier selects templates by the home's domains), re-homed per file."""

    def __init__(self) -> None:
        self._tiers: dict[frozenset[str], TemplateTier] = {}
        self.states: dict[str, str] = {}

    def for_home(self, home: Home) -> TemplateTier:
        domains = frozenset(e.domain for e in home.entities)
        tier = self._tiers.get(domains)
        if tier is None:
            tier = self._tiers[domains] = TemplateTier(home, states=self.states.get)
        tier.set_home(home)
        return tier


def run(root: Path, *, with_fixtures: bool = True, progress: bool = False) -> Report:
    combos = load_combinations(root)
    tests_dir = root / "tests" / LANGUAGE
    fixtures_path = tests_dir / "_fixtures.yaml"
    fixtures = yaml.safe_load(fixtures_path.read_text(encoding="utf-8")) if with_fixtures and fixtures_path.exists() \
        else None
    report = Report(source=str(root), with_fixtures=fixtures is not None)
    tiers = Tiers()
    reference: Reference | None = None
    supported = set(NAMES)
    for path in sorted(tests_dir.glob("*/*.yaml")):
        intent, combo_name = path.parent.name, path.stem
        test = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        home = home_for(test, fixtures)
        tiers.states.clear()
        tiers.states.update(states_of(test, fixtures))
        tier = tiers.for_home(home)
        combo = combos.get((intent, combo_name), Combination())
        for group in test.get("tests") or []:
            for sentence in group.get("sentences") or []:
                o = Outcome(f"{intent}/{combo_name}", intent, sentence, dict(group.get("slots") or {}))
                got = tier.recognize(sentence)
                if got is not None:
                    o.got_intent, o.got_slots, o.got_combination = got.intent, got.slots, got.combination
                if intent not in supported:
                    report.unsupported.append(o)
                    continue
                o.failure = judge(o.expected, combo, home.satellite_area or CONTEXT_AREA, intent, got)
                if o.failure is not None:
                    reference = reference or Reference()
                    ref = reference.recognize(sentence, test, home)
                    o.reference_failure = judge(o.expected, combo, context_area(test), intent, ref)
                    have = {e.domain for e in home.entities}
                    if o.reference_failure is None and got is None and reference.domains and \
                            not reference.domains & have:
                        # As in Home Assistant: templates for domains the home lacks are not loaded.
                        o.failure = f"{_PRUNED} {'/'.join(sorted(reference.domains))}: its templates are not loaded"
                else:
                    u = tier.understand(sentence)
                    if u is not None:
                        o.reply, o.resolved = u.reply, u.intent is not None
                        o.entity_ids = u.intent.entity_ids if u.intent is not None else ()
                report.supported.append(o)
                if progress and not o.passed:
                    print(f"FAIL {o.file}: {sentence!r}: {o.failure}", file=sys.stderr)
    return report


# --- output ----------------------------------------------------------------------------------------------------


def format_report(d: Mapping[str, Any], *, examples: int = 6) -> str:
    s, u = d["supported"], d["unsupported"]
    lines = [
        f"Home Assistant's English intent tests ({d['source']}), templates tier, "
        f"home = {'each file over _fixtures.yaml' if d['with_fixtures'] else 'each file alone'}",
        f"supported intents: {s['passed']}/{s['sentences']} sentences pass, {s['files_passed']}/{s['files']} files "
        f"entirely; of the {s['failed']} failures {s['failed_slm_voice']} are slm-voice's, {s['failed_by_design']} by "
        f"design (the home lacks the domain), {s['failed_ha_templates_too']} fail with Home Assistant's own "
        f"templates too",
        f"  of the passing: {s['resolved']} resolve to the home's entities, {s['resolution_problems']} are refused by "
        f"the resolver (no such device there in the test's home)",
        f"unsupported intents (out of scope): {u['sentences']} sentences in {u['files']} files "
        f"({', '.join(u['intents'])}); {u['misfires']} matched one of ours instead (misfires)",
        "",
        "per intent:",
    ]
    lines += [f"  {'PASS' if t['passed'] == t['total'] else 'FAIL'} {k}: {t['passed']}/{t['total']}"
              for k, t in d["per_intent"].items()]
    lines += ["", "per file:"]
    lines += [f"  {'PASS' if t['passed'] == t['total'] else 'FAIL'} {k}: {t['passed']}/{t['total']}"
              for k, t in d["per_file"].items()]
    if d["failures_by_cause"]:
        lines += ["", "failures by cause:"]
        for cause, items in d["failures_by_cause"].items():
            lines.append(f"  {cause}: {len(items)}")
            for item in items[:examples]:
                got = f"{item['got_intent']} {item['got_slots']}" if item["got_intent"] else "nothing"
                lines.append(f"    {item['file']}: {item['sentence']!r} expected {item['expected']}, got {got}")
            if len(items) > examples:
                lines.append(f"    … {len(items) - examples} more")
    if d["resolution_problems"]:
        lines += ["", "replies of passing sentences whose target the home lacks:"]
        lines += [f"  {n} × {kind}" for kind, n in d["resolution_problems"].items()]
    if d["misfires"]:
        lines += ["", "misfires on unsupported intents:"]
        lines += [f"  {m['file']}: {m['sentence']!r} -> {m['got_intent']} {m['got_slots']}" for m in d["misfires"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m slm_voice.bench.ha_intent_tests", description=__doc__.split("\n")[0])
    p.add_argument("dir", type=Path, help="a checkout of OHF-Voice/intents (or its tests/en folder)")
    p.add_argument("--json", action="store_true", help="print the whole report, every sentence included, as JSON")
    p.add_argument("--no-fixtures", action="store_true",
                   help="each test file's own home alone (as the intents repository's runner), not over _fixtures.yaml")
    p.add_argument("--examples", type=int, default=6, help="failing sentences shown per cause (text output)")
    args = p.parse_args(argv)
    report = run(find_root(args.dir), with_fixtures=not args.no_fixtures).as_dict()
    if args.json:
        json.dump(report, sys.stdout, indent=1, default=sorted)
        print()
    else:
        report.pop("sentences")
        print(format_report(report, examples=args.examples))
    return 0 if report["supported"]["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
