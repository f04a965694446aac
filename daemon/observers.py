"""Observers of pipeline events that stay inside the daemon: the turn record (one shape for the log, MQTT,
`process` and debug recordings), the per-turn log line with its budgets, and debug recording."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline.events import Event, IntentRecognized, SpeechEnded, Timing, TurnFinished
from ..pipeline.frames import SAMPLE_RATE
from ..pipeline.wav import write_wav
from .settings import LatencyBudget

log = logging.getLogger("slm_voice.turn")

# Which timing each budget applies to.
_BUDGET_KEYS = {
    "endpoint": Timing.ENDPOINT,
    "stt": Timing.STT,
    "intent": Timing.INTENT,
    "tts_first_audio": Timing.TTS_FIRST_AUDIO,
    "turn": Timing.SPEECH_END_TO_FIRST_AUDIO,
}


def turn_record(event: IntentRecognized | TurnFinished) -> dict[str, Any]:
    """A turn as plain data: the MQTT intent message, the log line, `process --json` and recordings share it.

    {turn_id, timestamp, wake_word, text, intent, slots, entity_ids, reply, tier, confidence, timings_ms}; intent is
    the Home Assistant intent name or None (chit-chat, a question back, nothing understood).
    """
    u = event.understanding
    intent = u.intent if u is not None else None
    return {
        "turn_id": event.turn_id,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "wake_word": event.wake_word,
        "text": spoken_text(event.text if isinstance(event, IntentRecognized) else event.transcript),
        "intent": intent.name if intent is not None else None,
        "slots": dict(intent.slots) if intent is not None else {},
        "entity_ids": list(intent.entity_ids) if intent is not None else [],
        "reply": u.reply if u is not None else "",
        "tier": u.tier if u is not None else "none",
        "confidence": u.confidence if u is not None else None,
        "timings_ms": {str(k): v for k, v in event.timings_ms.items()},
    }


def spoken_text(transcript: str) -> str:
    """A transcript as it is published: without the sentence punctuation Whisper adds at its end
    ("Turn on the kitchen light." -> "Turn on the kitchen light")."""
    return transcript.strip().rstrip(".!?,;:… ").strip()


class TurnLog:
    """One structured INFO line per turn (journald-friendly), and a WARNING per stage over its budget."""

    def __init__(self, budget: LatencyBudget) -> None:
        self.budget = budget

    def __call__(self, event: Event) -> None:
        if not isinstance(event, TurnFinished):
            return
        rec = turn_record(event)
        del rec["turn_id"], rec["timestamp"]
        log.info("turn %s %s", event.turn_id, json.dumps(rec, ensure_ascii=False, default=str))
        for stage, key in _BUDGET_KEYS.items():
            took = event.timings_ms.get(key)
            limit = getattr(self.budget, stage)
            if took is not None and took > limit:
                log.warning("turn %s over budget: %s took %.0f ms (budget %d ms)", event.turn_id, stage, took, limit)


class Recorder:
    """debug.record_dir: each command's audio and what became of it. Nothing is written without it."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: Event) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if isinstance(event, SpeechEnded) and event.audio:
            write_wav(self.dir / f"{stamp}-{event.turn_id}.wav", np.frombuffer(event.audio, dtype="<i2"),
                      SAMPLE_RATE)
        elif isinstance(event, TurnFinished):
            path = self.dir / f"{stamp}-{event.turn_id}.json"
            path.write_text(json.dumps(turn_record(event), ensure_ascii=False, indent=1, default=str),
                            encoding="utf-8")
