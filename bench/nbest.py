"""A/B of the home-aware recognizer (stt.home_nbest): Whisper's n best transcripts rescored with the home's words,
against the one best transcript, on rendered speech, each transcript then through the intent tiers.

`python -m slm_voice.bench.nbest CASES.jsonl HOME.yaml [--every N] [--snr clean,pink10,...] [--out FILE]`

Cheaper than `slm-voice eval --mode speech` (no wake word, no endpointer, no recheck with the 30 s window, in either
arm): the command's own audio (from the rendered file's sidecar: the end of the wake phrase to 0.4 s after the
command) is transcribed with the short window by both arms; one n-best decode serves every weight. Reported per arm:
fully right, misfire, asked, right transcripts (bench/confidence.py's rule) and the speech-to-text CPU seconds per
command (process time, both threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import conditions, confidence
from . import voices as people
from .evaluate import load_cases, score


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m slm_voice.bench.nbest", description=__doc__.split("\n\n")[0])
    p.add_argument("cases")
    p.add_argument("config")
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--snr", default="clean,pink10,babble10,reverb")
    p.add_argument("--nbest", type=int, default=5)
    p.add_argument("--weights", default="0.5,1,2")
    p.add_argument("--cache-dir")
    p.add_argument("--out")
    args = p.parse_args(argv)

    from ..daemon import factory
    from ..daemon.engines import build_stt
    from ..daemon.settings import load_settings
    from ..pipeline import stt as stt_module
    from ..pipeline.vocabulary import home_vocabulary

    settings = load_settings(args.config)
    home = factory.home_from_settings(settings.home)
    stt = build_stt(settings, home)
    stt.load()
    tiers = factory.build_intents(settings, home)
    tiers.load()
    vocab = home_vocabulary(home)
    weights = [float(w) for w in args.weights.split(",")]
    cases = load_cases(args.cases)[:: args.every]
    conds = [s for s in args.snr.split(",") if s]
    understood: dict[tuple[str, str, float | None], Any] = {}

    def understand(case: Any, text: str, conf: float | None) -> Any:
        key = (case.id, text, conf)
        if key not in understood:
            understood[key] = score(case, tiers.understand(text, transcript_confidence=conf) if text else None)
        return understood[key]

    arms: dict[str, list[dict[str, Any]]] = {"one best": [], **{f"n-best w={w:g}": [] for w in weights}}
    for k, name in enumerate(conds):
        cond = conditions.condition(name)
        for i, case in enumerate(cases):
            voice = people.voice_for(i + 3 * k)
            utt = conditions.render(case.sentence, cond, voice=voice, wake_voice="piper", cache_dir=args.cache_dir)
            x = utt.samples()
            a = round(((utt.wake_end_s or 0.0) + 0.1) * 16_000)
            audio = x[a: round((utt.speech_end_s + 0.4) * 16_000)].tobytes()
            stt.nbest, stt.vocabulary = 1, frozenset()
            t0 = time.process_time()
            one = stt.transcribe(audio)
            cpu_one = time.process_time() - t0
            stt.nbest, stt.vocabulary, stt.keep_details = args.nbest, vocab, True
            stt.details.clear()
            t0 = time.process_time()
            first = stt.transcribe(audio)
            cpu_n = time.process_time() - t0
            stt.keep_details = False
            detail = stt.details[-1] if stt.details else {}
            hyps = detail.get("hypotheses") or []
            row = {"case": case.id, "condition": cond.name, "voice": voice, "sentence": case.sentence}
            s = understand(case, one.text, one.confidence)
            arms["one best"].append({**row, "heard": one.text, "cpu": cpu_one, "fully": s.fully_right,
                                     "misfire": s.misfire, "asked": s.asked,
                                     "right": confidence.transcript_right(case.sentence, one.text, s.fully_right)})
            for w in weights:
                if hyps:
                    j = stt_module.choose([h[0] for h in hyps], [h[1] for h in hyps], vocab, w)
                    text, sc, n = hyps[j]
                    conf = stt_module.confidence(sc * (n - 1) / n, detail["no_speech_prob"])
                else:
                    text, conf = first.text, first.confidence
                s = understand(case, text, conf)
                arms[f"n-best w={w:g}"].append({**row, "heard": text, "cpu": cpu_n, "fully": s.fully_right,
                                                "misfire": s.misfire, "asked": s.asked,
                                                "right": confidence.transcript_right(case.sentence, text,
                                                                                     s.fully_right)})
            print(f"{cond.name:14} {voice:22} {case.sentence[:40]!r:42} one: {one.text[:40]!r:42} "
                  f"n: {[h[0] for h in hyps][:3]}", flush=True)
    report = {arm: _summary(rows) for arm, rows in arms.items()}
    report_by = {arm: {c: _summary([r for r in rows if r["condition"] == c]) for c in
                       dict.fromkeys(r["condition"] for r in rows)} for arm, rows in arms.items()}
    for arm, s in report.items():
        print(f"{arm:14} n={s['n']} fully {s['fully']:.1%} misfire {s['misfire']:.1%} asked {s['asked']:.1%} "
              f"right transcripts {s['right']:.1%} stt cpu {s['cpu_mean']:.3f} s/command")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"total": report, "by_condition": report_by, "rows": arms}, fh, indent=1)
    return 0


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows) or 1
    return {"n": len(rows), **{k: sum(r[k] for r in rows) / n for k in ("fully", "misfire", "asked", "right")},
            "cpu_mean": sum(r["cpu"] for r in rows) / n}


if __name__ == "__main__":
    sys.exit(main())
