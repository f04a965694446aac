"""Spoken test commands rendered once into 16 kHz mono int16 WAV files, for the tests and `slm-voice bench`.

Each file is ``lead silence + wake phrase + gap + command + tail``, spoken by Piper or espeak-ng, optionally
mixed with seeded pink noise at a given SNR. Files live in a cache directory, named by a hash of everything
that shapes them (text, voice, wake phrase, SNR, seed, renderer version, engine), so a re-run reuses them and
any change renders anew. A JSON sidecar next to each WAV records where the speech is, to the sample.

Noisy files are made from the clean file of the same text and voice (Piper's synthesis is not seedable), so
``noisy - clean`` is exactly the added noise.

The parts beside it: synthesis.py (the voices and their engines), corpus_audio.py (noise, mixing, WAV files),
command_set.py (the command set and matching an understanding against it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..models.locate import cache_dir
from ..pipeline.atomic import atomic_write
from ..pipeline.intent.model import Intent
from .command_set import Command, default_commands_path, load_commands, matches
from .corpus_audio import (
    SAMPLE_RATE,
    TRIM_DB,
    db_to_amp,
    mix_noise,
    pink_noise,
    read_wav,
    rms,
    to_int16,
    trim,
    write_wav,
)
from .synthesis import PIPER_VOICE_FILE, PIPER_VOICE_PACKAGE, VOICES, Voice, default_piper_voice, engine_id, synthesize

__all__ = [
    "NON_WAKE_SENTENCES", "PIPER_VOICE_FILE", "PIPER_VOICE_PACKAGE", "SAMPLE_RATE", "TRIM_DB", "VOICES", "Command",
    "Utterance", "Voice", "default_cache_dir", "default_commands_path", "default_piper_voice", "load_commands",
    "matches", "mix_noise", "pink_noise", "read_wav", "render", "render_noise", "render_non_wake_speech",
    "render_set", "write_wav",
]


RENDERER_VERSION = 4
"""Bump when the rendering changes in a way that should invalidate cached files."""

LEAD_S = 0.5
"""Silence (or noise) before the first word."""
WAKE_GAP_S = 0.35
"""Pause between the wake phrase and the command."""
TAIL_S = 1.5
"""Silence (or noise) after the command, so an endpointer sees the end."""
SENTENCE_GAP_S = 0.7
"""Pause between sentences of the non-wake speech."""
SPEECH_RMS_DBFS = -23.0
"""Every spoken part (wake phrase, command, sentence) is scaled to this RMS level, whatever the voice."""

NON_WAKE_SENTENCES: tuple[str, ...] = (
    "Good morning, did you sleep well last night?",
    "I think we should paint the hallway a lighter color.",
    "The train to the city leaves at a quarter past eight.",
    "Hey, have you seen my blue umbrella anywhere?",
    "Could you pass me the salt and the pepper, please?",
    "My sister is coming to visit us next weekend.",
    "The weather forecast says it will rain all afternoon.",
    "Let's order pizza tonight instead of cooking.",
    "Jason called and said he would be a little late.",
    "The dog needs to go for a walk before dinner.",
    "I finished reading that book about the history of Rome.",
    "Hey there, how was your day at school?",
    "We are running out of coffee and bread again.",
    "Turn the page and read the next chapter out loud.",
    "The meeting has been moved to Thursday morning.",
    "Do you remember where we parked the car?",
    "Jarred peppers are on the top shelf in the pantry.",
    "She plays the piano beautifully, doesn't she?",
    "The garden looks lovely now that the roses are in bloom.",
    "I'll be back in about twenty minutes, don't wait for me.",
    "Harvey said the match starts at seven on Saturday.",
    "Can you believe how expensive tomatoes have become?",
)
"""Ordinary household talk with no wake word (some near misses: hey, Jason, Jarred, Harvey)."""


@dataclass(frozen=True)
class Utterance:
    """One rendered WAV file (16 kHz mono int16) and where its speech is."""

    path: Path
    """The WAV file; its JSON sidecar is path.with_suffix('.json')."""
    text: str
    """The command (or, for non-wake speech, all sentences joined by spaces)."""
    voice: str
    """Voice of the command, a key of VOICES."""
    wake_voice: str | None
    """Voice of the wake phrase; None without one."""
    snr_db: float | None
    """Speech-to-noise ratio of the added pink noise; None: clean (digital silence around the speech)."""
    with_wake: bool
    """Whether the wake phrase precedes the command."""
    speech_start_s: float
    """Start of the command's speech (after the wake phrase), in seconds from the file start."""
    speech_end_s: float
    """End of the command's speech: what follows is silence or noise only."""
    wake_end_s: float | None
    """End of the wake phrase's speech; None without one."""
    duration_s: float
    """Length of the file."""
    segments: tuple[tuple[float, float], ...]
    """(start, end) of every spoken segment in seconds: wake phrase, command (or each sentence)."""
    expected: Intent | None = None
    """What the intent tiers should make of the command (from the command set), if known."""

    def samples(self) -> np.ndarray:
        """The file's int16 samples."""
        return read_wav(self.path)


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/slm-voice/corpus, or ~/.cache/slm-voice/corpus."""
    return cache_dir("corpus")


# ---------------------------------------------------------------------------------------------- rendering


def render(
    text: str,
    *,
    voice: str = "piper",
    wake: str | None = "hey jarvis",
    snr_db: float | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    expected: Intent | None = None,
    wake_voice: str | None = None,
    piper_voice: str | Path | None = None,
) -> Utterance:
    """Render ``wake + command`` (or the command alone when wake is None) into a cached WAV file.

    snr_db: mix seeded pink noise at this speech-to-noise ratio (measured over the speech); None: clean.
    seed: noise seed (Piper itself is not seedable: the clean speech is rendered once and reused).
    wake_voice: voice of the wake phrase; None: the command's voice. microWakeWord's hey_jarvis does not fire
        on espeak-ng's voices, so wake_voice="piper" gives espeak commands a wake phrase it hears.
    piper_voice: a Piper .onnx voice (its .onnx.json beside it); default: en_US-joe-medium from its package.
    """
    if not text.strip():
        raise ValueError("text must not be empty")
    parts = [(wake, wake_voice or voice), (text, voice)] if wake else [(text, voice)]
    return _render_parts(
        parts, [WAKE_GAP_S] if wake else [], text=text.strip(), with_wake=bool(wake), snr_db=snr_db,
        cache_dir=cache_dir, seed=seed, expected=expected, piper_voice=piper_voice,
    )


def render_set(
    commands: Iterable[Command | str] | None = None,
    *,
    voices: Sequence[str] = ("piper", "espeak"),
    snr: Sequence[float | None] = (None, 10.0),
    wake: str | None = "hey jarvis",
    cache_dir: str | Path | None = None,
    seed: int = 0,
    wake_voice: str | None = None,
    piper_voice: str | Path | None = None,
) -> list[Utterance]:
    """Render every command (default: load_commands()) in every voice at every SNR, in that nesting order."""
    cmds = [Command(c, None) if isinstance(c, str) else c for c in (load_commands() if commands is None
                                                                      else commands)]
    return [
        render(c.text, voice=v, wake=wake, snr_db=s, cache_dir=cache_dir, seed=seed, expected=c.expected,
               wake_voice=wake_voice, piper_voice=piper_voice)
        for c in cmds for v in voices for s in snr
    ]


def render_non_wake_speech(
    *,
    voice: str = "piper",
    snr_db: float | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    sentences: Sequence[str] = NON_WAKE_SENTENCES,
    piper_voice: str | Path | None = None,
) -> Utterance:
    """Ordinary sentences without a wake word, one after another (about a minute), for false-fire tests."""
    if not sentences:
        raise ValueError("sentences must not be empty")
    return _render_parts(
        [(t, voice) for t in sentences], [SENTENCE_GAP_S] * (len(sentences) - 1), text=" ".join(sentences),
        with_wake=False, snr_db=snr_db, cache_dir=cache_dir, seed=seed, expected=None, piper_voice=piper_voice,
    )


def render_noise(
    seconds: float,
    path: str | Path | None = None,
    *,
    seed: int = 0,
    level_dbfs: float = -33.0,
    cache_dir: str | Path | None = None,
) -> Path:
    """Pink room noise (no speech) as a 16 kHz mono int16 WAV; default level: that of the 10 dB noisy set.

    path: where to write it; None: a cached file in cache_dir.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if path is None:
        key = _hash({"noise": seconds, "seed": seed, "level": level_dbfs, "v": RENDERER_VERSION})
        path = _cache_dir(cache_dir) / f"noise-{seconds:g}s-{key[:12]}.wav"
        if path.is_file():
            return path
    path = Path(path)
    noise = pink_noise(round(seconds * SAMPLE_RATE), np.random.default_rng(seed)) * db_to_amp(level_dbfs)
    write_wav(path, to_int16(noise))
    return path


def _render_parts(
    parts: Sequence[tuple[str, str]],
    gaps: Sequence[float],
    *,
    text: str,
    with_wake: bool,
    snr_db: float | None,
    cache_dir: str | Path | None,
    seed: int,
    expected: Intent | None,
    piper_voice: str | Path | None,
) -> Utterance:
    """Render (text, voice) parts with the given gaps between them; the last part is the command."""
    for _, voice in parts:
        if voice not in VOICES:
            raise ValueError(f"unknown voice {voice!r}; choose one of {', '.join(VOICES)}")
    voice = parts[-1][1]
    uses_piper = any(VOICES[v].engine == "piper" for _, v in parts)
    model = Path(piper_voice) if piper_voice is not None else (default_piper_voice() if uses_piper else None)
    cache = _cache_dir(cache_dir)
    clean_key = _hash({"parts": [[t, _voice_key(VOICES[v]), engine_id(VOICES[v], model)] for t, v in parts],
                       "gaps": list(gaps), "v": RENDERER_VERSION})
    voices = "-".join(dict.fromkeys(v for _, v in parts))
    stem = f"{_slug(text)}-{voices}"
    clean_path = cache / f"{stem}-clean-{clean_key[:16]}.wav"
    if not _complete(clean_path):
        meta = {"text": text, "voice": voice, "wake_voice": parts[0][1] if with_wake else None,
                "with_wake": with_wake}
        _write_clean(clean_path, parts, gaps, model, meta)
    if snr_db is None:
        return _load(clean_path, expected)

    noisy_key = _hash({"clean": clean_key, "snr_db": float(snr_db), "seed": seed, "v": RENDERER_VERSION})
    noisy_path = cache / f"{stem}-snr{snr_db:g}-{noisy_key[:16]}.wav"
    if not _complete(noisy_path):
        clean = _load(clean_path, None)
        noisy = mix_noise(read_wav(clean_path), clean.segments, snr_db,
                          np.random.default_rng(int(noisy_key[:15], 16)))
        meta = json.loads(clean_path.with_suffix(".json").read_text())
        _write(noisy_path, noisy, {**meta, "snr_db": float(snr_db), "seed": seed})
    return _load(noisy_path, expected)


def _write_clean(path: Path, parts: Sequence[tuple[str, str]], gaps: Sequence[float], model: Path | None,
                 meta: dict[str, Any]) -> None:
    pieces: list[np.ndarray] = [np.zeros(round(LEAD_S * SAMPLE_RATE), np.float32)]
    segments: list[tuple[int, int]] = []
    pos = len(pieces[0])
    for i, (part, voice) in enumerate(parts):
        speech = trim(synthesize(part, VOICES[voice], model))
        if speech.size == 0:
            raise RuntimeError(f"voice {voice} rendered no audio for {part!r}")
        segments.append((pos, pos + len(speech)))
        pieces.append(speech)
        pos += len(speech)
        gap = np.zeros(round((gaps[i] if i < len(gaps) else TAIL_S) * SAMPLE_RATE), np.float32)
        pieces.append(gap)
        pos += len(gap)
    audio = np.concatenate(pieces)
    # Each part at the same speech level, whatever its engine, so voices and SNRs compare fairly.
    for a, b in segments:
        audio[a:b] *= db_to_amp(SPEECH_RMS_DBFS) / max(rms(audio[a:b]), 1e-9)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    _write(path, to_int16(audio), {**meta, "snr_db": None, "seed": None,
                                    "segments": [[a / SAMPLE_RATE, b / SAMPLE_RATE] for a, b in segments]})


def _write(path: Path, samples: np.ndarray, meta: dict[str, Any]) -> None:
    """WAV first, then the sidecar: a sidecar means the WAV is complete."""
    segments = meta["segments"]
    with_wake = bool(meta["with_wake"])
    meta = {
        **meta,
        "sample_rate": SAMPLE_RATE,
        "duration_s": len(samples) / SAMPLE_RATE,
        "wake_end_s": segments[0][1] if with_wake else None,
        "speech_start_s": segments[1 if with_wake else 0][0],
        "speech_end_s": segments[-1][1],
        "renderer_version": RENDERER_VERSION,
    }
    write_wav(path, samples)
    _atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1))


def _load(path: Path, expected: Intent | None) -> Utterance:
    m = json.loads(path.with_suffix(".json").read_text())
    return Utterance(
        path=path, text=m["text"], voice=m["voice"], wake_voice=m["wake_voice"], snr_db=m["snr_db"],
        with_wake=m["with_wake"],
        speech_start_s=m["speech_start_s"], speech_end_s=m["speech_end_s"], wake_end_s=m["wake_end_s"],
        duration_s=m["duration_s"], segments=tuple((a, b) for a, b in m["segments"]), expected=expected,
    )


def _voice_key(spec: Voice) -> dict[str, Any]:
    """A voice's settings for the cache key; unset ones (None) left out, so adding a setting keeps old keys."""
    return {k: v for k, v in asdict(spec).items() if v is not None}


def _complete(path: Path) -> bool:
    return path.is_file() and path.with_suffix(".json").is_file()


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _cache_dir(cache_dir: str | Path | None) -> Path:
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "utterance"


# bench/conditions.py builds on these under their old private names.
_db_to_amp, _rms, _to_int16 = db_to_amp, rms, to_int16
