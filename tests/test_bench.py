"""`slm-voice bench` end to end on two rendered commands (real models, real-time streaming): every field of the JSON
report is there with a plausible value, the table prints, and --plot draws a PNG (or says clearly what is missing)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from slm_voice.bench import bench, corpus
from slm_voice.daemon.cli import CliError, parser
from slm_voice.daemon.settings import Settings

pytestmark = pytest.mark.models


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


HAVE_MATPLOTLIB = _have_matplotlib()
MILESTONES = ["vad_speech_end", "endpoint", "transcript", "intent", "action", "first_audio"]


def bench_args(corpus_dir: Path, *extra: str) -> Any:
    return parser().parse_args(["bench", "--json", "--limit", "2", "--voices", "piper", "--snr", "clean",
                                "--idle-seconds", "2", "--cache-dir", str(corpus_dir), *extra])


@pytest.fixture(scope="module")
def run(settings: Settings, corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path | None]:
    """One bench run through bench.main (as the CLI calls it); the printed JSON and the plot, if drawn."""
    png = tmp_path_factory.mktemp("plot") / "timeline.png" if HAVE_MATPLOTLIB else None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = bench.main(settings, bench_args(corpus_dir, *(["--plot", str(png)] if png else [])))
    assert status == 0
    return json.loads(out.getvalue()), png


def test_report_has_every_field(run) -> None:  # noqa: ANN001
    report, _ = run
    assert set(report) >= {"version", "machine", "selection", "method", "slm", "peak_rss_mb", "idle", "optimised",
                           "baseline", "ratios", "wall_seconds"}
    assert report["selection"]["files"] == 2 and report["selection"]["sets"] == {"piper clean": 2}
    assert report["method"]["models"]["stt"]["beam_size"] >= 1 and report["method"]["models"]["slm"] is None
    assert report["slm"]["enabled"] is False and report["slm"]["eval"] is None and report["slm"]["note"]
    assert report["peak_rss_mb"] > 50
    idle = report["idle"]
    assert idle["seconds"] >= 2 and 0 < idle["cpu_percent_one_core"] <= 100 * report["machine"]["cpus"]
    assert idle["false_wakes"] == 0


def test_the_black_box_measures_the_daemon_from_outside(run) -> None:  # noqa: ANN001
    """`slm-voice run` fed on stdin at real time: the intent arrives on the broker and the reply on stdout after
    the true end of speech, for both daemons, and the daemon's own view is reported beside it."""
    box = run[0]["black_box"]
    commands = corpus.load_commands()[:2]
    for name in ("optimised", "baseline"):
        turns = box[name]["turns"]
        assert [t["text"] for t in turns] == [c.text for c in commands]
        for t in turns:
            assert t["intent"] is not None, t
            assert 0 < t["speech_end_to_intent_ms"] < t["speech_end_to_first_audio_ms"] < 12_000, t
            assert t["internal_ms"]["speech_end_to_intent"] > 0
        assert box[name]["ready_s"] > 0
    assert box["ratios"]["speech_end_to_intent_ms"] > 0


@pytest.mark.parametrize("name", ["optimised", "baseline"])
def test_every_turn_is_measured_from_the_true_end_of_speech(run, name: str) -> None:  # noqa: ANN001
    pipe = run[0][name]
    assert pipe["load_seconds"]["total"] > 0 and {"wake", "endpointer", "stt", "intent", "tts"} <= set(
        pipe["load_seconds"])
    commands = corpus.load_commands()[:2]
    assert [t["text"] for t in pipe["turns"]] == [c.text for c in commands]
    for t in pipe["turns"]:
        assert t["turns"] == 1 and t["wake"] and t["transcript"], t
        lat = t["latency_ms"]
        assert set(lat) == set(MILESTONES), lat
        # Milestones come in this order; the end of speech can only be decided after speech ended.
        assert 0 < lat["endpoint"] <= lat["transcript"] <= lat["intent"] <= lat["first_audio"], lat
        assert t["compute_ms"]["stt"] > 0 and t["compute_ms"]["tts_total"] >= 0 and t["stt_calls"] >= 1
        assert t["rtf"]["stt"] > 0 and t["command_audio_s"] > 0.5 and t["reply_audio_s"] > 0.3
        if t["correct"]:
            assert t["intent"] == t["expected"]
        assert t["spans"] and {s[0] for s in t["spans"]} >= {"stt", "intent", "tts"}
    s = pipe["summary"]
    assert s["files"] == 2 and s["turns"] == 2 and s["correct"] == sum(t["correct"] for t in pipe["turns"])
    assert s["accuracy"] == s["correct"] / 2
    for key in MILESTONES:
        assert s["latency_ms"][key]["n"] == 2 and s["latency_ms"][key]["median"] <= s["latency_ms"][key]["max"]
    assert 0 < s["rtf"]["wake"] < 1 and 0 < s["rtf"]["vad"] < 1 and s["rtf"]["stt"]["median"] > 0


def test_baseline_is_the_home_assistant_style_chain(run, settings: Settings) -> None:  # noqa: ANN001
    report, _ = run
    o, b = report["optimised"]["settings"], report["baseline"]["settings"]
    assert b == {"trailing_silence_ms": bench.BASELINE_SILENCE_MS, "speculative_stt": False,
                 "semantic_endpoint": False, "stt_short_window": False, "stream_reply": False, "reply_cache": False,
                 "noise_suppression": 0, "auto_gain_dbfs": 0}
    a = settings.assistant
    assert o == {"trailing_silence_ms": settings.vad.trailing_silence_ms, "speculative_stt": a.speculative_stt,
                 "semantic_endpoint": a.semantic_endpoint, "stt_short_window": settings.stt.short_window,
                 "stream_reply": a.stream_reply, "reply_cache": a.reply_cache,
                 "noise_suppression": settings.audio.noise_suppression, "auto_gain_dbfs": settings.audio.auto_gain_dbfs}
    # Without speculation the baseline transcribes once per turn, after the endpoint.
    assert all(t["stt_calls"] == 1 for t in report["baseline"]["turns"])
    assert set(report["baseline"]["summary"]["endpoint_reasons"]) == {"silence"}
    r = report["ratios"]
    for key in ("speech_end_to_intent", "speech_end_to_first_audio"):
        assert r[key]["median"] > 0 and r[key]["p90"] > 0
    assert r["target"]["ratio"] == bench.TARGET_RATIO and isinstance(r["target"]["met"], bool)


def test_table_reads(run) -> None:  # noqa: ANN001
    table = bench.format_table(run[0])
    for text in ("from the true end of speech", "intent (the action)", "first reply audio", "intent accuracy",
                 "peak RSS", "idle CPU", "target:"):
        assert text in table


def test_plot(run, settings: Settings, corpus_dir: Path) -> None:  # noqa: ANN001
    _, png = run
    if HAVE_MATPLOTLIB:
        assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    else:
        with pytest.raises(CliError, match=r"--plot needs matplotlib: pip install"):
            bench.main(settings, bench_args(corpus_dir, "--plot", "x.png"))


def test_bad_arguments_are_refused_before_any_work(settings: Settings, corpus_dir: Path) -> None:
    for extra, message in ((["--voices", "nobody"], "unknown voice"), (["--snr", "loud"], "neither 'clean'"),
                           (["--limit", "-1"], "--limit must be")):
        with pytest.raises(CliError, match=message):
            bench.main(settings, bench_args(corpus_dir, *extra))


def test_default_sample_covers_every_command() -> None:
    commands = corpus.load_commands()
    sets = bench.BenchOptions().sets
    chosen = bench.select(commands, sets, None)
    assert {c.text for _, c in chosen} == {c.text for c in commands}
    assert len(chosen) < 2 * len(commands)  # a sample, not the full 4 x 26
    assert len(bench.select(commands, sets, 0)) == len(sets) * len(commands)
