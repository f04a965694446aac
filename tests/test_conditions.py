"""Speech that resembles people (bench/voices.py), rooms (bench/conditions.py) and the transcript confidences'
scoring (bench/confidence.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slm_voice.bench import conditions, confidence, corpus, voices
from slm_voice.bench.evaluate import Case, evaluate_speech


def _db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0, -3.0])
def test_the_noise_is_mixed_at_the_asked_snr_over_the_speech(snr: float) -> None:
    rng = np.random.default_rng(1)
    speech = np.zeros(16_000, np.float32)
    speech[4000:12000] = 0.1 * np.sin(np.arange(8000) / 7)  # silence around it must not count
    noise = conditions.noise("brown", speech.size, rng)
    idx = conditions.speech_index([(0.25, 0.75)], speech.size)
    gain = conditions.noise_gain(speech, noise, idx, snr)
    assert _db(speech[idx]) - _db(gain * noise[idx]) == pytest.approx(snr, abs=1e-3)


def test_every_noise_has_unit_level(tmp_path: Path) -> None:
    for kind in ("pink", "brown", "babble"):
        x = conditions.noise(kind, 16_000 * 3, np.random.default_rng(0), cache_dir=tmp_path)
        assert x.shape == (48_000,) and _db(x) == pytest.approx(0.0, abs=0.01), kind


def test_there_are_ten_speakers_or_more_and_each_speaks(tmp_path: Path) -> None:
    assert len(voices.PEOPLE) >= 10
    assert len({(v.engine, v.espeak_voice, v.espeak_wpm, v.espeak_pitch, v.length_scale)
                for v in voices.PEOPLE.values()}) == len(voices.PEOPLE)
    assert set(voices.PEOPLE) <= set(corpus.VOICES)
    for name in voices.PEOPLE:
        u = corpus.render("lights on", voice=name, wake=None, cache_dir=tmp_path)
        speech = u.samples()[round(u.speech_start_s * 16_000): round(u.speech_end_s * 16_000)]
        assert u.speech_end_s - u.speech_start_s > 0.2 and _db(speech / 32768) > -30, name
    assert [voices.voice_for(i) for i in (0, len(voices.PEOPLE))] == ["piper", "piper"]


def test_the_rooms_change_the_sound_as_named(tmp_path: Path) -> None:
    clean = conditions.render("lights on", "clean", voice="espeak", wake=None, cache_dir=tmp_path)
    x = clean.samples().astype(np.float64)
    idx = conditions.speech_index(clean.segments, x.size)
    tail = slice(round(clean.speech_end_s * 16_000) + 1600, None)  # after the speech: digital silence when clean
    assert not x[tail].any()
    for name in conditions.ROOM:
        u = conditions.render("lights on", name, voice="espeak", wake=None, cache_dir=tmp_path)
        y = u.samples().astype(np.float64)
        assert y.size == x.size and u.segments == clean.segments, name
        c = conditions.CONDITIONS[name]
        if c.noise:  # the noise's level follows the SNR
            assert _db(x[idx]) - _db((y - x)[idx]) == pytest.approx(c.snr_db, abs=1.0) or c.reverb, name
        if c.reverb:  # the room rings on after the speech
            assert np.abs(y[round(clean.speech_end_s * 16_000): round(clean.speech_end_s * 16_000) + 1600]).max() > 0
    quiet = conditions.render("lights on", "quiet", voice="espeak", wake=None, cache_dir=tmp_path).samples()
    assert _db(quiet[idx]) - _db(x[idx]) == pytest.approx(-12, abs=0.1)
    loud = conditions.render("lights on", "loud", voice="espeak", wake=None, cache_dir=tmp_path).samples()
    assert np.abs(loud).max() == 32767  # an overdriven microphone clips
    # A number is pink noise at that SNR, as --snr 10 always meant: the corpus's own file.
    assert conditions.render("lights on", "10", voice="espeak", wake=None, cache_dir=tmp_path).path == \
        corpus.render("lights on", voice="espeak", wake=None, snr_db=10, cache_dir=tmp_path).path
    with pytest.raises(ValueError, match="unknown condition"):
        conditions.condition("underwater")


def test_a_transcript_is_right_when_its_words_match_or_its_turn_was_right() -> None:
    assert confidence.word_error_rate("set it to fifty percent", "Set it to 50%.") == 0.0
    assert confidence.word_error_rate("turn on the kitchen light", "front on the kitchen light") == 0.2
    assert not confidence.transcript_right("turn on the kitchen light", "front on the kitchen light", False)
    assert confidence.transcript_right("turn on the kitchen light", "turn on kitchen lights", True)
    assert not confidence.transcript_right("turn on the kitchen light", "", True)
    assert confidence.roc_auc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert confidence.roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert confidence.roc_auc([0.5], [True]) is None


@pytest.mark.models
def test_rooms_and_speakers_through_the_whole_pipeline(settings, corpus_dir: Path) -> None:
    """A few rooms and speakers streamed through wake word, endpointer, Whisper and the templates."""
    case = Case(id="k", sentence="turn on the kitchen light", group="g", intent="HassTurnOn",
                entity_ids=("light.kitchen_ceiling",))
    results, _ = evaluate_speech(settings, [case], voices=["piper", "espeak-gb-f2"],
                                 snrs=["clean", "reverb", "pink20", "loud"], cache_dir=str(corpus_dir),
                                 with_slm=False)
    assert len(results) == 8
    assert all(r.latency is not None and r.transcript_scores is not None for r in results)
    right = [r for r in results if r.score.fully_right]
    assert len(right) >= 6, [(r.condition, r.heard) for r in results]
    assert all(r.transcript_right for r in right)
    assert not any(r.score.misfire for r in results)


def test_the_speech_report_has_rooms_speakers_latency_and_the_confidences_auc() -> None:
    from slm_voice.bench.evaluate import format_speech, result_for, speech_report
    from slm_voice.pipeline.intent.model import Intent, Understanding

    case = Case(id="k", sentence="turn on the kitchen light", group="g", intent="HassTurnOn",
                entity_ids=("light.kitchen_ceiling",))
    right = Understanding(Intent("HassTurnOn", {}, ("light.kitchen_ceiling",)), "Done.", "template")
    wrong = Understanding(Intent("HassTurnOff", {}, ("light.kitchen_ceiling",)), "Done.", "slm")
    results = []
    for cond, voice, u, heard, conf in (("people clean", "piper", right, "turn on the kitchen light", 0.9),
                                         ("people clean", "espeak", wrong, "burn off the kitchen light", 0.4),
                                         ("people babble10", "piper", None, "", None)):
        r = result_for(case, u, heard=heard, seconds=0.1, condition=cond)
        r.voice, r.latency = voice, (0.5 if u else None)
        r.transcript_right = confidence.transcript_right(case.sentence, heard, r.score.fully_right)
        r.transcript_scores = confidence.scores_for(heard, conf, None, frozenset({"turn", "on", "the"}))
        results.append(r)
    rep = speech_report(results)
    assert rep["conditions"]["people clean"]["misfire"] == 0.5
    assert rep["conditions"]["people babble10"]["no_turn"] == 1
    assert rep["voices"]["piper"]["speech_end_to_intent_median"] == 0.5
    assert rep["transcript_confidence"]["auc"]["whisper"] == 1.0  # the empty transcript is left out
    text = format_speech(rep)
    assert "per condition" in text and "per speaker" in text and "whisper 1.000" in text
