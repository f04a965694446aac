"""Wake word stage: the detector every wake engine shares (threshold, refractory time, which words listen).

An engine is a subclass in its own file (wake_micro.py, wake_open.py) that loads its models and gives each word's
probabilities for one block of features; daemon/engines.py WAKE_ENGINES names it for wake.engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .frames import AudioFrame


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
    engine = ""
    """The wake.engine name this detector serves (a subclass sets it)."""

    def __init__(self, models: dict[str, list[Path]], *, threshold: float | None = None,
                 refractory_s: float = 2.0) -> None:
        """models maps a wake word id to its catalog files, in the order the engine lists them."""
        if not models:
            raise ValueError("at least one wake word is needed")
        self.refractory_s = refractory_s
        self._paths = models
        self._threshold = threshold
        self._features: object | None = None
        self._words: dict[str, object] = {}
        self._cutoffs: dict[str, float] = {}
        self._last_hit_s = -1e9
        self._enabled: set[str] = set(models)

    # ---- what an engine provides --------------------------------------------------------------------------------

    def _load(self) -> tuple[object, dict[str, object], dict[str, float]]:
        """The shared feature front end, each word's model and each word's recommended cutoff."""
        raise NotImplementedError

    def _probabilities(self, model: object, features: object) -> Iterable[float | None]:
        """A word model's probabilities for one block of features (None: not ready yet)."""
        raise NotImplementedError

    def _cutoff_changed(self, model: object, cutoff: float) -> None:
        """Tell a word model its cutoff, for engines whose models keep one of their own."""

    # ---- shared -------------------------------------------------------------------------------------------------

    @property
    def words(self) -> list[str]:
        return list(self._paths)

    def load(self) -> None:
        if self._words:
            return
        self._features, self._words, self._cutoffs = self._load()
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
            self._cutoff_changed(ww, self.threshold_for(word))

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
                for p in self._probabilities(ww, feats):
                    if p is None or word not in self._enabled or p <= self.threshold_for(word):
                        continue
                    if best is None or p > best.probability:
                        best = WakeHit(word, item.end_s, float(p))
        if best is not None and best.stream_s - self._last_hit_s >= self.refractory_s:
            self._last_hit_s = best.stream_s
            yield best
