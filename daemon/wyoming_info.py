"""What the Wyoming server answers to `describe`: one program per service served, naming the models the assistant
really runs (from the catalog), their languages, licences and who made them. Home Assistant names its entities
after these programs and offers their languages."""

from __future__ import annotations

import json
from pathlib import Path

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    IntentModel,
    IntentProgram,
    TtsProgram,
    TtsVoice,
)

from ..models import catalog
from . import __version__
from .settings import Settings

WHISPER = Attribution(name="OpenAI Whisper, run by faster-whisper (SYSTRAN)", url="https://github.com/SYSTRAN/faster-whisper")
PIPER = Attribution(name="Piper (Open Home Foundation)", url="https://github.com/OHF-Voice/piper1-gpl")
TEMPLATES = Attribution(name="Home Assistant intents and hassil (Open Home Foundation)",
                        url="https://github.com/OHF-Voice/intents")
SLM_UPSTREAM = {
    "qwen2.5-coder-0.5b": Attribution(name="Qwen2.5-Coder-0.5B-Instruct (Alibaba Qwen), fine-tuned by slm-voice",
                                      url="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct"),
    "smollm2-135m": Attribution(name="SmolLM2-135M-Instruct (Hugging Face), fine-tuned by slm-voice",
                                url="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct"),
}
"""Who made each language model; a model given as a folder is attributed to its folder name."""


def describe(settings: Settings, services: tuple[str, ...], *, voice_config: Path | None = None) -> Info:
    """The `info` event's content for the services served. voice_config: the Piper voice's .onnx.json (its
    language); None: the stt language."""
    s = settings
    info = Info()
    if "asr" in services:
        model = AsrModel(name=s.stt.model, description=_description("stt", s.stt.model), attribution=WHISPER,
                         installed=True, languages=[s.stt.language], version=None)
        info.asr.append(AsrProgram(name="slm-voice-stt", description="slm-voice speech-to-text (faster-whisper)",
                                   attribution=WHISPER, installed=True, version=__version__, models=[model]))
    if "tts" in services:
        language = _voice_language(voice_config) or s.stt.language
        voice = TtsVoice(name=s.tts.voice, description=_description("tts", s.tts.voice), attribution=PIPER,
                         installed=True, languages=[language], version=None)
        info.tts.append(TtsProgram(name="slm-voice-tts", description="slm-voice text-to-speech (Piper)",
                                   attribution=PIPER, installed=True, version=__version__, voices=[voice],
                                   supports_synthesize_streaming=True))
    understanding = _understanding(s)
    if "handle" in services:
        info.handle.append(HandleProgram(
            name="slm-voice-handle", description="slm-voice: understands a command and carries it out",
            attribution=TEMPLATES, installed=True, version=__version__,
            models=[HandleModel(languages=[s.stt.language], **understanding)],
            supports_home_control=True))  # it carries commands out (Home Assistant link or MQTT)
    if "intent" in services:
        info.intent.append(IntentProgram(
            name="slm-voice-intent", description="slm-voice: the Home Assistant intent of a sentence",
            attribution=TEMPLATES, installed=True, version=__version__,
            models=[IntentModel(languages=[s.stt.language], **understanding)]))
    return info


def _understanding(s: Settings) -> dict:
    """The understanding model's common fields: templates, plus the language model when it is on."""
    if not s.slm.enabled:
        return {"name": "templates", "description": "Home Assistant's English sentence templates (hassil)",
                "attribution": TEMPLATES, "installed": True, "version": None}
    name = Path(s.slm.model).name
    return {"name": f"templates+{name}",
            "description": f"Home Assistant's sentence templates, then {_description('slm', s.slm.model)}",
            "attribution": SLM_UPSTREAM.get(s.slm.model, Attribution(name=name, url="")), "installed": True,
            "version": None}


def _description(stage: catalog.Stage, name: str) -> str:
    try:
        spec = catalog.get(stage, name)
    except KeyError:  # a model given as a path
        return name
    return f"{spec.description}; licence {spec.licence}"


def _voice_language(config: Path | None) -> str | None:
    """The voice's language code (en_US) from its Piper config."""
    if config is None:
        return None
    try:
        code = json.loads(config.read_text(encoding="utf-8")).get("language", {}).get("code")
    except (OSError, ValueError, AttributeError):
        return None
    return code if isinstance(code, str) and code else None
