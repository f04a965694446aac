"""Speed of the language-model intent tier on plain texts (`bench()`: load, prompt tokens, time to intent, decode
rate, RSS), used by `slm-voice bench`. Accuracy is `slm-voice eval` (bench/evaluate.py).

The texts come from data/paraphrases.jsonl: paraphrased commands for the home of the repository's config.yaml.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline.intent.slm import LanguageModelTier
from .evaluate import load_cases, percentile

EVAL_SET = Path(__file__).with_name("data") / "paraphrases.jsonl"


@dataclass(frozen=True)
class EvalItem:
    """One sentence to time."""

    text: str


def load_items(path: str | os.PathLike[str] = EVAL_SET) -> list[EvalItem]:
    """The sentences of a cases file (bench/evaluate.py's format); raises ValueError naming the bad line."""
    return [EvalItem(c.sentence) for c in load_cases(path)]


def _rss_mb() -> float:
    """Current resident set size (Linux), else the peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


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
        "intent_s_p90": round(percentile(turns, 0.9), 3) if turns else None,
        "prefill_tokens_per_s": round(sum(prompt) / prefill_s, 1) if prefill_s else None,
        "decode_tokens_per_s": round(out_tokens / decode_s, 1) if decode_s else None,
        "output_tokens_per_turn": round(out_tokens / len(turns), 1) if turns else None,
        "rss_mb": round(_rss_mb(), 0),
        "rss_added_mb": round(_rss_mb() - rss_before, 0),
    }
