"""Intent tiers in order: the first tier that understands the text answers (templates, then the language model)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence

from .intents import is_risky
from .model import Home, IntentTier, StreamingReplyTier, Understanding
from .replies import ask_first

log = logging.getLogger(__name__)

NOT_UNDERSTOOD = "Sorry, I didn't understand."
RISKY_TRANSCRIPT_CONFIDENCE = 0.6
"""Whisper's confidence (stt.confidence: mean token probability times the chance that speech was there) below
which a transcript counts as uncertain for risky actions."""

_YES = re.compile(r"^(yes|yeah|yep|yup|sure|ok|okay|correct|right|exactly|please do|do it|go ahead|affirmative|"
                  r"that's right|that is right|yes please|of course)\b")
_NO = re.compile(r"^(no|nope|nah|don't|do not|cancel|never ?mind|stop|wrong|negative|not that)\b")


class IntentTiers:
    """Transcript -> Understanding, asking each tier in turn."""

    name = "intent"

    def __init__(self, tiers: Sequence[IntentTier], *, fallback_reply: str = NOT_UNDERSTOOD,
                 risky_transcript: float = RISKY_TRANSCRIPT_CONFIDENCE) -> None:
        """risky_transcript: below this transcript confidence (Whisper's, 0-1) a risky action is confirmed first."""
        self.tiers = list(tiers)
        self.fallback_reply = fallback_reply
        self.risky_transcript = risky_transcript

    def load(self) -> None:
        for tier in self.tiers:
            tier.load()

    def warm(self) -> None:
        for tier in self.tiers:
            tier.warm()

    def set_home(self, home: Home) -> None:
        """Every tier that can serves the changed home from now on (call it between model calls)."""
        for tier in self.tiers:
            update = getattr(tier, "set_home", None)
            if update is None:
                log.warning("%s tier: keeps the home it was started with until the next restart", tier.name)
                continue
            update(home)

    def understand(self, text: str, *, transcript_confidence: float | None = None) -> Understanding:
        """The first tier's answer, or an honest "didn't understand" (tier "none")."""
        text = text.strip()
        if text:
            for tier in self.tiers:
                found = tier.understand(text, transcript_confidence=transcript_confidence)
                if found is not None:
                    if found.open_question and self._streamer() is None:
                        return Understanding(None, self.fallback_reply, found.tier)
                    return self.confirm_risky(found, transcript_confidence)
        return Understanding(None, self.fallback_reply, "none")

    def confirm_risky(self, u: Understanding, transcript_confidence: float | None) -> Understanding:
        """A risky action (a lock, a garage door, an alarm: intents.is_risky) heard in an uncertain transcript is
        asked about first ("Do you want me to open the garage door?"); anything else is returned as it is."""
        if u.intent is None or transcript_confidence is None or transcript_confidence >= self.risky_transcript:
            return u
        home = next((h for t in self.tiers if isinstance(h := getattr(t, "home", None), Home)), None)
        if home is None or not is_risky(u.intent, home):
            return u
        return Understanding(None, ask_first(u.intent, home), u.tier,
                             confidence=u.confidence, confirm=u)

    def stream_reply(self, text: str) -> Iterator[str]:
        """The free-text answer to an open question, sentence by sentence as it is generated."""
        streamer = self._streamer()
        if streamer is None:
            yield self.fallback_reply
            return
        yield from streamer.stream_reply(text)

    def _streamer(self) -> StreamingReplyTier | None:
        """The first tier that can stream a free answer, if any."""
        return next((t for t in self.tiers if callable(getattr(t, "stream_reply", None))), None)  # type: ignore[misc]

    def quick(self, text: str) -> Understanding | None:
        """Only the first (fast, template) tier: used to decide whether a partial transcript is already a command."""
        if not self.tiers or not text.strip():
            return None
        return self.tiers[0].understand(text.strip())

    def yes_or_no(self, text: str) -> bool | None:
        """The answer to "Did you mean ...?": True, False, or None when the words are neither (a new command)."""
        words = " ".join(re.sub(r"[^\w' ]+", " ", text.casefold()).split())
        if _NO.match(words):
            return False
        if _YES.match(words):
            return True
        return None
