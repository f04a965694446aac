"""One pipeline run in this process: the real Assistant (FileRunner) with observers that time every stage, fed
the rendered files at real time; each file becomes a row of the report (file_record), the rows a summary."""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..daemon.factory import StageCache
from ..daemon.process import TAIL_SILENCE_S, FileRunner
from ..daemon.settings import Settings
from ..pipeline.events import Event, SpeechEnded, StageName, StageTimed, Timing, TurnFinished, WakeDetected, ms
from ..pipeline.frames import AudioFrame
from ..pipeline.sources import WavFileSource
from ..pipeline.streaming import stream_frames
from . import corpus
from .baseline import switches
from .selection import AudioSet

log = logging.getLogger("slm_voice.bench")  # one logger for the whole bench, as before the split

MILESTONES = ("vad_speech_end", "endpoint", "transcript", "intent", "action", "first_audio")
"""Per-turn times from the true end of speech, in order."""


# ---------------------------------------------------------------------------------------------- instruments


class Meter:
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


class StampedSource:
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


class Watch:
    """Observer: the turns of the file being streamed; ends the stream once the turn is over (the rest is silence)."""

    def __init__(self) -> None:
        self.begin(None)

    def begin(self, source: StampedSource | None) -> None:
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


class Instrumented:
    """A FileRunner with the bench's observers on its assistant (the stages report their own compute)."""

    def __init__(self, settings: Settings, with_slm: bool | None, cache: StageCache) -> None:
        self.watch = Watch()
        self.meter = Meter()
        self.runner = FileRunner(settings, realtime=True, with_slm=with_slm, extra_observers=[self.watch, self.meter],
                                 cache=cache)

    @property
    def load_seconds(self) -> dict[str, float]:
        took = {k: round(v, 3) for k, v in self.runner.load_seconds.items()}
        return {**took, "total": round(sum(took.values()), 3)}

    async def stream(self, path: Path, *, stop_after_turn: bool = True, tail_s: float = TAIL_SILENCE_S
                     ) -> StampedSource:
        source = StampedSource(WavFileSource(path, realtime=True, tail_silence_s=tail_s))
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


def file_record(utt: corpus.Utterance, aset: AudioSet, inst: Instrumented, source: StampedSource) -> dict[str, Any]:
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


async def _idle_cpu(inst: Instrumented, noise: Path) -> dict[str, Any]:
    """Percent of one core while the wake word listens to room noise (process CPU time / wall time)."""
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    await inst.stream(noise, stop_after_turn=False, tail_s=0.0)
    r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return {"seconds": round(w1 - w0, 2), "cpu_seconds": round(cpu, 3),
            "cpu_percent_one_core": round(100 * cpu / (w1 - w0), 2), "false_wakes": inst.watch.wakes}


def run_pipeline(name: str, settings: Settings, utts: Sequence[tuple[AudioSet, corpus.Utterance]],
                 with_slm: bool | None, idle_noise: Path | None = None,
                 after: Callable[[Instrumented], Any] | None = None,
                 cache: StageCache | None = None) -> dict[str, Any]:
    """Load one pipeline (stages whose settings match another's come from the shared cache: the language model
    loads once), optionally measure idle CPU, stream every file at real time, call after(it) (its result under
    "after"); then unload it."""
    inst = Instrumented(settings, with_slm, cache if cache is not None else StageCache())
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
        return {"settings": switches(settings), "load_seconds": inst.load_seconds,
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
