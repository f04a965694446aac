"""Rooms for the spoken test sets: reverberation, babble, TV-like rumble and pink noise at several SNRs, quiet and
loud speakers, applied to corpus-rendered speech.

A condition is applied to a whole rendered file (wake phrase and command alike: the room does not know which is
which). Noise is scaled so that over the speech segments RMS(speech) / RMS(noise) is the condition's SNR (after
any reverberation: the reverberant speech is what the microphone gets); a gain is applied last, and a loud speaker
clips at full scale as an overdriven microphone does. Files are cached next to the corpus's, named by a hash of the
clean file and the condition, so a re-run reuses them. Pink-noise-only conditions are the corpus's own noisy files
(corpus.render(snr_db=...)), identical to what `--snr 10` rendered before.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..pipeline.intent.model import Intent
from . import corpus, voices
from .corpus import SAMPLE_RATE, Utterance

CONDITIONS_VERSION = 1
"""Bump when the rendering of conditions changes in a way that should invalidate cached files."""


@dataclass(frozen=True)
class Condition:
    """One room: noise at an SNR, reverberation, a level change."""

    name: str
    noise: str | None = None
    """pink, brown (TV-like rumble, a fan) or babble (several talkers); None: no noise."""
    snr_db: float | None = None
    """Speech-to-noise ratio of the noise over the speech segments."""
    reverb: int | None = None
    """sox reverb's reverberance 0-100 (room scale 100, HF damping 50); None: dry."""
    gain_db: float = 0.0
    """Level change of the whole file, applied last: below 0 a quiet (far) speaker, above 0 a loud one (clipped)."""


CONDITIONS: dict[str, Condition] = {c.name: c for c in (
    Condition("clean"),
    Condition("pink20", noise="pink", snr_db=20.0),
    Condition("pink10", noise="pink", snr_db=10.0),
    Condition("pink5", noise="pink", snr_db=5.0),
    Condition("babble10", noise="babble", snr_db=10.0),
    Condition("brown10", noise="brown", snr_db=10.0),
    Condition("reverb", reverb=50),
    Condition("reverb-pink10", noise="pink", snr_db=10.0, reverb=50),
    Condition("quiet", gain_db=-12.0),
    Condition("loud", gain_db=15.0),
)}
"""The rooms by name (`slm-voice eval --mode speech --snr clean,pink10,babble10,...`)."""

ROOM: tuple[str, ...] = tuple(CONDITIONS)
"""Every condition: what `--snr room` means."""


def condition(name: str | float | None) -> Condition:
    """A condition by name; a number (or 'clean'/None) is pink noise at that SNR, as `--snr 10` always meant."""
    if name is None or name == "clean":
        return CONDITIONS["clean"]
    if isinstance(name, int | float):
        return Condition(f"{float(name):g} dB", noise="pink", snr_db=float(name))
    try:
        return CONDITIONS[name]
    except KeyError:
        try:
            return condition(float(name))
        except ValueError:
            raise ValueError(f"unknown condition {name!r}; choose an SNR in dB or one of "
                             f"{', '.join(CONDITIONS)}") from None


def render(
    text: str,
    cond: Condition | str,
    *,
    voice: str = "piper",
    wake: str | None = "hey jarvis",
    wake_voice: str | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    expected: Intent | None = None,
) -> Utterance:
    """``wake + command`` in a voice (bench/voices.py names) and a room, as a cached 16 kHz WAV file."""
    cond = condition(cond) if not isinstance(cond, Condition) else cond
    if cond.reverb is None and cond.gain_db == 0.0 and cond.noise in (None, "pink"):
        return corpus.render(text, voice=voice, wake=wake, snr_db=cond.snr_db, cache_dir=cache_dir, seed=seed,
                             expected=expected, wake_voice=wake_voice)
    clean = corpus.render(text, voice=voice, wake=wake, cache_dir=cache_dir, seed=seed, expected=expected,
                          wake_voice=wake_voice)
    key = corpus._hash({"clean": clean.path.name, "condition": asdict(cond), "seed": seed, "v": CONDITIONS_VERSION})
    path = clean.path.with_name(clean.path.name.split("-clean-")[0] + f"-{_slug(cond.name)}-{key[:16]}.wav")
    if not corpus._complete(path):
        samples = apply(clean.samples(), clean.segments, cond, np.random.default_rng(int(key[:15], 16)),
                        cache_dir=cache_dir)
        meta = json.loads(clean.path.with_suffix(".json").read_text())
        corpus._write(path, samples, {**meta, "snr_db": cond.snr_db, "seed": seed, "condition": asdict(cond)})
    return corpus._load(path, expected)


def apply(clean: np.ndarray, segments: Sequence[tuple[float, float]], cond: Condition, rng: np.random.Generator,
          *, cache_dir: str | Path | None = None) -> np.ndarray:
    """int16 speech in, int16 speech in the room out (same length)."""
    x = clean.astype(np.float32) / 32768.0
    idx = speech_index(segments, x.size)
    if cond.reverb is not None:
        level = _rms(x[idx])
        x = reverb(x, cond.reverb)
        x *= level / max(_rms(x[idx]), 1e-9)  # the same speech level as dry
    if cond.noise is not None:
        if cond.snr_db is None:
            raise ValueError(f"condition {cond.name}: noise needs an SNR")
        n = noise(cond.noise, x.size, rng, cache_dir=cache_dir)
        x = x + noise_gain(x, n, idx, cond.snr_db) * n
    if cond.gain_db:
        x = x * corpus._db_to_amp(cond.gain_db)
    else:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak > 0.99:
            x *= 0.99 / peak
    return corpus._to_int16(np.clip(x, -1.0, 1.0))  # a loud speaker clips, as an overdriven microphone does


def speech_index(segments: Sequence[tuple[float, float]], n: int) -> np.ndarray:
    """Sample indices of the speech segments (seconds), within n samples."""
    return np.concatenate([np.arange(round(a * SAMPLE_RATE), min(n, round(b * SAMPLE_RATE))) for a, b in segments])


def noise_gain(speech: np.ndarray, noise_track: np.ndarray, idx: np.ndarray, snr_db: float) -> float:
    """The factor for noise_track so that over the samples idx, RMS(speech) / RMS(factor * noise) is snr_db."""
    return _rms(speech[idx]) / max(_rms(noise_track[idx]), 1e-12) / corpus._db_to_amp(snr_db)


def noise(kind: str, n: int, rng: np.random.Generator, *, cache_dir: str | Path | None = None) -> np.ndarray:
    """n samples of unit-RMS noise: pink, brown or babble."""
    if kind == "pink":
        return corpus.pink_noise(n, rng)
    if kind == "brown":
        return brown_noise(n, rng)
    if kind == "babble":
        return babble(n, rng, cache_dir=cache_dir)
    raise ValueError(f"unknown noise {kind!r}; choose pink, brown or babble")


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of 1/f^2 noise (flat below 20 Hz, no DC) with unit RMS: a TV's or a fan's rumble."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    spectrum /= np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    return (x / max(_rms(x), 1e-12)).astype(np.float32)


def babble(n: int, rng: np.random.Generator, *, cache_dir: str | Path | None = None,
           talkers: Sequence[str] = voices.BABBLE_VOICES) -> np.ndarray:
    """n samples of several people talking at once (unit RMS): each talker reads the corpus's household
    sentences (rendered once, cached) from a random point, and the talkers are summed."""
    mix = np.zeros(n, np.float32)
    for voice in talkers:
        talk = corpus.render_non_wake_speech(voice=voice, cache_dir=cache_dir).samples().astype(np.float32)
        talk /= max(_rms(talk), 1e-9)
        reps = -(-(n + talk.size) // talk.size)
        start = int(rng.integers(talk.size))
        mix += np.tile(talk, reps)[start: start + n]
    return (mix / max(_rms(mix), 1e-12)).astype(np.float32)


def reverb(x: np.ndarray, reverberance: int) -> np.ndarray:
    """float32 16 kHz audio through sox's reverb (a room: reverberance %, HF damping 50 %, room scale 100 %),
    wet and dry mixed, cut to the input's length."""
    exe = shutil.which("sox")
    if exe is None:
        raise RuntimeError("sox is not installed (apt-get install sox)")
    raw = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "floating-point", "-b", "32", "-c", "1"]
    peak = max(float(np.max(np.abs(x))), 1e-9)
    proc = subprocess.run([exe, "-V1", *raw, "-", *raw, "-", "reverb", str(reverberance), "50", "100"],
                          input=(x * (0.5 / peak)).astype("<f4").tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sox reverb failed: {proc.stderr.decode(errors='replace').strip()}")
    y = np.frombuffer(proc.stdout, dtype="<f4")[: x.size]
    out = np.zeros_like(x)
    out[: y.size] = y
    return out


def _rms(x: np.ndarray) -> float:
    return corpus._rms(x)


def _slug(name: str) -> str:
    return corpus._slug(name)
