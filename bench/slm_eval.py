"""Accuracy and speed of the language-model intent tier: `evaluate()` on a labelled set, `bench()` on plain texts.

The labelled set ships with the bench (data/slm_eval.yaml: paraphrased commands for the home of the repository's
config.yaml). Run it with `slm-voice eval [ITEMS] --config config.yaml [--bench] [--json]`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slm_voice.pipeline.intent.slm import LanguageModelTier

EVAL_SET = Path(__file__).with_name("data") / "slm_eval.yaml"


@dataclass(frozen=True)
class EvalItem:
    """One labelled sentence."""

    text: str
    intent: str | None
    """Expected Home Assistant intent name; None: an open question the tier should hand to the free answer."""
    slots: dict[str, Any] = field(default_factory=dict)
    """Slot values that must match (strings case-insensitively)."""
    entity_ids: tuple[str, ...] | None = None
    """Expected entity ids (as a set), None: not checked."""


def load_items(path: str | os.PathLike[str] = EVAL_SET) -> list[EvalItem]:
    """The labelled set from YAML; raises ValueError naming the bad item."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of items")
    items = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict) or not isinstance(r.get("text"), str) or "intent" not in r:
            raise ValueError(f"{path}: item {i} needs text and intent")
        unknown = set(r) - {"text", "intent", "slots", "entity_ids"}
        if unknown:
            raise ValueError(f"{path}: item {i} has unknown keys {sorted(unknown)}")
        ids = r.get("entity_ids")
        items.append(EvalItem(r["text"], r["intent"], dict(r.get("slots") or {}),
                              tuple(ids) if ids is not None else None))
    return items


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.casefold().split()) == " ".join(b.casefold().split())
    return a == b


def evaluate(tier: LanguageModelTier, items: Iterable[EvalItem]) -> dict[str, Any]:
    """Intent, slot and entity accuracy of the tier on labelled items, with per-item results and timings."""
    tier.load()
    results = []
    for item in items:
        t0 = time.perf_counter()
        u = tier.understand(item.text)
        seconds = time.perf_counter() - t0
        got_intent = u.intent.name if u is not None and u.intent is not None else None
        open_q = u is not None and u.open_question
        intent_ok = (open_q if item.intent is None else got_intent == item.intent)
        got_slots = dict(u.intent.slots) if u is not None and u.intent is not None else {}
        slots_ok = intent_ok and all(_same(got_slots.get(k), v) for k, v in item.slots.items())
        got_ids = tuple(u.intent.entity_ids) if u is not None and u.intent is not None else ()
        ids_ok = None if item.entity_ids is None else intent_ok and set(got_ids) == set(item.entity_ids)
        results.append({
            "text": item.text,
            "expected": {"intent": item.intent, "slots": item.slots, "entity_ids": item.entity_ids},
            "got": {"intent": got_intent, "slots": got_slots, "entity_ids": list(got_ids),
                    "reply": u.reply if u is not None else None, "raw": tier.last.output if tier.last else None},
            "intent_ok": intent_ok,
            "slots_ok": slots_ok if item.slots else None,
            "entities_ok": ids_ok,
            "ok": intent_ok and slots_ok and ids_ok is not False,
            "seconds": round(seconds, 3),
        })
    n = len(results)

    def rate(key: str) -> float | None:
        checked = [r[key] for r in results if r[key] is not None]
        return round(sum(checked) / len(checked), 3) if checked else None

    times = [r["seconds"] for r in results]
    return {
        "model": tier.model_dir.name,
        "items": n,
        "intent_accuracy": rate("intent_ok"),
        "slot_accuracy": rate("slots_ok"),
        "entity_accuracy": rate("entities_ok"),
        "all_correct": rate("ok"),
        "seconds_median": round(statistics.median(times), 3) if times else None,
        "results": results,
    }


def _rss_mb() -> float:
    """Current resident set size (Linux), else the peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench(tier: LanguageModelTier, texts: Sequence[str], *, rounds: int = 1) -> dict[str, Any]:
    """Load time, prompt tokens per turn with and without the cached prefix, time to intent (median/p90),
    decode tokens/s and RSS, for understand() on each text (rounds times)."""
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    tier.load()
    load_s = tier.load_seconds if tier.load_seconds is not None else time.perf_counter() - t0
    tier.warm()
    turns, prompt, out_tokens, decode_s, prefill_s = [], [], 0, 0.0, 0.0
    for _ in range(rounds):
        for text in texts:
            t = time.perf_counter()
            tier.understand(text)
            turns.append(time.perf_counter() - t)
            last = tier.last
            assert last is not None
            prompt.append(last.prompt_tokens)
            out_tokens += last.output_tokens
            decode_s += last.decode_s
            prefill_s += last.prefill_s
    cached = tier.cache_prefix
    per_turn = statistics.mean(prompt) if prompt else 0.0
    with_cache = per_turn if cached else per_turn - tier.prefix_tokens
    return {
        "model": tier.model_dir.name,
        "cached_prefix": cached,
        "threads": tier.threads,
        "load_s": round(load_s, 2),
        "prefix_tokens": tier.prefix_tokens,
        "prompt_tokens_per_turn": {"with_cached_prefix": round(with_cache, 1),
                                   "without": round(with_cache + tier.prefix_tokens, 1)},
        "turns": len(turns),
        "intent_s_median": round(statistics.median(turns), 3) if turns else None,
        "intent_s_p90": round(_pct(turns, 0.9), 3) if turns else None,
        "prefill_tokens_per_s": round(sum(prompt) / prefill_s, 1) if prefill_s else None,
        "decode_tokens_per_s": round(out_tokens / decode_s, 1) if decode_s else None,
        "output_tokens_per_turn": round(out_tokens / len(turns), 1) if turns else None,
        "rss_mb": round(_rss_mb(), 0),
        "rss_added_mb": round(_rss_mb() - rss_before, 0),
    }


def run(settings: Any, args: Any) -> int:
    """`slm-voice eval`: the tier built from settings (its home and model) on the labelled items; prints a report."""
    from slm_voice.daemon import factory

    items = load_items(args.items or EVAL_SET)
    home = factory.home_from_settings(settings.home)
    tier = factory.build_slm(settings, home)
    report: dict[str, Any] = {"eval": evaluate(tier, items)}
    if args.bench:
        texts = [i.text for i in items]
        report["bench"] = bench(tier, texts)
        # Each uncached turn processes the whole prompt (~1 200 tokens): a few turns show the difference.
        uncached = LanguageModelTier(tier.model_dir, home, threads=tier.threads, cache_prefix=False, calibration=0)
        report["bench_uncached"] = bench(uncached, texts[:3])
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    ev = report["eval"]
    for r in ev["results"]:
        mark = "ok " if r["ok"] else "BAD"
        print(f"{mark} {r['seconds']:5.2f}s {r['text']!r:58} -> {r['got']['raw']}")
    print({k: v for k, v in ev.items() if k != "results"})
    for key in ("bench", "bench_uncached"):
        if key in report:
            print(key, report[key])
    return 0
