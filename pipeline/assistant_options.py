"""How the assistant's turns behave: plain values, filled from config by the daemon."""

from __future__ import annotations

from dataclasses import dataclass

from .bargein import STOP_PHRASES
from .frames import OutputAudio


@dataclass(frozen=True)
class AssistantOptions:
    """How turns behave (plain values: the daemon fills them from config)."""

    wake_word_required: bool = True
    """False: listen for a command without a wake word (each input is one command)."""
    earcon: OutputAudio | None = None
    """Played when the wake word is heard; None: silent."""
    follow_up: bool = False
    """After replying, listen for another command without the wake word."""
    follow_up_timeout_s: float = 4.0
    """How long follow-up listening (and the answer to "Did you mean ...?") waits for speech."""
    speculative_stt: bool = True
    """Transcribe at a short pause; keep the result when no speech follows."""
    semantic_endpoint: bool = True
    """Commit the command early when the speculative transcript is a complete template command."""
    reply_cache: bool = True
    """Reuse synthesized audio for short replies said before."""
    recheck_stt: bool = False
    """When templates find nothing in the transcript, ask the transcriber's second hearing (Whisper: its 30 s
    window after a short-window transcript) before the language model: the two mishear different commands."""
    stream_reply: bool = True
    """Play each sentence as soon as it is synthesized; False: synthesize the whole reply first (as Home
    Assistant's pipeline does), for the benchmark's baseline."""
    action_timeout_s: float = 10.0
    """Longest wait for an executor's answer before the reply says the action may not have happened."""
    barge_in: bool = True
    """The wake word (a command may follow) or a stop word said while it speaks or a timer rings stops it
    (bargein.py); its own voice never does."""
    stop_words: tuple[str, ...] = STOP_PHRASES
    """Heard by speech-to-text in speech bursts while it speaks; () turns the check off (the wake word still
    barges in)."""
