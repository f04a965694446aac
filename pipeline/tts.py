"""Text-to-speech stage: Piper, one audio chunk per sentence, with a small cache for common short replies."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from .frames import OutputAudio
from .onnx import inference_session

MAX_PIECE_CHARS = 240
"""Longest text handed to Piper at once. Piper's memory grows with the length of a sentence (2,000 characters
without a full stop took 1.3 GB): longer sentences are cut at a comma or a space."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


def clean_text(text: str) -> str:
    """Text as it may be spoken and shown: control characters (NUL, escapes) removed, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text).split())


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
            session=inference_session(self.voice_path, threads=self.threads, cuda=self.use_cuda),
            espeak_data_dir=Path(ESPEAK_DATA_DIR),
        )

    def warm(self) -> None:
        for _ in self.synthesize("Ready."):
            pass

    def synthesize(self, text: str) -> Iterator[OutputAudio]:
        """Yield one chunk per sentence as soon as it is synthesized (text of any length: see speech_pieces)."""
        assert self._voice is not None, "load() first"
        from piper.config import SynthesisConfig

        cfg = SynthesisConfig(length_scale=self.length_scale, volume=self.volume)
        for piece in speech_pieces(text):
            for chunk in self._voice.synthesize(piece, syn_config=cfg):
                yield OutputAudio(chunk.audio_int16_bytes, chunk.sample_rate)

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
        chunks: list[OutputAudio] = []
        for audio in self.synthesize(text):
            chunks.append(audio)
            yield audio
        if cache and len(text) <= 60:
            with self._cache_lock:
                self._cache[key] = chunks
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
