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
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline.intent.model import Intent, Understanding

VALUE_SLOTS = ("color", "brightness", "brightness_direction", "temperature", "volume_step", "volume_level", "item")
"""Expected slots whose value is checked (name, area and domain are checked through the entity ids)."""
DURATION_SLOTS = {"hours": 3600, "minutes": 60, "seconds": 1}
_ITEM_ARTICLES = ("a ", "an ", "some ", "the ")
DIM_MAX, BRIGHTEN_MIN = 50, 50
"""Dim: an absolute brightness 1..DIM_MAX counts as "down"; brighten: BRIGHTEN_MIN..100 counts as "up"."""


@dataclass(frozen=True)
class Case:
    """One labelled sentence."""

    id: str
    sentence: str
    group: str
    intent: str | None
    """Expected Home Assistant intent; None: an open question (a free answer is expected)."""
    slots: dict[str, Any] = field(default_factory=dict)
    entity_ids: tuple[str, ...] = ()
    accept_intents: tuple[str, ...] = ()
    """Other intents that also count as right."""
    accept_entity_ids: tuple[tuple[str, ...], ...] = ()
    """Other target sets that also count as right."""


def json_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, Any]]:
    """(line number, "path:line", value) for each non-empty line of a JSON-lines file; ValueError names a bad one."""
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            yield n, where, json.loads(line)
        except ValueError as e:
            raise ValueError(f"{where}: not JSON ({e})") from None


def load_cases(path: str | os.PathLike[str]) -> list[Case]:
    """Cases from a JSON-lines file; raises ValueError naming the line that is wrong."""
    cases: list[Case] = []
    for n, where, raw in json_lines(path):
        expect = raw.get("expect") if isinstance(raw, dict) else None
        if not isinstance(expect, dict) or not isinstance(raw.get("sentence"), str) or not raw["sentence"].strip():
            raise ValueError(f"{where}: needs a sentence and expect: {{intent, slots, entity_ids}}")
        accept = raw.get("accept") or {}
        if not isinstance(accept, dict) or set(accept) - {"intents", "entity_ids"}:
            raise ValueError(f"{where}: accept may only list intents and entity_ids")
        cases.append(Case(
            id=str(raw.get("id", n)), sentence=" ".join(raw["sentence"].split()), group=str(raw.get("group", "all")),
            intent=expect.get("intent"), slots=dict(expect.get("slots") or {}),
            entity_ids=tuple(sorted(expect.get("entity_ids") or ())),
            accept_intents=tuple(accept.get("intents") or ()),
            accept_entity_ids=tuple(tuple(sorted(ids)) for ids in accept.get("entity_ids") or ()),
        ))
    if not cases:
        raise ValueError(f"{path}: no cases")
    return cases


# -------------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Score:
    """How one understanding fares against its case."""

    intent_right: bool
    fully_right: bool
    misfire: bool
    open_answer: bool
    """The language model was asked for a free answer."""
    asked: bool
    """A clarifying question, "Did you mean ...?" or a refusal: nothing happened."""


def score(case: Case, u: Understanding | None) -> Score:
    """Score one understanding with the dev set's rules."""
    got = u.intent if u is not None else None
    open_answer = bool(u is not None and u.open_question)
    if case.intent is None:
        right = open_answer and got is None
        return Score(right, right, got is not None, open_answer, got is None and not open_answer)
    if got is None:
        return Score(False, False, False, open_answer, not open_answer)
    intent_right = got.name == case.intent or got.name in case.accept_intents
    full = intent_right and _values_right(case, got) and _targets_right(case, got)
    return Score(intent_right, full, not full, open_answer, False)


def action_right(case: Case, intent: Intent) -> bool:
    """Whether an action (taken or only proposed) is fully right."""
    return case.intent is not None and (intent.name == case.intent or intent.name in case.accept_intents) and (
        _values_right(case, intent) and _targets_right(case, intent))


def _targets_right(case: Case, got: Intent) -> bool:
    ids = tuple(sorted(got.entity_ids))
    return ids == case.entity_ids or ids in case.accept_entity_ids


def _values_right(case: Case, got: Intent) -> bool:
    s = got.slots
    for key, want in case.slots.items():
        if key == "brightness_direction":
            if got.name == "HassTurnOn" and want == "up":
                continue  # "brighten": switching the lights on is accepted
            if not _brightness_goes(s, str(want)):
                return False
        elif key == "volume_step":
            if not _step_goes(s.get("volume_step"), str(want)):
                return False
        elif key == "item":
            if _item(s.get("item")) != _item(want):
                return False
        elif key in VALUE_SLOTS and not _same(s.get(key), want):
            return False
    wanted = {k: v for k, v in case.slots.items() if k in DURATION_SLOTS}
    return not wanted or _seconds(s) == _seconds(wanted)


def _brightness_goes(slots: Mapping[str, Any], direction: str) -> bool:
    if "brightness_step" in slots:
        return _step_goes(slots["brightness_step"], direction)
    level = slots.get("brightness")
    if not isinstance(level, (int, float)):
        return False
    return 1 <= level <= DIM_MAX if direction == "down" else BRIGHTEN_MIN <= level <= 100


def _step_goes(step: Any, direction: str) -> bool:
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return step > 0 if direction == "up" else step < 0
    return isinstance(step, str) and step.casefold() == direction


def _item(value: Any) -> str:
    text = " ".join(str(value or "").casefold().split())
    for article in _ITEM_ARTICLES:
        text = text.removeprefix(article)
    return text


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return " ".join(str(a).casefold().split()) == " ".join(str(b).casefold().split())
    return a == b


def _seconds(slots: Mapping[str, Any]) -> float:
    return sum(float(slots.get(k) or 0) * f for k, f in DURATION_SLOTS.items())


# -------------------------------------------------------------------------------------------------- results


@dataclass
class Result:
    """One case through the tiers (or the pipeline)."""

    case: Case
    score: Score
    heard: str
    """What the tiers were given: the sentence, or the transcript in speech mode."""
    tier: str
    intent: dict[str, Any] | None
    reply: str
    seconds: float
    """Transcript -> intent (the tiers' time)."""
    confidence: float | None
    proposed: dict[str, Any] | None = None
    """The action the tier would take at threshold 0 (its intent, or the one it asked to confirm)."""
    proposed_right: bool | None = None
    condition: str = "text"
    transcript_confidence: float | None = None
    """Speech: Whisper's confidence in the transcript (the last one of the turn)."""
    raw: str | None = None
    """Text: the language model's answer line, when it was asked."""
    voice: str = ""
    """Speech: the speaker (bench/voices.py)."""
    latency: float | None = None
    """Speech: the end of the speech (as the VAD saw it) to the intent, seconds; None without a turn."""
    transcript_right: bool | None = None
    """Speech: the transcript is right (bench/confidence.py's rule)."""
    transcript_scores: dict[str, float | None] | None = None
    """Speech: each transcript confidence compared (bench/confidence.py)."""


def _intent_dict(i: Intent | None) -> dict[str, Any] | None:
    return None if i is None else {"name": i.name, "slots": dict(i.slots), "entity_ids": list(i.entity_ids)}


def result_for(case: Case, u: Understanding | None, *, heard: str, seconds: float, condition: str = "text") -> Result:
    proposed = None
    if u is not None:
        proposed = u.intent if u.intent is not None else (u.confirm.intent if u.confirm is not None else None)
    return Result(
        case=case, score=score(case, u), heard=heard, tier=u.tier if u is not None else "none",
        intent=_intent_dict(u.intent if u is not None else None), reply=u.reply if u is not None else "",
        seconds=round(seconds, 4), confidence=u.confidence if u is not None else None,
        proposed=_intent_dict(proposed), proposed_right=None if proposed is None else action_right(case, proposed),
        condition=condition,
    )


def _rate(flags: Iterable[bool]) -> float | None:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0-1) of the values, nearest rank; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(results: Sequence[Result]) -> dict[str, Any]:
    """Rates over some results: intent right, fully right, misfire, open questions answered, latencies."""
    opens = [r for r in results if r.case.intent is None]
    slm = [r.seconds for r in results if r.tier == "slm"]
    return {
        "cases": len(results),
        "intent_right": _rate(r.score.intent_right for r in results),
        "fully_right": _rate(r.score.fully_right for r in results),
        "misfire": _rate(r.score.misfire for r in results),
        "asked": _rate(r.score.asked for r in results),
        "open_question_rate": _rate(r.score.open_answer and r.intent is None for r in opens) if opens else None,
        "free_answer_to_command": sum(r.score.open_answer for r in results if r.case.intent is not None),
        "by_tier": {t: sum(r.tier == t for r in results) for t in sorted({r.tier for r in results})},
        "template_misfires": sum(r.score.misfire for r in results if r.tier == "template"),
        "seconds_median": _round(statistics.median([r.seconds for r in results])) if results else None,
        "slm_seconds_median": _round(statistics.median(slm)) if slm else None,
        "slm_seconds_p90": _round(percentile(slm, 0.9)),
        **_latency_summary(results),
    }


def _latency_summary(results: Sequence[Result]) -> dict[str, Any]:
    """Speech: speech end -> intent, median and p90, and the commands that gave no turn (nothing heard)."""
    if not any(r.condition != "text" for r in results):
        return {}
    latency = [r.latency for r in results if r.latency is not None]
    return {"speech_end_to_intent_median": _round(statistics.median(latency)) if latency else None,
            "speech_end_to_intent_p90": _round(percentile(latency, 0.9)),
            "no_turn": sum(r.latency is None for r in results)}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def by_group(results: Sequence[Result]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.case.group, []).append(r)
    return {g: summary(rs) for g, rs in groups.items()}


def threshold_curve(results: Sequence[Result], thresholds: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Precision/recall of the language model's confidence threshold.

    For each threshold t, the language model's actions with confidence >= t are taken and the others asked about
    ("Did you mean ...?"); template answers are taken as they are. misfire: taken and wrong, over all cases;
    fully_right: taken and right, over all cases; precision: right among the language model's taken actions;
    recall: the language model's right proposals that are taken."""
    grid = thresholds or [round(0.05 * i, 2) for i in range(20)] + [0.96, 0.97, 0.98, 0.99]
    n = len(results)
    rows = []
    for t in grid:
        right = wrong = slm_taken = slm_right_taken = 0
        slm_right_all = 0
        for r in results:
            if r.tier != "slm":
                right += r.score.fully_right
                wrong += r.score.misfire
                continue
            if r.proposed is None:
                right += r.score.fully_right  # open questions answered freely
                continue
            slm_right_all += bool(r.proposed_right)
            if (r.confidence or 0.0) >= t:
                slm_taken += 1
                slm_right_taken += bool(r.proposed_right)
                right += bool(r.proposed_right)
                wrong += not r.proposed_right
        rows.append({
            "threshold": t,
            "fully_right": round(right / n, 4) if n else None,
            "misfire": round(wrong / n, 4) if n else None,
            "precision": round(slm_right_taken / slm_taken, 4) if slm_taken else None,
            "recall": round(slm_right_taken / slm_right_all, 4) if slm_right_all else None,
        })
    return rows


# -------------------------------------------------------------------------------------------------- running


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


def transcript_confidence_report(results: Sequence[Result]) -> dict[str, Any] | None:
    """Speech: ROC AUC of each transcript confidence for right vs misheard transcripts (bench/confidence.py),
    over the results that have a transcript; None on text."""
    from . import confidence

    rows = [(bool(r.transcript_right), r.transcript_scores) for r in results
            if r.transcript_scores is not None and r.heard.strip()]
    return confidence.auc_report(rows) if rows else None


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


def _p(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def format_report(report: dict[str, Any]) -> str:
    lines = []
    head = f"{'group':18} {'n':>4} {'intent':>7} {'fully':>7} {'misfire':>7} {'asked':>7} {'open q':>7} " \
           f"{'median':>7} {'slm p50':>7} {'slm p90':>7}"
    for cond, block in report["conditions"].items():
        lines += ["", f"== {cond} ({report.get('model') or 'templates only'})", head]
        rows = [*block["groups"].items(), ("TOTAL", block["total"])]
        for g, s in rows:
            lines.append(
                f"{g:18} {s['cases']:4d} {_p(s['intent_right']):>7} {_p(s['fully_right']):>7} {_p(s['misfire']):>7} "
                f"{_p(s['asked']):>7} {_p(s['open_question_rate']):>7} {_sec(s['seconds_median']):>7} "
                f"{_sec(s['slm_seconds_median']):>7} {_sec(s['slm_seconds_p90']):>7}")
        t = block["total"]
        lines.append(f"by tier {t['by_tier']}; template misfires {t['template_misfires']}; "
                     f"free answers to commands {t['free_answer_to_command']}")
        lines.append("threshold curve (threshold: fully right / misfire / precision / recall):")
        lines.append("  " + "  ".join(f"{r['threshold']:.2f}: {_p(r['fully_right'])}/{_p(r['misfire'])}/"
                                      f"{_p(r['precision'])}/{_p(r['recall'])}" for r in block["threshold_curve"]
                                      if r["threshold"] in (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)))
    if report.get("speech"):
        lines += ["", format_speech(report["speech"])]
    for key in ("load_seconds", "slm_load_seconds", "slm_prefix_tokens", "peak_rss_mb"):
        if key in report:
            lines.append(f"{key}: {report[key]}")
    return "\n".join(lines)


def _sec(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}s"


def speech_report(results: Sequence[Result]) -> dict[str, Any]:
    """Speech: per condition and per speaker (fully right, asked, misfire, speech end -> intent), and the
    transcript confidences' ROC AUC over everything."""
    def rows(key: Callable[[Result], str]) -> dict[str, dict[str, Any]]:
        names = list(dict.fromkeys(key(r) for r in results))
        return {n: summary([r for r in results if key(r) == n]) for n in names}

    return {"conditions": rows(lambda r: r.condition), "voices": rows(lambda r: r.voice),
            "transcript_confidence": transcript_confidence_report(results)}


def format_speech(speech: dict[str, Any]) -> str:
    """The per-condition and per-speaker table and the confidences' ROC AUC."""
    head = f"{'':28} {'n':>4} {'fully':>7} {'asked':>7} {'misfire':>7} {'no turn':>7} {'end->intent p50':>15} " \
           f"{'p90':>6}"
    lines = []
    for title, block in (("condition", speech["conditions"]), ("speaker", speech["voices"])):
        lines += [f"== per {title}", head]
        for name, s in block.items():
            lines.append(f"{name[:28]:28} {s['cases']:4d} {_p(s['fully_right']):>7} {_p(s['asked']):>7} "
                         f"{_p(s['misfire']):>7} {s.get('no_turn', 0):7d} "
                         f"{_sec(s.get('speech_end_to_intent_median')):>15} "
                         f"{_sec(s.get('speech_end_to_intent_p90')):>6}")
    tc = speech.get("transcript_confidence")
    if tc:
        lines.append(f"transcript confidence, ROC AUC right vs misheard ({tc['right']} right of {tc['n']} "
                     "transcripts): " + ", ".join(f"{k} {'-' if v is None else f'{v:.3f}'}"
                                                  for k, v in tc["auc"].items()))
    return "\n".join(lines)
