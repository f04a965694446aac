"""Settings of the voice pipeline: audio in and out, wake word, end of speech, speech-to-text, the language
model, text-to-speech and the turn."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from .accelerators import check_device
from .settings_values import check_model, check_path, settings


@settings
class AudioSettings:
    """Where audio comes from and goes to."""

    source: str = "mic"
    """mic, file:PATH (WAV) or stdin (raw 16 kHz mono s16le)."""
    sink: str = "speaker"
    """speaker, file:PATH (WAV), stdout (raw 22 050 Hz mono s16le, for a pipe into a player) or null."""
    input_device: str | int | None = None
    """Microphone by name (substring) or index; None: the system default."""
    output_device: str | int | None = None
    """Speaker by name (substring) or index; None: the system default."""
    earcon: bool = True
    """Play a short tone when the wake word is heard."""
    noise_suppression: int = Field(2, ge=0, le=4)
    """WebRTC noise suppression before the VAD and speech-to-text (not the wake word): 0 off, 1-4 more."""
    auto_gain_dbfs: int = Field(0, ge=0, le=31)
    """WebRTC automatic gain before the VAD and speech-to-text, aiming at -N dBFS: 0 off, 1-31."""

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v in ("mic", "stdin") or (v.startswith("file:") and check_path(v[5:])):
            return v
        raise ValueError(f"{v!r}: expected mic, stdin or file:PATH")

    @field_validator("sink", mode="before")
    @classmethod
    def _sink(cls, v: object) -> str:
        if v is None:  # `sink: null` unquoted is YAML's null: it means the null sink
            return "null"
        if isinstance(v, str) and (v in ("speaker", "null", "stdout") or (v.startswith("file:") and check_path(v[5:]))):
            return v
        raise ValueError(f"{v!r}: expected speaker, null, stdout or file:PATH")


@settings
class WakeSettings:
    """Wake word detection."""

    engine: str = "micro"
    """A name in daemon/engines.py WAKE_ENGINES: micro: microWakeWord (pymicro-wakeword); open: openWakeWord
    (pyopen-wakeword)."""
    words: tuple[str, ...] = ("hey_jarvis",)
    """Wake words to listen for: hey_jarvis, okay_nabu, alexa, hey_mycroft (open also: hey_rhasspy)."""
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Detection probability threshold (0-1), higher fires less often; None: each model's recommended value."""
    refractory_s: float = Field(2.0, ge=0.0)
    """Seconds after a detection during which the wake word cannot fire again."""


@settings
class VadSettings:
    """Voice activity detection and end-of-speech."""

    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """Silero speech probability above which a frame counts as speech."""
    trailing_silence_ms: int = Field(700, ge=100)
    """Silence after speech that ends the command."""
    max_command_s: float = Field(10.0, gt=0.0)
    """A command is cut off after this many seconds."""
    no_speech_timeout_s: float = Field(5.0, gt=0.0)
    """Give up listening when nobody speaks this long after the wake word."""


@settings
class SttSettings:
    """Speech-to-text (faster-whisper)."""

    engine: str = "faster-whisper"
    """The speech-to-text engine: a name in daemon/engines.py STT_ENGINES (parse_settings checks it there, see
    settings_engines.py); the settings below are faster-whisper's."""
    model: str = "tiny.en"
    """Model name from the catalog (tiny.en) or a path to a CTranslate2 Whisper folder."""
    device: Literal["cpu", "cuda"] = "cpu"
    """cpu, or cuda on a Jetson."""
    compute_type: Literal[
        "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16",
        "float32",
    ] = "int8"
    """CTranslate2 compute type: int8 (CPU), int8_float16 or float16 (CUDA), float32, ..."""
    beam_size: int = Field(5, ge=1)
    """Beam size; 1 is greedy and fastest, 5 hears noisy commands better (affordable with short_window)."""
    threads: int = Field(2, ge=1)
    """CPU threads for CTranslate2."""
    language: str = "en"
    """Spoken language."""
    hotwords: bool = True
    """Pass entity and area names to Whisper as hotwords."""
    recheck_full_window: bool = True
    """With short_window: when no template matches, transcribe once more with the 30 s window before the SLM."""
    short_window: bool = True
    """Encode only the command (plus silence, 10 s at least) instead of Whisper's fixed 30 s window: ~10x faster."""
    home_nbest: int = Field(5, ge=1, le=8)
    """With short_window: decode this many transcripts and keep the one whose words best fit the home (1: off)."""
    second_pass_model: str | None = None
    """A stronger Whisper (catalog name: base; or a folder) that hears the command again when the first is unsure."""
    second_pass_below: float = Field(0.6, ge=0.0, le=1.0)
    """Ask second_pass_model when the first transcript's confidence is below this; the likelier transcript wins."""

    @field_validator("device")
    @classmethod
    def _device_here(cls, v: str) -> str:
        return check_device("stt", v)  # cuda with a CPU-only ctranslate2: say what to install

    @field_validator("model", "second_pass_model")
    @classmethod
    def _model_name(cls, v: str | None) -> str | None:
        return v if v is None else check_model(v)


@settings
class TtsSettings:
    """Text-to-speech (Piper)."""

    engine: str = "piper"
    """The text-to-speech engine: a name in daemon/engines.py TTS_ENGINES (parse_settings checks it there, see
    settings_engines.py); the settings below are Piper's."""
    voice: str = "en_US-joe-medium"
    """Voice name from the catalog or a path to a Piper .onnx voice (with its .onnx.json beside it)."""
    length_scale: float = Field(1.0, gt=0.0)
    """Speaking rate: below 1 is faster."""
    volume: float = Field(1.0, gt=0.0, le=4.0)
    """Output gain."""

    @field_validator("voice")
    @classmethod
    def _voice_name(cls, v: str) -> str:
        return check_model(v)


@settings
class SlmSettings:
    """The small language model tier (INT4 ONNX via onnxruntime-genai)."""

    enabled: bool = True
    """Use the language model when templates find nothing."""
    model: str = "qwen2.5-coder-0.5b"
    """qwen2.5-coder-0.5b or smollm2-135m (both fine-tuned), or a path to an ONNX GenAI model folder."""
    device: Literal["cpu", "cuda"] = "cpu"
    """cpu, or cuda on a Jetson."""
    max_new_tokens: int = Field(48, ge=8, le=512)
    """Upper bound on generated tokens per turn."""
    threads: int = Field(2, ge=1)
    """CPU threads for ONNX Runtime."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    """0 is greedy decoding."""
    confidence_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Below this probability of its answer the model asks "Do you want me to ...?" instead of acting; null: the
    one set for the model's fine-tune on the dev set (qwen 0.5, smollm2 0.35; docs/understanding.md)."""

    @field_validator("device")
    @classmethod
    def _device_here(cls, v: str, info: ValidationInfo) -> str:
        return check_device("slm", v) if info.data.get("enabled", True) else v

    @field_validator("model")
    @classmethod
    def _model_name(cls, v: str) -> str:
        return check_model(v)


@settings
class AssistantSettings:
    """The turn."""

    follow_up: bool = False
    """After replying, listen for another command without a wake word."""
    follow_up_timeout_s: float = Field(4.0, gt=0.0)
    """How long follow-up listening waits for speech."""
    speculative_stt: bool = True
    """Transcribe at a short pause while end-of-speech is still being decided; keep it if no speech follows."""
    speculative_pause_ms: int = Field(200, ge=60)
    """Pause that triggers speculative transcription."""
    semantic_endpoint: bool = True
    """End the command early when the speculative transcript already matches a template."""
    reply_cache: bool = True
    """Synthesize common short replies once and reuse the audio."""
    stream_reply: bool = True
    """Start playing the reply after its first sentence is synthesized, not after the whole reply."""
    barge_in: bool = True
    """The wake word or a stop word said while the assistant speaks or a timer rings stops it."""
    stop_words: tuple[str, ...] = ("stop", "cancel", "be quiet")
    """Phrases that stop the assistant while it speaks (heard by Whisper; never when the reply itself says them)."""

