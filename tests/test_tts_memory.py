"""What one `say` costs: the real Piper voice in a child process, its resident memory read from /proc after each
text. Numbers and unpunctuated runs are the worst case (2,000 characters of digits were 401 MB -> 2,829 MB)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slm_voice.pipeline.tts import phoneme_runs

DIGITS = " ".join(["1234567"] * 250)[:2000]
LONG = ("the quick brown fox jumps over the lazy dog and keeps on running without ever stopping for breath " * 4)[:400]

_CHILD = """
import json, sys
from slm_voice.daemon.factory import build_tts
from slm_voice.daemon.settings import parse_settings

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

tts = build_tts(parse_settings({}))
tts.load()
tts.warm()
texts = json.loads(sys.stdin.read())
rows = [["warm", rss_mb(), 0.0]]
for name, text in texts:
    seconds = sum(len(chunk.pcm) / 2 / chunk.sample_rate for chunk in tts.speak(text))
    rows.append([name, rss_mb(), seconds])
print(json.dumps(rows))
"""


@pytest.mark.models
def test_rss_returns_after_a_digit_string_and_ten_long_says() -> None:
    texts = [["digits", DIGITS]] + [[f"long {i}", f"{i}. {LONG}"] for i in range(10)]
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(texts), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.splitlines()[-1])
    base = rows[0][1]
    for name, rss, seconds in rows[1:]:
        assert seconds > 5, (name, seconds)  # every text was spoken, not dropped
        assert rss - base < 50, f"{name}: RSS {rss:.0f} MB after, {base:.0f} MB before: {rows}"
    # The digits are cut at MAX_TEXT_PHONEMES (about 2.5 minutes), not spoken for ten.
    assert rows[1][2] < 240, rows[1]


def test_phoneme_runs_are_bounded_and_cut_between_words() -> None:
    word = list("wʌn") + [" "]
    sentence = (word * 200)[:-1]
    runs = list(phoneme_runs(sentence, 50))
    assert all(0 < len(r) <= 50 for r in runs)
    assert all(r[-1] != " " and r[0] != " " for r in runs)  # the gap is dropped, never a word cut
    assert sum(len(r) for r in runs) + len(runs) - 1 == len(sentence)  # nothing lost but the gaps
    unbroken = list("x" * 130)
    assert [len(r) for r in phoneme_runs(unbroken, 50)] == [50, 50, 30]
