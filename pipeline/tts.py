"""Text-to-speech stage: Piper, one audio chunk per sentence (or bounded run of phonemes), with a small cache for
common short replies."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .frames import OutputAudio
from .onnx import inference_session

MAX_PIECE_CHARS = 240
"""Longest text handed to Piper at once. Piper's memory grows with the length of a sentence (2,000 characters
without a full stop took 1.3 GB): longer sentences are cut at a comma or a space."""
MAX_RUN_PHONEMES = 200
"""Longest phoneme run handed to the voice model at once (about 10 s of speech). What one run costs grows with its
length, and text is a poor measure of it: "1234567" is 7 characters and 60 phonemes. Runs are cut between words."""
MAX_TEXT_PHONEMES = 3000
"""A text is cut after this many phonemes (about 2.5 minutes of speech): one say must not hold the voice longer."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


def clean_text(text: str) -> str:
    """Text as it may be spoken and shown: control characters (NUL, escapes) removed, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text).split())


log = logging.getLogger(__name__)


def speech_pieces(text: str, max_chars: int = MAX_PIECE_CHARS) -> list[str]:
    """Text cut into sentences of at most max_chars characters, control characters removed."""
    text = clean_text(text)
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text):
        while len(sentence) > max_chars:
            cut = max(sentence.rfind(", ", 0, max_chars), sentence.rfind(" ", 0, max_chars))
            cut = cut if cut > max_chars // 3 else max_chars  # no space at all: cut the word
            pieces.append(sentence[:cut].rstrip(", "))
            sentence = sentence[cut:].lstrip(", ")
        if sentence:
            pieces.append(sentence)
    return pieces


def phoneme_runs(phonemes: list[str], max_len: int = MAX_RUN_PHONEMES) -> Iterator[list[str]]:
    """One sentence's phonemes in runs of at most max_len, cut at the last word gap (a space) that fits."""
    while len(phonemes) > max_len:
        gap = max((i for i in range(max_len // 3, max_len) if phonemes[i] == " "), default=max_len)
        yield phonemes[:gap]
        phonemes = phonemes[gap + 1 if gap < max_len else gap:]
    if phonemes:
        yield phonemes


def _trim_heap() -> None:
    """Hand freed heap pages back to the system (glibc keeps them otherwise: a long text left ~60 MB behind)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


class _ShrinkingSession:
    """An ONNX Runtime session whose arena hands back, after every run, what that run needed beyond the usual: a
    long text must not leave the process hundreds of MB bigger for good. (Without the arena every run costs ~20 %
    more CPU.)"""

    def __init__(self, session: Any) -> None:
        import onnxruntime as ort

        self._session = session
        self._options = ort.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, outputs: Any, feeds: Any, run_options: Any = None) -> Any:
        return self._session.run(outputs, feeds, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class TextToSpeech:
    """Stage: reply text -> OutputAudio chunks, one per sentence, so playback starts before synthesis ends."""

    name = "tts"

    def __init__(
        self,
        voice_path: Path,
        config_path: Path | None = None,
        *,
        length_scale: float = 1.0,
        volume: float = 1.0,
        threads: int = 1,
        use_cuda: bool = False,
        cache_size: int = 64,
    ) -> None:
        self.voice_path = voice_path
        self.config_path = config_path or Path(f"{voice_path}.json")
        self.length_scale = length_scale
        self.volume = volume
        self.threads = threads
        self.use_cuda = use_cuda
        self.cache_size = cache_size
        self._voice = None
        self._cache: OrderedDict[str, list[OutputAudio]] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        assert self._voice is not None, "load() first"
        return int(self._voice.config.sample_rate)

    def load(self) -> None:
        if self._voice is not None:
            return
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.voice import ESPEAK_DATA_DIR

        # Built by hand rather than PiperVoice.load() to give the session a thread budget.
        config = PiperConfig.from_dict(json.loads(self.config_path.read_text(encoding="utf-8")))
        self._voice = PiperVoice(
            config=config,
            session=_ShrinkingSession(inference_session(self.voice_path, threads=self.threads, cuda=self.use_cuda)),
            espeak_data_dir=Path(ESPEAK_DATA_DIR),
        )

    def warm(self) -> None:
        for _ in self.synthesize("Ready."):
            pass

    def synthesize(self, text: str) -> Iterator[OutputAudio]:
        """Yield one chunk per sentence, or per run of at most MAX_RUN_PHONEMES, as soon as it is synthesized; a
        text longer than MAX_TEXT_PHONEMES is cut there (logged)."""
        voice = self._voice
        assert voice is not None, "load() first"
        from piper.config import SynthesisConfig

        cfg = SynthesisConfig(length_scale=self.length_scale)
        try:
            yield from self._runs(voice, text, cfg)
        finally:
            # The last run's output still held part of the arena when that run shrank it: one tiny run frees it.
            voice.phoneme_ids_to_audio(voice.phonemes_to_ids(["ə"]), cfg)
            _trim_heap()

    def _runs(self, voice: Any, text: str, cfg: Any) -> Iterator[OutputAudio]:
        left = MAX_TEXT_PHONEMES
        for piece in speech_pieces(text):
            for sentence in voice.phonemize(piece):
                for run in phoneme_runs(sentence):
                    if left <= 0:
                        log.warning("tts: text cut after %d phonemes (%d characters given)", MAX_TEXT_PHONEMES,
                                    len(text))
                        return
                    run = run[:left]
                    left -= len(run)
                    audio = voice.phoneme_ids_to_audio(voice.phonemes_to_ids(run), cfg)
                    yield OutputAudio(self._pcm(np.asarray(audio)), int(voice.config.sample_rate))

    def _pcm(self, audio: np.ndarray) -> bytes:
        """Piper's float output as int16 bytes: peak-normalized per chunk (as piper does per sentence), then
        self.volume."""
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        scaled = audio * (self.volume / peak) if peak > 1e-8 else np.zeros_like(audio)
        return (np.clip(scaled, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    def speak(self, text: str, *, cache: bool = False) -> Iterator[OutputAudio]:
        """synthesize(), reusing stored audio for a short reply said before when cache is set."""
        key = text.strip().lower()
        if cache:
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
            if hit is not None:
                yield from hit
                return
        keep = cache and len(text) <= 60  # only short replies are kept: a long text's audio is freed as it goes
        chunks: list[OutputAudio] = []
        for audio in self.synthesize(text):
            if keep:
                chunks.append(audio)
            yield audio
        if keep:
            with self._cache_lock:
                self._cache[key] = chunks
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
