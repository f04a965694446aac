"""How well a transcript confidence separates right transcripts from misheard ones, on speech evaluations.

A transcript counts as **right** when its turn came out fully right, or when its words match the sentence that
was spoken closely: a word error rate of at most MAX_RIGHT_WER after normalising both (lower case, no punctuation,
digits spelled out, "%" as "percent"; so "set it to 50%" matches "set it to fifty percent"). Otherwise it is
**misheard** (this includes no transcript at all: the wake word or the endpointer missed the command).

Each confidence is scored by its ROC AUC over the speech cases that have a transcript: the probability that a
right transcript gets a higher confidence than a misheard one (0.5: no better than chance; 1: separates them
perfectly). The confidences compared side by side:

- ``whisper``: what pipeline/stt.py's ``confidence()`` reports today, exp(mean token log-probability) x (1 -
  no-speech probability);
- ``min_token``: the least probable text token of the transcript (Whisper's alignment pass; the short window only);
- ``home_fit``: the share of the transcript's words that the home knows (its entity names, aliases, areas and
  floors, and every word of Home Assistant's English sentence templates);
- ``whisper_x_fit``, ``min_token_x_fit``: the products.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..pipeline.vocabulary import home_fit, home_vocabulary, spell, template_words, words

__all__ = ["auc_report", "home_fit", "home_vocabulary", "roc_auc", "scores_for", "spell", "template_words",
           "transcript_right", "word_error_rate", "words"]

MAX_RIGHT_WER = 0.1
"""A transcript whose word error rate against the spoken sentence is at most this is right (one slip in ten)."""

def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance / reference words (after words()); 0 for two empty texts."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)


def transcript_right(sentence: str, transcript: str, fully_right: bool) -> bool:
    """Whether a transcript counts as right (the module docstring's rule)."""
    return bool(transcript.strip()) and (fully_right or word_error_rate(sentence, transcript) <= MAX_RIGHT_WER)


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of scores for the positive labels (ties count half); None without both kinds."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    ranked = sorted(scores)
    # Mann-Whitney U from average ranks.
    rank: dict[float, float] = {}
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j] == ranked[i]:
            j += 1
        rank[ranked[i]] = (i + j + 1) / 2
        i = j
    u = sum(rank[s] for s in pos) - len(pos) * (len(pos) + 1) / 2
    return round(u / (len(pos) * len(neg)), 4)


def scores_for(transcript: str, whisper: float | None, token_probs: Sequence[float] | None,
               vocabulary: frozenset[str]) -> dict[str, float | None]:
    """Every confidence compared, for one transcript."""
    fit = home_fit(transcript, vocabulary)
    low = min(token_probs) if token_probs else None
    return {
        "whisper": whisper,
        "min_token": low,
        "home_fit": round(fit, 4),
        "whisper_x_fit": None if whisper is None else round(whisper * fit, 4),
        "min_token_x_fit": None if low is None else round(low * fit, 4),
    }


def auc_report(rows: Sequence[tuple[bool, Mapping[str, float | None]]]) -> dict[str, Any]:
    """(right, scores) per transcript -> {n, right, auc: {confidence: ROC AUC over the rows that have it}}."""
    names = list(dict.fromkeys(k for _, s in rows for k in s))
    auc = {}
    for name in names:
        have = [(ok, s[name]) for ok, s in rows if s.get(name) is not None]
        auc[name] = roc_auc([float(v) for _, v in have], [ok for ok, _ in have]) if have else None
    return {"n": len(rows), "right": sum(ok for ok, _ in rows), "auc": auc}
