"""The evaluation's report in words: the per-group table, the threshold curve and the speech tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .eval_results import Result, summary


def transcript_confidence_report(results: Sequence[Result]) -> dict[str, Any] | None:
    """Speech: ROC AUC of each transcript confidence for right vs misheard transcripts (bench/confidence.py),
    over the results that have a transcript; None on text."""
    from . import confidence

    rows = [(bool(r.transcript_right), r.transcript_scores) for r in results
            if r.transcript_scores is not None and r.heard.strip()]
    return confidence.auc_report(rows) if rows else None


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
