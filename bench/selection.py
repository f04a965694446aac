"""What the bench runs: its options from the command line, the sample of commands in every voice and noise
condition, and those commands rendered to audio files."""

from __future__ import annotations

import argparse
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import corpus
from .baseline import BASELINE_SILENCE_MS

WAKE_VOICE = "piper"
"""Voice of the wake phrase in every rendered file (the command is in the set's voice)."""


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
