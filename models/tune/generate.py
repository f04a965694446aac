"""The fine-tune's training data: sentences and the answer line each one means (slm_prompt's answer language).

Four sources, mixed by SHARES:
- ha: Home Assistant's own English templates (home-assistant-intents) expanded by hassil-style random walks over
  many random homes (names from vocab.py, with brands, extra words, rooms said several ways);
- patterns: everyday phrasing written for the project (patterns.py);
- open: questions and small talk the assistant answers in free text (answer);
- ignore: statements, "don't"s and remarks near the assistant that ask for nothing (ignore).
Then some examples get spoken padding ("please", "can you", "um") and none equals a sentence of an evaluation
set: EXCLUDED_SHA256 lists the hashes of the dev set's sentences (normalised), and --exclude adds any cases file.

Runs in the runtime venv (hassil and the templates live there); `slm-voice models tune` calls it, then trains in
the build venv. Output: JSON lines {text, answer, source} plus {prompt, completion} as the model sees them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from hassil import Intents
from hassil.intents import IntentData
from hassil.parse_expression import parse_sentence
from home_assistant_intents import get_intents

from ...pipeline.intent import slm_prompt as sp
from . import patterns as pt
from . import vocab as v
from .numbers import spoken_number
from .sampler import Pick, SkipSample, sample

SHARES = {"ha": 0.29, "patterns": 0.51, "open": 0.13, "ignore": 0.07}
"""How the examples divide between the sources. (A "replay" source of open questions answered by the base model in
the chat prompt is gone: the assistant no longer answers from the model's memory, answers.py.)"""
DEFAULT_EXAMPLES = 6000
EXCLUDED = Path(__file__).with_name("excluded_sentences.sha256")
"""sha256 of every evaluation sentence (normalised): never a training example."""
PROBES = Path(__file__).resolve().parents[2] / "bench" / "data" / "probes" / "cases.jsonl"
"""The project's probe suite (bench/probes.py): none of its sentences, dev or held-out, is ever trained on."""

HA_WEIGHTS = {
    "HassTurnOn": 8, "HassTurnOff": 8, "HassLightSet": 5, "HassGetState": 3, "HassClimateGetTemperature": 1.5,
    "HassClimateSetTemperature": 1.5, "HassFanSetSpeed": 0.7, "HassSetPosition": 0.7, "HassMediaPause": 1.2,
    "HassMediaUnpause": 1.2, "HassMediaNext": 1.2, "HassMediaPrevious": 0.6, "HassMediaPlayerMute": 1,
    "HassMediaPlayerUnmute": 0.6, "HassSetVolume": 1.5, "HassSetVolumeRelative": 1.5, "HassVacuumStart": 1,
    "HassVacuumReturnToBase": 0.6, "HassListAddItem": 1.2, "HassShoppingListAddItem": 1.2, "HassStartTimer": 2.5,
    "HassCancelTimer": 0.8, "HassCancelAllTimers": 0.4, "HassGetCurrentTime": 1, "HassGetCurrentDate": 1,
    "HassNevermind": 0.4,
}
"""Home Assistant intents to expand, and how often, relative to each other."""
HASS_TO_KEY = {d.hass: d.key for d in sp.ANSWERS if d.hass} | {
    h: d.key for d in sp.ANSWERS for h in d.hass_by_slot.values()} | {"HassShoppingListAddItem": "add"}
INTERJECTIONS = ("please", "hey", "okay", "ok", "um", "uh", "so", "alright", "right", "oh", "hmm", "well")
REQUESTS = ("can you", "could you", "would you", "will you", "can you please", "could you please", "i want you to",
            "i'd like you to", "please", "just", "go ahead and", "would you please")
"""Said before a command that starts with its verb ("can you turn on ...")."""
VERBS = frozenset(("turn", "switch", "set", "make", "put", "start", "stop", "open", "close", "dim", "lower", "raise",
                   "increase", "decrease", "brighten", "change", "pause", "resume", "play", "skip", "mute", "unmute",
                   "lock", "unlock", "add", "clean", "vacuum", "brew", "prepare", "get", "give", "tell", "shut",
                   "kill", "cut", "activate", "run", "fire", "bring", "reduce", "boost", "crank", "send", "cancel"))
SUFFIXES = ("please", "now", "for me", "thanks", "thank you", "right now", "please thanks", "asap", "if you can")
STATE_WORDS = {"on": "on", "off": "off", "open": "open", "closed": "closed", "locked": "locked",
               "unlocked": "unlocked"}


def sentence_hash(text: str) -> str:
    """The hash an excluded sentence is listed by (of its normalised words)."""
    return hashlib.sha256(sp.normalize(text).encode()).hexdigest()


def excluded_hashes(extra: Iterable[Path] = ()) -> set[str]:
    """Hashes of sentences never to train on: the committed list, the probe suite and any other cases files."""
    hashes = {line.strip() for line in EXCLUDED.read_text().splitlines() if line.strip() and line[0] != "#"}
    for path in (PROBES, *extra):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                hashes.add(sentence_hash(case.get("sentence") or case["text"]))
    return hashes


# ------------------------------------------------------------------------------------------------------------------
# Word providers
# ------------------------------------------------------------------------------------------------------------------


def _area(rng: random.Random) -> Pick:
    area = rng.choice(v.AREAS)
    said = rng.choice(v.AREA_VARIANTS[area]) if area in v.AREA_VARIANTS and rng.random() < 0.3 else area
    return Pick(said, area)


def _device_name(domain: str, rng: random.Random, *, extras: bool = True) -> str:
    base = rng.choice(v.NAMES_BY_DOMAIN[domain])
    r = rng.random()
    if domain == "light" and r < 0.15:
        base = f"{rng.choice(v.AREAS)} {rng.choice(('light', 'lamp', 'light', 'ceiling light'))}"
    elif domain in ("light", "switch", "fan", "media_player", "cover", "climate") and r < 0.25:
        area = rng.choice(v.AREAS)
        base = f"{area} {base}" if domain != "cover" or "door" not in base else base
    elif domain in ("light", "switch", "media_player", "vacuum", "lock", "fan") and r < 0.4:
        base = f"{rng.choice(v.BRANDS)} {base}"
    if extras and domain == "switch" and rng.random() < 0.12:
        base = f"{base} {rng.choice(v.NAME_EXTRAS)}"
    elif extras and domain == "light" and rng.random() < 0.05:
        base = f"{base} {rng.choice(('one', 'two', '1', '2'))}"
    return " ".join(base.split())


def _named(domain: str) -> Callable[[random.Random], Pick]:
    return lambda rng: Pick(name := _device_name(domain, rng), name)


def _any_name(rng: random.Random) -> Pick:
    domain = rng.choice(("light", "switch", "switch", "fan", "media_player"))
    name = _device_name(domain, rng)
    return Pick(name, name)


def _coffee(rng: random.Random) -> Pick:
    word = rng.choice(v.COFFEE_WORDS)
    return Pick(word, word)


def _words(values: tuple[str, ...]) -> Callable[[random.Random], Pick]:
    return lambda rng: Pick(w := rng.choice(values), w)


def _number(lo: int, hi: int, *, step: int = 1) -> Callable[[random.Random], Pick]:
    def pick(rng: random.Random) -> Pick:
        n = rng.randrange(lo, hi + 1, step)
        return Pick(spoken_number(n, rng), n)

    return pick


def _pct(rng: random.Random) -> Pick:
    n = rng.choice((10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 100, rng.randint(1, 100), rng.randint(1, 100)))
    return Pick(spoken_number(n, rng), n)


def _item(rng: random.Random) -> Pick:
    item = rng.choice(v.ITEMS)
    return Pick(item, item)


def _color_pair(rng: random.Random) -> Pick:
    c = rng.choice(v.COLORS)
    return Pick(c, c)


def pattern_lists() -> dict[str, Any]:
    """The {lists} the project's patterns use."""
    return {
        "area": _area, "light": _named("light"), "switch": _named("switch"), "fan": _named("fan"),
        "cover": _named("cover"), "lock": _named("lock"), "media": _named("media_player"),
        "vacuum": _named("vacuum"), "climate": _named("climate"), "todo": _named("todo"), "any": _any_name,
        "valve": _named("valve"), "floor": _words(v.FLOORS), "task": _words(v.TASKS), "tasks": _words(v.TASK_LISTS),
        "shop": _words(v.SHOP_LISTS),
        "coffee": _coffee, "item": _item, "color": _color_pair, "color2": _color_pair, "pct": _pct,
        "level": _number(5, 100, step=5), "temp": _number(15, 28), "hours": _number(2, 12),
        "minutes": _number(2, 90), "seconds": _number(10, 90, step=5), "weekday": _words(v.WEEKDAYS),
        "topic": _words(v.TOPICS), "place": _words(v.PLACES), "person": _words(v.PEOPLE),
        "word": _words(v.WORDS_TO_DEFINE), "joke": _words(v.JOKE_KINDS), "a": _number(2, 20), "b": _number(2, 12),
        **{k: _words(vals) for k, vals in pt.OPEN_LISTS.items()},
    }


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    return {k: parse_sentence(t) for k, t in pt.RULES.items()}


@lru_cache(maxsize=4096)
def _parsed(template: str) -> Any:
    return parse_sentence(template)


# ------------------------------------------------------------------------------------------------------------------
# The sources
# ------------------------------------------------------------------------------------------------------------------


def pattern_example(pattern: pt.Pattern, rng: random.Random, lists: dict[str, Any]) -> tuple[str, str]:
    text, picks = sample(_parsed(rng.choice(pattern.templates)), lists, _rules(), rng)
    d = sp.BY_KEY[pattern.key]
    slots: dict[str, Any] = dict(pattern.fixed)
    for key in d.slots:
        if key in picks and key not in slots:
            slots[key] = picks[key].value
    if "name" in slots:
        slots["name"] = picks["name"].text
    if "area" in picks and "area" in d.slots and slots.get("area") != sp.ALL_AREAS:
        slots["area"] = picks["area"].text  # the words said ("bed room"), not the room they mean
    if "list" in picks:
        slots["list"] = picks["list"].text
    return text, sp.write(pattern.key, **slots)


class HomeAssistantSource:
    """Sentences from Home Assistant's templates with labels in the answer language."""

    def __init__(self) -> None:
        data = get_intents("en")
        if data is None:
            raise RuntimeError("home-assistant-intents has no English sentences")
        self.intents = Intents.from_dict(data)
        self.rules = self.intents.expansion_rules
        self.names = [n for n in HA_WEIGHTS if n in self.intents.intents]
        self.weights = [HA_WEIGHTS[n] for n in self.names]

    def example(self, rng: random.Random) -> tuple[str, str] | None:
        name = rng.choices(self.names, self.weights)[0]
        block: IntentData = rng.choice(self.intents.intents[name].data)
        if "conversation_command" in " ".join(block.sentence_texts) or "timer_name" in " ".join(block.sentence_texts):
            return None  # delayed commands and named timers: the language model does not do those
        lists = self._lists(block, rng)
        rules = {**self.rules, **block.expansion_rules}
        try:
            text, picks = sample(rng.choice(block.sentences), lists, rules, rng)
        except SkipSample:
            return None
        label = self.label(name, block, picks)
        return None if label is None else (text, label)

    def _lists(self, block: IntentData, rng: random.Random) -> dict[str, Any]:
        wanted = block.requires_context.get("domain")
        domains = [wanted] if isinstance(wanted, str) else list(wanted or [])
        domains = [d for d in domains if d in v.NAMES_BY_DOMAIN] or ["light", "switch", "fan", "media_player"]
        domain = rng.choice(domains)
        lists: dict[str, Any] = dict(self.intents.slot_lists)
        lists.update({
            "name": lambda r: Pick(n := _device_name(domain, r), n), "area": _area,
            "floor": _words(v.FLOORS), "shopping_list_item": _item, "todo_list_item": _item,
        })
        return lists

    def label(self, hass: str, block: IntentData, picks: dict[str, Pick]) -> str | None:
        key = HASS_TO_KEY[hass]
        d = sp.BY_KEY[key]
        fixed = block.slots or {}
        slots: dict[str, Any] = {}
        for k in ("name", "area", "floor"):
            if k in picks and k in d.slots:
                slots[k] = picks[k].text
        required = block.requires_context.get("domain")
        single = required if isinstance(required, str) else (required[0] if required and len(required) == 1
                                                              else None)
        domain = fixed.get("domain") if isinstance(fixed.get("domain"), str) else None
        if "device_class" in picks and "name" not in slots:
            slots["name"] = picks["device_class"].text
            domain = "cover" if key in ("on", "off", "state") else domain
        if "domain" in d.slots:
            if "name" in slots and single in ("cover", "lock", "valve"):
                slots["domain"] = single
            elif domain in (("cover", "lock", "valve") if "name" in slots else sp.DOMAINS):
                slots["domain"] = domain
        here = isinstance(block.requires_context.get("area"), dict)
        if key in ("on", "off", "light", "state") and not (set(slots) & {"name", "area", "floor"}) and not here:
            slots["area"] = sp.ALL_AREAS
        if key == "light":
            if "brightness" in picks:
                slots["brightness"] = picks["brightness"].value
            elif "color" in picks:
                slots["color"] = picks["color"].value
            else:
                return None  # colour temperature: not in the answer language
            if slots.get("color") is not None and slots["color"] not in sp.COLORS:
                return None
        if key == "state":
            state = picks.get("state")
            if state is not None:
                if str(state.value) not in STATE_WORDS:
                    return None
                slots["state"] = STATE_WORDS[str(state.value)]
        for k, pick_key in (("temperature", "temperature"), ("percentage", "percentage"), ("position", "position"),
                            ("level", "volume_level"), ("hours", "hours"), ("minutes", "minutes"),
                            ("seconds", "seconds")):
            if k in d.slots and pick_key in picks:
                value = picks[pick_key].value
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 999:
                    return None
                slots[k] = value
        if hass == "HassSetVolumeRelative":
            step = picks.get("volume_step")
            value = step.value if step is not None else None
            if value in (0, None):
                return None
            slots["step"] = "up" if value == "up" or (isinstance(value, (int, float)) and value > 0) else "down"
        if key == "add":
            if "item" not in picks:
                return None
            slots["item"] = picks["item"].text
            if "name" in picks:
                slots["list"] = picks["name"].text
            slots.pop("name", None)
        if key == "vacuum":
            slots.pop("area", None)
            slots.pop("floor", None)
        slots = {k: s for k, s in slots.items() if k in d.slots}
        try:
            return sp.write(key, **slots)
        except sp.AnswerError:
            return None


def open_example(rng: random.Random, lists: dict[str, Any]) -> tuple[str, str]:
    text, _ = sample(_parsed(rng.choice(pt.OPEN_QUESTIONS)), lists, _rules(), rng)
    return text, sp.OPEN_QUESTION


def ignore_example(rng: random.Random, lists: dict[str, Any]) -> tuple[str, str]:
    if rng.random() < 0.45:
        return rng.choice(v.CHIT_CHAT_STATEMENTS), sp.NOT_FOR_ME
    text, _ = sample(_parsed(rng.choice(pt.IGNORE_TEMPLATES)), lists, _rules(), rng)
    return text, sp.NOT_FOR_ME


def _typed(text: str, rng: random.Random) -> str:
    """Transcripts typed by people drop apostrophes now and then ("whats the time", "its dark")."""
    return text.replace("'", "") if "'" in text and rng.random() < 0.12 else text


def _padded(text: str, rng: random.Random) -> str:
    """Spoken padding around a command, now and then."""
    r = rng.random()
    if r < 0.12:
        verb_first = text.split(" ", 1)[0] in VERBS
        return f"{rng.choice(REQUESTS if verb_first and rng.random() < 0.7 else INTERJECTIONS)} {text}"
    if r < 0.22:
        return f"{text} {rng.choice(SUFFIXES)}"
    return text


# ------------------------------------------------------------------------------------------------------------------
# Putting it together
# ------------------------------------------------------------------------------------------------------------------


def generate(n: int = DEFAULT_EXAMPLES, *, seed: int = 0, exclude: Iterable[Path] = ()) -> list[dict[str, str]]:
    """n examples {text, answer, source}, deterministic for a seed; none is an excluded sentence."""
    rng = random.Random(seed)
    excluded = excluded_hashes(exclude)
    lists = pattern_lists()
    ha = HomeAssistantSource()
    weights = [p.weight for p in pt.PATTERNS]
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, str]] = []
    quota = {s: round(n * share) for s, share in SHARES.items()}
    for source, count in quota.items():
        made, tries = 0, 0
        while made < count and tries < count * 30:
            tries += 1
            if source == "ha":
                ex = ha.example(rng)
            elif source == "patterns":
                pattern = rng.choices(pt.PATTERNS, weights)[0]
                ex = pattern_example(pattern, rng, lists)
                if pattern.polite:
                    ex = (_padded(ex[0], rng), ex[1])
            elif source in ("open", "replay"):
                ex = open_example(rng, lists)
            else:
                ex = ignore_example(rng, lists)
            if ex is None:
                continue
            text = sp.normalize(_typed(ex[0], rng))
            if not text or "floor floor" in text or (text, ex[1]) in seen or sentence_hash(text) in excluded:
                continue
            seen.add((text, ex[1]))
            out.append({"text": text, "answer": "" if source == "replay" else ex[1], "source": source})
            made += 1
    rng.shuffle(out)
    return out


def training_row(ex: dict[str, str]) -> dict[str, Any]:
    """An example as the trainer reads it: the prompt the model sees at run time and the completion to learn (None
    for replay: the base model's own chat answer, made when training starts)."""
    if ex["source"] == "replay":
        return {**ex, "prompt": sp.chat_prefix() + sp.chat_turn(ex["text"]), "completion": None}
    return {**ex, **sp.training_example(ex["text"], ex["answer"])}


def write_training(examples: Iterable[dict[str, str]], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(training_row(ex), ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m slm_voice.models.tune.generate",
                                description="Write the fine-tune's training data (JSON lines).")
    p.add_argument("out", type=Path, help="output file (.jsonl)")
    p.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--exclude", type=Path, nargs="*", default=[],
                   help="cases files (JSON lines with a sentence) whose sentences must never be trained on")
    p.add_argument("--show", type=int, default=0, help="print this many examples")
    args = p.parse_args(argv)
    examples = generate(args.examples, seed=args.seed, exclude=args.exclude)
    write_training(examples, args.out)
    counts = Counter(ex["answer"].split("|")[0] for ex in examples)
    print(f"{len(examples)} examples -> {args.out}; by source {dict(Counter(e['source'] for e in examples))}; "
          f"by intent {dict(counts.most_common())}", file=sys.stderr)
    for ex in examples[: args.show]:
        print(f"{ex['source']:9} {ex['text']!r:70} {ex['answer']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
