"""CPU-seconds per stage of one voice turn: what a turn costs the processor, whatever else the machine is doing.

    python -m slm_voice.bench.stage_cpu [--config config.yaml] [--repeat 5] [--json]

Wall-clock latency depends on load and cores; process CPU time (user + system, all threads: time.process_time)
is what a turn takes away from a board. Each stage runs on the same rendered command (Piper, "turn on the kitchen
light"), `--repeat` times after one warm-up; the median is reported. Listening stages (wake word, VAD) are per
second of audio; the others per call. Language models that are not built are skipped (and said so). The numbers
in docs/pi.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

COMMAND = "Turn on the kitchen light."
PARAPHRASE = "it's way too dark in the kitchen"
REPLY = "Turned on the kitchen light."


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of fn() over `repeat` runs, after one warm-up run."""
    fn()
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main(argv: list[str] | None = None) -> int:
    from ..daemon import engines, factory
    from ..daemon.cli import read_settings
    from ..pipeline.frames import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

    p = argparse.ArgumentParser(prog="python -m slm_voice.bench.stage_cpu", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None, help="config file (default: as `slm-voice run` finds it, else the "
                   "built-in defaults)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    settings, _ = read_settings(args.config)
    home = factory.home_from_settings(settings.home)
    rows: list[dict[str, Any]] = []

    def row(stage: str, unit: str, cpu: float, wall: float, note: str = "") -> None:
        rows.append({"stage": stage, "unit": unit, "cpu_s": round(cpu, 4), "wall_s": round(wall, 4), "note": note})

    tts = factory.build_tts(settings)
    tts.load()
    speech = np.frombuffer(tts_16k(tts, COMMAND), "<i2")
    audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), speech, np.zeros(SAMPLE_RATE, np.int16)])
    seconds = len(audio) / SAMPLE_RATE
    frames = [AudioFrame(audio[i:i + FRAME_SAMPLES].tobytes(), i / SAMPLE_RATE)
              for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]

    wake = engines.build_wake(settings)
    wake.load()

    def listen() -> None:
        wake.reset()
        for f in frames:
            list(wake.process(f))

    cpu, wall = measure(listen, args.repeat)
    row("wake word", "per s of audio", cpu / seconds, wall / seconds, f"{settings.wake.engine}: "
        f"{', '.join(settings.wake.words)}")

    endpointer = factory.build_endpointer(settings)
    endpointer.load()

    def endpoint() -> None:
        endpointer.reset()
        for f in frames:
            list(endpointer.process(f))

    cpu, wall = measure(endpoint, args.repeat)
    row("VAD + endpointing", "per s of audio", cpu / seconds, wall / seconds, "Silero v6")

    from dataclasses import replace

    s = settings.stt
    heard = None
    for beam, short in ((s.beam_size, True), (1, True), (s.beam_size, False)):
        stt = engines.faster_whisper(replace(settings, stt=replace(s, beam_size=beam)), home)  # its windows measured
        stt.load()
        heard = heard or stt.transcribe(speech)
        cpu, wall = measure(lambda stt=stt, short=short: stt.transcribe(speech, short_window=short), args.repeat)
        row("speech-to-text", "per command", cpu, wall, f"{s.model} {s.compute_type}, beam {beam}, "
            f"{s.threads} threads, {'short' if short else '30 s'} window ({len(speech) / SAMPLE_RATE:.1f} s)")

    from ..pipeline.bargein import BURST_WINDOW_S, PHRASE_TAIL_S, phrase_windows

    # As Interrupting._check_stop hears a window, every part of it (the whole window is heard only when its end held
    # no stop word: here it is always paid, the dearer case).
    window = (speech.tobytes() + tts_16k(tts, "Stop."))[-2 * round(BURST_WINDOW_S * SAMPLE_RATE):]
    cpu, wall = measure(lambda: [stt.hear_phrase(part) for part in phrase_windows(window)], args.repeat)
    row("stop-word check", "per check", cpu, wall, f"hear_phrase on a window's last {PHRASE_TAIL_S} s, then on the "
        f"whole {BURST_WINDOW_S} s (speech, then 'stop'), greedy; checked every 0.3 s of speech while it speaks")

    intents = factory.build_intents(settings, home, with_slm=False)
    cpu, wall = measure(lambda: intents.understand(heard.text), args.repeat)
    row("intent: templates", "per command", cpu, wall, f"heard {heard.text.strip()!r}")

    for model in ("smollm2-135m", "qwen2.5-coder-0.5b"):
        slm_settings = _with_slm(settings, model)
        try:
            tiers = factory.build_intents(slm_settings, home, with_slm=True)
            tiers.load()
        except Exception as e:  # noqa: BLE001 - a model that is not built is reported, not fatal
            row(f"intent: {model}", "per command", float("nan"), float("nan"), f"skipped: {e}")
            continue
        cpu, wall = measure(lambda tiers=tiers: tiers.understand(PARAPHRASE), args.repeat)
        row(f"intent: {model}", "per command", cpu, wall, f"{PARAPHRASE!r} (templates miss it), "
            f"{settings.slm.threads} threads")
        del tiers

    cpu, wall = measure(lambda: list(tts.synthesize(REPLY)), args.repeat)
    row("text-to-speech", "per reply", cpu, wall, f"{settings.tts.voice}, {REPLY!r}")

    info = {"machine": platform.machine(), "processor": _cpu_name(), "python": platform.python_version(),
            "repeat": args.repeat, "rows": rows}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"CPU-seconds per stage ({info['machine']}, {info['processor']}, median of {args.repeat})")
    print(f"{'stage':24} {'unit':16} {'CPU s':>8} {'wall s':>8}  note")
    for r in rows:
        print(f"{r['stage']:24} {r['unit']:16} {r['cpu_s']:8.3f} {r['wall_s']:8.3f}  {r['note']}")
    return 0


def tts_16k(tts: Any, text: str) -> bytes:
    """The text spoken by the TTS stage, as 16 kHz int16 bytes."""
    return _to_16k(np.frombuffer(b"".join(c.pcm for c in tts.synthesize(text)), "<i2"), tts.sample_rate).tobytes()


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    out = soxr.resample(samples.astype(np.float32) / 32768, rate, 16000)
    return np.clip(out * 32768, -32768, 32767).astype(np.int16)


def _with_slm(settings: Any, model: str) -> Any:
    from dataclasses import replace

    return replace(settings, slm=replace(settings.slm, enabled=True, model=model))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
