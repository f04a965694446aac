"""The evaluation room's subcommands, registered with `slm-voice` through the `slm_voice.commands` entry point.

Only argparse here at import time: the CLI loads this module on every start, the bench itself only when asked.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

AddCommand = Callable[[str, str], argparse.ArgumentParser]


def bench_command(add: AddCommand) -> None:
    """`slm-voice bench`: the optimised pipeline against a Home Assistant-style chain, black-box and per stage."""
    p = add("bench", "Benchmark the pipeline against a Home Assistant-style chain.")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="draw a per-stage timeline of a typical turn (needs matplotlib)")
    p.add_argument("--voices", default="piper,espeak", help="comma-separated voices to render (piper, espeak)")
    p.add_argument("--snr", default="clean,10",
                   help="comma-separated noise conditions: clean, or a speech-to-noise ratio in dB (default: clean,10)")
    p.add_argument("--limit", type=int, default=None,
                   help="the first N commands in every voice and noise condition; 0: all of them (about 15 minutes); "
                        "default: a fixed sample (every 2nd command in the first set, every 6th in the others: "
                        "about 4 minutes)")
    p.add_argument("--no-baseline", action="store_true", help="skip the Home Assistant-style baseline")
    p.add_argument("--baseline-silence-ms", type=int, default=None,
                   help="the baseline's trailing silence (default: calibrated to Home Assistant's measured 1.28 s "
                        "endpoint wait)")
    p.add_argument("--no-slm", action="store_true", help="templates only (no language model tier)")
    p.add_argument("--idle-seconds", type=float, default=30.0,
                   help="room noise for the idle CPU measurement (0: skip it)")
    p.add_argument("--cache-dir", help="where rendered audio is cached (default: ~/.cache/slm-voice/corpus)")
    p.set_defaults(func=_run_bench)


def eval_command(add: AddCommand) -> None:
    """`slm-voice eval`: accuracy and speed of the language-model tier on a labelled set."""
    p = add("eval", "Accuracy and speed of the intent tiers on a labelled set of sentences.")
    p.add_argument("items", nargs="?", help="labelled set (YAML; default: the paraphrase set shipped with the bench)")
    p.add_argument("--bench", action="store_true", help="also time the turns (and without the cached prefix)")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.set_defaults(func=_run_eval)


def _run_bench(args: argparse.Namespace) -> int:
    from slm_voice.bench.bench import main
    from slm_voice.daemon.cli import settings_for

    settings, _ = settings_for(args)
    return main(settings, args)


def _run_eval(args: argparse.Namespace) -> int:
    from slm_voice.bench.slm_eval import run
    from slm_voice.daemon.cli import settings_for

    settings, _ = settings_for(args)
    return run(settings, args)
