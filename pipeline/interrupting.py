"""Barge-in, the turn machine's part: while it speaks, a stop word heard in a speech burst (checked by
speech-to-text) or the wake word stops it (bargein.py has the pieces: bursts, stop words, its own echo)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .bargein import BargeIn, Bursts, StopWords, phrase_windows
from .compute import ModelThread
from .events import StageName, TurnState
from .frames import AudioFrame
from .roles import Endpointing, Transcriber
from .speaking import Voice

log = logging.getLogger(__name__)


class Interrupting:
    """Mixed into assistant.Assistant, which sets the attributes below (what this part uses of the machine)."""

    state: TurnState
    endpointer: Endpointing
    stt: Transcriber
    models: ModelThread
    voice: Voice
    _barge: BargeIn | None
    _bursts: Bursts
    _stop_words: StopWords
    _checking: bool
    _spawn: Callable[[Any], asyncio.Task[Any]]

    def _listen_for_stop(self, frame: AudioFrame) -> None:
        burst = self._bursts.observe(frame, self.endpointer.probability, ready=not self._checking)
        if burst is not None:  # one check at a time; the next one covers what came meanwhile
            self._checking = True
            self._spawn(self._check_stop(burst, frame.end_s, time.monotonic()))

    async def _check_stop(self, burst: bytes, end_s: float, ended_at: float) -> None:
        """Whisper on a speech burst heard while speaking (bargein.phrase_windows: its end first, then the whole
        window): a stop word its own words do not explain stops it."""
        phrase, stt_s = None, 0.0
        try:
            for audio in phrase_windows(burst):
                heard, took = await self.models.timed("", StageName.STT, "stop", self.stt.hear_phrase, audio,
                                                      audio_s=len(audio) / 32000)
                stt_s += took
                phrase = self._stop_words.heard(heard.text, self.voice.saying)
                log.debug("stop word check: heard %r (%.0f ms)", heard.text, 1000 * took)
                if phrase is not None or self.state != TurnState.SPEAKING:
                    break
        except Exception:
            log.warning("stop word check failed", exc_info=True)
            return
        finally:
            self._checking = False
        if phrase is None or self.state != TurnState.SPEAKING or self._barge is not None:
            return
        log.info("stop word %r heard (%r): stopped %.0f ms after the burst ended (speech-to-text %.0f ms)",
                 phrase, heard.text, 1000 * (time.monotonic() - ended_at), 1000 * stt_s)
        self._barge_in(BargeIn("stop", phrase, end_s))

    def _barge_in(self, barge: BargeIn) -> None:
        """Stop speaking now; the turn (reply, say, timer ring) ends and, after the wake word, a command is heard."""
        log.info("barge-in: %s %r at %.2f s; stop speaking", barge.kind, barge.word, barge.stream_s)
        self._barge = barge
        self._bursts.reset()
        self.voice.interrupt()
