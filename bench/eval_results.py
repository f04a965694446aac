"""The evaluation's results: one per case and condition, and the rates they add up to (per group, and along
the language model's confidence threshold)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..pipeline.intent.model import Intent, Understanding
from .eval_cases import Case
from .eval_scoring import Score, action_right, score


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

