"""Which engine serves a speech stage: one registry line per engine, chosen by wake.engine, stt.engine, tts.engine.

A new speech-to-text engine is its stage in pipeline/ (a Transcriber: transcribe, recheck, set_home), a builder
here that reads its settings and one line in STT_ENGINES; text-to-speech alike (a Synthesizer, TTS_ENGINES); a wake
engine is a WakeWordDetector subclass in pipeline/wake_<name>.py and one line in WAKE_ENGINES. The factory asks the
registry and names no engine, each builder checks the model paths its engine reads, and the settings take their
allowed engine names from it (settings_engines.py, run by parse_settings): no list of names to keep in step.

This module imports the settings' tree (settings_tree.py), never settings.py, which imports it back for that check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..models import catalog
from ..models.locate import ModelError, locate, models_dir
from .settings_tree import Settings

if TYPE_CHECKING:  # types only: parse_settings imports the registry, so it stays light (no numpy, no asyncio)
    from ..pipeline.intent.model import Home
    from ..pipeline.roles import Synthesizer, Transcriber
    from ..pipeline.stt import SpeechToText
    from ..pipeline.tts import TextToSpeech
    from ..pipeline.wake import WakeWordDetector

B = TypeVar("B")


def wake_models(settings: Settings) -> dict[str, list[Path]]:
    """Each wake word's catalog files, for the engine wake.engine names (catalog entries "<engine>:<word>")."""
    w = settings.wake
    return {word: locate(catalog_spec("wake", f"{w.engine}:{word}", "wake.words")) for word in w.words}


def micro_wake(settings: Settings) -> WakeWordDetector:
    from ..pipeline.wake_micro import MicroWakeWords

    w = settings.wake
    return MicroWakeWords(wake_models(settings), threshold=w.threshold, refractory_s=w.refractory_s)


def open_wake(settings: Settings) -> WakeWordDetector:
    from ..pipeline.wake_open import OpenWakeWords

    w = settings.wake
    return OpenWakeWords(wake_models(settings), threshold=w.threshold, refractory_s=w.refractory_s)


def faster_whisper(settings: Settings, home: Home) -> Transcriber:
    from ..pipeline.stt import SpeechToText, home_hotwords
    from ..pipeline.stt_second_pass import SecondPassSpeechToText
    from ..pipeline.vocabulary import home_vocabulary

    s = settings.stt

    def stage(model: str, key: str) -> SpeechToText:
        return SpeechToText(
            whisper_dir(settings, model, key),
            device=s.device,
            compute_type=s.compute_type,
            beam_size=s.beam_size,
            threads=s.threads,
            language=s.language,
            hotwords=home_hotwords(home) if s.hotwords else (),
            short_window=s.short_window,
            follow_home=s.hotwords,
            nbest=s.home_nbest,
            vocabulary=home_vocabulary(home) if s.home_nbest > 1 else frozenset(),
        )

    first = stage(s.model, "stt.model")
    if not s.second_pass_model:
        return first
    return SecondPassSpeechToText(first, stage(s.second_pass_model, "stt.second_pass_model"),
                                  below=s.second_pass_below)


def whisper_dir(settings: Settings, model: str, key: str) -> Path:
    """A Whisper setting's folder: a path as given, else the catalog model's (split ones joined in models.dir)."""
    from ..models.whisper_folder import whisper_folder

    if is_path(model):  # a CTranslate2 folder; faster-whisper would take any other name for a hub id
        return model_path(model, key, "model.bin")
    return whisper_folder(catalog_spec("stt", model, key), models_dir(settings.models.dir))


def piper(settings: Settings) -> TextToSpeech:
    from ..pipeline.tts import TextToSpeech

    t = settings.tts
    if is_path(t.voice):
        voice, config = model_path(t.voice, "tts.voice", None), None
    else:
        voice, config = locate(catalog_spec("tts", t.voice, "tts.voice"))
    return TextToSpeech(voice, config, length_scale=t.length_scale, volume=t.volume)


WAKE_ENGINES: dict[str, Callable[[Settings], WakeWordDetector]] = {
    "micro": micro_wake,
    "open": open_wake,
}
STT_ENGINES: dict[str, Callable[[Settings, Home], Transcriber]] = {
    "faster-whisper": faster_whisper,
}
TTS_ENGINES: dict[str, Callable[[Settings], Synthesizer]] = {
    "piper": piper,
}


def build_wake(settings: Settings) -> WakeWordDetector:
    """The wake word stage wake.engine names (its models located, not loaded)."""
    return _engine(WAKE_ENGINES, settings.wake.engine, "wake.engine")(settings)


def build_stt(settings: Settings, home: Home) -> Transcriber:
    """The speech-to-text stage stt.engine names (its model located, not loaded)."""
    return _engine(STT_ENGINES, settings.stt.engine, "stt.engine")(settings, home)


def build_tts(settings: Settings) -> Synthesizer:
    """The text-to-speech stage tts.engine names (its voice located, not loaded)."""
    return _engine(TTS_ENGINES, settings.tts.engine, "tts.engine")(settings)


def _engine(registry: dict[str, B], name: str, key: str) -> B:
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"{key}: no engine {name!r}; known: {', '.join(sorted(registry))}") from None


def catalog_spec(stage: catalog.Stage, name: str, key: str) -> catalog.ModelSpec:
    """The catalog's entry for a model named in the settings (key: where, for the error)."""
    try:
        return catalog.get(stage, name)
    except KeyError as e:
        raise ModelError(f"{key}: {e.args[0]}") from None


def is_path(value: str) -> bool:
    """A model setting that names a file or folder rather than a catalog model."""
    return "/" in value or value.startswith(".")


def model_path(value: str, key: str, inside: str | None) -> Path:
    """A model given as a path, which exists (with `inside` in it when it is a folder; a Piper voice with its .json).
    A missing one is named with its key, never taken for a hub id."""
    path = Path(value).expanduser()
    needed = path / inside if inside else path
    if not needed.is_file():
        raise ModelError(f"{key}: no such model: {needed} does not exist")
    if inside is None and not Path(f"{path}.json").is_file():
        raise ModelError(f"{key}: no such model: {path}.json (the voice's config) does not exist")
    return path
