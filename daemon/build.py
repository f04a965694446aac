"""Settings -> pipeline stages. The one place where config, the model catalog and the pipeline meet."""

from __future__ import annotations

import os
from pathlib import Path

from daemon.settings import HomeSettings, Settings
from models import catalog
from models.locate import ModelError, locate
from pipeline.assistant import AssistantOptions
from pipeline.intent.model import Entity, Home, IntentTier
from pipeline.intent.tiers import IntentTiers
from pipeline.stt import SpeechToText
from pipeline.tts import TextToSpeech
from pipeline.vad import Endpointer, SileroVad
from pipeline.wake import WakeWordDetector


def home_from_settings(home: HomeSettings) -> Home:
    """The pipeline's plain Home from the config's home: section."""
    return Home(
        areas=tuple(home.areas),
        entities=tuple(Entity(e.id, e.name, tuple(e.aliases), e.area) for e in home.entities),
        satellite_area=home.satellite_area,
    )


def models_dir(settings: Settings) -> Path:
    """Where built models live: models.dir, else $SLM_VOICE_MODELS_DIR, else the user cache."""
    if settings.models.dir:
        return Path(settings.models.dir).expanduser()
    if env := os.environ.get("SLM_VOICE_MODELS_DIR"):
        return Path(env).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "slm-voice" / "models"


def build_wake(settings: Settings) -> WakeWordDetector:
    w = settings.wake
    files = {word: locate(_spec("wake", f"{w.engine}:{word}", "wake.words")) for word in w.words}
    # openWakeWord lists [word, mel, embedding]; microWakeWord [tflite, json]. The detector takes them as listed.
    return WakeWordDetector(files, engine=w.engine, threshold=w.threshold, refractory_s=w.refractory_s)


def build_endpointer(settings: Settings) -> Endpointer:
    v, a = settings.vad, settings.assistant
    (vad_path,) = locate(catalog.get("vad", "silero"))
    return Endpointer(
        SileroVad(vad_path),
        threshold=v.threshold,
        trailing_silence_ms=v.trailing_silence_ms,
        max_command_s=v.max_command_s,
        no_speech_timeout_s=v.no_speech_timeout_s,
        pause_ms=a.speculative_pause_ms if a.speculative_stt else None,
    )


def build_stt(settings: Settings, home: Home) -> SpeechToText:
    s = settings.stt
    model_dir = Path(s.model) if _is_path(s.model) else locate(_spec("stt", s.model, "stt.model"))[0].parent
    hotwords = [n for e in home.entities for n in e.names] + list(home.areas) if s.hotwords else []
    return SpeechToText(
        model_dir,
        device=s.device,
        compute_type=s.compute_type,
        beam_size=s.beam_size,
        threads=s.threads,
        language=s.language,
        hotwords=hotwords,
        short_window=s.short_window,
    )


def build_tts(settings: Settings) -> TextToSpeech:
    t = settings.tts
    if _is_path(t.voice):
        voice, config = Path(t.voice), None
    else:
        voice, config = locate(_spec("tts", t.voice, "tts.voice"))
    return TextToSpeech(voice, config, length_scale=t.length_scale, volume=t.volume)


def build_intents(settings: Settings, home: Home, *, with_slm: bool | None = None) -> IntentTiers:
    """Templates first; the language model second when slm.enabled (or with_slm) says so."""
    from pipeline.intent.templates import TemplateTier

    tiers: list[IntentTier] = [TemplateTier(home)]
    if settings.slm.enabled if with_slm is None else with_slm:
        tiers.append(build_slm(settings, home))
    return IntentTiers(tiers)


def slm_dir(settings: Settings) -> Path:
    """The built INT4 ONNX model folder for slm.model (a model name or a path)."""
    from models.build_slm import is_built, model_dir

    s = settings.slm
    if _is_path(s.model):
        return Path(s.model)
    _spec("slm", s.model, "slm.model")
    folder = model_dir(s.model, models_dir(settings))
    if not is_built(s.model, models_dir(settings)):
        raise ModelError(
            f"slm.model: the language model {s.model!r} is not built yet in {folder.parent}: run "
            f"`slm-voice models build --model {s.model}` (or set slm.enabled: false)"
        )
    return folder


def build_slm(settings: Settings, home: Home) -> IntentTier:
    from pipeline.intent.slm import LanguageModelTier

    s = settings.slm
    return LanguageModelTier(
        slm_dir(settings),
        home,
        max_new_tokens=s.max_new_tokens,
        threads=s.threads,
        temperature=s.temperature,
        device=s.device,
    )


def assistant_options(settings: Settings, *, wake_word_required: bool = True, earcon: bool | None = None):
    """AssistantOptions from the assistant: and audio: sections."""
    from pipeline.audio import earcon as make_earcon

    a = settings.assistant
    use_earcon = settings.audio.earcon if earcon is None else earcon
    return AssistantOptions(
        wake_word_required=wake_word_required,
        earcon=make_earcon() if use_earcon and wake_word_required else None,
        follow_up=a.follow_up,
        follow_up_timeout_s=a.follow_up_timeout_s,
        speculative_stt=a.speculative_stt,
        semantic_endpoint=a.semantic_endpoint,
        reply_cache=a.reply_cache,
        stream_reply=a.stream_reply,
        recheck_stt=settings.stt.short_window and settings.stt.recheck_full_window,
    )


def _spec(stage: catalog.Stage, name: str, key: str) -> catalog.ModelSpec:
    try:
        return catalog.get(stage, name)
    except KeyError as e:
        raise ModelError(f"{key}: {e.args[0]}") from None


def _is_path(value: str) -> bool:
    return "/" in value or value.startswith(".")
