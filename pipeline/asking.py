"""Asking: a question spoken on request (MQTT ask/set, as Home Assistant's assist_satellite.ask_question), its answer
heard without the wake word and matched against the answers the caller listed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .tts import clean_text


class AnswerStatus(StrEnum):
    """How a question ended (the `event_type` of the answer message)."""

    ANSWERED = "answered"
    """Matched one of the listed answers, or (none listed) anything was said."""
    UNMATCHED = "unmatched"
    """Something was said that matches none of the listed answers (or two of them equally)."""
    TIMEOUT = "timeout"
    """Nothing was said within the question's timeout."""
    MUTED = "muted"
    """The satellite is muted: the question was spoken, nobody was listened to."""
    BUSY = "busy"
    """Too many texts already wait to be spoken: the question was dropped unspoken."""
    FAILED = "failed"
    """Speaking or hearing failed."""


STATUSES: tuple[str, ...] = tuple(s.value for s in AnswerStatus)


@dataclass(frozen=True)
class AnswerChoice:
    """One answer the caller expects: its id and the sentences that mean it ("yes", "sure", "go ahead")."""

    id: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[AnswerChoice, ...] = ()
    """The answers expected; none: whatever is said is the answer."""
    id: str = ""
    """The caller's id for the question, echoed in the answer."""
    timeout_s: float = 10.0
    """How long to wait for speech to begin once the question was spoken."""
    preannounce: bool = True
    """Play the chime before the question."""


@dataclass(frozen=True)
class Answer:
    question: Question
    status: AnswerStatus
    answer_id: str | None = None
    """The matched choice's id (None when none matched, or none were listed)."""
    sentence: str = ""
    """What was heard ("" when nothing)."""

    def record(self) -> dict[str, object]:
        """The answer message: `event_type` is the status (Home Assistant's event entity reads it)."""
        return {"event_type": self.status.value, "id": self.question.id, "answer": self.answer_id,
                "sentence": self.sentence, "question": self.question.text}


_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def words(text: str) -> tuple[str, ...]:
    """Lower-case words, punctuation dropped: "Yes, please!" -> ("yes", "please")."""
    return tuple(_WORD.findall(clean_text(text).lower()))


def _contains(heard: tuple[str, ...], sentence: tuple[str, ...]) -> bool:
    n = len(sentence)
    return any(heard[i:i + n] == sentence for i in range(len(heard) - n + 1))


def match(text: str, choices: Sequence[AnswerChoice]) -> tuple[AnswerStatus, str | None]:
    """What an answer means. No choices: anything said is the answer. Else the choice one of whose sentences is the
    whole answer; failing that, the one whose longest sentence appears in it, word for word ("yes please" is yes);
    two choices equally good ("yes no") or none: unmatched."""
    heard = words(text)
    if not heard:
        return AnswerStatus.TIMEOUT, None
    if not choices:
        return AnswerStatus.ANSWERED, None
    best: dict[str, tuple[int, int]] = {}  # choice id -> (whole answer?, words matched)
    for choice in choices:
        for sentence in choice.sentences:
            said = words(sentence)
            if said and _contains(heard, said):
                score = (int(said == heard), len(said))
                best[choice.id] = max(best.get(choice.id, score), score)
    if not best:
        return AnswerStatus.UNMATCHED, None
    ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return AnswerStatus.UNMATCHED, None
    return AnswerStatus.ANSWERED, ranked[0][0]
