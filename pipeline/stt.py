"""Speech-to-text stage: faster-whisper (CTranslate2) on one command's audio."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from pipeline.frames import SAMPLE_RATE


class SpeechToText:
    """Stage: command audio (16 kHz mono int16 bytes) -> transcript text."""

    name = "stt"

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 1,
        threads: int = 2,
        language: str = "en",
        hotwords: Sequence[str] = (),
    ) -> None:
        self.model_dir = model_dir
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.threads = threads
        self.language = language
        # Whisper takes hotwords as a text prompt; the home's names make it spell them as the home does.
        self.hotwords = ", ".join(dict.fromkeys(hotwords)) or None
        self._model = None

    def load(self) -> None:
        if self._model is not None:
            return
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(self.model_dir), device=self.device, compute_type=self.compute_type, cpu_threads=self.threads
        )

    def warm(self) -> None:
        # Low noise rather than digital silence: silence can short-circuit decoding and warm nothing.
        rng = np.random.default_rng(0)
        self.transcribe((rng.standard_normal(SAMPLE_RATE) * 300).astype(np.int16).tobytes())

    def reset(self) -> None:
        pass

    def transcribe(self, audio: bytes | np.ndarray) -> str:
        """Transcribe 16 kHz mono audio (int16 bytes or a float32/int16 array) to text."""
        assert self._model is not None, "load() first"
        if isinstance(audio, bytes | bytearray):
            samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
        elif audio.dtype == np.int16:
            samples = audio.astype(np.float32) / 32768.0
        else:
            samples = audio.astype(np.float32, copy=False)
        if samples.size < SAMPLE_RATE // 10:
            return ""
        segments, _info = self._model.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,  # the endpointer already cut the command
            hotwords=self.hotwords,
            temperature=0.0,  # no fallback re-decoding: a command is short, a retry costs a whole decode
        )
        return "".join(s.text for s in segments).strip()

    def process(self, item: bytes) -> Iterator[str]:
        yield self.transcribe(item)
