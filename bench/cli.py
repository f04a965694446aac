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
    p.add_argument("--no-black-box", action="store_true",
                   help="skip the black-box run (`slm-voice run` fed at real time on stdin, measured on MQTT/stdout)")
    p.add_argument("--baseline-silence-ms", type=int, default=None,
                   help="the baseline's trailing silence (default: calibrated to Home Assistant's measured 1.28 s "
                        "endpoint wait)")
    p.add_argument("--no-slm", action="store_true", help="templates only (no language model tier)")
    p.add_argument("--idle-seconds", type=float, default=30.0,
                   help="room noise for the idle CPU measurement (0: skip it)")
    p.add_argument("--cache-dir", help="where rendered audio is cached (default: ~/.cache/slm-voice/corpus)")
    p.set_defaults(func=_run_bench)


def eval_command(add: AddCommand) -> None:
    """`slm-voice eval CASES.jsonl`: intent right, fully right, misfire, open questions and latency per group."""
    p = add("eval", "Accuracy, misfires and latency of the intent tiers on labelled sentences (JSON lines).")
    p.add_argument("cases", help="labelled cases, JSON lines: {id, sentence, group, expect: {intent, slots, "
                   "entity_ids}, [accept]} (e.g. shared/evalsets/slurp_dev/cases.jsonl with its home.yaml); or a "
                   "probe suite, whose cases name their home and category (bench/probes.py; 'probes': the "
                   "packaged one, bench/data/probes/cases.jsonl), reported per category")
    p.add_argument("--mode", choices=["text", "speech"], default="text",
                   help="text: sentences straight into the tiers; speech: rendered (wake phrase + command) and "
                   "streamed through the whole pipeline")
    p.add_argument("--voices", default="piper,espeak",
                   help="speech: comma-separated voices (bench/voices.py: piper, piper-fast, espeak, espeak-m3, "
                   "espeak-scotland, ...), or 'people': the cases rotate through all 14 speakers")
    p.add_argument("--snr", default="clean,10",
                   help="speech: comma-separated rooms (bench/conditions.py): clean, an SNR of pink noise in dB, "
                   "pink20, pink10, pink5, babble10, brown10, reverb, reverb-pink10, quiet, loud; 'room': all of them")
    p.add_argument("--every", type=int, default=0, help="only every Nth case (a spread-out subset)")
    p.add_argument("--cache-dir", help="speech: where rendered audio is cached (default: ~/.cache/slm-voice/corpus)")
    p.add_argument("--no-slm", action="store_true", help="templates only")
    p.add_argument("--answers", action="store_true", help="text: also generate the free answers to open questions")
    p.add_argument("--limit", type=int, default=0, help="only the first N cases")
    p.add_argument("--out", help="also write the whole report with every case as JSON to this file")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--split", choices=["all", "dev", "heldout"], default="all",
                   help="probe suite: only the dev or the held-out cases (default: all)")
    p.add_argument("--homes", help="probe suite: the folder of its homes (default: homes/ beside the cases file)")
    p.add_argument("--no-answers", action="store_true",
                   help="probe suite: do not generate the free answers' text (faster; their leaks and claims unseen)")
    p.add_argument("--show-heldout", action="store_true",
                   help="probe suite: also print and write the held-out cases one by one (by default only their "
                   "totals: they must stay unseen by whoever changes the understanding)")
    p.set_defaults(func=_run_eval)


def _run_bench(args: argparse.Namespace) -> int:
    from ..daemon.cli import settings_for
    from .bench import main

    settings, _ = settings_for(args)
    return main(settings, args)


def _run_eval(args: argparse.Namespace) -> int:
    from ..daemon.cli import settings_for
    from . import evaluate, probes

    settings, _ = settings_for(args)
    if args.cases == "probes":  # the packaged probe suite
        args.cases = str(probes.PROBES_DIR / "cases.jsonl")
    if probes.is_probe_file(args.cases):  # a probe suite: each case names its home (bench/probes.py)
        return probes.run(settings, args)
    return evaluate.run(settings, args)
