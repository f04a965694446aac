"""The fine-tune's data and the answer language: every generated example is an answer the runtime parses, the data
never contains an evaluation sentence, and the adapter merge computes what peft computes."""

from __future__ import annotations

import json
import random
import subprocess
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from slm_voice.models.merge import adapter_dir, adapter_sha256
from slm_voice.models.tune import generate as gen
from slm_voice.models.tune import patterns as pt
from slm_voice.models.tune.numbers import number_words
from slm_voice.models.tune.sampler import sample
from slm_voice.pipeline.intent import intents
from slm_voice.pipeline.intent import slm_prompt as sp
from tests.conftest import ROOT

DEV_CASES = ROOT.parent / "shared" / "evalsets" / "slurp_dev" / "cases.jsonl"


@pytest.fixture(scope="module")
def data() -> list[dict[str, str]]:
    return gen.generate(2000, seed=0)


def test_every_example_is_an_answer_the_runtime_reads(data: list[dict[str, str]]) -> None:
    for ex in data:
        row = gen.training_row(ex)
        if ex["source"] == "replay":  # a chat turn: the base model's own answer is learned
            assert row["completion"] is None and row["prompt"].startswith(sp.chat_prefix())
            continue
        assert row["completion"] == ex["answer"] + "<|im_end|>" and row["prompt"].endswith("assistant\n")
        answer = sp.parse(ex["answer"])
        assert sp.write(answer.key, **answer.slots) == ex["answer"]
        assert ex["text"] == sp.normalize(ex["text"]) and ex["text"]


def test_the_data_mixes_its_sources_and_intents(data: list[dict[str, str]]) -> None:
    sources = Counter(ex["source"] for ex in data)
    for source, share in gen.SHARES.items():
        assert abs(sources[source] / len(data) - share) < 0.02
    keys = Counter(ex["answer"].split("|")[0] for ex in data if ex["source"] != "replay")
    assert {"on", "off", "light", "volume", "mute", "vacuum", "add", "timer", "clock", "date", "answer",
            "ignore"} <= set(keys)
    assert keys["answer"] > 150 and keys["ignore"] > 80
    # relative and whole-home forms are there, not only absolute ones
    answers = [ex["answer"] for ex in data]
    assert any("brightness=down" in a for a in answers) and any("step=up" in a for a in answers)
    assert any("area=all" in a for a in answers)


def test_the_same_seed_gives_the_same_data() -> None:
    assert gen.generate(300, seed=7) == gen.generate(300, seed=7)
    assert gen.generate(300, seed=7) != gen.generate(300, seed=8)


def test_no_training_example_is_an_evaluation_sentence(data: list[dict[str, str]]) -> None:
    excluded = gen.excluded_hashes()
    assert len(excluded) >= 134  # the dev set's sentences, hashed (the file holds no sentence)
    assert not [ex["text"] for ex in data if gen.sentence_hash(ex["text"]) in excluded]
    if DEV_CASES.is_file():  # the dev set itself, where the checkout sits next to it
        dev = {sp.normalize(json.loads(line)["sentence"]) for line in DEV_CASES.read_text().splitlines() if line}
        assert {gen.sentence_hash(s) for s in dev} <= excluded
        assert not {ex["text"] for ex in data} & dev


def test_an_excluded_sentence_is_never_generated(tmp_path: Path) -> None:
    common = Counter(ex["text"] for ex in gen.generate(1500, seed=1)).most_common(1)[0][0]
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"sentence": common.upper() + "!"}) + "\n")
    assert common not in {ex["text"] for ex in gen.generate(1500, seed=1, exclude=[cases])}


def test_every_pattern_template_expands_to_its_answer() -> None:
    rng, lists = random.Random(3), gen.pattern_lists()
    for pattern in pt.PATTERNS:
        for template in pattern.templates:
            for _ in range(5):
                text, answer = gen.pattern_example(pt.Pattern(pattern.key, (template,), pattern.fixed), rng, lists)
                assert text and sp.parse(answer).key == pattern.key, template


def test_home_assistant_templates_give_labelled_sentences() -> None:
    source, rng = gen.HomeAssistantSource(), random.Random(5)
    made = [ex for _ in range(400) if (ex := source.example(rng)) is not None]
    assert len(made) > 250
    hass = Counter(sp.parse(a).hass for _, a in made)
    assert {"HassTurnOn", "HassTurnOff", "HassLightSet", "HassStartTimer"} <= set(hass)


def test_the_sampler_records_what_each_list_said() -> None:
    lists = {"area": lambda r: gen.Pick("bed room", "bedroom"), "n": gen._number(5, 5)}
    text, picks = sample("(turn|switch) off [the] lights in the {area} in {n:minutes} minutes", lists, {},
                         random.Random(0))
    assert "bed room" in text and picks["area"].value == "bedroom" and picks["minutes"].value == 5
    assert number_words(75) == "seventy five" and number_words(100) == "one hundred"


def test_the_answer_language_names_only_supported_intents() -> None:
    for d in sp.ANSWERS:
        for hass in (d.hass, *d.hass_by_slot.values()):
            assert hass is None or hass in intents.NAMES, hass
    assert set(sp.TARGET) <= set(sp.SLOTS)


@pytest.mark.parametrize("line", ["", "on|", "light", "light|brightness=up|color=red", "on|area=x|name=y",
                                  "volume|level=1000", "add|list=shopping", "on|name=Kitchen", "off|domain=car",
                                  "timer|minutes=ten"])
def test_lines_outside_the_answer_language_are_refused(line: str) -> None:
    with pytest.raises(sp.AnswerError):
        sp.parse(line)


def test_the_grammar_has_every_intent_and_slot() -> None:
    for d in sp.ANSWERS:
        assert f'"{d.key}"' in sp.GRAMMAR
    for key in sp.SLOTS:
        assert f'"|{key}="' in sp.GRAMMAR


def test_normalize_speaks_like_the_training_data() -> None:
    assert sp.normalize("Turn the lights to 20%.") == "turn the lights to 20 percent"
    assert sp.normalize("It’s 21°C in here!") == "it's 21 degrees in here"
    assert "<|" not in sp.normalize("<|im_end|> hi")


@pytest.mark.models
def test_the_adapter_merge_computes_what_peft_computes(tmp_path: Path) -> None:
    """A tiny random Llama, a random LoRA adapter: merge.py on the safetensors files == peft's merge_and_unload."""
    from slm_voice.models.build_slm import find_build_python

    script = textwrap.dedent(f"""
        import sys, torch
        sys.path.insert(0, {str(tmp_path / "pkg")!r})
        from transformers import LlamaConfig, LlamaForCausalLM
        from peft import LoraConfig, get_peft_model
        from slm_voice.models.merge import merge_into
        torch.manual_seed(0)
        cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2)
        base = LlamaForCausalLM(cfg)
        base.save_pretrained({str(tmp_path / "hf")!r})
        lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"]))
        for n, p in lora.named_parameters():
            if "lora_" in n:
                torch.nn.init.normal_(p, std=0.1)
        lora.save_pretrained({str(tmp_path / "adapter")!r})
        want = lora.merge_and_unload().state_dict()
        from pathlib import Path
        n = merge_into(Path({str(tmp_path / "hf")!r}), Path({str(tmp_path / "adapter")!r}))
        got = LlamaForCausalLM.from_pretrained({str(tmp_path / "hf")!r}).state_dict()
        worst = max((got[k] - want[k]).abs().max().item() for k in want)
        print(n, worst)
    """)
    (tmp_path / "pkg" / "slm_voice").mkdir(parents=True)
    (tmp_path / "pkg" / "slm_voice" / "models").symlink_to(ROOT / "models")
    out = subprocess.run([str(find_build_python()), "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    merged, worst = out.stdout.split()[-2:]
    assert int(merged) == 4 and float(worst) < 1e-5


def test_committed_adapters_are_small_and_described() -> None:
    for model in ("smollm2-135m", "qwen2.5-coder-0.5b"):
        folder = adapter_dir(model)
        if folder is None:
            assert adapter_sha256(model) is None
            continue
        assert sum(f.stat().st_size for f in folder.iterdir()) < 20e6
        info = json.loads((folder / "tune.json").read_text())
        assert info["model"] == model and info["examples"] > 0 and info["command"].startswith("slm-voice models tune")
        assert len(adapter_sha256(model) or "") == 64
