"""The probe suite (bench/data/probes, bench/probes.py): its files are consistent, its verdicts mean what the
module says, and (marked slm) the real understanding never acts against the words and never leaks the answer
language on it.

The held-out cases (`"split": "heldout"`) run in the slm test like the others, but a failure names only the dev
cases: the held-out sentences must stay unseen by whoever makes the test pass (bench/data/probes/README.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from slm_voice.bench import probes as P
from slm_voice.daemon.cli import parser
from slm_voice.pipeline.intent.model import Intent, Understanding

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "bench" / "data" / "probes"


@pytest.fixture(scope="module")
def suite() -> list[P.Probe]:
    return P.load_probes(SUITE / "cases.jsonl")


@pytest.fixture(scope="module")
def homes() -> dict:
    return P.load_homes(SUITE / "homes")


# ------------------------------------------------------------------------------------------------ the files


def test_the_suite_parses_and_is_consistent(suite: list[P.Probe], homes: dict) -> None:
    assert len(suite) >= 300
    assert len(homes) >= 6
    assert P.check_suite(suite, homes) == []  # every home exists, every entity id is in its home, ids unique
    assert {p.category for p in suite} == set(P.CATEGORIES)
    assert all(n >= 15 for n in Counter(p.category for p in suite).values())
    assert {p.home for p in suite} == set(homes)
    assert P.PROBES_DIR == SUITE and P.is_probe_file(SUITE / "cases.jsonl")


def test_about_a_third_is_held_out_in_every_category(suite: list[P.Probe]) -> None:
    held = [p for p in suite if p.split == "heldout"]
    assert 0.28 <= len(held) / len(suite) <= 0.38
    for cat in P.CATEGORIES:
        assert any(p.split == "heldout" and p.category == cat for p in suite), cat
    assert "never" in (SUITE / "README.md").read_text(encoding="utf-8")  # the rule is written down


def test_the_homes_have_the_shapes_the_suite_needs(homes: dict) -> None:
    def domains(name: str) -> set[str]:
        return {e.domain for e in homes[name].entities}

    assert "lock" not in domains("flat") and "cover.garage_door" in {e.id for e in homes["flat"].entities}
    house = homes["house"]
    assert sum(e.domain == "lock" for e in house.entities) == 2 and house.satellite_area is None
    assert {"bedroom 1", "bedroom 2"} <= set(house.areas) and house.floors
    garden = {e.id for e in homes["garden"].entities}
    assert {"valve.front_yard", "valve.water_main", "todo.personal_tasks", "todo.costco"} <= garden
    assert not domains("studio") & {"vacuum", "media_player", "lock", "climate"}


def test_a_broken_file_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "home": "h", "category": "fact", "text": "x", "expect": {"outcomes": ["maybe"]}}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:1: unknown outcomes"):
        P.load_probes(f)
    f.write_text('{"id": "a", "home": "h", "category": "fact", "text": "x", "expect": {}}\n')
    with pytest.raises(ValueError, match="expects nothing"):
        P.load_probes(f)


# ------------------------------------------------------------------------------------------------ the verdicts


def probe(action: P.Action | None = None, outcomes: tuple[str, ...] = (), **kw) -> P.Probe:  # noqa: ANN003
    return P.Probe("t-1", "dev", "house", kw.pop("category", "inverted_verb"), "words", action,
                   outcomes=frozenset(outcomes), **kw)


def did(name: str, *ids: str, reply: str = "Done.", **slots) -> Understanding:  # noqa: ANN003
    return Understanding(Intent(name, slots, ids), reply, "slm")


def said(reply: str, **kw) -> Understanding:  # noqa: ANN003
    return Understanding(None, reply, "slm", **kw)


def verdict(p: P.Probe, u: Understanding, answer: str | None = None) -> str:
    return P.judge(p, u, answer)[0]


def test_the_expected_action_is_ok_and_its_opposite_inverted() -> None:
    p = probe(P.Action("HassTurnOff", ("switch.heater",)), ("ask",))
    assert verdict(p, did("HassTurnOff", "switch.heater")) == "ok"
    assert verdict(p, did("HassTurnOn", "switch.heater")) == "inverted"
    assert verdict(p, did("HassTurnOff", "switch.kettle")) == "misfire"
    assert verdict(p, did("HassTurnOff", "light.kitchen")) == "inverted"  # a domain the words did not name
    assert verdict(p, said("Do you want me to turn off the heater?")) == "ok"
    assert verdict(p, said("Sorry, I didn't understand.")) == "asked"
    dim = probe(P.Action("HassLightSet", ("light.a",), {"brightness_direction": "down"}))
    assert verdict(dim, did("HassLightSet", "light.a", brightness_step="down")) == "ok"
    assert verdict(dim, did("HassLightSet", "light.a", brightness_step="up")) == "inverted"
    vac = probe(P.Action("HassVacuumReturnToBase", ("vacuum.r",)), domains=("vacuum",))
    assert verdict(vac, did("HassVacuumStart", "vacuum.r")) == "inverted"
    assert verdict(vac, did("HassMediaPause", "media_player.tv")) == "inverted"


def test_forbidden_verbs_and_wrong_domains_are_inverted_reading_state_is_not() -> None:
    p = probe(None, ("ask", "refuse", "none"), forbid=(P.Action("HassTurnOn"),), category="negation")
    assert verdict(p, said("Okay, I'll leave everything as it is.")) == "ok"
    assert verdict(p, did("HassTurnOn", "light.a")) == "inverted"
    assert verdict(p, did("HassTurnOff", "light.a")) == "misfire"
    lock = probe(None, ("ask", "refuse"), domains=("lock",), category="cross_domain")
    assert verdict(lock, did("HassTurnOff", "cover.garage_door")) == "inverted"
    assert verdict(lock, did("HassGetState", "cover.garage_door")) == "misfire"
    assert verdict(lock, said("Sorry, there is no lock here.")) == "ok"
    asked_wrong = said("Do you want me to close the garage door?",
                       confirm=did("HassTurnOff", "cover.garage_door", reply="Closing the garage door."))
    assert P.judge(lock, asked_wrong)[0::3] == ("asked", True)  # a question proposing an inverted action


def test_several_actions_count_as_one_with_all_their_targets() -> None:
    p = probe(P.Action("HassTurnOff", ("light.a", "light.b")), category="multi_target")
    assert verdict(p, did("HassTurnOff", "light.a", "light.b")) == "ok"
    assert verdict(p, did("HassTurnOff", "light.a")) == "misfire"

    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Several(Understanding):
        more: tuple[Intent, ...] = ()

    both = Several(Intent("HassTurnOff", {}, ("light.a",)), "Done.", "slm",
                   more=(Intent("HassTurnOff", {}, ("light.b",)),))
    assert verdict(p, both) == "ok"


def test_false_claims_and_open_questions() -> None:
    fact = probe(None, ("refuse",), category="fact")
    assert verdict(fact, said("", open_question=True), "Abuja is the capital of Nigeria.") == "false_claim"
    assert verdict(fact, said("", open_question=True), "Sorry, I can't look that up here.") == "ok"
    assert verdict(fact, said("I can't look that up here.")) == "ok"
    assert verdict(fact, said("", open_question=True)) == "false_claim"  # a free answer, text not generated
    assert verdict(fact, did("HassGetCurrentTime")) == "misfire"
    clock = probe(P.Action("HassGetCurrentTime"), category="fact")
    assert P.judge(clock, did("HassGetCurrentTime"))[:2] == ("ok", "source")
    talk = probe(None, ("none", "answer"), category="small_talk")
    assert verdict(talk, said("", open_question=True), "Why did the chicken cross the road?") == "ok"
    assert verdict(talk, said("You're welcome.")) == "ok"
    assert verdict(talk, said("Turned off the lights.")) == "false_claim"
    assert P.judge(talk, did("HassNevermind", reply="Okay."))[:2] == ("ok", "none")  # changes nothing
    assert verdict(talk, said("", open_question=True), "Okay, I've turned off all the lights.") == "false_claim"


@pytest.mark.parametrize("text", ["answer.", "ignore.", "on|name=coffee", "Sure. answer.", "off|area=kitchen",
                                  "volume|step=up", "Okay <|im_end|>", "name=kitchen light"])
def test_answer_language_in_a_reply_is_a_leak(text: str) -> None:
    p = probe(None, ("none", "answer"), category="small_talk")
    assert P.judge(p, said(text))[2]
    assert P.judge(p, said("", open_question=True), text)[2]


@pytest.mark.parametrize("text", ["Turned on the kitchen light.", "Sorry, I can't look that up here.",
                                  "I'll answer that later.", "Ignore the noise, I'm listening.",
                                  "Do you want me to turn on the kettle?", "It is 12:05 PM."])
def test_ordinary_replies_do_not_leak(text: str) -> None:
    assert not P.LEAK.search(text)


def test_the_report_counts_every_verdict(suite: list[P.Probe]) -> None:
    rs = [P.ProbeResult(p, "ok", "none", False, "", None, [], None, False, "none", None, 0.0) for p in suite[:5]]
    rs[0].verdict, rs[1].leak = "inverted", True
    rep = P.report(rs)
    assert rep["total"]["cases"] == 5 and rep["total"]["inverted"] == 1 and rep["total"]["leak"] == 1
    assert "TOTAL" in P.format_report(rep)


def test_the_command_line_takes_a_probe_suite() -> None:
    args = parser().parse_args(["eval", "probes", "--split", "dev", "--no-answers", "--homes", "h"])
    assert (args.cases, args.split, args.no_answers, args.homes, args.show_heldout) == ("probes", "dev", True, "h",
                                                                                         False)


def test_eval_keeps_the_held_out_cases_unseen(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from slm_voice.bench import probes
    from slm_voice.daemon.settings import Settings

    out = tmp_path / "r.json"
    args = parser().parse_args(["eval", str(probes.PROBES_DIR / "cases.jsonl"), "--no-slm", "--out", str(out)])
    assert probes.is_probe_file(args.cases) and probes.run(Settings(), args) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["total"]["cases"] >= 300 and saved["splits"]["heldout"]["cases"] > 0
    rows = {r["id"] for r in saved["results"]}
    for p in P.load_probes(SUITE / "cases.jsonl"):
        assert (p.id in rows) == (p.split == "dev")
        assert (f" {p.id} " in printed) == (p.split == "dev")


def test_templates_alone_never_invert_or_leak(suite: list[P.Probe], homes: dict) -> None:
    from slm_voice.pipeline.intent.templates import TemplateTier
    from slm_voice.pipeline.intent.tiers import IntentTiers

    tiers = IntentTiers([TemplateTier(next(iter(homes.values())))])
    tiers.load()
    results = P.run_probes(tiers, suite, homes)
    bad = [r.probe.id for r in results if r.verdict == "inverted" or r.leak]
    assert bad == []


# ------------------------------------------------------------------------------------------------ the real models


@pytest.mark.slm
def test_the_real_understanding_never_inverts_and_never_leaks(suite: list[P.Probe], homes: dict) -> None:
    """Templates + the built smollm2-135m fine-tune, as the daemon runs them, over every case in its home."""
    from slm_voice.models import catalog
    from slm_voice.models.build_slm import is_built, model_dir
    from slm_voice.models.locate import models_dir
    from slm_voice.pipeline.intent.slm import LanguageModelTier
    from slm_voice.pipeline.intent.templates import TemplateTier
    from slm_voice.pipeline.intent.tiers import IntentTiers

    model = "smollm2-135m"
    base = Path(os.environ.get("SLM_VOICE_TEST_MODELS_DIR") or models_dir())
    if not is_built(model, base):
        pytest.fail(f"{model} is not built in {base}: `slm-voice models build --model {model}`")
    first = next(iter(homes.values()))
    slm = LanguageModelTier(model_dir(model, base), first,
                            confidence_threshold=catalog.get("slm", model).confidence_threshold)
    tiers = IntentTiers([TemplateTier(first), slm])
    tiers.load()
    results = P.run_probes(tiers, suite, homes)
    rep = P.report(results)
    print(P.format_report(rep, model))
    bad = [r for r in results if r.verdict == "inverted" or r.leak]
    shown = [json.dumps({"id": r.probe.id, "text": r.probe.text, "home": r.probe.home, "verdict": r.verdict,
                         "leak": r.leak, "actions": r.actions, "reply": r.answer or r.reply})
             for r in bad if r.probe.split == "dev"]
    held = sum(r.probe.split == "heldout" for r in bad)
    if bad:  # pytest.fail, not assert: the assertion's rewrite would print the held-out cases too
        pytest.fail(f"{len(bad)} cases inverted or leaked ({held} of them held out, not shown):\n" + "\n".join(shown))
