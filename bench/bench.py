"""`slm-voice bench`: the optimised pipeline against a Home Assistant-style chain of the same models.

Both pipelines are the real one (FileRunner, the Assistant `slm-voice run` uses), fed rendered commands at
real-time pace. Every latency is measured from the moment speech really ends in the audio (known to the sample
from the corpus), mapped to wall time through the frames' arrival stamps, not from the VAD's own estimate.
docs/benchmark.md describes the method and the latest numbers.

This module runs the bench and compares; the parts beside it: selection.py (what to run, rendered), baseline.py
(the Home Assistant-style chain), in_process.py (one pipeline in this process), blackbox.py (`slm-voice run` measured
from outside), report.py (the table and the timeline).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import platform
import resource
import time
from collections import Counter
from typing import Any

from ..daemon import __version__
from ..daemon.factory import StageCache
from ..daemon.settings import Settings
from . import blackbox, corpus
from .baseline import BASELINE_SILENCE_MS, HA_ENDPOINT_WAIT_MS, settings_variants, shared_models
from .in_process import run_pipeline
from .report import format_table, plot_timeline, pyplot
from .selection import AudioSet, BenchError, BenchOptions, render, select

__all__ = [
    "BASELINE_SILENCE_MS", "TARGET_RATIO", "AudioSet", "BenchError", "BenchOptions", "format_table", "main",
    "plot_timeline", "ratios", "run_bench", "select",
]

log = logging.getLogger("slm_voice.bench")  # one logger for the whole bench, as before the split

TARGET_RATIO = 0.6
"""Done when the optimised median speech-end -> intent and -> first audio are at most this times the baseline's."""
SLM_BENCH_TEXTS = 12
"""Sentences slm_voice.bench.slm_eval.bench times the language model on (about a second each on 2 cores)."""


def ratios(optimised: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """optimised / baseline for the median and p90 of speech end -> intent and -> first audio, against the target."""
    out: dict[str, Any] = {}
    for key in ("intent", "first_audio"):
        o, b = optimised["summary"]["latency_ms"][key], baseline["summary"]["latency_ms"][key]
        out[f"speech_end_to_{key}"] = None if not o or not b else {
            q: round(o[q] / b[q], 3) if b[q] > 0 else None for q in ("median", "p90")
        }
    medians = [r["median"] for r in out.values() if r and r["median"] is not None]
    acc_o, acc_b = optimised["summary"]["accuracy"], baseline["summary"]["accuracy"]
    out["target"] = {
        "ratio": TARGET_RATIO,
        "latency_met": len(medians) == 2 and all(m <= TARGET_RATIO for m in medians),
        "accuracy_met": acc_o is not None and acc_b is not None and acc_o >= acc_b,
    }
    out["target"]["met"] = out["target"]["latency_met"] and out["target"]["accuracy_met"]
    return out


# ---------------------------------------------------------------------------------------------- the bench


def run_bench(settings: Settings, opts: BenchOptions) -> dict[str, Any]:
    """Render, run the optimised pipeline (with idle CPU and peak memory) and the baseline; the report as data."""
    started = time.monotonic()
    load_before = os.getloadavg()
    selection = select(corpus.load_commands(), opts.sets, opts.limit)
    log.info("rendering %d files (cached after the first run)", len(selection))
    utts, noise = render(selection, opts.idle_seconds, opts.cache_dir)
    pairs = [(s, u) for (s, _c), u in zip(selection, utts, strict=True)]
    optimised_s, baseline_s = settings_variants(settings, opts.baseline_silence_ms)
    slm_on = settings.slm.enabled if opts.with_slm is None else opts.with_slm

    # The language model's own bench reuses the optimised pipeline's loaded model, and so does the baseline.
    cache = StageCache()
    optimised = run_pipeline("optimised", optimised_s, pairs, opts.with_slm, idle_noise=noise,
                             after=lambda inst: slm_section(settings, slm_on, inst.slm_tier()), cache=cache)
    # ru_maxrss (KiB on Linux) before the baseline loads: the peak of the optimised pipeline alone.
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    idle, slm = optimised.pop("idle"), optimised.pop("after")
    gc.collect()
    baseline = None
    if opts.baseline:
        baseline = run_pipeline("baseline", baseline_s, pairs, opts.with_slm, cache=cache)
        del baseline["idle"], baseline["after"]
    del cache  # the models this process loaded go before the daemons load theirs
    gc.collect()
    black_box = None
    if opts.black_box:
        labelled = [(aset.label, utt) for aset, utt in pairs]
        if opts.with_slm is False:
            optimised_s = dataclasses.replace(optimised_s, slm=dataclasses.replace(optimised_s.slm, enabled=False))
            baseline_s = dataclasses.replace(baseline_s, slm=dataclasses.replace(baseline_s.slm, enabled=False))
        black_box = {"optimised": blackbox.run_daemon("optimised", optimised_s, labelled)}
        if opts.baseline:
            black_box["baseline"] = blackbox.run_daemon("baseline", baseline_s, labelled)
            black_box["ratios"] = blackbox.ratios(black_box["optimised"], black_box["baseline"])
    return {
        "version": __version__,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_start": [round(x, 2) for x in load_before],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "selection": {"limit": opts.limit, "files": len(pairs),
                      "sets": dict(Counter(s.label for s, _ in pairs))},
        "method": {"realtime": True, "latency_from": "true end of speech in the audio (corpus speech_end_s)",
                   "mqtt": "not measured: the intent milestone is when the action would be published",
                   "ha_endpoint_wait_ms": HA_ENDPOINT_WAIT_MS, "baseline_silence_ms": opts.baseline_silence_ms,
                   "models": shared_models(settings, slm_on)},
        "slm": slm,
        "peak_rss_mb": peak_rss_mb,
        "idle": idle,
        "optimised": optimised,
        "baseline": baseline,
        "ratios": ratios(optimised, baseline) if baseline is not None else None,
        "black_box": black_box,
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def check_slm(settings: Settings, with_slm: bool | None) -> None:
    """Fail before any work when the language model is enabled but not built (ModelError, printed by the CLI)."""
    from ..daemon import factory
    from ..models.locate import ModelError

    if not (settings.slm.enabled if with_slm is None else with_slm):
        return
    try:
        factory.slm_dir(settings)
    except ModelError as e:
        raise ModelError(f"{e}; or run the bench with --no-slm") from None


def slm_section(settings: Settings, enabled: bool, tier: Any = None) -> dict[str, Any]:
    """The language model's own numbers (prompt tokens, time to intent, tokens/s) from slm_eval.bench, on the first
    SLM_BENCH_TEXTS sentences of its labelled set (paraphrases the templates do not match).

    tier: an already loaded language-model tier to time; None: build one from settings."""
    out: dict[str, Any] = {"enabled": enabled, "model": settings.slm.model if enabled else None, "eval": None}
    if not enabled:
        out["note"] = "language model tier off (slm.enabled false or --no-slm)"
        return out
    try:
        from . import slm_eval
    except ImportError as e:
        out["note"] = f"slm_voice.bench.slm_eval is not available ({e}): no language-model numbers"
        return out
    if not hasattr(slm_eval, "bench"):
        out["note"] = "slm_voice.bench.slm_eval has no bench(): no language-model numbers"
        return out
    from ..daemon import factory

    try:
        texts = [item.text for item in slm_eval.load_items()][:SLM_BENCH_TEXTS]
    except (OSError, ValueError) as e:
        out["note"] = f"the language model's labelled set is not readable ({e}): no language-model numbers"
        return out
    log.info("language model: timing %d sentences with slm_voice.bench.slm_eval.bench", len(texts))
    if tier is None:
        tier = factory.build_slm(settings, factory.home_from_settings(settings.home))
    out["eval"] = slm_eval.bench(tier, texts)
    return out


# ---------------------------------------------------------------------------------------------- the command


def main(settings: Settings, args: argparse.Namespace) -> int:
    """`slm-voice bench`: run, print a table (or --json), draw --plot; returns the exit status."""
    from ..daemon.cli import CliError

    try:
        opts = BenchOptions.from_args(args)
        if args.plot:
            pyplot()  # missing matplotlib fails now, not after minutes of benchmarking
    except BenchError as e:
        raise CliError(str(e)) from None
    check_slm(settings, opts.with_slm)
    report = run_bench(settings, opts)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_table(report), flush=True)
    if args.plot:
        log.info("timeline written to %s", plot_timeline(report, args.plot))
    return 0
