"""microWakeWord (pymicro-wakeword): the default wake engine, wake.engine: micro."""

from __future__ import annotations

from collections.abc import Iterable

from .wake import WakeWordDetector


class MicroWakeWords(WakeWordDetector):
    """Each word's files are [tflite, json]; the json carries the word's recommended cutoff."""

    engine = "micro"

    def _load(self) -> tuple[object, dict[str, object], dict[str, float]]:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

        words = {word: MicroWakeWord.from_config(paths[1]) for word, paths in self._paths.items()}
        return MicroWakeWordFeatures(), dict(words), {w: m.probability_cutoff for w, m in words.items()}

    def _probabilities(self, model: object, features: object) -> Iterable[float | None]:
        return (model.process_streaming_prob(features),)  # type: ignore[attr-defined]

    def _cutoff_changed(self, model: object, cutoff: float) -> None:
        model.probability_cutoff = cutoff  # type: ignore[attr-defined]
