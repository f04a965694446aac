"""Random sentences from hassil templates, with the slot values that were chosen for them.

hassil's own sampler (hassil.sample) expands every alternative (itertools.product: millions of sentences for one
Home Assistant template) and returns text only. This walks the same expression tree once, choosing one branch at
random at each alternative, and records what each {list} reference picked: the words that were said and the value
behind them. That is exactly a training example: the sentence and its slots.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hassil.expression import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sentence,
    Sequence,
    TextChunk,
)
from hassil.intents import RangeSlotList, SlotList, TextSlotList, WildcardSlotList
from hassil.parse_expression import parse_sentence

from .numbers import spoken_number


@dataclass(frozen=True)
class Pick:
    """What a {list} reference said and meant."""

    text: str
    """The words in the sentence."""
    value: Any
    """The value behind them (a list's value_out, a number)."""


Provider = Callable[[random.Random], Pick]
"""A list of our own: draws one value."""
Lists = Mapping[str, "SlotList | Provider"]


class SkipSample(Exception):
    """The template needs a list this sampler cannot fill (e.g. a free-text wildcard nobody provided)."""


_SPACES = re.compile(r"\s+")


def sample(sentence: Sentence | str, lists: Lists, rules: Mapping[str, Sentence], rng: random.Random,
           *, optional_p: float = 0.5) -> tuple[str, dict[str, Pick]]:
    """One random sentence of a template and the picks of its slots (by slot name)."""
    if isinstance(sentence, str):
        sentence = parse_sentence(sentence)
    picks: dict[str, Pick] = {}
    text = _walk(sentence.expression, lists, rules, rng, picks, optional_p)
    return _SPACES.sub(" ", text).strip(), picks


def _walk(expr: Expression, lists: Lists, rules: Mapping[str, Sentence], rng: random.Random,
          picks: dict[str, Pick], optional_p: float) -> str:
    if isinstance(expr, TextChunk):
        return expr.original_text if expr.original_text is not None else expr.text
    if isinstance(expr, Alternative):
        items = expr.items
        if expr.is_optional:
            real = [i for i in items if not (isinstance(i, TextChunk) and not i.text.strip())]
            if not real or rng.random() >= optional_p:
                return ""
            items = real
        return _walk(rng.choice(items), lists, rules, rng, picks, optional_p)
    if isinstance(expr, Permutation):
        items = list(expr.items)
        rng.shuffle(items)
        return " ".join(_walk(i, lists, rules, rng, picks, optional_p) for i in items)
    if isinstance(expr, Sequence):
        return "".join(_walk(i, lists, rules, rng, picks, optional_p) for i in expr.items)
    if isinstance(expr, RuleReference):
        rule = rules.get(expr.rule_name)
        if rule is None:
            raise SkipSample(f"no rule <{expr.rule_name}>")
        return _walk(rule.expression, lists, rules, rng, picks, optional_p)
    if isinstance(expr, ListReference):
        pick = _pick(expr, lists, rules, rng, optional_p)
        picks.setdefault(expr.slot_name, pick)
        return pick.text
    raise SkipSample(f"unexpected expression {type(expr).__name__}")


def _pick(ref: ListReference, lists: Lists, rules: Mapping[str, Sentence], rng: random.Random,
          optional_p: float) -> Pick:
    source = lists.get(ref.list_name)
    if source is None:
        raise SkipSample(f"no list {{{ref.list_name}}}")
    if callable(source):
        return source(rng)
    if isinstance(source, TextSlotList):
        if not source.values:
            raise SkipSample(f"empty list {{{ref.list_name}}}")
        value = rng.choice(source.values)
        inner: dict[str, Pick] = {}
        text = _SPACES.sub(" ", _walk(value.text_in.expression if isinstance(value.text_in, Sentence)
                                      else value.text_in, lists, rules, rng, inner, optional_p)).strip()
        return Pick(text, value.value_out)
    if isinstance(source, RangeSlotList):
        n = rng.randrange(source.start, source.stop + 1, source.step or 1)
        value = n * source.multiplier if source.multiplier else n  # volume_step_down: -1
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return Pick(spoken_number(n, rng) if source.words else str(n), value)
    if isinstance(source, WildcardSlotList):
        raise SkipSample(f"wildcard {{{ref.list_name}}} without a provider")
    raise SkipSample(f"unknown list type {type(source).__name__}")
