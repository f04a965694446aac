"""Command-line arguments of `slm-voice bench` (kept apart so the CLI can list them without importing the bench)."""

from __future__ import annotations

import argparse


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
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
