"""Settings -> an Assistant and its stages. The one place where config, the model catalog and the pipeline meet
(with engines.py, which builds the speech-to-text and text-to-speech stage that stt.engine and tts.engine name).

`build_assistant(settings, cache, ...)` is what `run`, `process` and the bench call; the StageCache keeps stages
across reloads so a model whose settings did not change is never loaded twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from ..models import catalog
from ..models.locate import ModelError, locate
from ..models.locate import models_dir as configured_models_dir
from ..pipeline.assistant import Assistant, AssistantOptions, Observer
from ..pipeline.denoise import FrontEnd
from ..pipeline.intent.answers import SourcedAnswers
from ..pipeline.intent.model import Entity, Home, IntentTier
from ..pipeline.intent.tiers import IntentTiers
from ..pipeline.vad import Endpointer, SileroVad
from . import preflight
from .engines import build_stt, build_tts, build_wake, catalog_spec, is_path, model_path
from .settings import AreaSettings, ConfigError, HomeSettings, Settings, state_dir

_log = logging.getLogger(__name__)


def home_from_settings(home: HomeSettings) -> Home:
    """The pipeline's plain Home from the config's home: section."""
    areas = [a if isinstance(a, AreaSettings) else AreaSettings(name=a) for a in home.areas]
    return Home(
        areas=tuple(a.name for a in areas),
        entities=tuple(Entity(e.id, e.name, tuple(e.aliases), e.area, e.device_class) for e in home.entities),
        satellite_area=home.satellite_area,
        floors=tuple(home.floors),
        area_floors=tuple((a.name, a.floor) for a in areas if a.floor),
        area_aliases=tuple((alias, a.name) for a in areas for alias in a.aliases),
    )


class StageCache:
    """Stages built from settings, kept across reloads while their settings are unchanged: no model loads twice."""

    def __init__(self) -> None:
        self._stages: dict[str, tuple[Any, Any]] = {}

    def holds(self, name: str, key: Any) -> bool:
        cached = self._stages.get(name)
        return cached is not None and cached[0] == key

    def snapshot(self) -> dict[str, tuple[Any, Any]]:
        return dict(self._stages)

    def restore(self, snapshot: dict[str, tuple[Any, Any]]) -> None:
        """Back to a snapshot: stages that failed to load are forgotten, the running ones kept."""
        self._stages = dict(snapshot)

    def get(self, name: str, key: Any, make: Callable[[], Any]) -> Any:
        cached = self._stages.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        stage = make()
        self._stages[name] = (key, stage)
        return stage


def _stage_makers(s: Settings, home: Home, *, wake_word_required: bool, with_slm: bool | None
                  ) -> dict[str, tuple[Any, Callable[[], Any]]]:
    """Each stage's cache key (the settings it is built from) and builder: one table for build_assistant() and
    new_stages(), so a stage warmed before a reload is the one the new session takes."""
    makers: dict[str, tuple[Any, Callable[[], Any]]] = {
        "endpointer": ((s.vad, s.assistant), lambda: build_endpointer(s)),
        "stt": ((s.stt, s.home), lambda: build_stt(s, home)),
        "intents": ((s.home, s.slm, s.models, with_slm), lambda: build_intents(s, home, with_slm=with_slm)),
        "tts": (s.tts, lambda: build_tts(s)),
    }
    if wake_word_required:
        makers["wake"] = (s.wake, lambda: build_wake(s))
        # The same words run on what the assistant plays: its own voice saying one must not barge in.
        makers["echo_wake"] = (s.wake, lambda: build_wake(s))
    return makers


def new_stages(settings: Settings, cache: StageCache, *, wake_word_required: bool = True,
               with_slm: bool | None = None) -> list[Any]:
    """The stages a session of these settings needs that the cache does not hold yet, built now (not loaded) and
    cached: a reload loads and warms them beside the running ones."""
    makers = _stage_makers(settings, home_from_settings(settings.home), wake_word_required=wake_word_required,
                           with_slm=with_slm)
    return [cache.get(name, key, make) for name, (key, make) in makers.items() if not cache.holds(name, key)]


def build_assistant(
    settings: Settings,
    cache: StageCache,
    *,
    sink: Any,
    observers: list[Observer],
    executor: Any = None,
    heartbeat: Callable[[], None] | None = None,
    wake_word_required: bool = True,
    with_slm: bool | None = None,
    home: Home | None = None,
    answers: SourcedAnswers | None = None,
) -> Assistant:
    """An Assistant with every stage from the cache (models not loaded yet: call assistant.load()).

    home: the home to serve (Home Assistant's, read by the live link); None: the config's home: section. A stage
    kept from an earlier session keeps its home until Assistant.set_home() hands it the new one."""
    home = home or home_from_settings(settings.home)
    s = settings
    makers = _stage_makers(s, home, wake_word_required=wake_word_required, with_slm=with_slm)
    stages = {name: cache.get(name, key, make) for name, (key, make) in makers.items()}
    stages["intents"].set_answers(answers or SourcedAnswers())  # this session's open answers (a kept stage too)
    return Assistant(
        wake=stages.get("wake"),
        echo_wake=stages.get("echo_wake"),
        endpointer=stages["endpointer"],
        stt=stages["stt"],
        intents=stages["intents"],
        tts=stages["tts"],
        sink=sink,
        executor=executor,
        options=assistant_options(s, wake_word_required=wake_word_required),
        observers=observers,
        heartbeat=heartbeat,
        frontend=build_frontend(s),
    )


def build_frontend(settings: Settings) -> FrontEnd | None:
    """WebRTC noise suppression and gain from audio.noise_suppression and audio.auto_gain_dbfs (None when both are
    0). Built with each session (a new stream: a fresh noise estimate); cheap, no model."""
    a = settings.audio
    if not (a.noise_suppression or a.auto_gain_dbfs):
        return None
    try:
        return FrontEnd(a.noise_suppression, a.auto_gain_dbfs)
    except ImportError as e:  # the package is an extra: say what to install, naming the keys
        raise ConfigError(str(e)) from None


def check(settings: Settings, *, listening: Collection[tuple[str, int]] = ()) -> None:
    """Proof that a configuration can start, made before anything running is replaced: every model found and valid
    (a path too: a missing folder is never taken for a hub name), every folder it writes writable, every file it
    reads readable, every socket it listens on free (`listening`: addresses this process holds already and keeps).
    Raises ConfigError or ModelError naming the key; nothing is loaded (each model file's hash is verified once per
    process)."""
    try:
        _check(settings, listening)
    except (ConfigError, ModelError):
        raise
    except (ValueError, OSError) as e:  # a stage constructor's own complaint
        raise ConfigError(str(e)) from None


def _check(settings: Settings, listening: Collection[tuple[str, int]]) -> None:
    s = settings
    home = home_from_settings(s.home)
    build_frontend(s)
    _named("wake", lambda: build_wake(s))
    _named("vad", lambda: build_endpointer(s))
    _named("stt", lambda: build_stt(s, home))
    _named("tts", lambda: build_tts(s))
    if s.slm.enabled:
        model_path(str(slm_dir(s)), "slm.model", "genai_config.json")
    preflight.writable_dir(state_dir(s), "state_dir")
    if s.debug.record_dir:
        preflight.writable_dir(Path(s.debug.record_dir).expanduser(), "debug.record_dir")
    preflight.audio_files(s.audio.source, s.audio.sink)
    if s.mqtt.enabled and s.mqtt.broker == "external":
        preflight.tls_files(s.mqtt.tls)
    if s.mqtt.enabled and s.mqtt.broker == "embedded" and (s.mqtt.host, s.mqtt.port) not in listening:
        preflight.bindable(s.mqtt.host, s.mqtt.port, "mqtt.port")
    wyoming = getattr(s, "wyoming", None)
    if wyoming is not None and wyoming.enabled and (wyoming.host, wyoming.port) not in listening:
        preflight.bindable(wyoming.host, wyoming.port, "wyoming.port")


def _named(section: str, build: Callable[[], Any]) -> None:
    """Build a stage to check it; a constructor's complaint that names no key gets its section's name."""
    try:
        build()
    except (ValueError, OSError) as e:
        if str(e).startswith(f"{section}.") or str(e).startswith(f"{section}:"):
            raise
        raise ConfigError(f"{section}: {e}") from None


def models_dir(settings: Settings) -> Path:
    """Where built models live: models.dir, else $SLM_VOICE_MODELS_DIR, else the user cache."""
    return configured_models_dir(settings.models.dir)


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


def build_intents(settings: Settings, home: Home, *, with_slm: bool | None = None) -> IntentTiers:
    """Templates first; the language model second when slm.enabled (or with_slm) says so."""
    from ..pipeline.intent.templates import TemplateTier

    tiers: list[IntentTier] = [TemplateTier(home)]
    if settings.slm.enabled if with_slm is None else with_slm:
        tiers.append(build_slm(settings, home))
    return IntentTiers(tiers)


def slm_dir(settings: Settings) -> Path:
    """The built INT4 ONNX model folder for slm.model (a model name or a path)."""
    from ..models.build_slm import is_built, model_dir

    s = settings.slm
    if is_path(s.model):
        return Path(s.model)
    catalog_spec("slm", s.model, "slm.model")
    folder = model_dir(s.model, models_dir(settings))
    if not is_built(s.model, models_dir(settings)):
        raise ModelError(
            f"slm.model: the language model {s.model!r} is not built yet in {folder.parent}: run "
            f"`slm-voice models build --model {s.model}` (or set slm.enabled: false)"
        )
    return folder


def build_slm(settings: Settings, home: Home) -> IntentTier:
    from ..models.merge import adapter_dir
    from ..pipeline.intent.slm import CONFIDENCE_THRESHOLD, LanguageModelTier

    s = settings.slm
    if not is_path(s.model) and adapter_dir(s.model) is None:
        # The tier's prompt is a bare task marker the fine-tune learned: an untuned model is not fit to act on.
        _log.warning("slm.model: %s has no fine-tune adapter here (`slm-voice models tune --model %s`); "
                     "its answers are unreliable", s.model, s.model)
    threshold = s.confidence_threshold
    if threshold is None and not is_path(s.model):  # the one set for the model's fine-tune on the dev set
        threshold = catalog_spec("slm", s.model, "slm.model").confidence_threshold
    if threshold is None:  # a model folder, or a model without a fine-tune: the tier's (stricter) default
        threshold = CONFIDENCE_THRESHOLD
    return LanguageModelTier(
        slm_dir(settings),
        home,
        max_new_tokens=s.max_new_tokens,
        threads=s.threads,
        temperature=s.temperature,
        device=s.device,
        confidence_threshold=threshold,
    )


def assistant_options(settings: Settings, *, wake_word_required: bool = True, earcon: bool | None = None
                      ) -> AssistantOptions:
    """AssistantOptions from the assistant: and audio: sections."""
    from ..pipeline.earcon import earcon as make_earcon

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
        barge_in=a.barge_in,
        stop_words=tuple(a.stop_words),
        recheck_stt=settings.stt.short_window and settings.stt.recheck_full_window,
    )
