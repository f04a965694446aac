"""`slm-voice bench`: the optimised pipeline against a Home Assistant-style chain of the same models.

Both pipelines are the real one (FileRunner, the Assistant `slm-voice run` uses), fed rendered commands at
real-time pace. Every latency is measured from the moment speech really ends in the audio (known to the sample
from the corpus), mapped to wall time through the frames' arrival stamps, not from the VAD's own estimate.
docs/benchmark.md describes the method and the latest numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import math
import multiprocessing
import os
import platform
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..daemon import __version__
from ..daemon.factory import StageCache
from ..daemon.process import TAIL_SILENCE_S, FileRunner
from ..daemon.settings import Settings
from ..pipeline.events import Event, SpeechEnded, StageName, StageTimed, Timing, TurnFinished, WakeDetected, ms
from ..pipeline.frames import AudioFrame
from ..pipeline.sources import WavFileSource
from ..pipeline.streaming import stream_frames
from . import blackbox, corpus

log = logging.getLogger("slm_voice.bench")

HA_ENDPOINT_WAIT_MS = 1280
"""Speech end to end-of-speech decision of Home Assistant's default pipeline with these models, as measured on a
2-core machine: VoiceCommandSegmenter's silence_seconds=0.7 on top of microVAD's own smoothing."""
BASELINE_SILENCE_MS = 1200
"""The baseline's vad.trailing_silence_ms. Silero's hangover (its last speech frame ends ~80 ms after the speech
does) and the 32 ms frames add ~80-100 ms to the configured silence: 1150 ms measured a median endpoint wait of
1230 ms, so 1200 ms lands it near HA_ENDPOINT_WAIT_MS (docs/benchmark.md)."""
TARGET_RATIO = 0.6
"""Done when the optimised median speech-end -> intent and -> first audio are at most this times the baseline's."""
MILESTONES = ("vad_speech_end", "endpoint", "transcript", "intent", "action", "first_audio")
"""Per-turn times from the true end of speech, in order."""
WAKE_VOICE = "piper"
"""Voice of the wake phrase in every rendered file (the command is in the set's voice)."""
SLM_BENCH_TEXTS = 12
"""Sentences slm_voice.bench.slm_eval.bench times the language model on (about a second each on 2 cores)."""
STAGE_COLOURS = {"wait": "#c8c8c8", "stt": "#4c78a8", "intent": "#54a24b", "tts": "#f58518"}


class BenchError(ValueError):
    """Bad bench arguments (printed by the CLI without a traceback)."""


@dataclass(frozen=True)
class AudioSet:
    """One voice in one noise condition."""

    voice: str
    snr_db: float | None

    @property
    def label(self) -> str:
        return f"{self.voice} {'clean' if self.snr_db is None else f'{self.snr_db:g} dB'}"


@dataclass(frozen=True)
class BenchOptions:
    """What to run (from the command line)."""

    voices: tuple[str, ...] = ("piper", "espeak")
    snrs: tuple[float | None, ...] = (None, 10.0)
    limit: int | None = None
    """First N commands in every set; 0: all; None: the default sample."""
    baseline: bool = True
    baseline_silence_ms: int = BASELINE_SILENCE_MS
    with_slm: bool | None = None
    """None: slm.enabled decides; False: templates only."""
    idle_seconds: float = 30.0
    cache_dir: Path | None = None
    black_box: bool = True
    """Also run `slm-voice run` as a user would and measure from outside (bench/blackbox.py)."""

    @property
    def sets(self) -> list[AudioSet]:
        return [AudioSet(v, s) for v in self.voices for s in self.snrs]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchOptions:
        voices = tuple(v.strip() for v in (args.voices or "").split(",") if v.strip())
        if not voices or (bad := [v for v in voices if v not in corpus.VOICES]):
            raise BenchError(f"--voices: unknown voice(s) {bad if voices else voices!r}; "
                             f"choose from {', '.join(corpus.VOICES)}")
        snrs: list[float | None] = []
        for part in (p.strip() for p in (args.snr or "").split(",") if p.strip()):
            if part == "clean":
                snrs.append(None)
                continue
            try:
                snrs.append(float(part.removesuffix("dB").strip()))
            except ValueError:
                raise BenchError(f"--snr: {part!r} is neither 'clean' nor a number of dB") from None
        if not snrs:
            raise BenchError("--snr: give at least one condition (clean, or an SNR in dB such as 10)")
        if args.limit is not None and args.limit < 0:
            raise BenchError(f"--limit must be 0 (all) or a positive number, got {args.limit}")
        if args.idle_seconds < 0:
            raise BenchError(f"--idle-seconds must not be negative, got {args.idle_seconds}")
        silence = args.baseline_silence_ms if args.baseline_silence_ms is not None else BASELINE_SILENCE_MS
        if silence < 100:
            raise BenchError(f"--baseline-silence-ms must be at least 100, got {silence}")
        return cls(
            voices=voices, snrs=tuple(dict.fromkeys(snrs)), limit=args.limit, baseline=not args.no_baseline,
            baseline_silence_ms=silence, with_slm=False if args.no_slm else None, idle_seconds=args.idle_seconds,
            cache_dir=Path(args.cache_dir).expanduser() if args.cache_dir else None,
            black_box=not args.no_black_box,
        )


# ---------------------------------------------------------------------------------------------- what to run


def select(commands: Sequence[corpus.Command], sets: Sequence[AudioSet],
           limit: int | None) -> list[tuple[AudioSet, corpus.Command]]:
    """limit N: the first N commands in every set; 0: all; None: every 2nd command in the first set and every 6th
    (a different sixth each) in the others, so the sample covers each command at least once."""
    out = []
    for i, s in enumerate(sets):
        if limit == 0:
            chosen = list(commands)
        elif limit:
            chosen = list(commands[:limit])
        else:
            chosen = list(commands[::2]) if i == 0 else list(commands[(2 * i - 1) % 6 :: 6])
        out += [(s, c) for c in chosen]
    return out


def settings_variants(settings: Settings, baseline_silence_ms: int) -> tuple[Settings, Settings]:
    """(optimised, baseline): the configuration as given, and Home Assistant's default chain of the same models.

    Baseline: end of speech after a long trailing silence, transcription only after it (no speculative STT, no
    semantic endpointing) over faster-whisper's ordinary 30 s window, intent after the transcript, and the whole
    reply synthesized before it plays, with no reply cache. Both: no follow-up listening, no debug recording.
    """
    r = dataclasses.replace
    common = {"debug": r(settings.debug, record_dir=None)}
    optimised = r(settings, assistant=r(settings.assistant, follow_up=False), **common)
    baseline = r(
        settings,
        vad=r(settings.vad, trailing_silence_ms=baseline_silence_ms),
        stt=r(settings.stt, short_window=False),
        assistant=r(settings.assistant, follow_up=False, speculative_stt=False, semantic_endpoint=False,
                    stream_reply=False, reply_cache=False),
        **common,
    )
    return optimised, baseline


def _switches(s: Settings) -> dict[str, Any]:
    a = s.assistant
    return {"trailing_silence_ms": s.vad.trailing_silence_ms, "speculative_stt": a.speculative_stt,
            "semantic_endpoint": a.semantic_endpoint, "stt_short_window": s.stt.short_window,
            "stream_reply": a.stream_reply, "reply_cache": a.reply_cache}


def _models(s: Settings, slm_on: bool) -> dict[str, Any]:
    """The models both pipelines share."""
    return {"wake": f"{s.wake.engine}:{','.join(s.wake.words)}", "vad": "silero",
            "stt": {"model": s.stt.model, "compute_type": s.stt.compute_type, "beam_size": s.stt.beam_size,
                    "threads": s.stt.threads, "hotwords": s.stt.hotwords},
            "tts": s.tts.voice, "slm": s.slm.model if slm_on else None}


def render(selection: Sequence[tuple[AudioSet, corpus.Command]], idle_seconds: float,
           cache_dir: Path | None) -> tuple[list[corpus.Utterance], Path | None]:
    """Render (or find in the cache) every selected command and the idle noise.

    In a child process: Piper loaded for rendering would otherwise count in this process's peak memory.
    """
    jobs = [(c.text, s.voice, s.snr_db, c.expected) for s, c in selection]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(_render_jobs, jobs, idle_seconds, cache_dir).result()


def _render_jobs(jobs: list[tuple[str, str, float | None, Any]], idle_seconds: float,
                 cache_dir: Path | None) -> tuple[list[corpus.Utterance], Path | None]:
    # The wake phrase is always Piper's: microWakeWord's hey_jarvis never fires on espeak-ng's synthetic voice,
    # and the bench is about what happens after the wake word.
    utts = [corpus.render(text, voice=voice, snr_db=snr, expected=expected, cache_dir=cache_dir,
                          wake_voice=WAKE_VOICE)
            for text, voice, snr, expected in jobs]
    noise = corpus.render_noise(idle_seconds, cache_dir=cache_dir) if idle_seconds > 0 else None
    return utts, noise


# ---------------------------------------------------------------------------------------------- instruments


class _Meter:
    """Observer: the stages' own compute reports (StageTimed) for the file being streamed."""

    def __init__(self) -> None:
        self.calls: list[StageTimed] = []
        self.frames: dict[str, list[float]] = {StageName.WAKE: [0.0, 0.0], StageName.VAD: [0.0, 0.0]}
        """Frame stages: [compute seconds, audio seconds] over the whole run."""

    def __call__(self, event: Event) -> None:
        if not isinstance(event, StageTimed):
            return
        if event.call == "frames":
            total = self.frames[event.stage]
            total[0] += event.seconds
            total[1] += event.audio_s
        else:
            self.calls.append(event)

    def of(self, stage: StageName) -> list[StageTimed]:
        return [c for c in self.calls if c.stage == stage]

    def rtf(self, stage: StageName) -> float | None:
        compute, audio = self.frames[stage]
        return round(compute / audio, 5) if audio else None


class _StampedSource:
    """The file source, noting when its audio clock started: audio position T arrives at wall time t0 + T.

    A real-time file source hands frame k over once its last sample is due (t0 + its end), or later when the
    loop is busy; the earliest (arrived - end) over all frames is therefore the clock's start.
    """

    def __init__(self, inner: WavFileSource) -> None:
        self.inner = inner
        self.t0 = math.inf

    def frames(self) -> Iterator[AudioFrame]:
        for f in self.inner.frames():
            self.t0 = min(self.t0, f.arrived - f.end_s)
            yield f

    def close(self) -> None:
        self.inner.close()


class _Watch:
    """Observer: the turns of the file being streamed; ends the stream once the turn is over (the rest is silence)."""

    def __init__(self) -> None:
        self.begin(None)

    def begin(self, source: _StampedSource | None) -> None:
        self.source = source
        self.turns: list[TurnFinished] = []
        self.ended: dict[str, SpeechEnded] = {}
        self.wakes = 0
        self.wake_s: float | None = None
        """Audio position where the (first) wake word fired."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, WakeDetected):
            self.wakes += 1
            if self.wake_s is None:
                self.wake_s = event.stream_s
        elif isinstance(event, SpeechEnded):
            self.ended[event.turn_id] = event
        elif isinstance(event, TurnFinished):
            self.turns.append(event)
            if self.source is not None:
                self.source.close()


class _Instrumented:
    """A FileRunner with the bench's observers on its assistant (the stages report their own compute)."""

    def __init__(self, settings: Settings, with_slm: bool | None, cache: StageCache) -> None:
        self.watch = _Watch()
        self.meter = _Meter()
        self.runner = FileRunner(settings, realtime=True, with_slm=with_slm, extra_observers=[self.watch, self.meter],
                                 cache=cache)

    @property
    def load_seconds(self) -> dict[str, float]:
        took = {k: round(v, 3) for k, v in self.runner.load_seconds.items()}
        return {**took, "total": round(sum(took.values()), 3)}

    async def stream(self, path: Path, *, stop_after_turn: bool = True, tail_s: float = TAIL_SILENCE_S
                     ) -> _StampedSource:
        source = _StampedSource(WavFileSource(path, realtime=True, tail_silence_s=tail_s))
        self.watch.begin(source if stop_after_turn else None)
        self.meter.calls.clear()
        self.runner.assistant.reset()
        await self.runner.assistant.run(stream_frames(source))
        return source

    def slm_tier(self) -> Any:
        """The pipeline's language-model tier, if it has one."""
        tiers = getattr(self.runner.assistant.intents, "tiers", ())
        return next((t for t in tiers if getattr(t, "name", "") == "slm"), None)

    def close(self) -> None:
        self.runner.close()


# ---------------------------------------------------------------------------------------------- one turn


def file_record(utt: corpus.Utterance, aset: AudioSet, inst: _Instrumented, source: _StampedSource) -> dict[str, Any]:
    """One rendered file's row of the report: what happened, every time counted from the true end of speech (the
    turn itself, as MQTT and the log have it, is daemon/observers.py turn_record)."""
    watch = inst.watch
    turn = watch.turns[0] if watch.turns else None
    u = turn.understanding if turn is not None else None
    got = u.intent if u is not None else None
    rec: dict[str, Any] = {
        "set": aset.label, "voice": aset.voice, "snr_db": aset.snr_db, "text": utt.text,
        "expected": utt.expected.name if utt.expected else None,
        "turns": len(watch.turns), "wake": watch.wake_s is not None,
        "wake_latency_ms": None if watch.wake_s is None or utt.wake_end_s is None
        else ms(watch.wake_s - utt.wake_end_s),
        "transcript": turn.transcript if turn else "", "intent": got.name if got else None,
        "entity_ids": list(got.entity_ids) if got else [], "tier": u.tier if u is not None else "none",
        "correct": turn is not None and corpus.matches(utt.expected, u),
        "speech_end_s": round(utt.speech_end_s, 3),
        "vad_speech_end_s": None if turn is None or turn.speech_end_s is None else round(turn.speech_end_s, 3),
        "endpoint_reason": None, "latency_ms": {}, "compute_ms": {}, "stt_calls": 0,
        "command_audio_s": None, "reply_audio_s": None, "rtf": {}, "spans": [],
    }
    if turn is None or not turn.milestones:
        return rec
    true_end = source.t0 + utt.speech_end_s
    names = {"speech_end": "vad_speech_end"}
    rec["latency_ms"] = {names.get(str(k), str(k)): ms(v - true_end) for k, v in turn.milestones.items()}
    ended = watch.ended.get(turn.turn_id)
    command_s = len(ended.audio) / 2 / 16_000 if ended is not None else None
    stt = inst.meter.of(StageName.STT)
    intent = inst.meter.of(StageName.INTENT)
    tts = inst.meter.of(StageName.TTS)
    reply_s = sum(c.audio_s for c in tts)
    tts_total = sum(c.seconds for c in tts)
    t = turn.timings_ms
    rec.update({
        "endpoint_reason": ended.reason if ended is not None else None,
        "compute_ms": {
            "stt": t.get(Timing.STT), "stt_total": ms(sum(c.seconds for c in stt)),
            "intent": t.get(Timing.INTENT), "intent_total": ms(sum(c.seconds for c in intent)),
            "tts_first_chunk": ms(tts[0].seconds) if tts else None, "tts_total": ms(tts_total),
        },
        "stt_calls": len(stt),
        "command_audio_s": None if command_s is None else round(command_s, 3),
        "reply_audio_s": round(reply_s, 3),
        "rtf": {
            "stt": round(t[Timing.STT] / 1000 / command_s, 4) if command_s and Timing.STT in t else None,
            "tts": round(tts_total / reply_s, 4) if reply_s else None,
        },
        "spans": [[str(c.stage), ms(c.started - true_end), ms(c.started + c.seconds - true_end)]
                  for c in inst.meter.calls],
    })
    return rec


# ---------------------------------------------------------------------------------------------- a pipeline


async def _idle_cpu(inst: _Instrumented, noise: Path) -> dict[str, Any]:
    """Percent of one core while the wake word listens to room noise (process CPU time / wall time)."""
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    await inst.stream(noise, stop_after_turn=False, tail_s=0.0)
    r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return {"seconds": round(w1 - w0, 2), "cpu_seconds": round(cpu, 3),
            "cpu_percent_one_core": round(100 * cpu / (w1 - w0), 2), "false_wakes": inst.watch.wakes}


def run_pipeline(name: str, settings: Settings, utts: Sequence[tuple[AudioSet, corpus.Utterance]],
                 with_slm: bool | None, idle_noise: Path | None = None,
                 after: Callable[[_Instrumented], Any] | None = None,
                 cache: StageCache | None = None) -> dict[str, Any]:
    """Load one pipeline (stages whose settings match another's come from the shared cache: the language model
    loads once), optionally measure idle CPU, stream every file at real time, call after(it) (its result under
    "after"); then unload it."""
    inst = _Instrumented(settings, with_slm, cache if cache is not None else StageCache())
    log.info("%s: models loaded and warm in %.1f s", name, inst.load_seconds["total"])
    records: list[dict[str, Any]] = []

    async def go() -> dict[str, Any] | None:
        idle = await _idle_cpu(inst, idle_noise) if idle_noise is not None else None
        for i, (aset, utt) in enumerate(utts):
            source = await inst.stream(utt.path)
            rec = file_record(utt, aset, inst, source)
            records.append(rec)
            lat = rec["latency_ms"]
            log.info("%s %d/%d %s %r -> %s%s, intent %s ms, first audio %s ms", name, i + 1, len(utts), aset.label,
                     rec["transcript"], rec["intent"], "" if rec["correct"] else " (wrong)", lat.get("intent"),
                     lat.get("first_audio"))
        return idle

    try:
        idle = asyncio.run(go())
        frame_rtf = {str(s): inst.meter.rtf(s) for s in (StageName.WAKE, StageName.VAD)}
        return {"settings": _switches(settings), "load_seconds": inst.load_seconds,
                "summary": summarize(records, frame_rtf), "idle": idle, "turns": records,
                "after": after(inst) if after is not None else None}
    finally:
        inst.close()


def _stats(values: Sequence[float | None], digits: int = 1) -> dict[str, float] | None:
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    stats = {"median": np.median(v), "p90": np.percentile(v, 90), "mean": v.mean(), "min": v.min(), "max": v.max()}
    return {"n": int(v.size), **{k: round(float(x), digits) for k, x in stats.items()}}


def summarize(records: Sequence[dict[str, Any]], frame_rtf: dict[str, float | None]) -> dict[str, Any]:
    correct = sum(r["correct"] for r in records)
    per_set: dict[str, list[int]] = {}
    for r in records:
        per_set.setdefault(r["set"], [0, 0])
        per_set[r["set"]][0] += r["correct"]
        per_set[r["set"]][1] += 1
    turns = [r for r in records if r["latency_ms"]]
    return {
        "files": len(records), "turns": len(turns), "correct": correct,
        "accuracy": round(correct / len(records), 4) if records else None,
        "accuracy_by_set": {k: {"correct": c, "files": n} for k, (c, n) in per_set.items()},
        "latency_ms": {k: _stats([r["latency_ms"].get(k) for r in turns]) for k in MILESTONES},
        "compute_ms": {k: _stats([r["compute_ms"].get(k) for r in turns])
                       for k in ("stt", "stt_total", "intent", "intent_total", "tts_first_chunk", "tts_total")},
        "rtf": {**frame_rtf, "stt": _stats([r["rtf"].get("stt") for r in turns], 4),
                "tts": _stats([r["rtf"].get("tts") for r in turns], 4)},
        "wake_latency_ms": _stats([r["wake_latency_ms"] for r in records]),
        "endpoint_reasons": dict(Counter(r["endpoint_reason"] for r in turns)),
        "stt_calls_per_turn": round(sum(r["stt_calls"] for r in turns) / len(turns), 2) if turns else None,
    }


def ratios(optimised: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """optimised / baseline for the median and p90 of speech end -> intent and -> first audio, against the target."""
    out: dict[str, Any] = {}
    for key in ("intent", "first_audio"):
        o, b = optimised["summary"]["latency_ms"][key], baseline["summary"]["latency_ms"][key]
        out[f"speech_end_to_{key}"] = None if not o or not b else {
            q: round(o[q] / b[q], 3) if b[q] > 0 else None for q in ("median", "p90")
        }
    medians = [r["median"] for r in out.values() if r and r["median"] is not None]
    acc_o, acc_b = optimised["summary"]["accuracy"], baseline["summary"]["accuracy"]
    out["target"] = {
        "ratio": TARGET_RATIO,
        "latency_met": len(medians) == 2 and all(m <= TARGET_RATIO for m in medians),
        "accuracy_met": acc_o is not None and acc_b is not None and acc_o >= acc_b,
    }
    out["target"]["met"] = out["target"]["latency_met"] and out["target"]["accuracy_met"]
    return out


# ---------------------------------------------------------------------------------------------- the bench


def run_bench(settings: Settings, opts: BenchOptions) -> dict[str, Any]:
    """Render, run the optimised pipeline (with idle CPU and peak memory) and the baseline; the report as data."""
    started = time.monotonic()
    load_before = os.getloadavg()
    selection = select(corpus.load_commands(), opts.sets, opts.limit)
    log.info("rendering %d files (cached after the first run)", len(selection))
    utts, noise = render(selection, opts.idle_seconds, opts.cache_dir)
    pairs = [(s, u) for (s, _c), u in zip(selection, utts, strict=True)]
    optimised_s, baseline_s = settings_variants(settings, opts.baseline_silence_ms)
    slm_on = settings.slm.enabled if opts.with_slm is None else opts.with_slm

    # The language model's own bench reuses the optimised pipeline's loaded model, and so does the baseline.
    cache = StageCache()
    optimised = run_pipeline("optimised", optimised_s, pairs, opts.with_slm, idle_noise=noise,
                             after=lambda inst: slm_section(settings, slm_on, inst.slm_tier()), cache=cache)
    # ru_maxrss (KiB on Linux) before the baseline loads: the peak of the optimised pipeline alone.
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    idle, slm = optimised.pop("idle"), optimised.pop("after")
    gc.collect()
    baseline = None
    if opts.baseline:
        baseline = run_pipeline("baseline", baseline_s, pairs, opts.with_slm, cache=cache)
        del baseline["idle"], baseline["after"]
    del cache  # the models this process loaded go before the daemons load theirs
    gc.collect()
    black_box = None
    if opts.black_box:
        labelled = [(aset.label, utt) for aset, utt in pairs]
        if opts.with_slm is False:
            optimised_s = dataclasses.replace(optimised_s, slm=dataclasses.replace(optimised_s.slm, enabled=False))
            baseline_s = dataclasses.replace(baseline_s, slm=dataclasses.replace(baseline_s.slm, enabled=False))
        black_box = {"optimised": blackbox.run_daemon("optimised", optimised_s, labelled)}
        if opts.baseline:
            black_box["baseline"] = blackbox.run_daemon("baseline", baseline_s, labelled)
            black_box["ratios"] = blackbox.ratios(black_box["optimised"], black_box["baseline"])
    return {
        "version": __version__,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_start": [round(x, 2) for x in load_before],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "selection": {"limit": opts.limit, "files": len(pairs),
                      "sets": dict(Counter(s.label for s, _ in pairs))},
        "method": {"realtime": True, "latency_from": "true end of speech in the audio (corpus speech_end_s)",
                   "mqtt": "not measured: the intent milestone is when the action would be published",
                   "ha_endpoint_wait_ms": HA_ENDPOINT_WAIT_MS, "baseline_silence_ms": opts.baseline_silence_ms,
                   "models": _models(settings, slm_on)},
        "slm": slm,
        "peak_rss_mb": peak_rss_mb,
        "idle": idle,
        "optimised": optimised,
        "baseline": baseline,
        "ratios": ratios(optimised, baseline) if baseline is not None else None,
        "black_box": black_box,
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def check_slm(settings: Settings, with_slm: bool | None) -> None:
    """Fail before any work when the language model is enabled but not built (ModelError, printed by the CLI)."""
    from ..daemon import factory
    from ..models.locate import ModelError

    if not (settings.slm.enabled if with_slm is None else with_slm):
        return
    try:
        factory.slm_dir(settings)
    except ModelError as e:
        raise ModelError(f"{e}; or run the bench with --no-slm") from None


def slm_section(settings: Settings, enabled: bool, tier: Any = None) -> dict[str, Any]:
    """The language model's own numbers (prompt tokens, time to intent, tokens/s) from slm_eval.bench, on the first
    SLM_BENCH_TEXTS sentences of its labelled set (paraphrases the templates do not match).

    tier: an already loaded language-model tier to time; None: build one from settings."""
    out: dict[str, Any] = {"enabled": enabled, "model": settings.slm.model if enabled else None, "eval": None}
    if not enabled:
        out["note"] = "language model tier off (slm.enabled false or --no-slm)"
        return out
    try:
        from . import slm_eval
    except ImportError as e:
        out["note"] = f"slm_voice.bench.slm_eval is not available ({e}): no language-model numbers"
        return out
    if not hasattr(slm_eval, "bench"):
        out["note"] = "slm_voice.bench.slm_eval has no bench(): no language-model numbers"
        return out
    from ..daemon import factory

    try:
        texts = [item.text for item in slm_eval.load_items()][:SLM_BENCH_TEXTS]
    except (OSError, ValueError) as e:
        out["note"] = f"the language model's labelled set is not readable ({e}): no language-model numbers"
        return out
    log.info("language model: timing %d sentences with slm_voice.bench.slm_eval.bench", len(texts))
    if tier is None:
        tier = factory.build_slm(settings, factory.home_from_settings(settings.home))
    out["eval"] = slm_eval.bench(tier, texts)
    return out


# ---------------------------------------------------------------------------------------------- output


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


def _pyplot() -> Any:
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
    plt = _pyplot()
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


# ---------------------------------------------------------------------------------------------- the command


def main(settings: Settings, args: argparse.Namespace) -> int:
    """`slm-voice bench`: run, print a table (or --json), draw --plot; returns the exit status."""
    from ..daemon.cli import CliError

    try:
        opts = BenchOptions.from_args(args)
        if args.plot:
            _pyplot()  # missing matplotlib fails now, not after minutes of benchmarking
    except BenchError as e:
        raise CliError(str(e)) from None
    check_slm(settings, opts.with_slm)
    report = run_bench(settings, opts)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_table(report), flush=True)
    if args.plot:
        log.info("timeline written to %s", plot_timeline(report, args.plot))
    return 0
