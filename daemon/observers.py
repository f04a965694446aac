"""Observers of pipeline events that stay inside the daemon: the per-turn log line, budgets, debug recording."""

from __future__ import annotations

import json
import logging
import time
import wave
from pathlib import Path

from daemon.settings import LatencyBudget
from pipeline.frames import Event, SpeechEnded, TurnFinished

log = logging.getLogger("slm_voice.turn")

# Which timing each budget applies to.
_BUDGET_KEYS = {
    "endpoint": "endpoint",
    "stt": "stt",
    "intent": "intent",
    "tts_first_audio": "tts_first_audio",
    "turn": "speech_end_to_first_audio",
}


def turn_record(event: TurnFinished) -> dict[str, object]:
    """A turn as plain data (the log line, the process output and MQTT share it)."""
    u = event.understanding
    d = u.as_dict() if u is not None else {"intent": None, "reply": "", "tier": "none"}
    return {
        "turn_id": event.turn_id,
        "wake_word": event.wake_word,
        "transcript": event.transcript,
        **d,
        "speech_end_s": None if event.speech_end_s is None else round(event.speech_end_s, 3),
        "timings_ms": event.timings_ms,
    }


class TurnLog:
    """One structured INFO line per turn (journald-friendly), and a WARNING per stage over its budget."""

    def __init__(self, budget: LatencyBudget) -> None:
        self.budget = budget

    def __call__(self, event: Event) -> None:
        if not isinstance(event, TurnFinished):
            return
        rec = turn_record(event)
        intent = rec["intent"]
        log.info(
            "turn %s",
            json.dumps(
                {
                    "transcript": rec["transcript"],
                    "intent": intent["name"] if isinstance(intent, dict) else None,
                    "entity_ids": intent["entity_ids"] if isinstance(intent, dict) else [],
                    "tier": rec["tier"],
                    "latency_ms": event.timings_ms.get("speech_end_to_first_audio"),
                    "timings_ms": event.timings_ms,
                },
                ensure_ascii=False,
            ),
        )
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
            with wave.open(str(self.dir / f"{stamp}-{event.turn_id}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(event.audio)
        elif isinstance(event, TurnFinished):
            path = self.dir / f"{stamp}-{event.turn_id}.json"
            path.write_text(json.dumps(turn_record(event), ensure_ascii=False, indent=1), encoding="utf-8")
