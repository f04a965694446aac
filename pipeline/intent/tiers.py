"""Intent tiers in order: the first tier that understands the text answers (templates, then the language model)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pipeline.intent.model import IntentTier, StreamingReplyTier, Understanding
from pipeline.intent.slm import is_open_question  # the language-model tier's contract; importing loads no model

NOT_UNDERSTOOD = "Sorry, I didn't understand."


class IntentTiers:
    """Stage: transcript -> Understanding, asking each tier in turn."""

    name = "intent"

    def __init__(self, tiers: Sequence[IntentTier], *, fallback_reply: str = NOT_UNDERSTOOD) -> None:
        self.tiers = list(tiers)
        self.fallback_reply = fallback_reply

    def load(self) -> None:
        for tier in self.tiers:
            tier.load()

    def warm(self) -> None:
        for tier in self.tiers:
            tier.warm()

    def reset(self) -> None:
        pass

    def understand(self, text: str) -> Understanding:
        """The first tier's answer, or an honest "didn't understand" (tier "none")."""
        text = text.strip()
        if text:
            for tier in self.tiers:
                found = tier.understand(text)
                if found is not None:
                    return found
        return Understanding(None, self.fallback_reply, "none")

    def is_open_question(self, u: Understanding) -> bool:
        """The language model left the reply empty: it is a question to answer in free text (stream_reply)."""
        return is_open_question(u) and self._streamer() is not None

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

    def process(self, item: str):  # noqa: ANN201 - Stage interface
        yield self.understand(item)
