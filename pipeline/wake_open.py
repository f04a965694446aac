"""openWakeWord (pyopen-wakeword), wake.engine: open."""

from __future__ import annotations

from collections.abc import Iterable

from .wake import WakeWordDetector

RECOMMENDED_CUTOFF = 0.5
"""openWakeWord's models carry no cutoff of their own; 0.5 is the one its authors recommend."""


class OpenWakeWords(WakeWordDetector):
    """Each word's files are [tflite, mel, embedding]; the mel and embedding front end is shared by all words."""

    engine = "open"

    def _load(self) -> tuple[object, dict[str, object], dict[str, float]]:
        from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

        mel = next(iter(self._paths.values()))[1]
        features = OpenWakeWordFeatures.from_builtin(models_dir=mel.parent)
        words: dict[str, object] = {word: OpenWakeWord.from_model(paths[0]) for word, paths in self._paths.items()}
        return features, words, dict.fromkeys(words, RECOMMENDED_CUTOFF)

    def _probabilities(self, model: object, features: object) -> Iterable[float | None]:
        return model.process_streaming(features)  # type: ignore[attr-defined]
