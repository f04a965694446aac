"""`slm-voice eval CASES.jsonl --config HOME.yaml`: how well the intent tiers understand labelled sentences.

Per group of cases: intent right, fully right, misfire, open-question rate and the time to an intent, on text
(the sentences straight into the tiers) or on speech (the same sentences rendered with Piper and espeak-ng, clean
and with noise, through the whole pipeline). The scoring rules are those of the SLURP-derived dev set
(shared/evalsets/slurp_dev/README.md):

- intent right: the expected intent, or one listed in the case's `accept`;
- fully right: intent right, every expected value slot right (colour, brightness direction, volume step or level,
  item, duration) and the entity ids right (how the target was found does not matter);
- misfire: an intent came out that is not fully right. A refusal, a clarifying question or "Did you mean ...?"
  is not a misfire;
- open questions: no intent and a free answer from the language model (not a clarifying question).

Cases are JSON lines: {id, sentence, group, expect: {intent, slots, entity_ids}, [accept: {intents,
entity_ids}]}; `expect.intent` null means an open question.

The language model's confidence is recorded with every case, with the action it would take without a
threshold (`Understanding.confirm` when it asked "Did you mean ...?"): `threshold_curve()` turns that into the
precision/recall curve of the confidence threshold.

This module runs the evaluation (text or speech) and `slm-voice eval`; the parts beside it: eval_cases.py (reading
the cases), eval_scoring.py (one understanding against its case), eval_results.py (results and their rates),
eval_report.py (the tables).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .eval_cases import Case, json_lines, load_cases
from .eval_report import format_report, format_speech, speech_report, transcript_confidence_report
from .eval_results import Result, by_group, percentile, result_for, summary, threshold_curve
from .eval_scoring import BRIGHTEN_MIN, DIM_MAX, DURATION_SLOTS, VALUE_SLOTS, Score, action_right, score

__all__ = [
    "BRIGHTEN_MIN", "DIM_MAX", "DURATION_SLOTS", "VALUE_SLOTS", "Case", "Result", "Score", "action_right", "by_group",
    "evaluate_speech", "evaluate_text", "format_report", "format_speech", "json_lines", "load_cases", "percentile",
    "result_for", "run", "score", "speech_report", "summary", "threshold_curve", "transcript_confidence_report",
]


def evaluate_text(tiers: Any, cases: Sequence[Case], *, progress: Callable[[Result], None] | None = None
                  ) -> list[Result]:
    """Each sentence straight into the intent tiers (IntentTiers.understand, as after a transcript)."""
    results = []
    slm = next((t for t in getattr(tiers, "tiers", ()) if t.name == "slm"), None)
    for case in cases:
        t0 = time.perf_counter()
        u = tiers.understand(case.sentence)
        r = result_for(case, u, heard=case.sentence, seconds=time.perf_counter() - t0)
        if slm is not None and r.tier == "slm" and getattr(slm, "last", None) is not None:
            r.raw = slm.last.output
        results.append(r)
        if progress is not None:
            progress(r)
    return results


def evaluate_speech(settings: Any, cases: Sequence[Case], *, voices: Sequence[str],
                    snrs: Sequence[float | str | None], cache_dir: str | None = None, with_slm: bool = True,
                    progress: Callable[[Result], None] | None = None
                    ) -> tuple[list[Result], dict[str, Any]]:
    """Each sentence rendered (wake phrase + command) in every voice and room condition and streamed through the
    whole pipeline (wake word, VAD, Whisper, tiers) with FileRunner, as `slm-voice process` does.

    voices: bench/voices.py names; "people" instead: the cases rotate through every speaker there (a different
    one for each case, shifted per condition). snrs: conditions (bench/conditions.py): None or "clean", an SNR
    of pink noise in dB, or a room's name ("babble10", "reverb", "quiet", ...)."""
    import asyncio

    from ..daemon.factory import home_from_settings
    from ..daemon.process import FileRunner
    from ..pipeline.events import Timing, Transcript
    from . import conditions, confidence
    from . import voices as people

    heard: list[tuple[str, float | None]] = []

    def on_event(event: Any) -> None:
        if isinstance(event, Transcript):
            heard.append((event.text, event.confidence))

    runner = FileRunner(settings, with_slm=with_slm, extra_observers=[on_event])
    stt = getattr(runner.assistant, "stt", None)
    if hasattr(stt, "keep_details"):
        stt.keep_details = True
    vocabulary = confidence.home_vocabulary(home_from_settings(settings.home))
    info = {"load_seconds": runner.load_seconds}
    results: list[Result] = []
    rotate = list(voices) == ["people"]
    try:
        for voice in voices:
            for k, snr in enumerate(snrs):
                cond = conditions.condition(snr)
                label = f"{voice} {cond.name}"
                for i, case in enumerate(cases):
                    speaker = people.voice_for(i + 3 * k) if rotate else voice
                    utt = conditions.render(case.sentence, cond, voice=speaker, cache_dir=cache_dir,
                                            wake_voice="piper")
                    heard.clear()
                    if stt is not None and hasattr(stt, "details"):
                        stt.details.clear()
                    turns = asyncio.run(runner.run_file(str(utt.path)))
                    turn = turns[0] if turns else None
                    u = turn.understanding if turn is not None else None
                    seconds = (turn.timings_ms.get(Timing.INTENT, 0.0) / 1000) if turn is not None else 0.0
                    transcript = turn.transcript if turn else ""
                    r = result_for(case, u, heard=transcript, seconds=seconds, condition=label)
                    r.voice = speaker
                    r.transcript_confidence = heard[-1][1] if heard else None
                    if turn is not None and Timing.SPEECH_END_TO_INTENT in turn.timings_ms:
                        r.latency = round(turn.timings_ms[Timing.SPEECH_END_TO_INTENT] / 1000, 4)
                    detail = next((d for d in reversed(getattr(stt, "details", [])) if d["text"] == transcript),
                                  None)
                    r.transcript_right = confidence.transcript_right(case.sentence, transcript, r.score.fully_right)
                    r.transcript_scores = confidence.scores_for(
                        transcript, r.transcript_confidence, detail["token_probs"] if detail else None, vocabulary)
                    results.append(r)
                    if progress is not None:
                        progress(r)
    finally:
        runner.close()
    return results, info


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(settings: Any, args: Any) -> int:
    """`slm-voice eval`: the tiers built from settings (their home and model) on the cases; prints the report."""
    from ..daemon import factory

    cases = load_cases(args.cases)
    if args.limit:
        cases = cases[: args.limit]
    if getattr(args, "every", 0):
        cases = cases[:: args.every]
    report: dict[str, Any] = {"cases_file": str(args.cases), "model": settings.slm.model if not args.no_slm else None,
                              "mode": args.mode}

    def show(r: Result) -> None:
        if args.json:
            return
        mark = "ok  " if r.score.fully_right else ("MISS" if r.score.misfire else "-   ")
        got = r.intent["name"] if r.intent else ("(free answer)" if r.score.open_answer else "-")
        conf = f"{r.confidence:.2f}" if r.confidence is not None else "  - "
        print(f"{mark} {r.tier:8} {conf} {r.seconds:5.2f}s {r.heard[:50]!r:52} -> {got} "
              f"{json.dumps(r.intent['slots'] if r.intent else {})} {r.reply[:60]!r}", flush=True)

    if args.mode == "text":
        home = factory.home_from_settings(settings.home)
        tiers = factory.build_intents(settings, home, with_slm=not args.no_slm)
        t0 = time.perf_counter()
        tiers.load()
        report["load_seconds"] = round(time.perf_counter() - t0, 2)
        slm = next((t for t in tiers.tiers if t.name == "slm"), None)
        if slm is not None:
            report["slm_load_seconds"] = round(getattr(slm, "load_seconds", 0.0) or 0.0, 2)
            report["slm_prefix_tokens"] = getattr(slm, "prefix_tokens", None)
        results = evaluate_text(tiers, cases, progress=show)
        if args.answers and slm is not None:
            for r in results:
                if r.score.open_answer:
                    r.reply = " ".join(tiers.stream_reply(r.heard))
    else:
        voices = [v for v in args.voices.split(",") if v]
        from . import conditions

        snrs = [s for part in args.snr.split(",") if part for s in
                (conditions.ROOM if part == "room" else [None if part == "clean" else part])]
        results, info = evaluate_speech(settings, cases, voices=voices, snrs=snrs, cache_dir=args.cache_dir,
                                        with_slm=not args.no_slm, progress=show)
        report.update(info)
    report["peak_rss_mb"] = round(_rss_mb())
    conditions = sorted({r.condition for r in results}, key=[r.condition for r in results].index)
    report["conditions"] = {}
    for c in conditions:
        rs = [r for r in results if r.condition == c]
        report["conditions"][c] = {"total": summary(rs), "groups": by_group(rs), "threshold_curve":
                                   threshold_curve(rs), "transcript_confidence": transcript_confidence_report(rs)}
    if args.mode == "speech":
        report["speech"] = speech_report(results)
    if args.json:
        report["results"] = [{**asdict(r), "case": asdict(r.case), "score": asdict(r.score)} for r in results]
        json.dump(report, sys.stdout, indent=1, default=str)
        print()
    else:
        print(format_report(report))
    if args.out:
        report.setdefault("results", [{**asdict(r), "case": asdict(r.case), "score": asdict(r.score)}
                                      for r in results])
        Path(args.out).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 0

