"""How soon a stop word stops the assistant, and whether its own voice ever does, on a simulated sound card
(bench/loopback.py) with the real models and rendered speech.

`python -m slm_voice.bench.stopword [--config CONFIG] [--words stop,cancel,be quiet] [--voices piper,espeak,...]
[--echo 0,0.25,0.5] [--out FILE]`

For every word x speaker x echo gain: the assistant says a long reply; once a second of it has played, the person
says the word over it (the reply's echo in the microphone at that gain, one frame late). Reported per run: stopped
or not, and the milliseconds from the end of the word to the moment the speaker was told to stop, counted on the
card's sample clock. Then its own voice, heard back at echo gain 0.8 with nobody talking: a reply that says every
stop word and the wake word, and the long reply; every stop there is a false one. The models, the endpointer and
the echo handling are the daemon's own (build_assistant); only the sound card is simulated.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import numpy as np

from . import corpus
from . import voices as people
from .loopback import Loopback, Speech, mic, run

REPLY = ("The weather today is mild with a light breeze from the west. Later this afternoon clouds will gather over "
         "the hills, and there may be a little rain in the evening. Tomorrow looks brighter and warmer.")
"""What the assistant says while the person talks over it (no stop word in it)."""
OWN_WORDS = "Hey Jarvis, stop. I am only saying stop and cancel to myself. Please stop, be quiet, cancel that."
"""A reply that says the stop words itself: it must play to the end."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m slm_voice.bench.stopword", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="a config file (default: the embedded defaults); MQTT, the language model and the "
                   "speaker are turned off either way")
    p.add_argument("--words", default="stop,cancel,be quiet")
    p.add_argument("--voices", default="piper,piper-fast,espeak,espeak-gb-f2,espeak-scotland,espeak-us-f3-high")
    p.add_argument("--echo", default="0,0.25,0.5")
    p.add_argument("--own-runs", type=int, default=3, help="replies that say the stop words themselves")
    p.add_argument("--quiet-runs", type=int, default=3, help="replies heard back loud with nobody talking")
    p.add_argument("--cache-dir")
    p.add_argument("--out")
    args = p.parse_args(argv)

    from ..daemon.factory import StageCache, build_assistant

    settings = _settings(args.config)
    stages = StageCache()
    people.register()
    rows: list[dict[str, Any]] = []
    for word in [w.strip() for w in args.words.split(",") if w.strip()]:
        for voice in [v.strip() for v in args.voices.split(",") if v.strip()]:
            utt = corpus.render(word, wake=None, voice=voice, cache_dir=args.cache_dir)
            for gain in [float(g) for g in args.echo.split(",")]:
                card = Loopback()
                assistant = build_assistant(settings, stages, sink=card, observers=[])
                assistant.load()
                person = Speech(utt.samples())

                def near(i: int, card: Loopback, person: Speech = person) -> np.ndarray | None:
                    if sum(card.played) > corpus.SAMPLE_RATE:  # a second of the reply has played
                        person.start(i)
                    return person.frame(i)

                run(assistant, mic(card, near, echo_gain=gain, seconds=8), lambda a: a.say(REPLY))
                late = ((card.stops[0] - person.at(utt.speech_end_s)) / corpus.SAMPLE_RATE
                        if card.stops and person.first is not None else None)
                rows.append({"word": word, "voice": voice, "echo": gain, "stopped": late is not None,
                             "ms": None if late is None else round(1000 * late)})
                print(f"{word!r:10} {voice:20} echo {gain:<4} "
                      f"{'not stopped' if late is None else f'stopped {1000 * late:.0f} ms after the word'}",
                      flush=True)
    false_stops = 0
    for reply in [OWN_WORDS] * args.own_runs + [REPLY] * args.quiet_runs:
        card = Loopback()
        assistant = build_assistant(settings, stages, sink=card, observers=[])
        assistant.load()
        run(assistant, mic(card, lambda i, c: None, echo_gain=0.8, seconds=10), lambda a, r=reply: a.say(r))
        false_stops += bool(card.stops)
    report = summary(rows, false_stops, args.own_runs + args.quiet_runs)
    print(format_summary(report))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"summary": report, "runs": rows}, fh, indent=1)
    return 0


def summary(rows: list[dict[str, Any]], false_stops: int, own_runs: int) -> dict[str, Any]:
    """Per echo gain and in all: runs, stopped, within 0.3 s, median and worst ms; and the false stops."""
    def one(rs: list[dict[str, Any]]) -> dict[str, Any]:
        ms = sorted(r["ms"] for r in rs if r["stopped"])
        return {"runs": len(rs), "stopped": len(ms), "within_300ms": sum(m <= 300 for m in ms),
                "median_ms": statistics.median(ms) if ms else None, "worst_ms": ms[-1] if ms else None}

    gains = sorted({r["echo"] for r in rows})
    return {"all": one(rows), **{f"echo {g:g}": one([r for r in rows if r["echo"] == g]) for g in gains},
            "false_stops": false_stops, "own_runs": own_runs}


def format_summary(report: dict[str, Any]) -> str:
    lines = [f"{'':10} {'runs':>5} {'stopped':>8} {'<=0.3 s':>8} {'median':>7} {'worst':>6}"]
    for name, s in report.items():
        if isinstance(s, dict):
            lines.append(f"{name:10} {s['runs']:>5} {s['stopped']:>8} {s['within_300ms']:>8} "
                         f"{s['median_ms'] if s['median_ms'] is not None else '-':>7} "
                         f"{s['worst_ms'] if s['worst_ms'] is not None else '-':>6}")
    lines.append(f"its own voice, nobody talking: {report['false_stops']} stopped of {report['own_runs']}")
    return "\n".join(lines)


def _settings(path: str | None) -> Any:
    """The config given, or the embedded defaults; either way no broker, no language model, no speaker."""
    from ..daemon.settings import load_settings, parse_settings

    raw = load_settings(path).model_dump(mode="json") if path else {}
    off = {"mqtt": {"enabled": False}, "slm": {"enabled": False}, "audio": {"sink": "null", "source": "stdin"}}
    return parse_settings({**raw, **{k: {**raw.get(k, {}), **v} for k, v in off.items()}})


if __name__ == "__main__":
    sys.exit(main())
