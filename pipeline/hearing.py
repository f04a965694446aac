"""Hearing a command: speech to text for one turn. Speculatively at a pause (with the template tier's quick look,
for semantic endpointing), the ordinary way at the end, and once more when templates find nothing in the first
transcript (a second hearing mishears other commands)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .compute import ModelThread, audio_seconds
from .events import Event, StageName, Transcript
from .intent.model import Understanding
from .roles import Transcriber, Transcription, Understander


@dataclass(frozen=True)
class Heard:
    """What was heard, what hearing it cost, and the template tier's reading when that is already known."""

    transcription: Transcription
    stt_s: float
    """Compute spent on speech to text (every hearing of the command together)."""
    quick: Understanding | None = None


class Hearing:
    """Runs the speech-to-text calls of a turn in the model thread; reports each call and every transcript."""

    def __init__(self, stt: Transcriber, intents: Understander, models: ModelThread, emit: Callable[[Event], None],
                 *, recheck: bool = False) -> None:
        """recheck: when templates find nothing in the transcript, ask the transcriber's second hearing."""
        self.stt = stt
        self.intents = intents
        self.models = models
        self._emit = emit
        self.recheck = recheck

    async def speculate(self, turn_id: str, audio: bytes, *, quick_look: bool) -> Heard:
        """Transcribe at a pause; quick_look: also ask the template tier whether the words are a whole command."""
        heard, stt_s = await self.models.timed(turn_id, StageName.STT, "speculate", self.stt.transcribe, audio,
                                               audio_s=audio_seconds(audio))
        quick = None
        if quick_look and heard.text:
            quick, _ = await self.models.timed(turn_id, StageName.INTENT, "quick", self.intents.quick, heard.text)
        return Heard(heard, stt_s, quick)

    async def transcribe(self, turn_id: str, audio: bytes, speculated: Heard | None, *, awaiting: bool) -> Heard:
        """The command's text: the speculative transcript when it covers this very audio, else a transcription now.
        awaiting: the words answer a question ("Did you mean ...?"), so no second hearing is asked for."""
        if speculated is not None:
            heard, stt_s, quick = speculated.transcription, speculated.stt_s, speculated.quick
        else:
            heard, stt_s = await self.models.timed(turn_id, StageName.STT, "transcribe", self.stt.transcribe, audio,
                                                   audio_s=audio_seconds(audio))
            quick = None
        self._emit(Transcript(turn_id, text=heard.text, confidence=heard.confidence))
        if awaiting or (quick is not None and quick.intent is not None) or not self.recheck:
            return Heard(heard, stt_s, quick)
        quick, _ = await self.models.timed(turn_id, StageName.INTENT, "quick", self.intents.quick, heard.text)
        if quick is not None and quick.intent is not None:
            return Heard(heard, stt_s, quick)
        again, again_s = await self.models.timed(turn_id, StageName.STT, "recheck", self.stt.recheck, audio,
                                                 audio_s=audio_seconds(audio))
        stt_s += again_s
        if again is not None and again.text != heard.text:
            found, _ = await self.models.timed(turn_id, StageName.INTENT, "quick", self.intents.quick, again.text)
            if found is not None and found.intent is not None:
                heard, quick = again, found
                self._emit(Transcript(turn_id, text=heard.text, confidence=heard.confidence))
        return Heard(heard, stt_s, quick)
