"""`slm-voice eval`: the dev set's scoring rules (intent right, fully right, misfire, open questions), the
threshold curve, reading case files, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slm_voice.bench.evaluate import Case, load_cases, result_for, score, summary, threshold_curve
from slm_voice.daemon.cli import parser
from slm_voice.pipeline.intent.model import Intent, Understanding

LIGHTS = ("light.floor_lamp", "light.living_room_ceiling")


def case(intent: str | None, slots: dict | None = None, ids: tuple[str, ...] = (), **kw) -> Case:  # noqa: ANN003
    return Case("c", "s", "g", intent, slots or {}, tuple(sorted(ids)), **kw)


def act(name: str, slots: dict | None = None, ids: tuple[str, ...] = ()) -> Understanding:
    return Understanding(Intent(name, slots or {}, ids), "ok", "slm")


def test_fully_right_needs_intent_values_and_targets() -> None:
    c = case("HassTurnOff", {"domain": "light"}, LIGHTS)
    s = score(c, act("HassTurnOff", {"domain": "light", "area": "living room"}, LIGHTS))
    assert (s.intent_right, s.fully_right, s.misfire) == (True, True, False)
    s = score(c, act("HassTurnOff", {"name": "floor lamp"}, LIGHTS[:1]))
    assert (s.intent_right, s.fully_right, s.misfire) == (True, False, True)
    s = score(c, act("HassTurnOn", {}, LIGHTS))
    assert (s.intent_right, s.fully_right, s.misfire) == (False, False, True)


def test_accepted_alternatives_count_as_right() -> None:
    c = case("HassTurnOff", {}, LIGHTS, accept_entity_ids=(("light.living_room_ceiling",),))
    assert score(c, act("HassTurnOff", {}, ("light.living_room_ceiling",))).fully_right
    c = case("HassLightSet", {"brightness_direction": "up"}, LIGHTS, accept_intents=("HassTurnOn",))
    assert score(c, act("HassTurnOn", {}, LIGHTS)).fully_right
    assert score(c, act("HassLightSet", {"brightness": 80}, LIGHTS)).fully_right
    assert score(c, act("HassLightSet", {"brightness_step": "up"}, LIGHTS)).fully_right
    assert score(c, act("HassLightSet", {"brightness": 20}, LIGHTS)).misfire


@pytest.mark.parametrize(("want", "slots", "ok"), [
    ({"brightness_direction": "down"}, {"brightness": 30}, True),
    ({"brightness_direction": "down"}, {"brightness": 0}, False),
    ({"brightness_direction": "down"}, {"brightness_step": "down"}, True),
    ({"color": "blue"}, {"color": "Blue"}, True),
    ({"color": "blue"}, {"color": "red"}, False),
    ({"volume_step": "up"}, {"volume_step": 10}, True),
    ({"volume_step": "up"}, {"volume_step": "down"}, False),
    ({"item": "milk"}, {"item": "some Milk"}, True),
    ({"minutes": 5}, {"seconds": 300}, True),
    ({"hours": 3}, {"minutes": 3}, False),
])
def test_value_slots(want: dict, slots: dict, ok: bool) -> None:
    assert score(case("X", want), act("X", slots)).fully_right is ok


def test_questions_and_refusals_are_not_misfires() -> None:
    c = case("HassTurnOn", {}, LIGHTS)
    for u in (Understanding(None, "Which one do you mean: the a or the b?", "slm"),
              Understanding(None, "Do you want me to turn on the lights?", "slm", 0.3,
                            confirm=act("HassTurnOn", {}, LIGHTS)),
              None):
        s = score(c, u)
        assert not s.misfire and not s.fully_right and s.asked


def test_open_questions_want_the_free_answer() -> None:
    c = case(None)
    assert score(c, Understanding(None, "", "slm", open_question=True)).fully_right
    s = score(c, Understanding(None, "Sorry, which device do you mean?", "slm"))
    assert not s.fully_right and not s.misfire
    assert score(c, act("HassListAddItem", {"item": "a joke"})).misfire


def test_the_threshold_curve_trades_misfires_for_questions() -> None:
    c = case("HassTurnOn", {}, LIGHTS)
    right = act("HassTurnOn", {}, LIGHTS)
    wrong = act("HassTurnOff", {}, LIGHTS)
    results = [
        result_for(c, Understanding(right.intent, "ok", "slm", 0.9), heard="s", seconds=0.1),
        result_for(c, Understanding(None, "Do you want me to?", "slm", 0.4, confirm=right), heard="s", seconds=0.1),
        result_for(c, Understanding(wrong.intent, "ok", "slm", 0.6), heard="s", seconds=0.1),
        result_for(c, Understanding(right.intent, "ok", "template", 1.0), heard="s", seconds=0.0),
    ]
    curve = {row["threshold"]: row for row in threshold_curve(results, [0.0, 0.5, 0.7])}
    assert (curve[0.0]["fully_right"], curve[0.0]["misfire"]) == (0.75, 0.25)
    assert (curve[0.5]["fully_right"], curve[0.5]["misfire"]) == (0.5, 0.25)
    assert (curve[0.7]["fully_right"], curve[0.7]["misfire"]) == (0.5, 0.0)
    assert curve[0.7]["precision"] == 1.0 and curve[0.7]["recall"] == 0.5
    total = summary(results)
    assert total["misfire"] == 0.25 and total["by_tier"] == {"slm": 3, "template": 1}
    assert total["template_misfires"] == 0


def test_case_files_are_checked(tmp_path: Path) -> None:
    f = tmp_path / "cases.jsonl"
    f.write_text(json.dumps({"id": "a", "sentence": " Turn  on ", "group": "g",
                             "expect": {"intent": None, "slots": {}, "entity_ids": []}}) + "\n\n")
    (c,) = load_cases(f)
    assert c.sentence == "Turn on" and c.intent is None
    f.write_text('{"sentence": "x"}\n')
    with pytest.raises(ValueError, match=":1: needs a sentence"):
        load_cases(f)
    f.write_text("")
    with pytest.raises(ValueError, match="no cases"):
        load_cases(f)


def test_the_eval_command_takes_a_cases_file_and_modes() -> None:
    args = parser().parse_args(["eval", "cases.jsonl", "--config", "home.yaml", "--mode", "speech",
                                "--voices", "piper", "--snr", "clean,10"])
    assert (args.cases, args.mode, args.voices, args.snr) == ("cases.jsonl", "speech", "piper", "clean,10")
    with pytest.raises(SystemExit):
        parser().parse_args(["eval", "cases.jsonl", "--mode", "video"])
