"""The bench's report shown: a terminal table, and a timeline picture of a typical turn (--plot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import blackbox
from .selection import BenchError

STAGE_COLOURS = {"wait": "#c8c8c8", "stt": "#4c78a8", "intent": "#54a24b", "tts": "#f58518"}


def format_table(report: dict[str, Any]) -> str:
    """The report as a terminal table."""
    o, b, r = report["optimised"], report["baseline"], report["ratios"]
    sets = ", ".join(f"{k} {v}" for k, v in report["selection"]["sets"].items())
    slm = report["slm"]
    lines = [
        f"slm-voice bench: {report['selection']['files']} files per pipeline ({sets}); "
        f"language model {'on: ' + slm['model'] if slm['enabled'] else 'off'}; streamed at real time",
        "",
        f"{'from the true end of speech (ms)':36}{'optimised':>17}{'baseline (HA-style)':>21}{'ratio opt/base':>18}",
        f"{'':36}{'median':>9}{'p90':>8}{'median':>11}{'p90':>10}{'median':>10}{'p90':>8}",
    ]
    rows = [("VAD's own speech end", "vad_speech_end"), ("end of speech decided", "endpoint"),
            ("transcript ready", "transcript"), ("intent (the action)", "intent"),
            ("first reply audio", "first_audio")]
    for label, key in rows:
        lo = o["summary"]["latency_ms"][key]
        lb = b["summary"]["latency_ms"][key] if b else None
        ratio = r.get(f"speech_end_to_{key}") if r else None
        lines.append(f"  {label:34}{_f(lo, 'median'):>9}{_f(lo, 'p90'):>8}{_f(lb, 'median'):>11}{_f(lb, 'p90'):>10}"
                     f"{_f(ratio, 'median', 2):>10}{_f(ratio, 'p90', 2):>8}")
    lines.append("")
    lines.append(f"{'compute per turn (ms, median)':36}{'optimised':>17}{'baseline':>21}")
    for label, key in (("speech-to-text (on the path)", "stt"), ("speech-to-text (all calls)", "stt_total"),
                       ("intent", "intent_total"), ("TTS first chunk", "tts_first_chunk"),
                       ("TTS whole reply", "tts_total")):
        lo = o["summary"]["compute_ms"][key]
        lb = b["summary"]["compute_ms"][key] if b else None
        lines.append(f"  {label:34}{_f(lo, 'median'):>17}{_f(lb, 'median'):>21}")
    for label, key in (("speech-to-text RTF (median)", "stt"), ("TTS RTF (median)", "tts")):
        lo = o["summary"]["rtf"][key]
        lb = b["summary"]["rtf"][key] if b else None
        lines.append(f"  {label:34}{_f(lo, 'median', 3):>17}{_f(lb, 'median', 3):>21}")
    lines.append(f"  {'wake word / VAD RTF':34}"
                 f"{_num(o['summary']['rtf']['wake'], 4) + ' / ' + _num(o['summary']['rtf']['vad'], 4):>17}")
    lines.append("")
    acc = [f"{s['correct']}/{s['files']} ({100 * s['accuracy']:.0f} %)" if s["accuracy"] is not None else "-"
           for s in (o["summary"], b["summary"] if b else None) if s]
    lines.append(f"{'intent accuracy':36}{acc[0]:>17}{acc[1] if len(acc) > 1 else '-':>21}")
    for name in o["summary"]["accuracy_by_set"]:
        ao = o["summary"]["accuracy_by_set"][name]
        ab = b["summary"]["accuracy_by_set"][name] if b else None
        lines.append(f"  {name:34}{ao['correct']:>13}/{ao['files']:<3}"
                     f"{(str(ab['correct']) + '/' + str(ab['files'])) if ab else '-':>21}")
    lines.append(f"{'endpoint decided by':36}{_reasons(o):>17}{_reasons(b) if b else '-':>21}")
    heard = [f"{sum(t['wake'] for t in p['turns'])}/{len(p['turns'])}, "
             f"+{_f(p['summary']['wake_latency_ms'], 'median')} ms" for p in (o, b) if p]
    lines.append(f"{'wake word heard, after the phrase':36}{heard[0]:>17}{heard[1] if len(heard) > 1 else '-':>21}")
    lines.append(f"{'model load + warm-up (s)':36}{o['load_seconds']['total']:>17.1f}"
                 f"{b['load_seconds']['total'] if b else float('nan'):>21.1f}")
    lines.append(f"{'peak RSS (optimised process)':36}{report['peak_rss_mb']:>14.0f} MB")
    idle = report["idle"]
    if idle:
        lines.append(f"{'idle CPU, wake word on room noise':36}{idle['cpu_percent_one_core']:>12.1f} % of one core "
                     f"({idle['seconds']:.0f} s, {idle['false_wakes']} false wakes)")
    if r:
        t = r["target"]
        lines += ["", f"target: optimised median <= {t['ratio']}x baseline for intent and first audio, accuracy no "
                      f"worse: {'MET' if t['met'] else 'MISSED'} (latency {'met' if t['latency_met'] else 'missed'}, "
                      f"accuracy {'met' if t['accuracy_met'] else 'missed'})"]
    if report.get("black_box"):
        lines += ["", *blackbox.format_table(report["black_box"])]
    if slm.get("eval"):
        lines += ["", "language model (slm_voice.bench.slm_eval): " + json.dumps(slm["eval"])]
    elif slm.get("note"):
        lines += ["", f"language model: {slm['note']}"]
    md = report["method"]["models"]
    stt = md["stt"]
    lines.append(f"models: wake {md['wake']}, VAD {md['vad']}, Whisper {stt['model']} ({stt['compute_type']}, "
                 f"beam {stt['beam_size']}), Piper {md['tts']}" + (f", {md['slm']}" if md["slm"] else ""))
    m = report["machine"]
    lines.append(f"machine: {m['cpus']} CPUs, load average {m['load_average_start'][0]} -> "
                 f"{m['load_average_end'][0]}; bench took {report['wall_seconds']:.0f} s; "
                 f"baseline trailing silence {report['method']['baseline_silence_ms']} ms")
    return "\n".join(lines)


def _f(stats: dict[str, Any] | None, key: str, digits: int = 0) -> str:
    if not stats or stats.get(key) is None:
        return "-"
    return f"{stats[key]:.{digits}f}"


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _reasons(p: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(p["summary"]["endpoint_reasons"].items(), key=str))


def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise BenchError("--plot needs matplotlib: pip install 'slm-voice[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def typical_turn(pipeline: dict[str, Any]) -> dict[str, Any] | None:
    """The understood turn whose speech end -> first audio is the median (the lower middle one for an even count);
    any turn when none was understood."""
    heard = [t for t in pipeline["turns"] if "first_audio" in t["latency_ms"]]
    turns = sorted([t for t in heard if t["correct"]] or heard, key=lambda t: t["latency_ms"]["first_audio"])
    return turns[(len(turns) - 1) // 2] if turns else None


def plot_timeline(report: dict[str, Any], path: str | Path) -> Path:
    """A per-stage timeline of the typical turn of each pipeline, from the true end of speech."""
    plt = pyplot()
    rows = [(n, report[n]) for n in ("baseline", "optimised") if report.get(n)]
    fig, ax = plt.subplots(figsize=(11, 1.6 + 1.5 * len(rows)))
    left, right = 0.0, 0.0
    ticks: list[tuple[float, str]] = []
    for y, (name, pipe) in enumerate(rows):
        t = typical_turn(pipe)
        if t is None:
            continue
        lat = t["latency_ms"]
        stages = [("wait", "waiting for the end of speech", 0.0, lat["endpoint"]),
                  ("stt", "speech-to-text", lat["endpoint"], lat["transcript"]),
                  ("intent", "intent", lat["transcript"], lat["intent"]),
                  ("tts", "reply TTS until first audio", lat["intent"], lat["first_audio"])]
        for kind, label, a, b in stages:
            ax.barh(y + 0.15, max(b - a, 0.0), left=a, height=0.4, color=STAGE_COLOURS[kind],
                    label=label if y == 0 else None)
        # What the model worker computed, when: speculative transcription runs before the endpoint is decided.
        for kind, a, b in t["spans"]:
            ax.barh(y - 0.25, max(b - a, 4.0), left=a, height=0.2, color=STAGE_COLOURS.get(kind, "grey"))
        ax.text(lat["first_audio"] + 25, y + 0.15,
                f"intent {lat['intent']:.0f} ms\nfirst audio {lat['first_audio']:.0f} ms", va="center", fontsize=8)
        right = max(right, lat["first_audio"], *(s[2] for s in t["spans"]))
        left = min(left, *(s[1] for s in t["spans"]))
        tag = "Home Assistant-style baseline" if name == "baseline" else "optimised"
        ticks += [(y + 0.15, f"{tag}\n\u201c{t['text']}\u201d, {t['set']}"), (y - 0.25, "model compute")]
    ax.axvline(0, color="black", lw=1)
    ax.text(5, len(rows) - 0.4, "speech ends", fontsize=8, va="bottom")
    ax.set_yticks([p for p, _ in ticks], [label for _, label in ticks], fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.55, len(rows) - 0.25)
    ax.set_xlim(left - 60, right + 260)
    ax.set_xlabel("milliseconds after the end of speech (the true end, from the rendered audio)")
    ratio = (report.get("ratios") or {}).get("speech_end_to_first_audio")
    title = "A typical turn (the median of speech end \u2192 first reply audio)"
    if ratio:
        title += f"; median of all turns: optimised = {ratio['median']:.2f}\u00d7 baseline"
    fig.suptitle(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8, ncol=4, frameon=False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
