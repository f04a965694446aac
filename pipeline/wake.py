"""Wake word stage: microWakeWord or openWakeWord models over a shared streaming front end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .frames import AudioFrame

OPEN_DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class WakeHit:
    """A wake word fired."""

    word: str
    """Wake word id, e.g. hey_jarvis."""
    stream_s: float
    """Audio position (end of the frame) where it fired."""
    probability: float
    """The model's probability at the moment it fired."""


class WakeWordDetector:
    """Stage: AudioFrame -> WakeHit. Runs every configured word on each frame, with a refractory time."""

    name = "wake"

    def __init__(
        self,
        models: dict[str, list[Path]],
        *,
        engine: Literal["micro", "open"] = "micro",
        threshold: float | None = None,
        refractory_s: float = 2.0,
    ) -> None:
        """models maps a wake word id to its catalog files: micro [tflite, json]; open [tflite, mel, embedding]."""
        if not models:
            raise ValueError("at least one wake word is needed")
        self.engine = engine
        self.refractory_s = refractory_s
        self._paths = models
        self._threshold = threshold
        self._features: object | None = None
        self._words: dict[str, object] = {}
        self._cutoffs: dict[str, float] = {}
        self._last_hit_s = -1e9
        self._enabled: set[str] = set(models)

    @property
    def words(self) -> list[str]:
        return list(self._paths)

    def load(self) -> None:
        if self._words:
            return
        if self.engine == "micro":
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

            self._features = MicroWakeWordFeatures()
            for word, (_tflite, config) in ((w, p[:2]) for w, p in self._paths.items()):
                ww = MicroWakeWord.from_config(config)
                self._words[word] = ww
                self._cutoffs[word] = ww.probability_cutoff
        else:
            from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

            mel = next(iter(self._paths.values()))[1]
            self._features = OpenWakeWordFeatures.from_builtin(models_dir=mel.parent)
            for word, paths in self._paths.items():
                self._words[word] = OpenWakeWord.from_model(paths[0])
                self._cutoffs[word] = OPEN_DEFAULT_THRESHOLD
        self.set_threshold(self._threshold)

    def warm(self) -> None:
        silence = AudioFrame(bytes(2 * 16000), 0.0)
        list(self.process(silence))
        self.reset()

    def reset(self) -> None:
        self._last_hit_s = -1e9
        if self._features is not None:
            self._features.reset()  # type: ignore[attr-defined]
        for ww in self._words.values():
            ww.reset()  # type: ignore[attr-defined]

    def set_threshold(self, threshold: float | None) -> None:
        """Change the threshold at run time (None: each model's recommended value)."""
        self._threshold = threshold
        for word, ww in self._words.items():
            cutoff = threshold if threshold is not None else self._cutoffs[word]
            if self.engine == "micro":
                ww.probability_cutoff = cutoff  # type: ignore[attr-defined]

    def threshold_for(self, word: str) -> float:
        return self._threshold if self._threshold is not None else self._cutoffs[word]

    def enable_only(self, word: str) -> None:
        """Listen for one of the loaded words only (the Home Assistant select)."""
        if word not in self._paths:
            raise ValueError(f"wake word {word!r} is not loaded (loaded: {', '.join(self._paths)})")
        self._enabled = {word}

    def process(self, item: AudioFrame) -> Iterator[WakeHit]:
        assert self._features is not None, "load() first"
        best: WakeHit | None = None
        for feats in self._features.process_streaming(item.pcm):  # type: ignore[attr-defined]
            for word, ww in self._words.items():
                if self.engine == "micro":
                    probs = [ww.process_streaming_prob(feats)]  # type: ignore[attr-defined]
                else:
                    probs = list(ww.process_streaming(feats))  # type: ignore[attr-defined]
                for p in probs:
                    if p is None or word not in self._enabled or p <= self.threshold_for(word):
                        continue
                    if best is None or p > best.probability:
                        best = WakeHit(word, item.end_s, float(p))
        if best is not None and best.stream_s - self._last_hit_s >= self.refractory_s:
            self._last_hit_s = best.stream_s
            yield best
