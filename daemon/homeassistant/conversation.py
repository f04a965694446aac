"""Home Assistant's conversation agent as the source of open answers (`homeassistant.conversation_agent`): a question
no template or device answers ("who wrote Hamlet") is passed to the agent the user chose (Home Assistant's own, a
local Ollama, OpenAI, ...) over the WebSocket API (`conversation/process`), and its spoken answer is said, named when
it is not local. Without one the assistant says it can't look that up: it never answers from its own small model.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .link import HomeAssistantLink

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 600
"""An agent's answer is cut here (a spoken answer is a sentence or two; a long one would hold the speaker)."""


class ConversationAgent:
    """Asks one Home Assistant conversation agent; callable from the model worker thread (not the event loop)."""

    def __init__(self, link: HomeAssistantLink, loop: asyncio.AbstractEventLoop, agent_id: str, *,
                 timeout_s: float = 8.0, language: str = "en") -> None:
        self.link, self.loop, self.agent_id = link, loop, agent_id
        self.timeout_s, self.language = timeout_s, language

    async def ask(self, text: str) -> str | None:
        """The agent's spoken answer, or None when Home Assistant is unreachable or the agent gave none."""
        msg = {"type": "conversation/process", "text": text, "agent_id": self.agent_id, "language": self.language}
        try:
            result = await self.link.call(msg, timeout=self.timeout_s)
        except Exception as e:  # unreachable, refused, timed out: the caller says the agent didn't answer
            log.warning("conversation agent %s: %s", self.agent_id, e)
            return None
        return spoken_answer(result)

    def __call__(self, text: str) -> str | None:
        """ask() from another thread, waiting at most timeout_s."""
        future = asyncio.run_coroutine_threadsafe(self.ask(text), self.loop)
        try:
            return future.result(self.timeout_s + 1.0)
        except Exception:
            future.cancel()
            return None


def spoken_answer(result: Any) -> str | None:
    """The plain speech of a conversation/process result ({"response": {"speech": {"plain": {"speech": ...}}}})."""
    try:
        speech = result["response"]["speech"]["plain"]["speech"]
    except (KeyError, TypeError):
        return None
    speech = " ".join(str(speech).split())
    return speech[:MAX_ANSWER_CHARS] or None
