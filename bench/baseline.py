"""The Home Assistant-style baseline the bench holds the optimised pipeline against: the same models chained the
way Home Assistant's default pipeline chains them, and what the two configurations are made of (for the report)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..daemon.settings import Settings

HA_ENDPOINT_WAIT_MS = 1280
"""Speech end to end-of-speech decision of Home Assistant's default pipeline with these models, as measured on a
2-core machine: VoiceCommandSegmenter's silence_seconds=0.7 on top of microVAD's own smoothing."""
BASELINE_SILENCE_MS = 1200
"""The baseline's vad.trailing_silence_ms. Silero's hangover (its last speech frame ends ~80 ms after the speech
does) and the 32 ms frames add ~80-100 ms to the configured silence: 1150 ms measured a median endpoint wait of
1230 ms, so 1200 ms lands it near HA_ENDPOINT_WAIT_MS (docs/benchmark.md)."""


def settings_variants(settings: Settings, baseline_silence_ms: int) -> tuple[Settings, Settings]:
    """(optimised, baseline): the configuration as given, and Home Assistant's default chain of the same models.

    Baseline: end of speech after a long trailing silence, transcription only after it (no speculative STT, no
    semantic endpointing) over faster-whisper's ordinary 30 s window, intent after the transcript, the whole
    reply synthesized before it plays, with no reply cache, and no noise suppression or gain (its pipeline's
    AudioSettings default: noise_suppression_level 0, auto_gain_dbfs 0). Both: no follow-up listening, no debug
    recording.
    """
    r = dataclasses.replace
    common = {"debug": r(settings.debug, record_dir=None)}
    optimised = r(settings, assistant=r(settings.assistant, follow_up=False), **common)
    baseline = r(
        settings,
        vad=r(settings.vad, trailing_silence_ms=baseline_silence_ms),
        audio=r(settings.audio, noise_suppression=0, auto_gain_dbfs=0),
        stt=r(settings.stt, short_window=False),
        assistant=r(settings.assistant, follow_up=False, speculative_stt=False, semantic_endpoint=False,
                    stream_reply=False, reply_cache=False),
        **common,
    )
    return optimised, baseline


def switches(s: Settings) -> dict[str, Any]:
    """The latency switches the two pipelines differ in."""
    a = s.assistant
    return {"trailing_silence_ms": s.vad.trailing_silence_ms, "speculative_stt": a.speculative_stt,
            "semantic_endpoint": a.semantic_endpoint, "stt_short_window": s.stt.short_window,
            "stream_reply": a.stream_reply, "reply_cache": a.reply_cache,
            "noise_suppression": s.audio.noise_suppression, "auto_gain_dbfs": s.audio.auto_gain_dbfs}


def shared_models(s: Settings, slm_on: bool) -> dict[str, Any]:
    """The models both pipelines share."""
    return {"wake": f"{s.wake.engine}:{','.join(s.wake.words)}", "vad": "silero",
            "stt": {"model": s.stt.model, "compute_type": s.stt.compute_type, "beam_size": s.stt.beam_size,
                    "threads": s.stt.threads, "hotwords": s.stt.hotwords},
            "tts": s.tts.voice, "slm": s.slm.model if slm_on else None}
