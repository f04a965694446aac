"""Numbers as people say them and as Whisper writes them ("twenty five", "25")."""

from __future__ import annotations

import random

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """0..999 in English words: 25 -> "twenty five", 100 -> "one hundred"."""
    if not 0 <= n <= 999:
        raise ValueError(f"{n}: only 0..999")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + ("" if rest == 0 else " " + number_words(rest))


def spoken_number(n: int, rng: random.Random, words_p: float = 0.45) -> str:
    """Digits or words, at random (Whisper writes digits for most numbers, people's transcripts often words)."""
    return number_words(n) if 0 <= n <= 999 and rng.random() < words_p else str(n)
